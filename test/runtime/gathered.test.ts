import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ExecutionHost, createStoreHostServices, type InvocationResult } from '../../src/runtime/index.js';
import { openSqliteStore } from '../../src/store/index.js';
import type { EntityStore } from '../../src/store/port.js';
import { tempDir } from '../helpers.js';
import { countingGateway, makeEvent } from './setup.js';
import { buildWat } from './wat.js';

// Calls of several tenants' plugins (one queue each, a few events at a time) travel to a worker in
// one gathered batch; a call of such a batch that overruns gets the calls behind it taken back, so
// one tenant's hanging plugin holds up only its own calls — and no call runs twice.

const TENANTS = Array.from({ length: 6 }, (_, i) => `g${i}`);
/** Per tenant: how long its model call takes (ms), and how many model calls it made. */
const delays = new Map<string, number>();
const { gateway, calls: modelCalls } = countingGateway((tenant) => delays.get(tenant) ?? 0);

let host: ExecutionHost;
let store: EntityStore;
let dir: ReturnType<typeof tempDir>;

beforeAll(async () => {
  dir = tempDir('uee-gathered');
  store = await openSqliteStore({ path: join(dir.path, 'store.db') });
  for (const t of TENANTS) await store.tenants.create(t);
  // batchTargetMs 100: calls of a few ms gather (also on a loaded machine); one is overrunning after 200 ms.
  host = await ExecutionHost.create({ workers: 2, batchTargetMs: 100, services: createStoreHostServices({ store, models: gateway }) });
  const mixed = await buildWat('batch-mixed');
  const sleepy = await buildWat('sleep-call');
  for (const t of TENANTS) {
    await host.load({ id: `mixed-${t}`, name: 'mixed', version: '1', kind: 'event', capabilities: ['writeEntities'], wasm: mixed, budget: { timeoutMs: 1000 } });
    await host.load({ id: `model-${t}`, name: 'model', version: '1', kind: 'event', capabilities: ['invokeModels'], wasm: sleepy, budget: { timeoutMs: 5000 } });
  }
  // A few calls each first: only a plugin whose call time is known joins another's batch, and its
  // first calls (instantiation) weigh on that moving average until a few quick ones followed.
  for (let round = 0; round < 8; round++) {
    for (const t of TENANTS) {
      expect((await host.invoke(`mixed-${t}`, { event: makeEvent(t) })).ok).toBe(true);
      expect((await host.invoke(`model-${t}`, { event: makeEvent(t) })).ok).toBe(true);
    }
  }
});
afterAll(async () => {
  await host?.close();
  await store?.close();
  dir?.[Symbol.dispose]();
});

function ok(r: InvocationResult): Extract<InvocationResult, { ok: true }> {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r;
}

describe('batches gathered across tenants', () => {
  it('RT-GATHER-1 one call of each of six tenants goes out in fewer batches than calls; each call has its own result and effects', async () => {
    const before = host.stats();
    const events = TENANTS.map((t) => makeEvent(t, { payload: { mode: '@O' } }));
    const results = await Promise.all(events.map((event, i) => host.invoke(`mixed-${TENANTS[i]}`, { event })));
    const after = host.stats();
    expect(after.batchedCalls - before.batchedCalls).toBe(TENANTS.length);
    expect(after.batches - before.batches).toBeLessThan(TENANTS.length);
    for (const [i, r] of results.entries()) {
      const done = ok(r);
      expect((done.output as { event: { eventId: string; tenantId: string } }).event).toMatchObject({ eventId: events[i]!.eventId, tenantId: TENANTS[i] });
      expect(done.effects.writes).toHaveLength(1);
    }
  });

  it("RT-GATHER-2 a tenant's looping call at the head of a gathered batch: the other tenants' calls finish before it times out", async () => {
    const [looping, ...others] = TENANTS;
    const before = host.stats();
    const order: string[] = [];
    const attack = host.invoke(`mixed-${looping}`, { event: makeEvent(looping!, { payload: { mode: '@L' } }) }).then((r) => {
      order.push(looping!);
      return r;
    });
    const rest = others.map((t) =>
      host.invoke(`mixed-${t}`, { event: makeEvent(t, { payload: { mode: '@O' } }) }).then((r) => {
        order.push(t);
        return r;
      }),
    );
    const r = await attack;
    for (const x of await Promise.all(rest)) ok(x);
    expect(r.ok ? 'ok' : r.error.code).toBe('TIMEOUT');
    // Gathered: the loop shared its batch with the others (fewer batches than calls, the taken-back ones included).
    expect(host.stats().batches - before.batches).toBeLessThan(TENANTS.length);
    // Taken back after the overrun, not run again after the loop's worker was killed at its deadline.
    expect(order.indexOf(looping!)).toBe(TENANTS.length - 1);
    await expect.poll(() => host.stats().workers, { timeout: 5000 }).toBe(2);
  });

  it('RT-GATHER-3 calls taken back behind a slow call that then finishes run once, not also on the first worker', async () => {
    const [slow, ...others] = TENANTS;
    delays.set(slow!, 600);
    modelCalls.clear();
    try {
      const before = host.stats();
      const results = await Promise.all(TENANTS.map((t) => host.invoke(`model-${t}`, { event: makeEvent(t) })));
      for (const r of results) ok(r);
      expect(host.stats().batches - before.batches).toBeLessThan(TENANTS.length);
      // The slow call's worker went on to nothing after it: every tenant's model was called once.
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const t of TENANTS) expect(modelCalls.get(t), t).toBe(1);
      expect(others.length).toBe(TENANTS.length - 1);
    } finally {
      delays.delete(slow!);
    }
  });
});
