/**
 * RT-WANTED: a call still waiting for a worker when its caller stops wanting it (the router's queue
 * lease it was made under ended meanwhile) is dropped as it leaves the queue — answered `CANCELLED`
 * (`details.reason` `not-wanted`) without running, so the plugin and its model calls run only at the
 * new holder — while the calls queued beside it run as usual.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_WANTED } from '../../src/core/index.js';
import type { ExecutionHost } from '../../src/runtime/index.js';
import { countingGateway, makeEvent, openRuntime, type RuntimeFixture } from './setup.js';
import { buildWat } from './wat.js';

let slowMs = 0;
const { gateway, calls: modelCalls } = countingGateway((tenant) => (tenant === 'busy' ? slowMs : 0));

let runtime: RuntimeFixture;
let host: ExecutionHost;

beforeAll(async () => {
  // One worker: a slow call holds it while the others wait in the queue.
  runtime = await openRuntime({ workers: 1 }, { models: gateway, tenants: ['busy', 'acme'] });
  host = runtime.host;
  const sleepy = await buildWat('sleep-call');
  for (const t of ['busy', 'acme']) await host.load({ id: `model-${t}`, name: 'model', version: '1', kind: 'event', capabilities: ['invokeModels'], wasm: sleepy, budget: { timeoutMs: 10_000 } });
  for (const t of ['busy', 'acme']) expect((await host.invoke(`model-${t}`, { event: makeEvent(t) })).ok).toBe(true);
});
afterAll(() => runtime?.close());

describe('calls no longer wanted', () => {
  it('RT-WANTED-1 a queued call whose caller stopped wanting it is answered CANCELLED not-wanted without running; the call queued beside it runs', async () => {
    slowMs = 400;
    modelCalls.clear();
    const busy = host.invoke('model-busy', { event: makeEvent('busy') });
    // The worker is taken (the busy call is waiting for its model) before the two are queued.
    await expect.poll(() => modelCalls.get('busy') ?? 0, { timeout: 5000, interval: 5 }).toBe(1);
    let wanted = true;
    let asked = 0;
    const dropped = host.invoke('model-acme', { event: makeEvent('acme') }, { wanted: () => (asked++, wanted) });
    const kept = host.invoke('model-acme', { event: makeEvent('acme') }, { wanted: () => true });
    wanted = false; // the lease ended while both waited
    const [d, k, b] = await Promise.all([dropped, kept, busy]);
    slowMs = 0;
    expect(d.ok ? 'ok' : [d.error.code, d.error.details?.reason]).toEqual(['CANCELLED', NOT_WANTED]);
    expect(asked).toBe(1);
    expect(k.ok && b.ok).toBe(true);
    // The dropped call never ran: one model call for the kept one only.
    expect(modelCalls.get('acme')).toBe(1);
    expect(host.stats().workers).toBe(1);
  });
});
