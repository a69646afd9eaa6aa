import { afterEach, describe, expect, it } from 'vitest';
import type { ExecutionHostOptions } from '../../src/runtime/index.js';
import { makeEvent, openRuntime, type RuntimeFixture } from './setup.js';
import { buildWat } from './wat.js';

// Host-call rate limits per plugin version and per tenant (ExecutionHostOptions.rateLimits) slow a
// plugin to the rate, never fail it: a call over the rate is answered "wait" and its worker sleeps,
// then asks again; the call's deadline still ends it (the sleep wakes at once), and one tenant
// slowed holds up no other.

let rt: RuntimeFixture | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

const NO_LIMIT = { ratePerSec: 1e9, burst: 1e9 };

/** A runtime with `rateLimits`; `loop` (1,000 get_tenant_config calls, traps on any answer not ok) and `reader` (100 read_entity calls) loaded. */
async function open(rateLimits: ExecutionHostOptions['rateLimits'], { loopTimeoutMs = 10_000, workers = 2 } = {}): Promise<RuntimeFixture> {
  rt = await openRuntime({ rateLimits, workers });
  await rt.host.load({ id: 'loop', name: 'loop', version: '1', kind: 'event', capabilities: ['accessTenantConfig'], budget: { hostCalls: 1000, timeoutMs: loopTimeoutMs }, wasm: await buildWat('host-call-loop') });
  const reader = await buildWat('host-call-repeat', { FN: 'read_entity', REQUEST: '{"entityId":"absent"}' });
  await rt.host.load({ id: 'reader', name: 'reader', version: '1', kind: 'event', capabilities: ['readEntities'], wasm: reader });
  return rt;
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

describe('host-call rate limits', () => {
  it('RT-RATE-1 a plugin over its rate is slowed to it: every host call answered ok, none refused, the call takes what the rate allows', async () => {
    const r = await open({ perPlugin: { ratePerSec: 4000, burst: 100 }, perTenant: NO_LIMIT });
    // 1,000 calls, 100 from the burst, the other 900 at 4,000/s: at least 225 ms.
    const { value: result, ms } = await timed(() => r.host.invoke('loop', { event: makeEvent('acme') }));
    expect(result.ok ? 'ok' : `${result.error.code}: ${result.error.message}`).toBe('ok');
    expect(ms).toBeGreaterThanOrEqual(200);
    expect(r.host.stats().hostCallsThrottled).toBeGreaterThan(0);
    if (result.ok) expect(result.usage.hostCalls).toBe(1000);
  });

  it("RT-RATE-2 a tenant over its rate is slowed, and another tenant's calls meanwhile go at full speed", async () => {
    const r = await open({ perPlugin: NO_LIMIT, perTenant: { ratePerSec: 500, burst: 200 } });
    // Baseline, same test: globex's 100 reads alone (within its burst: never slowed).
    const alone = await timed(() => r.host.invoke('reader', { event: makeEvent('globex') }));
    expect(alone.value.ok).toBe(true);
    // acme's 1,000 calls at 500/s after a burst of 200: at least 1.6 s, on one worker.
    let acmeDone = 0;
    const acme = timed(() => r.host.invoke('loop', { event: makeEvent('acme') })).finally(() => (acmeDone = performance.now()));
    await expect.poll(() => r.host.stats().hostCallsThrottled, { timeout: 5000, interval: 2 }).toBeGreaterThan(0);
    const globex = await timed(() => r.host.invoke('reader', { event: makeEvent('globex') }));
    const globexDone = performance.now();
    expect(globex.value.ok).toBe(true);
    const a = await acme;
    expect(a.value.ok ? 'ok' : `${a.value.error.code}: ${a.value.error.message}`).toBe('ok');
    expect(a.ms).toBeGreaterThanOrEqual(1500);
    // globex ran while acme slept out its rate, in about the time of its own calls alone: at acme's
    // rate its 100 calls would take 200 ms.
    expect(globexDone).toBeLessThan(acmeDone);
    expect(globex.ms).toBeLessThan(4 * alone.ms + 60);
  });

  it('RT-RATE-3 a call sleeping out a rate ends at its deadline (TIMEOUT): its worker is free at once, not killed', async () => {
    // One worker; 1 call per second after the first: the second call sleeps ~1 s; the deadline is 300 ms.
    const r = await open({ perPlugin: { ratePerSec: 1, burst: 1 }, perTenant: NO_LIMIT }, { loopTimeoutMs: 300, workers: 1 });
    // A plugin without host calls (every plugin here is at 1 call per second): the baseline, alone.
    await r.host.load({ id: 'noop', name: 'noop', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('noop') });
    const alone = await timed(() => r.host.invoke('noop', { event: makeEvent('acme') }));
    const { value: result, ms } = await timed(() => r.host.invoke('loop', { event: makeEvent('acme') }));
    expect(result.ok ? 'ok' : result.error.code).toBe('TIMEOUT');
    expect(ms).toBeLessThan(900);
    // The deadline woke the sleeping worker, which ended the call itself: the next call runs at once
    // (not after the rest of the ~1 s sleep), and the worker was not killed and replaced.
    const next = await timed(() => r.host.invoke('noop', { event: makeEvent('acme') }));
    expect(next.value.ok ? 'ok' : next.value.error.code).toBe('ok');
    expect(next.ms).toBeLessThan(alone.ms + 350);
    expect(r.host.stats().replacements).toBe(0);
  });
});
