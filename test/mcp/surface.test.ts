/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- assertions over arbitrary JSON results */
/**
 * The MCP surface an agent pays for on every session: tools/list size and completeness, docs and
 * typings served once as resources, compile results trimmed to what an agent acts on, and the
 * consistency rules of issue 16 (one way to target a tenant, hints naming what exists, progress that
 * only goes up, a TIMEOUT hint naming a real argument, non-object arguments as tool results).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult, Client } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { HOST_FUNCTIONS } from '../../src/runtime/index.js';
import { defineTool, errorCatalogue, ToolRegistry, type ToolContext } from '../../src/tools/index.js';
import { silentLogger } from '../../src/core/index.js';
import { call, connectHttp, sc, startServer, type TestServer } from './helpers.js';

/** What the issue allows `tools/list` to weigh (30 KiB), measured as JSON.stringify of the result. */
const MAX_LIST_BYTES = 30 * 1024;

const ROOT = join(import.meta.dirname, '..', '..');

/** Every `.ts` file under a directory. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The text of every `hint:` in src (string and template literals, concatenations included). */
function sourceHints(): string[] {
  const hints: string[] = [];
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bhint:\s*((?:(?:'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")\s*\+?\s*)+)/g)) hints.push(`${file}: ${m[1]!}`);
  }
  return hints;
}

/** Tool families: a snake_case word starting with one of these names a tool. */
const TOOL_FAMILY = /\b(?:entity|read_model|query|event|tenant|plugin|dead_letter|invocation|experiment|model|models|workflow|proposal)_[a-z_]+\b/g;

describe('MCP surface (issue 16: lean surface and consistency)', () => {
  let s: TestServer;
  let admin: Client;
  let acme: Client;
  let acmeRo: Client;

  beforeAll(async () => {
    s = await startServer({ UEE_MAX_COMPILE_MS: '20000' });
    [admin, acme, acmeRo] = await Promise.all([connectHttp(s.url, s.tokens.admin), connectHttp(s.url, s.tokens.acme), connectHttp(s.url, s.tokens.acmeRo)]);
  });
  afterAll(async () => {
    await Promise.allSettled([admin, acme, acmeRo].map((c) => c.close()));
    await s.close();
  });

  it('SURFACE-1: tools/list is at most 30 KB for every principal, and every tool keeps input schema, output schema and annotations', async () => {
    for (const client of [admin, acme, acmeRo]) {
      const result = await client.listTools();
      const bytes = Buffer.byteLength(JSON.stringify(result));
      expect(bytes).toBeLessThanOrEqual(MAX_LIST_BYTES);
      for (const tool of result.tools) {
        expect(tool.inputSchema.type, tool.name).toBe('object');
        expect(tool.outputSchema?.type, tool.name).toBe('object');
        expect(tool.outputSchema?.description, `${tool.name} output shape`).toMatch(/^\{.*\}$/);
        expect(tool.annotations, tool.name).toBeDefined();
        expect(Object.keys(tool.annotations!).length, tool.name).toBeGreaterThan(0);
      }
    }
    // The admin listing is the largest: every tool.
    expect((await admin.listTools()).tools.length).toBe(s.host.tools.names().length);
    // Cache hints (MCP 2026-07-28, set in src/server/mcp/host.ts): the list depends on the principal.
    const raw = (await admin.listTools()) as Record<string, unknown>;
    expect(raw).toMatchObject({ ttlMs: expect.any(Number), cacheScope: 'private' });
  });

  it('SURFACE-2: the error envelope of an isError result validates against every output schema (clients check it)', async () => {
    const r = await admin.callTool({ name: 'entity_get', arguments: { tenantId: 'acme', entityId: 'missing' } });
    expect(r.isError).toBe(true);
    expect(sc(r)).toMatchObject({ code: 'NOT_FOUND', hint: expect.any(String) });
  });

  it('SURFACE-3: every uee:// URI named in tools, instructions, prompts, resources and hints is listed and readable', async () => {
    const { tools } = await admin.listTools();
    const { resources } = await admin.listResources();
    const listed = new Set(resources.map((r) => r.uri));
    const prompts = s.host.prompts.map((p) => JSON.stringify(p.render({ goal: 'g', plugin: 'p', eventId: 'e', eventType: 'T', startEvent: 'S', tenantId: 'acme' })));
    const texts = [
      JSON.stringify(tools),
      admin.getInstructions() ?? '',
      ...prompts,
      ...resources.map((r) => r.description ?? ''),
      ...sourceHints(),
      JSON.stringify(errorCatalogue()),
    ];
    const named = new Set(texts.flatMap((t) => [...t.matchAll(/uee:\/\/[a-z0-9/_<>-]+[a-z0-9>]/g)].map((m) => m[0])));
    expect(named.size).toBeGreaterThan(3);
    const uris = [...named].flatMap((u) => (u.endsWith('/<language>') ? ['ts', 'assemblyscript', 'rust', 'c', 'wat'].map((l) => u.replace('<language>', l)) : [u]));
    for (const uri of uris) {
      expect(listed.has(uri), `${uri} is listed`).toBe(true);
      const read = await acme.readResource({ uri });
      expect((read.contents[0] as { text: string }).text.length, uri).toBeGreaterThan(50);
    }
    expect(listed).toContain('uee://docs/sdk');
  });

  it('SURFACE-4: every shape an output schema names is in uee://schemas/shapes', async () => {
    const { tools } = await admin.listTools();
    const shapes = JSON.parse(((await acme.readResource({ uri: 'uee://schemas/shapes' })).contents[0] as { text: string }).text) as Record<string, unknown>;
    const named = new Set(tools.flatMap((t) => [...(typeof t.outputSchema?.description === 'string' ? t.outputSchema.description : '').matchAll(/\b[A-Z][A-Za-z]+\b/g)].map((m) => m[0])));
    expect(named).toContain('Entity');
    for (const name of named) expect(shapes[name], name).toMatchObject({ type: 'object' });
  });

  it('SURFACE-5: plugin_scaffold names the typings resource instead of resending the SDK; includeTypings inlines it', async () => {
    const lean = await call(acme, 'plugin_scaffold', { name: 'Acme.Lean', events: ['TaskCreated'] });
    const full = await call(acme, 'plugin_scaffold', { name: 'Acme.Lean', events: ['TaskCreated'], includeTypings: true });
    expect(sc(lean).typings).toEqual({ resource: 'uee://sdk/typings/ts' });
    expect(Object.keys(sc(full).typings.files)).toEqual(['sdk/ts/index.ts', 'sdk/ts/types.ts']);
    const leanBytes = JSON.stringify(lean).length;
    expect(JSON.stringify(full).length - leanBytes).toBeGreaterThan(leanBytes);
    const typings = ((await acme.readResource({ uri: 'uee://sdk/typings/ts' })).contents[0] as { text: string }).text;
    for (const text of Object.values(sc(full).typings.files as Record<string, string>)) expect(typings).toContain(text.trimEnd().slice(0, 200));
  });

  it('SURFACE-6: a compile result carries what an agent acts on; detail "full" adds exports, imports and timings', async () => {
    const files = { 'main.ts': "import { on, writeEntity } from 'uee:plugin';\non('TaskCreated', () => { writeEntity({ entityTypeId: 'Note', attributes: {} }); return {}; });\n" };
    const summary = sc(await call(acme, 'plugin_compile', { source: { language: 'ts', files }, capabilities: [] }));
    expect(summary).toMatchObject({ artifact: expect.stringMatching(/^[0-9a-f]{64}$/), requiredCapabilities: ['writeEntities'], missingCapabilities: ['writeEntities'] });
    expect(summary.imports).toBeUndefined();
    const full = sc(await call(acme, 'plugin_compile', { source: { language: 'ts', files }, detail: 'full' }));
    expect(full.artifact).toBe(summary.artifact);
    expect(full.imports.length).toBeGreaterThan(0);
    expect(full.exports.map((e: { name: string }) => e.name)).toContain('handle');
    expect(JSON.stringify(full).length).toBeGreaterThan(JSON.stringify(summary).length + 1000);
  });

  it('SURFACE-7: compile progress only goes up and ends at its total', async () => {
    const seen: Array<{ progress: number; total?: number }> = [];
    // Top-level work runs at compile time (in the snapshot): several seconds of it, even on a fast
    // idle machine, yield ticks (one a second) between the start and the end. (10^8 iterations took
    // 1.2 s in all on a 2026-12-07 VM: one tick or none, and the test failed now and then.)
    const files = { 'main.ts': "import { on } from 'uee:plugin';\nlet n = 0; for (let i = 0; i < 400000000; i++) n = (n + i) % 1000;\non('Ping', () => ({ n }));\n" };
    const r = await acme.callTool(
      { name: 'plugin_compile', arguments: { source: { language: 'ts', files } } },
      { onprogress: (p) => seen.push({ progress: p.progress, ...(p.total === undefined ? {} : { total: p.total }) }), timeout: 120_000 },
    );
    expect(r.isError, JSON.stringify(r.structuredContent)).toBeFalsy();
    expect(seen.length).toBeGreaterThan(2);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.progress, JSON.stringify(seen)).toBeGreaterThan(seen[i - 1]!.progress);
    const last = seen.at(-1);
    expect(last.total, JSON.stringify(seen)).toBe(last.progress);
  });

  it('SURFACE-8: the registry drops a progress report that does not increase, whatever the tool sends', async () => {
    const reg = new ToolRegistry({ maxArgumentBytes: 1 << 20 }).add(
      defineTool({
        name: 'zigzag',
        title: 'Zigzag',
        description: 'reports 1, 3, 2, 3, 4',
        input: z.strictObject({}),
        output: z.object({}),
        annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
        async run(ctx) {
          for (const p of [1, 3, 2, 3, 4]) await ctx.progress(p, 4);
          return {};
        },
      }),
    );
    const sent: number[] = [];
    const ctx = {
      principal: { kind: 'admin', id: 'a' },
      signal: new AbortController().signal,
      logger: silentLogger,
      progress: (p: number) => (sent.push(p), Promise.resolve()),
      log: () => Promise.resolve(),
    } as unknown as ToolContext;
    await reg.call('zigzag', {}, ctx);
    expect(sent).toEqual([1, 3, 4]);
  });

  it('SURFACE-9: a compile TIMEOUT hint names plugin_compile\'s timeoutMs, which exists and is capped by UEE_MAX_COMPILE_MS', async () => {
    const files = { 'main.ts': "import { on } from 'uee:plugin';\nwhile (true) {}\non('Ping', () => ({}));\n" };
    const r = await call(acme, 'plugin_compile', { source: { language: 'ts', files }, timeoutMs: 1500 });
    expect(sc(r)).toMatchObject({ code: 'TIMEOUT', details: { timeoutMs: 1500, ceilingMs: 20000 } });
    expect(sc(r).hint).toContain('timeoutMs');
    const { tools } = await acme.listTools();
    expect(Object.keys(tools.find((t) => t.name === 'plugin_compile')!.inputSchema.properties ?? {})).toContain('timeoutMs');
    const capped = await call(acme, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': "import { on } from 'uee:plugin';\non('Ping', () => ({}));\n" } }, timeoutMs: 600_000 });
    expect(capped.isError, JSON.stringify(capped.structuredContent)).toBeFalsy();
  });

  it('SURFACE-10: tool arguments sent as an array, a string or null are a VALIDATION_FAILED tool result, not a protocol error', async () => {
    for (const args of [['entityId', 'x'], 'x', null]) {
      // The SDK client does not check outgoing params: this is what a sloppy client sends.
      const r: CallToolResult = await acme.request({ method: 'tools/call', params: { name: 'entity_get', arguments: args as unknown as Record<string, unknown> } });
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(r.structuredContent).toMatchObject({ code: 'VALIDATION_FAILED', hint: expect.stringContaining('object') });
    }
  });

  it('SURFACE-11: every hint and description that names a tool names a registered tool (or a host function)', async () => {
    const known = new Set([...s.host.tools.names(), ...HOST_FUNCTIONS]);
    const { tools } = await admin.listTools();
    const texts = [...sourceHints(), JSON.stringify(tools), JSON.stringify(errorCatalogue()), admin.getInstructions() ?? '', ...s.host.prompts.map((p) => JSON.stringify(p))];
    const unknown = new Set<string>();
    for (const text of texts) for (const m of text.matchAll(TOOL_FAMILY)) if (!known.has(m[0])) unknown.add(`${m[0]} in ${text.slice(0, 120)}`);
    expect([...unknown]).toEqual([]);
    for (const p of s.host.prompts) for (const t of p.tools) expect(known.has(t), `${p.name} → ${t}`).toBe(true);
  });

  it('SURFACE-12: admins target a tenant with tenantId on every tenant-scoped tool, plugin_deploy and plugin_metrics included', async () => {
    const { tools } = await admin.listTools();
    const without = tools.filter((t) => !('tenantId' in (t.inputSchema.properties ?? {}))).map((t) => t.name);
    // tenant_create's tenantId is the new tenant; tenant_list spans all tenants.
    expect(without.sort()).toEqual(['tenant_list'].sort());
    const wat = '(module (func (export "handle") (result i32) i32.const 0))';
    const compiled = sc(await call(admin, 'plugin_compile', { tenantId: 'acme', source: { language: 'wat', files: { 'main.wat': wat } } }));
    const deployed = sc(await call(admin, 'plugin_deploy', { tenantId: 'acme', manifest: { name: 'Acme.Targeted', subscribeTo: ['Ping'] }, artifact: compiled.artifact }));
    expect(deployed).toMatchObject({ applied: true, tenantId: 'acme' });
    // The tenant's own token uses the artifact an admin compiled for it.
    expect((await call(acme, 'plugin_test', { artifact: compiled.artifact, events: [{ type: 'Ping' }] })).isError).toBeFalsy();
    const conflict = await call(admin, 'plugin_deploy', { tenantId: 'globex', manifest: { name: 'X', subscribeTo: ['Ping'], tenantScope: 'tenant', tenantId: 'acme' }, artifact: compiled.artifact, dryRun: true });
    expect(sc(conflict)).toMatchObject({ code: 'VALIDATION_FAILED', hint: expect.stringContaining('tenantId') });
    const metrics = sc(await call(admin, 'plugin_metrics', { tenantId: 'globex' }));
    expect(metrics.plugins.filter((p: { name: string }) => p.name === 'Acme.Targeted')).toEqual([]);
    const foreign = await call(acme, 'plugin_metrics', { tenantId: 'globex' });
    expect(sc(foreign).code).toBe('TENANT_FORBIDDEN');
  });

  it('SURFACE-13: the manifest schema says what tenantScope defaults to, and a tenant token gets exactly that', async () => {
    const schema = JSON.parse(((await acme.readResource({ uri: 'uee://schemas/plugin-manifest' })).contents[0] as { text: string }).text);
    const scope = schema.properties.tenantScope;
    expect(scope.default).toBeUndefined();
    expect(scope.description).toMatch(/"tenant" when the deploy names a tenant.*tenant token/);
    const wat = '(module (func (export "handle") (result i32) i32.const 0))';
    const compiled = sc(await call(acme, 'plugin_compile', { source: { language: 'wat', files: { 'main.wat': wat } } }));
    const plan = sc(await call(acme, 'plugin_deploy', { manifest: { name: 'Acme.Defaulted', subscribeTo: ['Ping'] }, artifact: compiled.artifact, dryRun: true }));
    expect(plan.tenantId).toBe('acme');
    const adminPlan = sc(await call(admin, 'plugin_deploy', { manifest: { name: 'Glob', subscribeTo: ['Ping'] }, artifact: compiled.artifact, dryRun: true }));
    expect(adminPlan.tenantId).toBeNull();
  });
});
