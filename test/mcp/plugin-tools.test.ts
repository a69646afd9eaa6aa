/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- assertions over arbitrary JSON results */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { type CallToolResult } from '@modelcontextprotocol/client';
import { compileWat } from '../../src/compiler/index.js';
import { pluginTools } from '../../src/tools/index.js';
import { call, connectHttp, sc, startServer, type TestServer } from './helpers.js';

const WRITER = `import { on, writeEntity, emitEvent, updateReadModel, log } from 'uee:plugin';
import type { HandleInput } from 'uee:plugin';

on('TaskCreated', (input: HandleInput<{ title?: string }>) => {
  const task = input.entity;
  const title = String(input.event.payload.title ?? task?.attributes.title ?? '?');
  const note = writeEntity({ entityTypeId: 'Note', attributes: { text: 'note for ' + title } });
  emitEvent({ type: 'NoteCreated', entityId: note.entityId, payload: { title } });
  updateReadModel({ op: 'upsert', view: 'notes', id: note.entityId, doc: { title } });
  log('info', 'wrote a note', { title });
  return { note: note.entityId, title };
});
`;

const FAILING = `import { on, PluginError } from 'uee:plugin';
on('JobQueued', () => { throw new PluginError('BROKEN', 'this version is broken'); });
`;
const FIXED = `import { on, log } from 'uee:plugin';
on('JobQueued', (input) => { log('info', 'fixed'); return { ok: true, type: input.event.type }; });
`;

type CallOptions = { onprogress?: (p: { progress: number; total?: number; message?: string }) => void };

async function callWith(client: Client, name: string, args: Record<string, unknown>, options: CallOptions = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, { ...options, timeout: 120_000 }));
}

function ok(result: CallToolResult): Record<string, any> {
  if (result.isError) throw new Error(`tool failed: ${JSON.stringify(result.structuredContent)}`);
  return sc(result);
}

async function until<T>(fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('MCP plugin-lifecycle and model tools', () => {
  let s: TestServer;
  let admin: Client;
  let acme: Client;
  let acmeRo: Client;
  let globex: Client;
  let writerArtifact = '';

  beforeAll(async () => {
    s = await startServer();
    [admin, acme, acmeRo, globex] = await Promise.all([
      connectHttp(s.url, s.tokens.admin),
      connectHttp(s.url, s.tokens.acme),
      connectHttp(s.url, s.tokens.acmeRo),
      connectHttp(s.url, s.tokens.globex),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled([admin, acme, acmeRo, globex].map((c) => c.close()));
    await s.close();
  });

  it('PT-1: every plugin and model tool is listed with schemas and annotations; read-only tokens see only read-only ones', async () => {
    const { tools } = await admin.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const def of pluginTools()) {
      const t = byName.get(def.name);
      expect(t, def.name).toBeDefined();
      expect(t!.outputSchema, def.name).toBeDefined();
      expect(t!.annotations?.readOnlyHint ?? false, def.name).toBe(def.annotations.readOnlyHint); // MCP default: false
    }
    const ro = (await acmeRo.listTools()).tools.map((t) => t.name);
    expect(ro).toEqual(expect.arrayContaining(['plugin_list', 'plugin_test', 'model_list', 'event_trace']));
    for (const name of ['plugin_deploy', 'plugin_configure', 'plugin_compile', 'model_call']) expect(ro).not.toContain(name);
    const denied = await call(acmeRo, 'plugin_deploy', { manifest: { name: 'X', subscribeTo: ['A'] }, artifact: 'a'.repeat(64) });
    expect(sc(denied).code).toBe('TENANT_FORBIDDEN');
  });

  it('PT-2: plugin_scaffold yields sources, manifest and SDK typings that compile as is (ts event, ts model, wat)', async () => {
    const scaffold = ok(await call(acme, 'plugin_scaffold', { name: 'Acme.Notes', events: ['TaskCreated'], capabilities: ['writeEntities', 'emitEvents'], description: 'write a note per task' }));
    expect(scaffold.files['main.ts']).toContain("from 'uee:plugin'");
    expect(scaffold.files['main.ts']).toContain('TODO');
    expect(scaffold.manifest).toMatchObject({ name: 'Acme.Notes', subscribeTo: ['TaskCreated'], tenantScope: 'tenant', tenantId: 'acme' });
    expect(scaffold.typings).toEqual({ resource: 'uee://sdk/typings/ts' });
    expect(scaffold.draftedBy).toMatchObject({ kind: 'template', model: null });
    const compiled = ok(await callWith(acme, 'plugin_compile', { source: { language: 'ts', files: scaffold.files }, capabilities: scaffold.manifest.capabilities, detail: 'full' }));
    expect(compiled.artifact).toMatch(/^[0-9a-f]{64}$/);
    expect(compiled.exports.map((e: { name: string }) => e.name)).toContain('handle');
    expect(compiled.missingCapabilities).toEqual([]);

    const model = ok(await call(admin, 'plugin_scaffold', { name: 'Scorer', kind: 'model' }));
    expect(model.manifest).toMatchObject({ kind: 'model', tenantScope: 'global', subscribeTo: [] });
    const modelCompiled = ok(await callWith(admin, 'plugin_compile', { source: { language: 'ts', files: model.files }, detail: 'full' }));
    expect(modelCompiled.exports.map((e: { name: string }) => e.name)).toContain('infer');

    const wat = ok(await call(admin, 'plugin_scaffold', { name: 'Bare', language: 'wat', events: ['Ping'] }));
    expect(Object.keys(wat.files)).toEqual(['main.wat']);
    const watCompiled = ok(await call(admin, 'plugin_compile', { source: { language: 'wat', files: wat.files } }));
    expect(watCompiled.requiredCapabilities).toEqual([]);

    const bad = await call(admin, 'plugin_scaffold', { name: 'NoEvents', kind: 'event' });
    expect(sc(bad)).toMatchObject({ code: 'VALIDATION_FAILED' });
  }, 120_000);

  it('PT-3: a compile error is COMPILE_FAILED with file:line:col; uploads are validated; progress is reported', async () => {
    const progress: number[] = [];
    const failed = await callWith(
      admin,
      'plugin_compile',
      { source: { language: 'ts', files: { 'main.ts': "import { on } from 'uee:plugin';\n\non('A', () => {\n  return { x: ;\n});\n" } } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(failed.isError).toBe(true);
    const err = sc(failed);
    expect(err.code).toBe('COMPILE_FAILED');
    expect(err.message).toMatch(/^main\.ts:4:\d+: /);
    expect(err.details.position).toMatchObject({ file: 'main.ts', line: 4 });
    expect(err.hint).toContain('main.ts:4');
    expect(progress.length).toBeGreaterThan(0);

    const garbage = await call(admin, 'plugin_compile', { wasmBase64: Buffer.from('not wasm').toString('base64') });
    expect(sc(garbage).code).toBe('VALIDATION_FAILED');
    const { wasm } = await compileWat({ source: '(module (memory (export "memory") 1) (func (export "handle") (result i32) (i32.const 0)))' });
    const uploaded = ok(await call(admin, 'plugin_compile', { wasmBase64: Buffer.from(wasm).toString('base64') }));
    expect(uploaded.language).toBe('wasm');
    expect(await s.app.store.blobs.has(uploaded.artifact)).toBe(true);
    const both = await call(admin, 'plugin_compile', {});
    expect(sc(both).code).toBe('VALIDATION_FAILED');
  }, 60_000);

  it('PT-4: plugin_test runs an artifact in a sandbox: effects, logs and usage come back, the real store and bus are untouched', async () => {
    const compiled = ok(await callWith(acme, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': WRITER } } }));
    writerArtifact = compiled.artifact;
    expect(compiled.requiredCapabilities).toEqual(['writeEntities', 'emitEvents', 'updateReadModels', 'readEntities'].sort()); // readEntities: WRITER reads input.entity
    const busBefore = await s.app.bus.length();
    const progress: string[] = [];
    const result = ok(
      await callWith(
        acme,
        'plugin_test',
        {
          artifact: writerArtifact,
          // The event's entity reaches only plugins that may read entities (as in the router).
          manifest: { capabilities: ['readEntities', 'writeEntities', 'emitEvents', 'updateReadModels'] },
          fixtures: [{ entityId: 'task-1', entityTypeId: 'Task', attributes: { title: 'fixture task' } }],
          events: [
            { type: 'TaskCreated', entityId: 'task-1' },
            { type: 'TaskCreated', payload: { title: 'second' } },
          ],
        },
        { onprogress: (p) => progress.push(p.message ?? '') },
      ),
    );
    expect(result.sandbox.isolated).toBe(true);
    expect(result.passed).toBe(2);
    const [first] = result.runs;
    expect(first.output.title).toBe('fixture task');
    expect(first.effects.writes[0]).toMatchObject({ entityTypeId: 'Note', attributes: { text: 'note for fixture task' } });
    expect(first.effects.emits[0]).toMatchObject({ type: 'NoteCreated' });
    expect(first.effects.readModelUpdates[0]).toMatchObject({ op: 'upsert', view: 'notes' });
    expect(first.logs[0]).toMatchObject({ level: 'info', message: 'wrote a note' });
    expect(first.usage.hostCalls).toBeGreaterThanOrEqual(4);
    expect(progress.some((m) => m.includes('TaskCreated'))).toBe(true);
    // nothing real was written
    expect(sc(await call(acme, 'entity_query', { entityTypeId: 'Note' })).items).toEqual([]);
    expect(sc(await call(acme, 'entity_query', { entityTypeId: 'Task' })).items).toEqual([]);
    expect(sc(await call(acme, 'read_model_query', { view: 'notes' })).items ?? []).toEqual([]);
    expect(await s.app.bus.length()).toBe(busBefore);
  }, 60_000);

  it('PT-5: a sandbox run without the needed capability fails CAPABILITY_DENIED naming it', async () => {
    const denied = await callWith(acme, 'plugin_test', { artifact: writerArtifact, manifest: { capabilities: ['emitEvents'] }, events: [{ type: 'TaskCreated' }] });
    expect(denied.isError).toBe(true);
    expect(sc(denied).code).toBe('CAPABILITY_DENIED');
    expect(sc(denied).hint).toContain('writeEntities');
    const unknown = await call(acme, 'plugin_test', { artifact: 'f'.repeat(64), events: [{ type: 'TaskCreated' }] });
    expect(sc(unknown).code).toBe('NOT_FOUND');
  }, 60_000);

  it('PT-6: plugin_deploy: missing capability → CAPABILITY_DENIED with the capability in the hint; dryRun plans and changes nothing', async () => {
    const manifest = { name: 'Acme.Notes', subscribeTo: ['TaskCreated'], capabilities: ['emitEvents', 'updateReadModels'] };
    const denied = await call(acme, 'plugin_deploy', { manifest, artifact: writerArtifact, dryRun: true });
    expect(sc(denied)).toMatchObject({ code: 'CAPABILITY_DENIED' });
    expect(sc(denied).hint).toContain('"writeEntities"');
    expect(sc(denied).details.missingCapabilities).toEqual(['writeEntities']);

    const full = { ...manifest, capabilities: ['writeEntities', 'emitEvents', 'updateReadModels'] };
    const plan = ok(await call(acme, 'plugin_deploy', { manifest: full, artifact: writerArtifact, dryRun: true }));
    expect(plan).toMatchObject({ dryRun: true, applied: false, pluginId: null, version: 1, tenantId: 'acme', affectedTenants: ['acme'] });
    expect(plan.capabilityDiff).toEqual({ added: ['writeEntities', 'emitEvents', 'updateReadModels'], removed: [], previousVersion: null });
    expect(plan.emits).toEqual({ types: ['EntityCreated', 'NoteCreated'], from: 'source-scan' }); // EntityCreated: its writeEntity of a Note
    expect(plan.plan.eventTypes).toContain('PluginInstalled');
    expect(sc(await call(acme, 'plugin_list', {})).plugins).toEqual([]);

    const applied = ok(await call(acme, 'plugin_deploy', { manifest: full, artifact: writerArtifact }));
    expect(applied).toMatchObject({ applied: true, version: 1 });
    const list = ok(await call(acme, 'plugin_list', {})).plugins;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: 'Acme.Notes', version: 1, status: 'enabled', tenantId: 'acme', hasSource: true });
    const source = ok(await call(acme, 'plugin_source', { name: 'Acme.Notes' }));
    expect(source.files['main.ts']).toBe(WRITER);

    const v2 = ok(await call(acme, 'plugin_deploy', { manifest: { ...full, capabilities: ['writeEntities', 'emitEvents', 'updateReadModels', 'readEntities'] }, artifact: writerArtifact, dryRun: true }));
    expect(v2).toMatchObject({ version: 2, capabilityDiff: { added: ['readEntities'], removed: [], previousVersion: 1 } });
  }, 60_000);

  it('PT-7: chain and cycle warnings come from the subscribe→emit graph (manifest emits and source scan)', async () => {
    const echo = ok(await callWith(admin, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': "import { on, emitEvent } from 'uee:plugin';\non('NoteCreated', () => { emitEvent({ type: 'TaskCreated', payload: {} }); });\n" } } }));
    const plan = ok(await call(admin, 'plugin_deploy', { manifest: { name: 'Echo', subscribeTo: ['NoteCreated'], capabilities: ['emitEvents'], tenantScope: 'tenant', tenantId: 'acme' }, artifact: echo.artifact, dryRun: true }));
    expect(plan.triggers).toContain('Acme.Notes (acme)');
    expect(plan.triggeredBy).toContain('Acme.Notes (acme)');
    expect(plan.warnings.join('\n')).toMatch(/cycle: Echo \(acme\) → Acme\.Notes \(acme\) → Echo \(acme\)/);
    const self = ok(await call(admin, 'plugin_deploy', { manifest: { name: 'Self', subscribeTo: ['Ping'], emits: ['Ping'], capabilities: ['emitEvents'] }, artifact: echo.artifact, dryRun: true }));
    expect(self.emits.from).toBe('manifest');
    expect(self.warnings.join('\n')).toContain('cycle: Self (global) emits Ping');
    expect(self.affectedTenants).toEqual(expect.arrayContaining(['(global)', 'acme', 'globex']));
  }, 60_000);

  it('PT-8: tenant isolation: foreign ids are NOT_FOUND, tenants cannot deploy or change global plugins', async () => {
    const mine = ok(await call(acme, 'plugin_list', {})).plugins[0];
    expect(ok(await call(globex, 'plugin_list', {})).plugins).toEqual([]);
    expect(sc(await call(globex, 'plugin_source', { pluginId: mine.pluginId })).code).toBe('NOT_FOUND');
    expect(sc(await call(globex, 'plugin_configure', { name: 'Acme.Notes', action: 'disable' })).code).toBe('NOT_FOUND');
    expect(sc(await call(globex, 'plugin_test', { pluginId: mine.pluginId, events: [{ type: 'TaskCreated' }] })).code).toBe('NOT_FOUND');
    expect(sc(await call(acme, 'plugin_deploy', { manifest: { name: 'G', subscribeTo: ['A'], tenantScope: 'global' }, artifact: writerArtifact, dryRun: true })).code).toBe('TENANT_FORBIDDEN');
    expect(sc(await call(acme, 'plugin_deploy', { manifest: { name: 'G', subscribeTo: ['A'], tenantId: 'globex' }, artifact: writerArtifact, dryRun: true })).code).toBe('TENANT_FORBIDDEN');

    const { wasm } = await compileWat({ source: '(module (memory (export "memory") 1) (func (export "handle") (result i32) (i32.const 0)))' });
    const art = ok(await call(admin, 'plugin_compile', { wasmBase64: Buffer.from(wasm).toString('base64') })).artifact;
    ok(await call(admin, 'plugin_deploy', { manifest: { name: 'Global.Noop', subscribeTo: ['Ping'] }, artifact: art }));
    const seen = ok(await call(globex, 'plugin_list', {})).plugins.map((p: { name: string }) => p.name);
    expect(seen).toEqual(['Global.Noop']);
    const forbidden = await call(acme, 'plugin_configure', { name: 'Global.Noop', action: 'disable' });
    expect(sc(forbidden).code).toBe('TENANT_FORBIDDEN');
    expect(sc(forbidden).hint).toContain('pin');
  }, 60_000);

  it('PT-9: plugin_configure: settings, pin and rollback with dryRun changing nothing; applying refreshes routing', async () => {
    const dry = ok(await call(acme, 'plugin_configure', { name: 'Acme.Notes', action: 'settings', settings: { prefix: 'n:' }, dryRun: true }));
    expect(dry.after.settings).toEqual({ prefix: 'n:' });
    expect(await s.app.store.config.getPlugin({ tenantId: 'acme', actor: 't' }, 'Acme.Notes')).toEqual({});
    ok(await call(acme, 'plugin_configure', { name: 'Acme.Notes', action: 'settings', settings: { prefix: 'n:' } }));
    expect(await s.app.store.config.getPlugin({ tenantId: 'acme', actor: 't' }, 'Acme.Notes')).toEqual({ prefix: 'n:' });

    const full = { name: 'Acme.Notes', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities', 'emitEvents', 'updateReadModels'] };
    ok(await call(acme, 'plugin_deploy', { manifest: full, artifact: writerArtifact }));
    const plan = ok(await call(acme, 'plugin_configure', { name: 'Acme.Notes', action: 'rollback', dryRun: true }));
    expect(plan.before.effectiveVersion).toBe(2);
    expect(plan.after.effectiveVersion).toBe(1);
    expect(plan.plan.changes).toEqual([expect.objectContaining({ action: 'update', target: 'plugin:Acme.Notes@v2', detail: 'disabled' })]);
    expect(ok(await call(acme, 'plugin_list', { name: 'Acme.Notes' })).plugins.every((p: { status: string }) => p.status === 'enabled')).toBe(true);
    const rolled = ok(await call(acme, 'plugin_configure', { name: 'Acme.Notes', action: 'rollback' }));
    expect(rolled.after).toMatchObject({ effectiveVersion: 1 });
    ok(await call(acme, 'plugin_configure', { name: 'Acme.Notes', action: 'enable', version: 2 }));

    // a tenant rolls back a global plugin by pinning the previous version for itself
    const { wasm } = await compileWat({ source: '(module (memory (export "memory") 1) (func (export "handle") (result i32) (i32.const 0)))' });
    const art = ok(await call(admin, 'plugin_compile', { wasmBase64: Buffer.from(wasm).toString('base64') })).artifact;
    ok(await call(admin, 'plugin_deploy', { manifest: { name: 'Global.Noop', subscribeTo: ['Ping'] }, artifact: art }));
    const pin = ok(await call(acme, 'plugin_configure', { name: 'Global.Noop', action: 'rollback' }));
    expect(pin.plan.changes[0]).toMatchObject({ action: 'set', target: 'pin:Global.Noop', detail: 'v1' });
    expect(pin.after).toMatchObject({ pinnedVersion: 1, effectiveVersion: 1 });
    const listed = ok(await call(acme, 'plugin_list', { name: 'Global.Noop', latestOnly: true })).plugins;
    expect(listed[0]).toMatchObject({ version: 2, pinnedVersion: 1 });
    expect(ok(await call(globex, 'plugin_list', { name: 'Global.Noop', latestOnly: true })).plugins[0].pinnedVersion).toBeNull();
    ok(await call(acme, 'plugin_configure', { name: 'Global.Noop', action: 'unpin' }));
    expect(sc(await call(acme, 'plugin_configure', { name: 'Global.Noop', action: 'pin' })).code).toBe('VALIDATION_FAILED');
  }, 60_000);

  it('PT-10: dead letters are listed per tenant, replayed in the sandbox against a fixed artifact, and traced', async () => {
    const broken = ok(await callWith(acme, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': FAILING } } }));
    ok(await call(acme, 'plugin_deploy', { manifest: { name: 'Acme.Jobs', subscribeTo: ['JobQueued'] }, artifact: broken.artifact }));
    const emitted = ok(await call(acme, 'event_emit', { type: 'JobQueued', payload: { n: 1 } })).event;
    const letter = await until(async () => {
      const list = ok(await call(acme, 'dead_letter_list', { name: 'Acme.Jobs' })).deadLetters;
      return list.find((l: { event: { eventId: string } }) => l.event.eventId === emitted.eventId);
    });
    expect(letter.plugin).toEqual({ name: 'Acme.Jobs', tenantId: 'acme' });
    expect(letter.error.code).toBe('PLUGIN_ERROR');
    expect(ok(await call(globex, 'dead_letter_list', {})).deadLetters).toEqual([]);
    expect(sc(await call(globex, 'dead_letter_replay', { deadLetterId: letter.id })).code).toBe('NOT_FOUND');

    const again = ok(await callWith(acme, 'dead_letter_replay', { deadLetterId: letter.id }));
    expect(again).toMatchObject({ nowSucceeds: false, plugin: { name: 'Acme.Jobs', source: 'deployed' } });
    const fixed = ok(await callWith(acme, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': FIXED } } }));
    const replay = ok(await callWith(acme, 'dead_letter_replay', { deadLetterId: letter.id, artifact: fixed.artifact }));
    expect(replay.nowSucceeds).toBe(true);
    expect(replay.run.output).toEqual({ ok: true, type: 'JobQueued' });

    const trace = ok(await call(acme, 'event_trace', { eventId: emitted.eventId }));
    expect(trace.correlationId).toBe(emitted.correlationId);
    expect(trace.events.map((e: { eventId: string }) => e.eventId)).toContain(emitted.eventId);
    expect(trace.deadLetters[0]).toMatchObject({ plugin: 'Acme.Jobs', code: 'PLUGIN_ERROR' });
    expect(sc(await call(globex, 'event_trace', { eventId: emitted.eventId })).code).toBe('NOT_FOUND');

    const metrics = ok(await call(acme, 'plugin_metrics', { name: 'Acme.Jobs' }));
    expect(metrics.runtime).toBe(true);
    expect(metrics.plugins[0].deadLettered).toBeGreaterThanOrEqual(1);
    expect(ok(await call(globex, 'plugin_metrics', {})).plugins).toEqual([]);
  }, 60_000);

  it('PT-11: a deployed plugin reacts to a real event; plugin_logs and event_trace show what it did', async () => {
    const emitted = ok(await call(acme, 'event_emit', { type: 'TaskCreated', payload: { title: 'real' } })).event;
    const note = await until(async () => {
      const items = ok(await call(acme, 'entity_query', { entityTypeId: 'Note' })).items;
      return items.find((n: { attributes: { text: string } }) => n.attributes.text === 'note for real');
    });
    expect(note.causationId).toBe(emitted.eventId);
    const logs = ok(await call(acme, 'plugin_logs', { name: 'Acme.Notes', eventId: emitted.eventId })).lines;
    expect(logs[0]).toMatchObject({ message: 'wrote a note', tenantId: 'acme' });
    expect(ok(await call(globex, 'plugin_logs', { name: 'Acme.Notes' })).lines).toEqual([]);
    const trace = await until(async () => {
      const t = ok(await call(acme, 'event_trace', { eventId: emitted.eventId }));
      return t.events.some((e: { type: string }) => e.type === 'NoteCreated') ? t : undefined;
    });
    const created = trace.events.find((e: { type: string }) => e.type === 'NoteCreated');
    expect(created.depth).toBe(1);
    expect(created.parent).toBe(emitted.eventId);
  }, 60_000);

  it('PT-12: model_list, model_call (attributed to the tenant) and model_usage', async () => {
    const models = ok(await call(acme, 'model_list', {})).models.map((m: { name: string }) => m.name);
    expect(models).toEqual(expect.arrayContaining(['task.prioritizer.v2', 'embed.small', 'chat.default']));
    const scored = ok(await call(acme, 'model_call', { model: 'task.prioritizer.v2', input: { dueInDays: 1, estimateHours: 2, importance: 3 } }));
    expect(scored).toMatchObject({ model: 'task.prioritizer.v2', provider: 'builtin' });
    const chat = ok(await call(acme, 'model_call', { model: 'chat.default', input: 'hello' }));
    expect(chat.output.content).toContain('hello');
    const usage = ok(await call(acme, 'model_usage', { by: 'model', recent: 5 }));
    expect(usage.tenantId).toBe('acme');
    expect(usage.summaries.map((x: { key: string }) => x.key)).toEqual(expect.arrayContaining(['task.prioritizer.v2', 'chat.default']));
    expect(usage.recent[0].source).toBe('admin');
    expect(ok(await call(globex, 'model_usage', {})).summaries).toEqual([]);
    expect(sc(await call(acme, 'model_call', { model: 'no.such.model', input: 'x' })).code).toBe('NOT_FOUND');
    expect(sc(await call(acmeRo, 'model_call', { model: 'chat.default', input: 'x' })).code).toBe('TENANT_FORBIDDEN');
  });

  it('PT-13: with a real chat model configured, plugin_scaffold drafts the handler through the gateway (checked to compile)', async () => {
    const drafted = "import { on, writeEntity } from 'uee:plugin';\non('TaskCreated', (input) => { writeEntity({ entityTypeId: 'Note', attributes: { from: input.event.eventId } }); return { ok: true }; });\n";
    const real = s.app.gateway.listModels(null);
    const llm = { ...real[0]!, name: 'chat.llm', kind: 'chat' as const, provider: 'openai-test', description: 'a stand-in LLM' };
    const list = vi.spyOn(s.app.gateway, 'listModels').mockReturnValue([...real, llm]);
    const answer = (content: string) => ({ output: { content, finishReason: 'stop' as const }, model: 'chat.llm', provider: 'openai-test', usage: { inputTokens: 1, outputTokens: 1, cost: 0 }, cache: 'miss' as const, latencyMs: 1, callId: 'c' });
    const chat = vi.spyOn(s.app.gateway, 'call').mockResolvedValueOnce(answer('Here you go:\n```ts\n' + drafted + '```\n')).mockResolvedValueOnce(answer('```ts\nimport { on } from "uee:plugin";\non("A", () => { return { x: ; });\n```'));
    try {
      const good = ok(await callWith(acme, 'plugin_scaffold', { name: 'Drafted', events: ['TaskCreated'], capabilities: ['writeEntities'], description: 'note per task' }));
      expect(good.draftedBy).toMatchObject({ kind: 'model', model: 'chat.llm' });
      expect(good.files['main.ts']).toBe(drafted);
      const request = chat.mock.calls[0]!;
      expect(request[0]).toMatchObject({ tenantId: 'acme' });
      expect(JSON.stringify(request[1].input)).toContain('note per task');
      const bad = ok(await callWith(acme, 'plugin_scaffold', { name: 'Drafted', events: ['TaskCreated'], capabilities: ['writeEntities'] }));
      expect(bad.draftedBy).toMatchObject({ kind: 'template', model: 'chat.llm' });
      expect(bad.draftedBy.note).toContain('did not compile');
      expect(bad.files['main.ts']).toContain('TODO');
    } finally {
      list.mockRestore();
      chat.mockRestore();
    }
  }, 60_000);

  it('PT-14: every capability example and the workflow template compile; unused SDK imports need no capability', async () => {
    const all = ['readEntities', 'writeEntities', 'emitEvents', 'updateReadModels', 'accessTenantConfig', 'invokeModels', 'executeTimers', 'spawnWorkflows'];
    const wf = ok(await call(admin, 'plugin_scaffold', { name: 'Flow', kind: 'workflow', events: ['StepRequested', 'StepDone'], capabilities: all }));
    const compiled = ok(await callWith(admin, 'plugin_compile', { source: { language: 'ts', files: wf.files } }));
    // The template reads input.entity (the workflow state), which the runtime hands only with readEntities.
    expect(compiled.requiredCapabilities).toEqual(['readEntities']);
    expect(wf.files['main.ts']).toContain('// spawnWorkflows:');
  }, 60_000);

  it('PT-15: a cancelled compile is abandoned and the server keeps serving', async () => {
    const controller = new AbortController();
    const pending = admin.callTool(
      { name: 'plugin_compile', arguments: { source: { language: 'ts', files: { 'main.ts': "import { on } from 'uee:plugin';\non('Slow', () => ({ slow: " + Date.now() + " }));\n" } } } },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toThrow();
    expect(ok(await call(admin, 'model_list', { tenantId: 'acme' })).models.length).toBeGreaterThan(0);
    const after = ok(await callWith(admin, 'plugin_compile', { source: { language: 'wat', files: { 'main.wat': '(module (memory (export "memory") 1) (func (export "handle") (result i32) (i32.const 0)))' } } }));
    expect(after.artifact).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);
});
