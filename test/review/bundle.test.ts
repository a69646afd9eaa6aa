/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- assertions over arbitrary JSON results */
// REVIEW-13..14: the review bundle runs the running and the proposed version on recorded real events
// (effects before/after), estimates model cost, and carries chain/cycle warnings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { type CallToolResult } from '@modelcontextprotocol/client';
import { call, connectHttp, sc, startServer, type TestServer } from '../mcp/helpers.js';
import { principalOf, reviewTokens, tokensEnv } from './helpers.js';
import { LOOP, NOTES_V1, NOTES_V2 } from './plugins.js';

function ok(result: CallToolResult): Record<string, any> {
  if (result.isError) throw new Error(`tool failed: ${JSON.stringify(result.structuredContent)}`);
  return sc(result);
}
async function slow(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, { timeout: 120_000 }));
}

describe('REVIEW: the bundle simulates on recorded events, estimates model cost, warns about chains', () => {
  let s: TestServer;
  const tk = reviewTokens();
  let agent: Client;

  beforeAll(async () => {
    s = await startServer({ UEE_TOKENS: tokensEnv(tk) });
    agent = await connectHttp(s.url, tk.agent);
  }, 60_000);
  afterAll(async () => {
    await agent?.close();
    await s?.close();
  });

  it('REVIEW-13: a held deploy carries both versions\' effects on the last recorded events, and the model cost of the new one', async () => {
    ok(await slow(agent, 'plugin_deploy', { manifest: { name: 'Acme.Notes', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities'] }, source: { language: 'ts', files: { 'main.ts': NOTES_V1 } } }));
    for (const title of ['a', 'b', 'c']) ok(await call(agent, 'event_emit', { type: 'TaskCreated', payload: { title } }));
    const deadline = Date.now() + 30_000;
    while ((ok(await call(agent, 'entity_query', { entityTypeId: 'Note', limit: 10 })).items as any[]).length < 3) {
      if (Date.now() > deadline) throw new Error('v1 did not handle the events');
      await new Promise((r) => setTimeout(r, 100));
    }
    await s.host.review.setPolicy(principalOf(s, tk.admin), 'acme', { mode: 'risky' });
    const held = ok(
      await slow(agent, 'plugin_deploy', {
        manifest: { name: 'Acme.Notes', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities', 'invokeModels'], maximumResourceBudget: { modelCalls: 2 } },
        source: { language: 'ts', files: { 'main.ts': NOTES_V2 } },
        rationale: 'score tasks',
      }),
    );
    expect(held.applied).toBe(false);
    const p = await s.host.review.get(principalOf(s, tk.reviewer), held.proposal.id);
    const sim = p.bundle.simulation!;
    expect(sim.rows).toHaveLength(3);
    expect(sim.before).toEqual({ version: 1, ok: 3, failed: 0 });
    expect(sim.after).toMatchObject({ version: 2, ok: 3, failed: 0 });
    // v2 writes a different note on every event: every row differs, and says how
    expect(sim.changed).toBe(3);
    for (const r of sim.rows) {
      expect(r.type).toBe('TaskCreated');
      expect(r.before).toMatchObject({ ok: true, writes: 1, modelCalls: 0 });
      expect(r.after).toMatchObject({ ok: true, writes: 1, modelCalls: 1 });
      expect(r.same).toBe(false);
    }
    // nothing of the simulation reached the real store
    expect((ok(await call(agent, 'entity_query', { entityTypeId: 'Note', limit: 10 })).items as any[]).map((n) => n.attributes.text).sort()).toEqual(['v1 a', 'v1 b', 'v1 c']);
    const cost = p.bundle.cost!;
    expect(cost.modelCallsPerEvent).toEqual({ before: 0, after: 1 });
    expect(cost.eventsPerDay).toBeGreaterThan(0);
    expect(cost.callsPerDay).toBeCloseTo(cost.eventsPerDay, 1);
    expect(cost.maxCallsPerDay).toBeCloseTo(2 * cost.eventsPerDay, 1);
    expect(p.bundle.graph).toBeDefined();
  }, 180_000);

  it('REVIEW-14: chain and cycle warnings, and an honest note when there is nothing recorded to simulate on', async () => {
    await s.host.review.setPolicy(principalOf(s, tk.admin), 'acme', { mode: 'all' });
    const held = ok(
      await slow(agent, 'plugin_deploy', {
        manifest: { name: 'Acme.Loop', subscribeTo: ['Looped'], emits: ['Looped'], capabilities: ['emitEvents'] },
        source: { language: 'ts', files: { 'main.ts': LOOP } },
        rationale: 'loop',
      }),
    );
    const p = await s.host.review.get(principalOf(s, tk.reviewer), held.proposal.id);
    expect(p.bundle.graph!.warnings.join('\n')).toContain('cycle');
    expect(p.bundle.simulation).toBeUndefined();
    expect(p.bundle.notes.join('\n')).toContain('no retained event of Looped');
    await s.host.review.setPolicy(principalOf(s, tk.admin), 'acme', { mode: 'risky' });
  }, 120_000);
});
