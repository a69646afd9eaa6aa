/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call -- assertions over arbitrary JSON results */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectHttp, sc, startServer, type TestServer } from './helpers.js';

/**
 * A script playing an agent: from an empty store to a deployed TypeScript plugin that reacts to an
 * emitted event by writing an entity, using nothing but MCP tool calls (as a tenant principal).
 */
describe('E2E: an agent builds and deploys a plugin with MCP tools only', () => {
  let s: TestServer;
  let agent: Client;
  const transcript: string[] = [];

  beforeAll(async () => {
    s = await startServer();
    agent = await connectHttp(s.url, s.tokens.acme);
  }, 60_000);

  afterAll(async () => {
    await agent.close();
    await s.close();
  });

  /** One tool call as an agent makes it: stop at the first failure and show its code and hint. */
  async function use(name: string, args: Record<string, unknown>): Promise<Record<string, any>> {
    const result = (await agent.callTool({ name, arguments: args }, { timeout: 120_000 }));
    const first = result.content[0];
    transcript.push(`${name} → ${first?.type === 'text' ? first.text.split('\n')[0] : ''}`);
    if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.structuredContent)}\n${transcript.join('\n')}`);
    return sc(result);
  }

  it('E2E-1: scaffold → edit → compile → test → deploy (dry run, then for real) → emit → the entity appears', async () => {
    const tools = (await agent.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['plugin_scaffold', 'plugin_compile', 'plugin_test', 'plugin_deploy', 'event_emit', 'entity_query']));
    expect((await use('plugin_list', {})).plugins).toEqual([]);
    expect((await use('entity_query', { entityTypeId: 'WelcomeNote' })).items).toEqual([]);

    // 1. scaffold
    const scaffold = await use('plugin_scaffold', {
      name: 'Acme.Welcome',
      kind: 'event',
      language: 'ts',
      events: ['UserSignedUp'],
      capabilities: ['writeEntities'],
      description: 'When a user signs up, write a WelcomeNote entity for them.',
    });
    expect(scaffold.typings).toEqual({ resource: 'uee://sdk/typings/ts' });
    const typings = await agent.readResource({ uri: scaffold.typings.resource });
    expect((typings.contents[0] as { text: string }).text).toContain('export function writeEntity');

    // 2. edit the handler where the template says TODO
    const entry: string = scaffold.entry;
    const original: string = scaffold.files[entry];
    const todo = '// TODO: react to UserSignedUp.';
    expect(original).toContain(todo);
    const edited = original.replace(
      todo,
      "const user = String(event.payload.user ?? 'someone');\n  writeEntity({ entityTypeId: 'WelcomeNote', attributes: { user, text: 'Welcome, ' + user + '!' } });",
    );
    const files = { ...scaffold.files, [entry]: edited };

    // 3. compile
    const compiled = await use('plugin_compile', { source: { language: 'ts', files, entry }, capabilities: scaffold.manifest.capabilities });
    expect(compiled.requiredCapabilities).toEqual(['writeEntities']);
    expect(compiled.missingCapabilities).toEqual([]);

    // 4. test in the sandbox
    const tested = await use('plugin_test', { artifact: compiled.artifact, manifest: scaffold.manifest, events: [{ type: 'UserSignedUp', payload: { user: 'ada' } }] });
    expect(tested.failed).toBe(0);
    expect(tested.runs[0].effects.writes).toEqual([expect.objectContaining({ entityTypeId: 'WelcomeNote', attributes: { user: 'ada', text: 'Welcome, ada!' } })]);
    expect((await use('entity_query', { entityTypeId: 'WelcomeNote' })).items).toEqual([]);

    // 5. deploy: plan first, then apply
    const plan = await use('plugin_deploy', { manifest: scaffold.manifest, artifact: compiled.artifact, dryRun: true });
    expect(plan).toMatchObject({ dryRun: true, version: 1, affectedTenants: ['acme'], subscribeTo: ['UserSignedUp'] });
    expect(plan.warnings.filter((w: string) => w.startsWith('cycle'))).toEqual([]);
    expect((await use('plugin_list', {})).plugins).toEqual([]);
    const deployed = await use('plugin_deploy', { manifest: scaffold.manifest, artifact: compiled.artifact });
    expect(deployed).toMatchObject({ applied: true, version: 1 });

    // 6. emit the event and wait for the plugin's entity
    const emitted = await use('event_emit', { type: 'UserSignedUp', payload: { user: 'grace' } });
    let notes: Array<Record<string, any>> = [];
    for (let i = 0; i < 200 && notes.length === 0; i++) {
      notes = (await use('entity_query', { entityTypeId: 'WelcomeNote' })).items;
      if (notes.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ tenantId: 'acme', attributes: { user: 'grace', text: 'Welcome, grace!' }, causationId: emitted.event.eventId });
    expect(notes[0]!.createdBy).toBe(`plugin:${deployed.pluginId}@1`);
  }, 120_000);
});
