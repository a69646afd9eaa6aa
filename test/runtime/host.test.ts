import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantCtx } from '../helpers.js';
import { commitEffects, type InvocationResult } from '../../src/runtime/index.js';
import { makeEvent, openRuntime, type RuntimeFixture } from './setup.js';
import { buildWat } from './wat.js';

function expectOk(r: InvocationResult): Extract<InvocationResult, { ok: true }> {
  if (!r.ok) throw new Error(`expected success, got ${r.error.code}: ${r.error.message}`);
  return r;
}

function expectError(r: InvocationResult, code: string): Extract<InvocationResult, { ok: false }> {
  if (r.ok) throw new Error(`expected ${code}, got success`);
  expect(r.error.code).toBe(code);
  return r;
}

let rt: RuntimeFixture;

beforeAll(async () => {
  rt = await openRuntime();
});
afterAll(async () => {
  await rt?.close();
});

describe('runtime host: loading (deny by default)', () => {
  it('RT-LOAD-1 rejects an import its capabilities do not grant with CAPABILITY_DENIED naming the capabilities', async () => {
    const wasm = await buildWat('ungranted');
    const err = await rt.host.load({ id: 'ungranted', name: 'Ungranted', version: '1', kind: 'event', capabilities: ['readEntities'], wasm }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CAPABILITY_DENIED', details: { missingCapabilities: ['writeEntities', 'invokeModels'] } });
    expect(rt.host.has('ungranted')).toBe(false);
  });

  it('RT-LOAD-2 loads the same module once the capabilities are declared, linking only those imports', async () => {
    const wasm = await buildWat('ungranted');
    const info = await rt.host.load({ id: 'granted', name: 'Granted', version: '1', kind: 'event', capabilities: ['writeEntities', 'invokeModels'], wasm });
    expect(info.hostImports.sort()).toEqual(['call_model', 'write_entity']);
    expect(rt.host.unload('granted')).toBe(true);
  });

  it('RT-LOAD-3 rejects WASI imports, start sections, wrong kernel signatures and a missing export', async () => {
    const load = async (name: string, kind: 'event' | 'model' = 'event') =>
      rt.host.load({ id: name, name, version: '1', kind, capabilities: [], wasm: await buildWat(name) }).catch((e: unknown) => e);
    expect(await load('wasi')).toMatchObject({ code: 'CAPABILITY_DENIED' });
    expect(await load('start-section')).toMatchObject({ code: 'INVALID_MODULE' });
    expect(await load('bad-signature')).toMatchObject({ code: 'INVALID_MODULE' });
    expect(await load('noop', 'model')).toMatchObject({ code: 'INVALID_MODULE', details: { export: 'infer' } });
  });

  it('RT-LOAD-4 rejects a memory minimum over budget and caps a missing maximum to the budget', async () => {
    const big = await rt.host.load({ id: 'big', name: 'Big', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('big-memory') }).catch((e: unknown) => e);
    expect(big).toMatchObject({ code: 'BUDGET_EXCEEDED', details: { limit: 'memoryPages' } });
    const info = await rt.host.load({ id: 'capped', name: 'Capped', version: '1', kind: 'event', capabilities: [], budget: { memoryPages: 8 }, wasm: await buildWat('noop') });
    expect(info.memory).toEqual({ min: 1, max: 8 });
    rt.host.unload('capped');
  });
});

describe('runtime host: calls', () => {
  it('RT-CALL-1 passes the ABI input (event, settings, fixed context) and returns the JSON output', async () => {
    await rt.host.load({ id: 'echo', name: 'Echo', version: '3', kind: 'event', capabilities: [], wasm: await buildWat('echo') });
    const event = makeEvent('acme');
    const r = expectOk(await rt.host.invoke('echo', { event, settings: { threshold: 3 } }));
    const out = r.output as { event: { eventId: string }; settings: unknown; context: Record<string, unknown> };
    expect(out.event.eventId).toBe(event.eventId);
    expect(out.settings).toEqual({ threshold: 3 });
    expect(out.context).toMatchObject({ now: event.occurredAt, tenantId: 'acme', plugin: { id: 'echo', name: 'Echo', version: '3' } });
    expect(out.context.randomSeed).toMatch(/^[0-9a-f]{32}$/);
    const again = expectOk(await rt.host.invoke('echo', { event }));
    expect((again.output as typeof out).context.randomSeed).toBe(out.context.randomSeed);
  });

  it('RT-CALL-2 reports error_set + non-zero as PLUGIN_ERROR with the plugin code, and a bare non-zero return too', async () => {
    await rt.host.load({ id: 'fail', name: 'Fail', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('fail') });
    await rt.host.load({ id: 'rc', name: 'Rc', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('rc-only') });
    const r = expectError(await rt.host.invoke('fail', { event: makeEvent('acme') }), 'PLUGIN_ERROR');
    expect(r.error.message).toBe('task has no due date');
    expect(r.error.details).toMatchObject({ pluginCode: 'NOT_READY', rc: 1 });
    expect(expectError(await rt.host.invoke('rc', { event: makeEvent('acme') }), 'PLUGIN_ERROR').error.details).toMatchObject({ rc: 7 });
  });

  it('RT-CALL-3 buffers every effect, and commitEffects applies them once per (event, plugin)', async () => {
    await rt.host.load({
      id: 'effects',
      name: 'Effects',
      version: '1',
      kind: 'event',
      capabilities: ['writeEntities', 'emitEvents', 'updateReadModels', 'executeTimers'],
      wasm: await buildWat('effects'),
    });
    const event = makeEvent('acme');
    const r = expectOk(await rt.host.invoke('effects', { event }));
    expect(r.output).toEqual({ scored: true });
    expect(r.effects.writes).toHaveLength(1);
    expect(r.effects.events.map((e) => e.type)).toEqual(['PrioritySuggested']);
    expect(r.effects.readModelOps).toHaveLength(1);
    expect(r.effects.timers[0]).toMatchObject({ op: 'schedule', timer: { type: 'ReminderDue', fireAt: '2026-11-26T12:01:00.000Z' } });
    expect(r.logs).toEqual([{ level: 'info', message: 'scored' }]);
    expect(r.usage).toMatchObject({ hostCalls: 5, emits: 1 });
    const ctx = tenantCtx('acme', 'plugin:Effects@1');
    const meta = { eventId: event.eventId, pluginId: 'effects', causation: { eventId: event.eventId, correlationId: event.correlationId, hop: 0 } };
    const first = await commitEffects(rt.store, ctx, r.effects, meta);
    expect(first.applied).toBe(true);
    expect((await rt.store.get(ctx, 'task-9')).attributes).toEqual({ priorityScore: 0.7 });
    expect((await rt.store.readModels.get(ctx, 'priorities', 'task-9')).doc).toEqual({ score: 0.7 });
    const timerId = r.effects.timers[0]!.timerId;
    expect((await rt.store.get(ctx, timerId)).entityTypeId).toBe('uee.timer');
    const second = await commitEffects(rt.store, ctx, r.effects, meta);
    expect(second.applied).toBe(false);
    expect((await rt.store.history(ctx, 'task-9')).items).toHaveLength(1);
  });

  it('RT-CALL-4 lets a plugin read its own buffered write within the event (read-your-writes)', async () => {
    const write = JSON.stringify({ entityId: 'ryw-1', entityTypeId: 'Task', attributes: { title: 'mine' } });
    const read = JSON.stringify({ entityId: 'ryw-1' });
    await rt.host.load({ id: 'ryw', name: 'Ryw', version: '1', kind: 'event', capabilities: ['readEntities', 'writeEntities'], wasm: await buildWat('write-then-read', { WRITE: write, READ: read }) });
    const r = expectOk(await rt.host.invoke('ryw', { event: makeEvent('acme') }));
    expect(r.output).toMatchObject({ ok: true, value: { entityId: 'ryw-1', version: 1, tenantId: 'acme', attributes: { title: 'mine' } } });
    await expect(rt.store.get(tenantCtx('acme'), 'ryw-1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('RT-CALL-5 enforces restrictedEntityTypes on reads (null) and writes (CAPABILITY_DENIED answer)', async () => {
    await rt.store.put(tenantCtx('acme'), { entityId: 'note-1', entityTypeId: 'Note', attributes: { text: 'secret' } });
    const reader = await buildWat('host-call', { FN: 'read_entity', REQUEST: JSON.stringify({ entityId: 'note-1' }) });
    const writer = await buildWat('host-call', { FN: 'write_entity', REQUEST: JSON.stringify({ entityTypeId: 'Note', attributes: {} }) });
    const spec = { version: '1', kind: 'event' as const, restrictedEntityTypes: ['Task'] };
    await rt.host.load({ ...spec, id: 'r-reader', name: 'RReader', capabilities: ['readEntities'], wasm: reader });
    await rt.host.load({ ...spec, id: 'r-writer', name: 'RWriter', capabilities: ['writeEntities'], wasm: writer });
    expect(expectOk(await rt.host.invoke('r-reader', { event: makeEvent('acme') })).output).toEqual({ ok: true, value: null });
    const w = expectOk(await rt.host.invoke('r-writer', { event: makeEvent('acme') }));
    expect(w.output).toMatchObject({ ok: false, error: { code: 'CAPABILITY_DENIED' } });
    expect(w.effects.writes).toHaveLength(0);
  });

  it('RT-CALL-6 refuses a tenant-scoped plugin an event of another tenant', async () => {
    await rt.host.load({ id: 'acme-only', name: 'AcmeOnly', version: '1', kind: 'event', capabilities: [], tenantScope: 'tenant', tenantId: 'acme', wasm: await buildWat('noop') });
    expectOk(await rt.host.invoke('acme-only', { event: makeEvent('acme') }));
    expectError(await rt.host.invoke('acme-only', { event: makeEvent('globex') }), 'TENANT_FORBIDDEN');
  });

  it('RT-CALL-7 answers host calls over 1 MiB with PAYLOAD_TOO_LARGE and the call goes on', async () => {
    const huge = JSON.stringify({ level: 'info', message: 'x'.repeat(1024 * 1024 + 10) });
    await rt.host.load({ id: 'huge-log', name: 'HugeLog', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('host-call', { FN: 'log', REQUEST: huge }) });
    const r = expectOk(await rt.host.invoke('huge-log', { event: makeEvent('acme') }));
    expect(r.output).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('RT-CALL-8 calls models through the gateway port and counts them', async () => {
    await rt.host.load({
      id: 'model',
      name: 'Model',
      version: '1',
      kind: 'event',
      capabilities: ['invokeModels'],
      wasm: await buildWat('host-call', { FN: 'call_model', REQUEST: JSON.stringify({ model: 'local-score', input: { title: 'x' } }) }),
    });
    const a = expectOk(await rt.host.invoke('model', { event: makeEvent('acme') }));
    const b = expectOk(await rt.host.invoke('model', { event: makeEvent('acme') }));
    expect(a.output).toMatchObject({ ok: true, value: { model: 'local-score' } });
    expect(b.output).toEqual(a.output);
    expect(a.usage.modelCalls).toBe(1);
  });

  it('RT-LIFE-1 close() is idempotent and later calls answer CLOSED', async () => {
    const other = await openRuntime({ workers: 1 });
    await other.host.load({ id: 'noop', name: 'Noop', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('noop') });
    const pending = other.host.invoke('noop', { event: makeEvent('acme') });
    await Promise.all([other.host.close(), other.host.close()]);
    expect((await pending).ok).toBe(true);
    expectError(await other.host.invoke('noop', { event: makeEvent('acme') }), 'CLOSED');
    await other.close();
  });
});
