import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantCtx } from '../helpers.js';
import type { InvocationResult } from '../../src/runtime/index.js';
import { makeEvent, openRuntime, type RuntimeFixture } from './setup.js';
import { buildWat } from './wat.js';

let rt: RuntimeFixture;

function failure(r: InvocationResult): Extract<InvocationResult, { ok: false }> {
  if (r.ok) throw new Error('expected the hostile call to fail');
  // Whatever went wrong, a failed call never hands effects to commit.
  expect(r).not.toHaveProperty('effects');
  return r;
}

/**
 * How late a plain `ms` timer started at `started` fires: the machine's own delay, the baseline a
 * watchdog's deadline is compared with (under load both wait for the same busy cores).
 */
function lateness(ms: number, started: number): Promise<number> {
  return new Promise((resolve) => setTimeout(() => resolve(Math.max(0, performance.now() - started - ms)), ms));
}

/** The healthy plugin still answers, correctly, after (or during) each attack. */
async function healthy(): Promise<void> {
  const event = makeEvent('acme');
  const r = await rt.host.invoke('healthy', { event });
  if (!r.ok) throw new Error(`healthy plugin failed: ${r.error.code} ${r.error.message}`);
  expect((r.output as { event: { eventId: string } }).event.eventId).toBe(event.eventId);
}

async function load(id: string, fixture: string, extra: Record<string, unknown> = {}, vars: Record<string, string> = {}): Promise<void> {
  await rt.host.load({ id, name: id, version: '1', kind: 'event', capabilities: [], wasm: await buildWat(fixture, vars), ...extra });
}

beforeAll(async () => {
  rt = await openRuntime();
  await load('healthy', 'echo');
});
afterAll(async () => {
  await rt?.close();
});

describe('hostile plugin battery: each attack is contained and the host keeps working', () => {
  it('RT-HOST-1 infinite loop: TIMEOUT near the deadline, the worker is replaced, others keep answering during the attack', async () => {
    await load('loop', 'loop', { budget: { timeoutMs: 200 } });
    const before = rt.host.stats().replacements;
    const started = performance.now();
    const attack = rt.host.invoke('loop', { event: makeEvent('acme') });
    // The baseline: a plain 200 ms timer started with the attack waits for the same loaded machine.
    const timer = lateness(200, started);
    // The other worker serves the healthy plugin while the loop spins.
    for (let i = 0; i < 5; i++) await healthy();
    const r = failure(await attack);
    const elapsed = performance.now() - started;
    expect(r.error.code).toBe('TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(195);
    expect(elapsed).toBeLessThan(200 + 150 + (await timer));
    // A wasm loop never calls the kernel, so it does not see the cancel: killed after the grace period.
    await expect.poll(() => rt.host.stats().replacements, { timeout: 5000 }).toBe(before + 1);
    await expect.poll(() => rt.host.stats().workers, { timeout: 5000 }).toBe(2);
    await healthy();
  });

  it('RT-HOST-2 timeout while parked in a host call: TIMEOUT without killing the worker', async () => {
    await load('sleepy', 'sleep-call', { capabilities: ['invokeModels'], budget: { timeoutMs: 100 } });
    const before = rt.host.stats().replacements;
    const timer = lateness(100, performance.now());
    const r = failure(await rt.host.invoke('sleepy', { event: makeEvent('acme') }));
    expect(r.error.code).toBe('TIMEOUT');
    expect(r.usage.durationMs).toBeLessThan(100 + 50 + (await timer));
    await healthy();
    expect(rt.host.stats().replacements).toBe(before);
  });

  it('RT-HOST-3 memory bomb: growth stops at the rewritten maximum and the trap is contained', async () => {
    await load('bomb', 'memory-bomb', { budget: { memoryPages: 64 } });
    const r = failure(await rt.host.invoke('bomb', { event: makeEvent('acme') }));
    expect(r.error.code).toBe('PLUGIN_TRAP');
    await healthy();
  });

  it('RT-HOST-4 host-memory bomb: allocating past the memory budget is BUDGET_EXCEEDED', async () => {
    await load('alloc-bomb', 'alloc-bomb', { budget: { memoryPages: 64 } });
    const r = failure(await rt.host.invoke('alloc-bomb', { event: makeEvent('acme') }));
    expect(r.error).toMatchObject({ code: 'BUDGET_EXCEEDED', details: { limit: 'memoryPages' } });
    await healthy();
  });

  it('RT-HOST-5 a million host calls: BUDGET_EXCEEDED at the hostCalls budget', async () => {
    await load('flood', 'host-call-flood', { budget: { hostCalls: 500 } });
    const r = failure(await rt.host.invoke('flood', { event: makeEvent('acme') }));
    expect(r.error).toMatchObject({ code: 'BUDGET_EXCEEDED', details: { limit: 'hostCalls' } });
    expect(r.usage.hostCalls).toBe(501);
    await healthy();
  });

  it('RT-HOST-6 giant output: BUDGET_EXCEEDED on outputBytes', async () => {
    await load('giant', 'giant-output');
    const r = failure(await rt.host.invoke('giant', { event: makeEvent('acme') }));
    expect(r.error).toMatchObject({ code: 'BUDGET_EXCEEDED', details: { limit: 'outputBytes' } });
    // Refused at the kernel's output_set, in the worker: the output never crosses to the main thread.
    expect(r.error.message).toMatch(/^output of \d+ bytes exceeds the budget of \d+$/);
    await healthy();
  });

  it('RT-HOST-7 emit storm that ignores error answers: BUDGET_EXCEEDED on emits, and nothing reaches the store', async () => {
    await load('storm', 'emit-storm', { capabilities: ['emitEvents'], budget: { emits: 50 } });
    const outboxBefore = await rt.store.outbox.size();
    const r = failure(await rt.host.invoke('storm', { event: makeEvent('acme') }));
    expect(r.error).toMatchObject({ code: 'BUDGET_EXCEEDED', details: { limit: 'emits' } });
    expect(r.usage.emits).toBe(51);
    expect(await rt.store.outbox.size()).toBe(outboxBefore);
    await healthy();
  });

  it('RT-HOST-8 trap halfway through its writes: PLUGIN_TRAP and nothing committed', async () => {
    await load('half', 'trap-mid-writes', { capabilities: ['writeEntities', 'emitEvents'] });
    const r = failure(await rt.host.invoke('half', { event: makeEvent('acme') }));
    expect(r.error.code).toBe('PLUGIN_TRAP');
    await expect(rt.store.get(tenantCtx('acme'), 'half-1')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await healthy();
  });

  it('RT-HOST-9 an import it was not granted: CAPABILITY_DENIED at load, never linked', async () => {
    const err = await rt.host
      .load({ id: 'sneaky', name: 'sneaky', version: '1', kind: 'event', capabilities: ['readEntities'], wasm: await buildWat('ungranted') })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CAPABILITY_DENIED', details: { missingCapabilities: ['writeEntities', 'invokeModels'] } });
    await healthy();
  });

  it("RT-HOST-10 reading another tenant's entity answers null, like a missing one", async () => {
    await rt.store.put(tenantCtx('globex'), { entityId: 'globex-secret', entityTypeId: 'Task', attributes: { secret: true } });
    await load('peek', 'host-call', { capabilities: ['readEntities'] }, { FN: 'read_entity', REQUEST: JSON.stringify({ entityId: 'globex-secret' }) });
    const r = await rt.host.invoke('peek', { event: makeEvent('acme') });
    expect(r.ok && r.output).toEqual({ ok: true, value: null });
    const own = await rt.host.invoke('peek', { event: makeEvent('globex') });
    expect(own.ok && own.output).toMatchObject({ ok: true, value: { entityId: 'globex-secret', tenantId: 'globex' } });
    await healthy();
  });

  it("RT-HOST-11 writing over another tenant's or a global entity is refused, and the effect is not buffered", async () => {
    await rt.store.put(tenantCtx(null, 'admin:test'), { entityId: 'global-ref', entityTypeId: 'Task', attributes: { shared: true } });
    await load('overwrite', 'host-call', { capabilities: ['writeEntities'] }, {
      FN: 'write_entity',
      REQUEST: JSON.stringify({ entityId: 'global-ref', entityTypeId: 'Task', attributes: { shared: false } }),
    });
    const r = await rt.host.invoke('overwrite', { event: makeEvent('acme') });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.output).toMatchObject({ ok: false, error: { code: 'TENANT_FORBIDDEN' } });
    expect(r.effects.writes).toHaveLength(0);
  });

  it("RT-HOST-11b a write after the plugin's own read of the entity is checked as strictly: the call's one store read serves both", async () => {
    await rt.store.put(tenantCtx(null, 'admin:test'), { entityId: 'global-ref2', entityTypeId: 'Task', attributes: { shared: true } });
    await load('read-overwrite', 'read-then-write', { capabilities: ['readEntities', 'writeEntities'] }, {
      READ: JSON.stringify({ entityId: 'global-ref2' }),
      WRITE: JSON.stringify({ entityId: 'global-ref2', entityTypeId: 'Task', attributes: { shared: false } }),
    });
    const r = await rt.host.invoke('read-overwrite', { event: makeEvent('acme') });
    if (!r.ok) throw new Error(r.error.message);
    expect(r.output).toMatchObject({ ok: false, error: { code: 'TENANT_FORBIDDEN' } });
    expect(r.effects.writes).toHaveLength(0);
    // An entity its type restriction hides: the read answers null, the write is still refused.
    await rt.store.put(tenantCtx('acme'), { entityId: 'hidden-1', entityTypeId: 'Secret', attributes: { s: 1 } });
    await load('read-hidden', 'read-then-write', { capabilities: ['readEntities', 'writeEntities'], restrictedEntityTypes: ['Task'] }, {
      READ: JSON.stringify({ entityId: 'hidden-1' }),
      WRITE: JSON.stringify({ entityId: 'hidden-1', entityTypeId: 'Task', attributes: { s: 2 } }),
    });
    const hidden = await rt.host.invoke('read-hidden', { event: makeEvent('acme') });
    if (!hidden.ok) throw new Error(hidden.error.message);
    expect(hidden.output).toMatchObject({ ok: false, error: { code: 'CAPABILITY_DENIED' } });
    expect(hidden.effects.writes).toHaveLength(0);
    // Its own entity: read (absent) then written, numbered 1.
    await load('read-own', 'read-then-write', { capabilities: ['readEntities', 'writeEntities'] }, {
      READ: JSON.stringify({ entityId: 'own-1' }),
      WRITE: JSON.stringify({ entityId: 'own-1', entityTypeId: 'Task', attributes: { n: 1 } }),
    });
    const own = await rt.host.invoke('read-own', { event: makeEvent('acme') });
    expect(own.ok && own.output).toEqual({ ok: true, value: { entityId: 'own-1', version: 1 } });
  });

  it('RT-HOST-12 after the whole battery the pool is at full strength and serves a burst', async () => {
    await expect.poll(() => rt.host.stats().workers, { timeout: 5000 }).toBe(2);
    const results = await Promise.all(Array.from({ length: 200 }, () => rt.host.invoke('healthy', { event: makeEvent('acme') })));
    expect(results.every((r) => r.ok)).toBe(true);
  });
});
