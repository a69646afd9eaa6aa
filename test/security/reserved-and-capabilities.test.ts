/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- assertions over arbitrary JSON results */
/**
 * SECA-*: a hostile tenant against the platform's reserved namespace, the plugins' capabilities and
 * other tenants' artifacts — through a real server and real MCP clients, two tenants (acme attacks,
 * globex runs a healthy plugin that must keep working). For each attack: refused with a typed error,
 * nothing committed, globex unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { newId, type EventEnvelope } from '../../src/core/index.js';
import { ExecutionHost, commitEffects, createLocalModelGateway, createStoreHostServices, type ModelCallRequest } from '../../src/runtime/index.js';
import { PLUGIN_ENTITY_TYPE } from '../../src/registry/index.js';
import { call, connectHttp, sc, startServer, type TestServer } from '../mcp/helpers.js';
import { allOfType, newSite, openApp, until } from '../router/harness.js';
import { buildWat } from '../runtime/wat.js';

let s: TestServer;
let admin: Client;
let acme: Client;
let acmeRo: Client;
let globex: Client;

function ok(r: CallToolResult): Record<string, any> {
  if (r.isError) throw new Error(`unexpected tool error: ${JSON.stringify(r.structuredContent)}`);
  return sc(r);
}
function refused(r: CallToolResult): Record<string, any> {
  expect(r.isError, JSON.stringify(r.structuredContent)).toBe(true);
  return sc(r);
}

/** A module calling one host function with one fixed request and outputting the answer. */
async function hostCallModule(fn: string, request: unknown): Promise<string> {
  const wasm = await buildWat('host-call', { FN: fn, REQUEST: JSON.stringify(request) });
  return Buffer.from(wasm).toString('base64');
}
async function upload(client: Client, wasmBase64: string): Promise<string> {
  return ok(await call(client, 'plugin_compile', { wasmBase64 })).artifact as string;
}
async function deploy(client: Client, manifest: Record<string, unknown>, artifact: string): Promise<string> {
  return ok(await call(client, 'plugin_deploy', { manifest, artifact })).pluginId as string;
}
/** The host's answer a host-call module output in a sandbox run. */
function answerOf(run: any): any {
  return typeof run.output === 'string' ? JSON.parse(run.output) : run.output;
}

const db = { actor: 'test' };
let healthyRuns = 0;

/** globex's healthy plugin handles a fresh Ping (a new Healthy entity appears in globex). */
async function globexStillHealthy(): Promise<void> {
  const before = (await allOfType(s.app, 'globex', 'Healthy')).length;
  ok(await call(globex, 'event_emit', { type: 'Ping', payload: { n: ++healthyRuns } }));
  await until('globex healthy plugin to handle Ping', async () => ((await allOfType(s.app, 'globex', 'Healthy')).length > before ? true : undefined));
  // its EntityCreated is published too, so later bus-length comparisons start from a quiet outbox
  await s.app.relay.flush();
}

function invocations(pluginId: string): number {
  return s.app.runtime!.router.metrics.snapshot(pluginId)[0]?.invocations ?? 0;
}

beforeAll(async () => {
  s = await startServer();
  [admin, acme, acmeRo, globex] = await Promise.all([
    connectHttp(s.url, s.tokens.admin),
    connectHttp(s.url, s.tokens.acme),
    connectHttp(s.url, s.tokens.acmeRo),
    connectHttp(s.url, s.tokens.globex),
  ]);
  const healthy = await upload(globex, await hostCallModule('write_entity', { entityTypeId: 'Healthy', attributes: { ok: true } }));
  await deploy(globex, { name: 'Globex.Healthy', subscribeTo: ['Ping'], capabilities: ['writeEntities'] }, healthy);
  await s.app.runtime!.router.refresh();
  await globexStillHealthy();
}, 60_000);

afterAll(async () => {
  await Promise.all([admin, acme, acmeRo, globex].map((c) => c?.close()));
  await s?.close();
});

describe('SECA reserved namespace: platform types are written only by their services', () => {
  it('SECA-1: entity_put of a uee.plugin claiming tenantScope "global" is RESERVED_NAME (dry run too); nothing committed', async () => {
    const forged = { name: 'Evil', kind: 'event', subscribeTo: ['Ping'], capabilities: ['readEntities', 'writeEntities', 'accessTenantConfig'], tenantScope: 'global', pluginVersion: 1, status: 'enabled', language: 'wasm', binary: { sha256: 'a'.repeat(64), size: 10 }, exports: ['handle'], imports: [], deployedAt: new Date().toISOString() };
    const busBefore = await s.app.bus.length();
    for (const dryRun of [true, false]) {
      const e = refused(await call(acme, 'entity_put', { entityTypeId: PLUGIN_ENTITY_TYPE, attributes: forged, dryRun }));
      expect(e.code).toBe('RESERVED_NAME');
      expect(e.hint).toBeTruthy();
    }
    // variations: other reserved types, case, the timer type, an admin in a tenant scope
    for (const entityTypeId of ['uee.timer', 'uee.anything', 'UEE.plugin']) {
      expect(refused(await call(acme, 'entity_put', { entityTypeId, attributes: {} })).code).toBe('RESERVED_NAME');
    }
    expect(refused(await call(admin, 'entity_put', { tenantId: 'acme', entityTypeId: PLUGIN_ENTITY_TYPE, attributes: forged })).code).toBe('RESERVED_NAME');
    expect(await allOfType(s.app, 'acme', PLUGIN_ENTITY_TYPE)).toEqual([]);
    expect(await s.app.bus.length()).toBe(busBefore);
    await globexStillHealthy();
  });

  it('SECA-2: lifecycle and workflow event types cannot be announced by entity_put or event_emit (dry run too); the bus is untouched', async () => {
    const busBefore = await s.app.bus.length();
    for (const eventType of ['PluginInstalled', 'PluginEnabled', 'EntityDeleted', 'TimerFired', 'WorkflowSpawned', 'uee.custom']) {
      expect(refused(await call(acme, 'entity_put', { entityTypeId: 'Task', attributes: {}, eventType })).code).toBe('RESERVED_NAME');
    }
    for (const type of ['WorkflowSpawned', 'WorkflowTimer', 'WorkflowTransitioned', 'PluginInstalled', 'EntityCreated', 'TimerScheduled', 'uee.x']) {
      for (const dryRun of [true, false]) expect(refused(await call(acme, 'event_emit', { type, payload: { workflow: 'Any' }, dryRun })).code).toBe('RESERVED_NAME');
    }
    // an ordinary event claiming to be about a platform entity type
    expect(refused(await call(acme, 'event_emit', { type: 'Ping', entityTypeId: PLUGIN_ENTITY_TYPE })).code).toBe('RESERVED_NAME');
    expect(await s.app.bus.length()).toBe(busBefore);
    expect(await allOfType(s.app, 'acme', 'Task')).toEqual([]);
    await globexStillHealthy();
  });

  it('SECA-3: the store refuses reserved writes from api and plugin sources whatever path they come by; platform sources may', async () => {
    const acmeCtx = { tenantId: 'acme', ...db };
    const attempts: Array<Parameters<typeof s.app.store.commit>[1]> = [
      { writes: [{ entityTypeId: PLUGIN_ENTITY_TYPE, attributes: {} }] },
      { writes: [{ entityTypeId: 'Task', attributes: {}, eventType: 'PluginInstalled' }], source: { kind: 'plugin', id: 'p' } },
      { events: [{ type: 'WorkflowSpawned', payload: {} }] },
      { readModelOps: [{ op: 'upsert', view: 'uee.plugin-pins', id: 'Globex.Healthy', doc: { version: 1 } }], source: { kind: 'plugin', id: 'p' } },
      { writes: [{ entityTypeId: 'uee.timer', attributes: {} }], source: { kind: 'plugin', id: 'p' } },
    ];
    for (const batch of attempts) {
      await expect(s.app.store.commit(acmeCtx, batch)).rejects.toMatchObject({ code: 'RESERVED_NAME' });
    }
    // a plugin's effect set carrying a reserved event it did not get from spawn_workflow never commits
    const forgedSpawn = { writes: [], events: [{ eventId: newId(), type: 'WorkflowSpawned', payload: { workflow: 'X' } }], readModelOps: [], timers: [] };
    const meta = { eventId: newId(), pluginId: 'p', causation: { eventId: newId(), correlationId: newId(), hop: 0 } };
    await expect(commitEffects(s.app.store, acmeCtx, forgedSpawn, meta)).rejects.toMatchObject({ code: 'RESERVED_NAME' });
    // the runtime-derived effects of granted host functions still commit
    const spawned = await s.app.store.commit(acmeCtx, { events: [{ type: 'WorkflowSpawned', payload: { workflow: 'Nobody' } }], source: { kind: 'plugin', id: 'p' } });
    expect(spawned.events[0]!.type).toBe('WorkflowSpawned');
  });

  it('SECA-4: a uee.plugin stored in a tenant (data from before the guard) is scoped to that tenant, never global, and never reaches another tenant', async () => {
    // A tenant-stored plugin entity claiming global scope, as the audit's attacker wrote it.
    const stealer = await hostCallModule('write_entity', { entityTypeId: 'Stolen', attributes: { from: 'acme' } });
    const bytes = new Uint8Array(Buffer.from(stealer, 'base64'));
    const { sha256, size } = await s.app.store.blobs.put(bytes);
    const attributes = { name: 'Acme.Stealer', kind: 'event', subscribeTo: ['Ping'], capabilities: ['writeEntities'], tenantScope: 'global', maximumResourceBudget: {}, settings: {}, pluginVersion: 1, status: 'enabled', language: 'wasm', binary: { sha256, size }, exports: ['handle'], imports: ['extism:host/user/write_entity'], deployedAt: new Date().toISOString() };
    await s.app.store.put({ tenantId: 'acme', actor: 'legacy' }, { entityTypeId: PLUGIN_ENTITY_TYPE, attributes, eventType: 'PluginInstalled' }, { source: { kind: 'system', id: 'legacy' } });
    await s.app.runtime!.router.refresh();

    const listed = ok(await call(acme, 'plugin_list', {})).plugins.find((p: any) => p.name === 'Acme.Stealer');
    expect(listed).toMatchObject({ tenantId: 'acme', tenantScope: 'tenant' });
    const [record] = (await s.app.registry.list({ tenantId: 'acme', actor: 'test' })).filter((p) => p.attributes.name === 'Acme.Stealer');
    expect(record!.attributes).toMatchObject({ tenantScope: 'tenant', tenantId: 'acme' });

    // globex's Ping first, then acme's: the stealer's stream is handled in order, so once it has
    // handled acme's Ping it has had its chance at globex's.
    await globexStillHealthy();
    ok(await call(acme, 'event_emit', { type: 'Ping' }));
    await until('the stealer to handle its own tenant\'s Ping', async () => ((await allOfType(s.app, 'acme', 'Stolen')).length > 0 ? true : undefined));
    expect(await allOfType(s.app, 'globex', 'Stolen')).toEqual([]);
  }, 30_000);

  it('SECA-5: the execution host never runs a tenant-loaded plugin on another tenant\'s event, whatever scope its spec claims', async () => {
    const host = await ExecutionHost.create({ workers: 1, services: createStoreHostServices({ store: s.app.store, models: createLocalModelGateway() }) });
    try {
      const wasm = await buildWat('host-call', { FN: 'write_entity', REQUEST: JSON.stringify({ entityTypeId: 'Stolen', attributes: {} }) });
      await host.load({ id: 'forged', name: 'Forged', version: 1, kind: 'event', capabilities: ['writeEntities'], tenantScope: 'global', tenantId: 'acme', wasm });
      const eventId = newId();
      const event: EventEnvelope = { eventId, type: 'Ping', tenantId: 'globex', payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api', id: 'x' } };
      const result = await host.invoke('forged', { event, settings: {} });
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error.code).toBe('TENANT_FORBIDDEN');
    } finally {
      await host.close();
    }
  });

  it('SECA-6: plugins cannot reach the namespace through host functions: emit, write, read-model and timer requests answer RESERVED_NAME and nothing is buffered', async () => {
    const cases: Array<{ fn: string; request: unknown; capabilities: string[] }> = [
      { fn: 'emit_event', request: { type: 'WorkflowSpawned', payload: { workflow: 'Acme.Flow' } }, capabilities: ['emitEvents'] },
      { fn: 'emit_event', request: { type: 'PluginDisabled', payload: {} }, capabilities: ['emitEvents'] },
      { fn: 'emit_event', request: { type: 'Ping', entityTypeId: 'uee.plugin' }, capabilities: ['emitEvents'] },
      { fn: 'write_entity', request: { entityTypeId: 'uee.plugin', attributes: { tenantScope: 'global' } }, capabilities: ['writeEntities'] },
      { fn: 'write_entity', request: { entityTypeId: 'Task', attributes: {}, eventType: 'EntityDeleted' }, capabilities: ['writeEntities'] },
      { fn: 'update_read_model', request: { op: 'upsert', view: 'uee.plugin-pins', id: 'Globex.Healthy', doc: { version: 99 } }, capabilities: ['updateReadModels'] },
      { fn: 'schedule_timer', request: { delayMs: 0, type: 'WorkflowSpawned', payload: { workflow: 'Acme.Flow' } }, capabilities: ['executeTimers'] },
    ];
    for (const c of cases) {
      const artifact = await upload(acme, await hostCallModule(c.fn, c.request));
      const r = ok(await call(acme, 'plugin_test', { artifact, manifest: { capabilities: c.capabilities }, events: [{ type: 'Go' }] }));
      const run = r.runs[0];
      const answer = answerOf(run);
      expect(answer, `${c.fn} ${JSON.stringify(c.request)}`).toMatchObject({ ok: false, error: { code: 'RESERVED_NAME' } });
      expect(run.effects).toEqual({ writes: [], emits: [], readModelUpdates: [], timers: [] });
    }
    await globexStillHealthy();
  }, 60_000);

  it('SECA-7: a plugin with only emitEvents cannot start a workflow in the real router; spawn_workflow with spawnWorkflows can', async () => {
    const flow = await upload(acme, await hostCallModule('write_entity', { entityTypeId: 'FlowRan', attributes: {} }));
    await deploy(acme, { name: 'Acme.Flow', kind: 'workflow', subscribeTo: ['NeverSent'], capabilities: ['writeEntities'] }, flow);
    const emitter = await upload(acme, await hostCallModule('emit_event', { type: 'WorkflowSpawned', payload: { workflow: 'Acme.Flow', input: {} } }));
    const emitterId = await deploy(acme, { name: 'Acme.SneakySpawner', subscribeTo: ['Go'], capabilities: ['emitEvents'] }, emitter);
    const spawner = await upload(acme, await hostCallModule('spawn_workflow', { workflow: 'Acme.Flow', input: {} }));
    await deploy(acme, { name: 'Acme.Spawner', subscribeTo: ['GoSpawn'], capabilities: ['spawnWorkflows'] }, spawner);
    await s.app.runtime!.router.refresh();

    ok(await call(acme, 'event_emit', { type: 'Go' }));
    await until('the sneaky spawner to run', () => (invocations(emitterId) > 0 ? true : undefined));
    // the legitimate spawn runs the workflow; the sneaky one (handled earlier) never did
    ok(await call(acme, 'event_emit', { type: 'GoSpawn' }));
    await until('the workflow to run once', async () => ((await allOfType(s.app, 'acme', 'FlowRan')).length > 0 ? true : undefined));
    expect(await allOfType(s.app, 'acme', 'FlowRan')).toHaveLength(1);
    await globexStillHealthy();
  }, 60_000);
});

describe('SECA capabilities: deny by default, user scope on reads and writes, model allow-lists', () => {
  it('SECA-8: a module importing write_entity with NO capabilities is refused at test and at deploy (CAPABILITY_DENIED)', async () => {
    const artifact = await upload(acme, await hostCallModule('write_entity', { entityTypeId: 'Task', attributes: {} }));
    const tested = refused(await call(acme, 'plugin_test', { artifact, manifest: { capabilities: [] }, events: [{ type: 'Go' }] }));
    expect(tested.code).toBe('CAPABILITY_DENIED');
    expect(tested.hint).toContain('writeEntities');
    const deployed = refused(await call(acme, 'plugin_deploy', { manifest: { name: 'Acme.NoCaps', subscribeTo: ['Go'], capabilities: [] }, artifact }));
    expect(deployed.code).toBe('CAPABILITY_DENIED');
    expect(ok(await call(acme, 'plugin_list', {})).plugins.some((p: any) => p.name === 'Acme.NoCaps')).toBe(false);
  });

  it('SECA-9: the event\'s entity reaches only plugins with readEntities (router and sandbox alike)', async () => {
    const source = {
      language: 'ts',
      files: {
        'main.ts': "import { on, writeEntity } from 'uee:plugin';\non('Seen', (input) => { writeEntity({ entityTypeId: 'Mark', attributes: { marker: String(input.settings.marker), sawEntity: input.entity ? input.entity.entityId : null } }); return null; });\n",
      },
    };
    const artifact = ok(await call(acme, 'plugin_compile', { source })).artifact as string;
    await deploy(acme, { name: 'Acme.Blind', subscribeTo: ['Seen'], capabilities: ['writeEntities'], settings: { marker: 'blind' } }, artifact);
    await deploy(acme, { name: 'Acme.Reader', subscribeTo: ['Seen'], capabilities: ['readEntities', 'writeEntities'], settings: { marker: 'reader' } }, artifact);
    await s.app.runtime!.router.refresh();
    const task = ok(await call(acme, 'entity_put', { entityTypeId: 'Secret', attributes: { pin: 1234 }, eventType: 'Seen' })).entity;
    const marks = await until('both plugins to mark', async () => {
      const m = (await allOfType(s.app, 'acme', 'Mark')).map((v) => v.attributes);
      return m.length >= 2 ? m : undefined;
    });
    expect(marks.find((m) => m.marker === 'reader')!.sawEntity).toBe(task.entityId);
    expect(marks.find((m) => m.marker === 'blind')!.sawEntity).toBeNull();

    const sandbox = ok(await call(acme, 'plugin_test', { artifact, manifest: { capabilities: ['writeEntities'], settings: { marker: 'blind' } }, fixtures: [{ entityId: 'sec-1', entityTypeId: 'Secret', attributes: { pin: 1 } }], events: [{ type: 'Seen', entityId: 'sec-1' }] }));
    expect(sandbox.runs[0].effects.writes[0].attributes.sawEntity).toBeNull();
  }, 60_000);

  it('SECA-10: a user-scoped plugin reads only its owner\'s entities (others answer null, like missing ones)', async () => {
    const artifact = await upload(acme, await hostCallModule('read_entity', { entityId: 'bob-doc' }));
    const pluginId = await deploy(acme, { name: 'Acme.AliceReader', subscribeTo: ['Touch'], capabilities: ['readEntities'], tenantScope: 'user', ownerId: 'alice' }, artifact);
    const fixtures = [
      { entityId: 'bob-doc', entityTypeId: 'Doc', attributes: { diary: 'bob' }, ownerId: 'bob' },
      { entityId: 'alice-doc', entityTypeId: 'Doc', attributes: { diary: 'alice' }, ownerId: 'alice' },
    ];
    const r = ok(await call(acme, 'plugin_test', { pluginId, fixtures, events: [{ type: 'Touch', entityId: 'alice-doc' }] }));
    expect(answerOf(r.runs[0])).toEqual({ ok: true, value: null });
    // control: the same read of the owner's own entity answers it
    const own = await upload(acme, await hostCallModule('read_entity', { entityId: 'alice-doc' }));
    const ownId = await deploy(acme, { name: 'Acme.AliceReaderOwn', subscribeTo: ['Touch'], capabilities: ['readEntities'], tenantScope: 'user', ownerId: 'alice' }, own);
    const r2 = ok(await call(acme, 'plugin_test', { pluginId: ownId, fixtures, events: [{ type: 'Touch', entityId: 'alice-doc' }] }));
    expect(answerOf(r2.runs[0])).toMatchObject({ ok: true, value: { entityId: 'alice-doc', ownerId: 'alice' } });
  }, 60_000);

  it('SECA-11: a user-scoped plugin cannot overwrite another owner\'s (or an ownerless) entity; what it creates belongs to its owner', async () => {
    const artifact = await upload(acme, await hostCallModule('write_entity', { entityId: 'bob-doc', entityTypeId: 'Doc', attributes: { pwned: true } }));
    const pluginId = await deploy(acme, { name: 'Acme.AliceWriter', subscribeTo: ['Touch'], capabilities: ['writeEntities'], tenantScope: 'user', ownerId: 'alice' }, artifact);
    for (const ownerId of ['bob', null]) {
      const fixtures = [
        { entityId: 'bob-doc', entityTypeId: 'Doc', attributes: { diary: 'bob' }, ownerId },
        { entityId: 'alice-doc', entityTypeId: 'Doc', attributes: {}, ownerId: 'alice' },
      ];
      const r = ok(await call(acme, 'plugin_test', { pluginId, fixtures, events: [{ type: 'Touch', entityId: 'alice-doc' }] }));
      expect(answerOf(r.runs[0]), `owner ${ownerId}`).toMatchObject({ ok: false, error: { code: 'CAPABILITY_DENIED' } });
      expect(r.runs[0].effects.writes).toEqual([]);
    }
    // in the real router: alice's entity triggers the plugin, bob's stays at v1
    const bob = ok(await call(acme, 'entity_put', { entityId: 'bob-doc', entityTypeId: 'Doc', attributes: { diary: 'bob' }, ownerId: 'bob' })).entity;
    await s.app.runtime!.router.refresh();
    ok(await call(acme, 'entity_put', { entityId: 'alice-doc', entityTypeId: 'Doc', attributes: {}, ownerId: 'alice', eventType: 'Touch' }));
    await until('the user-scoped writer to run', () => (invocations(pluginId) > 0 ? true : undefined));
    const after = ok(await call(acme, 'entity_get', { entityId: 'bob-doc' })).entity;
    expect(after).toMatchObject({ version: bob.version, attributes: { diary: 'bob' }, ownerId: 'bob' });

    const creator = await upload(acme, await hostCallModule('write_entity', { entityTypeId: 'Doc', attributes: { fresh: true } }));
    const creatorId = await deploy(acme, { name: 'Acme.AliceCreator', subscribeTo: ['Touch'], capabilities: ['writeEntities'], tenantScope: 'user', ownerId: 'alice' }, creator);
    const created = ok(await call(acme, 'plugin_test', { pluginId: creatorId, fixtures: [{ entityId: 'alice-doc', entityTypeId: 'Doc', attributes: {}, ownerId: 'alice' }], events: [{ type: 'Touch', entityId: 'alice-doc' }] }));
    expect(created.runs[0].effects.writes[0]).toMatchObject({ entityTypeId: 'Doc', ownerId: 'alice' });
    await globexStillHealthy();
  }, 60_000);

  it('SECA-21: a plugin restricted to some entity types cannot overwrite, read or learn the type of an entity outside them', async () => {
    const fixtures = [{ entityId: 'sec-9', entityTypeId: 'Secret', attributes: { pin: 9 } }];
    const manifest = { capabilities: ['writeEntities'], restrictedEntityTypes: ['Note'] };
    const writer = await upload(acme, await hostCallModule('write_entity', { entityId: 'sec-9', entityTypeId: 'Note', attributes: {} }));
    const w = ok(await call(acme, 'plugin_test', { artifact: writer, manifest, fixtures, events: [{ type: 'Go' }] }));
    const answer = answerOf(w.runs[0]);
    expect(answer).toMatchObject({ ok: false, error: { code: 'CAPABILITY_DENIED' } });
    expect(JSON.stringify(answer)).not.toContain('Secret');
    expect(w.runs[0].effects.writes).toEqual([]);
    const reader = await upload(acme, await hostCallModule('read_entity', { entityId: 'sec-9' }));
    const r = ok(await call(acme, 'plugin_test', { artifact: reader, manifest: { capabilities: ['readEntities'], restrictedEntityTypes: ['Note'] }, fixtures, events: [{ type: 'Go' }] }));
    expect(answerOf(r.runs[0])).toEqual({ ok: true, value: null });
  });

  it('SECA-12: call_model outside the manifest\'s models is CAPABILITY_DENIED in the host', async () => {
    const artifact = await upload(acme, await hostCallModule('call_model', { model: 'not-allowed', input: { q: 1 } }));
    const pluginId = await deploy(acme, { name: 'Acme.Modeller', subscribeTo: ['Ask'], capabilities: ['invokeModels'], models: ['allowed-only'] }, artifact);
    const r = ok(await call(acme, 'plugin_test', { pluginId, events: [{ type: 'Ask' }] }));
    expect(answerOf(r.runs[0])).toMatchObject({ ok: false, error: { code: 'CAPABILITY_DENIED' } });
  });

  it('SECA-13: the runtime passes the manifest\'s models allow-list to the gateway with every call', async () => {
    const seen: ModelCallRequest[] = [];
    const host = await ExecutionHost.create({ workers: 1, services: createStoreHostServices({ store: s.app.store, models: { call: (_ctx, req) => (seen.push(req), Promise.resolve({ ok: 1 })) } }) });
    try {
      const wasm = await buildWat('host-call', { FN: 'call_model', REQUEST: JSON.stringify({ model: 'm1', input: {} }) });
      await host.load({ id: 'm', name: 'M', version: 1, kind: 'event', capabilities: ['invokeModels'], models: ['m1', 'm2'], wasm });
      const eventId = newId();
      const result = await host.invoke('m', { event: { eventId, type: 'Ask', tenantId: 'acme', payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api', id: 'x' } }, settings: {} });
      expect(result.ok).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.allowedModels).toEqual(['m1', 'm2']);
    } finally {
      await host.close();
    }
  });
});

describe('SECA dry runs write nothing (checked where the relay cannot empty it)', () => {
  it('SECA-14: event_emit dryRun publishes nothing: the bus stream keeps its length and the idempotency key stays unused', async () => {
    const busBefore = await s.app.bus.length();
    const key = `dry-${newId()}`;
    const plan = ok(await call(acme, 'event_emit', { type: 'DryPing', idempotencyKey: key, dryRun: true }));
    expect(plan).toMatchObject({ dryRun: true, applied: false, event: null });
    await s.app.relay.flush();
    expect(await s.app.bus.length()).toBe(busBefore);
    const real = ok(await call(acme, 'event_emit', { type: 'DryPing', idempotencyKey: key }));
    expect(real.applied).toBe(true);
  });

  it('SECA-15: entity_put and tenant_config_set dry runs write nothing', async () => {
    const busBefore = await s.app.bus.length();
    ok(await call(acme, 'entity_put', { entityId: 'dry-1', entityTypeId: 'Task', attributes: { a: 1 }, dryRun: true }));
    expect(refused(await call(acme, 'entity_get', { entityId: 'dry-1' })).code).toBe('NOT_FOUND');
    const before = ok(await call(acme, 'tenant_config_get', {})).settings;
    ok(await call(acme, 'tenant_config_set', { settings: { dry: true }, dryRun: true }));
    expect(ok(await call(acme, 'tenant_config_get', {})).settings).toEqual(before);
    expect(await s.app.bus.length()).toBe(busBefore);
  });
});

describe('SECA artifacts belong to the tenant that uploaded them', () => {
  let acmeArtifact: string;

  beforeAll(async () => {
    acmeArtifact = await upload(acme, await hostCallModule('write_entity', { entityTypeId: 'AcmeOnly', attributes: { secret: 'acme' } }));
  });

  it('SECA-16: another tenant cannot test or deploy by an artifact id it never uploaded: the same NOT_FOUND as a missing one', async () => {
    const missing = refused(await call(globex, 'plugin_test', { artifact: 'f'.repeat(64), events: [{ type: 'Go' }] }));
    const foreign = refused(await call(globex, 'plugin_test', { artifact: acmeArtifact, events: [{ type: 'Go' }] }));
    expect(foreign.code).toBe('NOT_FOUND');
    expect(foreign.hint).toBe(missing.hint);
    expect(foreign.message.replace(acmeArtifact, 'X')).toBe(missing.message.replace('f'.repeat(64), 'X'));
    for (const dryRun of [true, false]) {
      expect(refused(await call(globex, 'plugin_deploy', { manifest: { name: 'Globex.Thief', subscribeTo: ['Ping'], capabilities: ['writeEntities'] }, artifact: acmeArtifact, dryRun })).code).toBe('NOT_FOUND');
    }
    expect(ok(await call(globex, 'plugin_list', {})).plugins.some((p: any) => p.name === 'Globex.Thief')).toBe(false);
    await globexStillHealthy();
  });

  it('SECA-19: dead_letter_replay by a foreign artifact is NOT_FOUND; by the tenant\'s own artifact it runs', async () => {
    const failing = Buffer.from(await buildWat('fail')).toString('base64');
    await deploy(globex, { name: 'Globex.Failing', subscribeTo: ['Fail'] }, await upload(globex, failing));
    await s.app.runtime!.router.refresh();
    ok(await call(globex, 'event_emit', { type: 'Fail' }));
    const letter = await until('a globex dead letter', async () => ok(await call(globex, 'dead_letter_list', { name: 'Globex.Failing' })).deadLetters[0]);
    const foreign = refused(await call(globex, 'dead_letter_replay', { deadLetterId: letter.id, artifact: acmeArtifact }));
    expect(foreign.code).toBe('NOT_FOUND');
    expect(foreign.message).toContain('artifact');
    const own = await upload(globex, await hostCallModule('write_entity', { entityTypeId: 'Fixed', attributes: {} }));
    expect(ok(await call(globex, 'dead_letter_replay', { deadLetterId: letter.id, artifact: own, manifest: { capabilities: ['writeEntities'] } })).nowSucceeds).toBe(true);
    await globexStillHealthy();
  }, 30_000);

  it('SECA-17: the uploader\'s read-only token and the admin may use it; a tenant that uploads the same bytes owns its own copy', async () => {
    expect(ok(await call(acmeRo, 'plugin_test', { artifact: acmeArtifact, events: [{ type: 'Go' }] })).passed).toBe(1);
    expect(ok(await call(admin, 'plugin_test', { tenantId: 'globex', artifact: acmeArtifact, events: [{ type: 'Go' }] })).passed).toBe(1);
    const same = await hostCallModule('write_entity', { entityTypeId: 'AcmeOnly', attributes: { secret: 'acme' } });
    expect(await upload(globex, same)).toBe(acmeArtifact);
    expect(ok(await call(globex, 'plugin_test', { artifact: acmeArtifact, events: [{ type: 'Go' }] })).passed).toBe(1);
  });

  it('SECA-18: deploying from an artifact records the source only of the deployer\'s own compile', async () => {
    const files = { 'main.wat': '(module (memory (export "memory") 1) (func (export "handle") (result i32) (i32.const 0)) (; acme secret ;))' };
    const artifact = ok(await call(acme, 'plugin_compile', { source: { language: 'wat', files } })).artifact as string;
    // globex obtains the same bytes elsewhere and uploads them: it owns that copy, but not acme's source
    const bytes = await s.app.store.blobs.get(artifact);
    await upload(globex, Buffer.from(bytes).toString('base64'));
    const pluginId = await deploy(globex, { name: 'Globex.Copy', subscribeTo: ['Never'] }, artifact);
    const src = ok(await call(globex, 'plugin_source', { pluginId }));
    expect(JSON.stringify(src.files)).not.toContain('acme secret');
    const acmeId = await deploy(acme, { name: 'Acme.Original', subscribeTo: ['Never'] }, artifact);
    expect(JSON.stringify(ok(await call(acme, 'plugin_source', { pluginId: acmeId })).files)).toContain('acme secret');
  });
  it('SECA-23: a user-scoped plugin cannot emit an event naming another owner\'s entity; its owner\'s entities it may name', async () => {
    const fixtures = [
      { entityId: 'bob-doc', entityTypeId: 'Doc', attributes: { diary: 'bob' }, ownerId: 'bob' },
      { entityId: 'alice-doc', entityTypeId: 'Doc', attributes: {}, ownerId: 'alice' },
    ];
    const forge = await upload(acme, await hostCallModule('emit_event', { type: 'DocApproved', entityId: 'bob-doc', entityTypeId: 'Doc' }));
    const forgeId = await deploy(acme, { name: 'Acme.AliceForger', subscribeTo: ['Touch'], capabilities: ['emitEvents'], tenantScope: 'user', ownerId: 'alice' }, forge);
    const r = ok(await call(acme, 'plugin_test', { pluginId: forgeId, fixtures, events: [{ type: 'Touch', entityId: 'alice-doc' }] }));
    expect(answerOf(r.runs[0])).toMatchObject({ ok: false, error: { code: 'CAPABILITY_DENIED' } });
    expect(r.runs[0].effects.emits).toEqual([]);
    const own = await upload(acme, await hostCallModule('emit_event', { type: 'DocApproved', entityId: 'alice-doc', entityTypeId: 'Doc' }));
    const ownId = await deploy(acme, { name: 'Acme.AliceAnnouncer', subscribeTo: ['Touch'], capabilities: ['emitEvents'], tenantScope: 'user', ownerId: 'alice' }, own);
    const r2 = ok(await call(acme, 'plugin_test', { pluginId: ownId, fixtures, events: [{ type: 'Touch', entityId: 'alice-doc' }] }));
    expect(answerOf(r2.runs[0])).toMatchObject({ ok: true });
    expect(r2.runs[0].effects.emits).toHaveLength(1);
  }, 60_000);

  it('SECA-22: a global plugin\'s source and manifest are the operator\'s: a tenant gets TENANT_FORBIDDEN, the admin reads them', async () => {
    const files = { 'main.wat': '(module (memory (export "memory") 1) (func (export "handle") (result i32) (i32.const 0)) (; operator secret ;))' };
    const artifact = ok(await call(admin, 'plugin_compile', { source: { language: 'wat', files } })).artifact as string;
    const pluginId = await deploy(admin, { name: 'Ops.Global', subscribeTo: ['Never'], settings: { apiKey: 'operator-key' } }, artifact);
    const denied = sc(await call(acme, 'plugin_source', { pluginId }));
    expect(denied.code).toBe('TENANT_FORBIDDEN');
    expect(JSON.stringify(denied)).not.toContain('operator');
    const own = ok(await call(admin, 'plugin_source', { pluginId }));
    expect(JSON.stringify(own.files)).toContain('operator secret');
  });
});

describe('SECA after a restart on the same data', () => {
  it('SECA-20: a tenant-stored uee.plugin claiming global scope stays confined to its tenant after the process restarts', async () => {
    const site = newSite('embedded', 'seca');
    try {
      let app = await openApp(site);
      const wasm = await buildWat('host-call', { FN: 'write_entity', REQUEST: JSON.stringify({ entityTypeId: 'Stolen', attributes: {} }) });
      const { sha256, size } = await app.store.blobs.put(wasm);
      const attributes = { name: 'Acme.Stealer', kind: 'event', subscribeTo: ['Ping'], capabilities: ['writeEntities'], tenantScope: 'global', maximumResourceBudget: {}, settings: {}, pluginVersion: 1, status: 'enabled', language: 'wasm', binary: { sha256, size }, exports: ['handle'], imports: [], deployedAt: new Date().toISOString() };
      await app.store.put({ tenantId: 'acme', actor: 'legacy' }, { entityTypeId: PLUGIN_ENTITY_TYPE, attributes, eventType: 'PluginInstalled' }, { source: { kind: 'system', id: 'legacy' } });
      await app.close();
      app = await openApp(site);
      try {
        await app.runtime!.router.refresh();
        await app.store.put({ tenantId: 'globex', actor: 'test' }, { entityTypeId: 'Task', attributes: {}, eventType: 'Ping' });
        await app.store.put({ tenantId: 'acme', actor: 'test' }, { entityTypeId: 'Task', attributes: {}, eventType: 'Ping' });
        await until('the stealer to handle acme\'s Ping', async () => ((await allOfType(app, 'acme', 'Stolen')).length > 0 ? true : undefined));
        expect(await allOfType(app, 'globex', 'Stolen')).toEqual([]);
      } finally {
        await app.close();
      }
    } finally {
      await site.dispose();
    }
  }, 60_000);
});
