/**
 * ROUTER-RETRY-LEASE: a retry runs only under the queue lease its delivery started under. A process
 * that fails an attempt and, during the backoff, is paused past its lease (another process takes the
 * queue and the entry) does not run the plugin again when the backoff ends — the new holder runs it:
 * the plugin, and the model calls it makes, run once per attempt overall. (The commit of a second run
 * would be refused by the fence, but the run itself, and what it spent, would not be undone.)
 *
 * The paused holder hands the delivery back, so the new holder's takeover claim is not counted as a
 * delivery the process died during (the crash quarantine's count stays where it was).
 *
 * The first attempt fails with a transient error (the invoker answers it without running the
 * plugin); every invocation is counted per process at the invoker.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import type { TenantContext } from '../../src/core/index.js';
import { laneGroup } from '../../src/registry/index.js';
import { queueLeaseName, type Delivery } from '../../src/bus/index.js';
import { dropSchemas, randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { tempDir } from '../helpers.js';
import { deployProbe, drained, firstOwns, marks, newSite, openApp, pausableHeartbeat, probeWasm, routerInvoker, until } from './harness.js';

/** The retry's backoff: long enough for the pause and the takeover to happen inside it. */
const BACKOFF_MS = 3000;
const acme: TenantContext = { tenantId: 'acme', actor: 'user:test' };

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

/**
 * Counts `app`'s plugin invocations; with `failFirst`, the first one fails with a transient error
 * (retryable) without running the plugin, and calls `onFirst`.
 */
function countInvocations(app: UeeApp, failFirst?: () => void): { calls: number } {
  const invoker = routerInvoker(app);
  const invoke = invoker.invoke.bind(invoker);
  const counter = { calls: 0 };
  invoker.invoke = (plugin, input, options) => {
    counter.calls++;
    if (failFirst !== undefined && counter.calls === 1) {
      failFirst();
      return Promise.resolve({ ok: false, error: { code: 'TIMEOUT', message: 'first attempt times out', retryable: true }, durationMs: 0 });
    }
    return invoke(plugin, input, options);
  };
  return counter;
}

/** The deliveries `app`'s workers handed back to `group` (left unfinished on purpose). */
function handBacks(app: UeeApp, group: string): Array<Pick<Delivery, 'id' | 'deliveryCount'>> {
  const out: Array<Pick<Delivery, 'id' | 'deliveryCount'>> = [];
  const handBack = app.bus.handBack.bind(app.bus);
  app.bus.handBack = (g, consumer, deliveries) => {
    if (g === group) out.push(...deliveries);
    return handBack(g, consumer, deliveries);
  };
  return out;
}

const disposers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

describe('a retry after the queue lease was lost (embedded bus)', () => {
  it('ROUTER-RETRY-LEASE-1 a process stalled past its lease during a retry\'s backoff, the queue and entry taken by another consumer, does not run the plugin again: it leaves the delivery, handed back uncounted, which runs once more only when claimed again', async () => {
    const claimIdleMs = 600;
    const site = newSite('embedded', 'retry-lease');
    disposers.push(() => site.dispose());
    const app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: BACKOFF_MS, concurrency: 4, claimIdleMs } });
    disposers.push(() => app.close());
    await deployProbe(app, probe, { name: 'Flaky', subscribeTo: ['Step'], settings: { mode: 'mark', marker: 'F' } });
    await app.runtime!.router.refresh();
    const group = laneGroup('Flaky', 'acme');
    let failedAt = 0;
    const counter = countInvocations(app, () => (failedAt = Date.now()));
    const left = handBacks(app, group);

    await app.store.commit(acme, { events: [{ type: 'Step', entityId: 'x1', payload: { seq: 1 } }] });
    await until('the first attempt to fail', () => (counter.calls === 1 ? true : undefined));
    // The process stalls past its lease (its event loop blocked: no timer runs, nothing is renewed)...
    const stalledUntil = Date.now() + claimIdleMs + 100;
    while (Date.now() < stalledUntil);
    // ...and meanwhile another consumer takes the queue and the entry (no timer runs in between: the
    // embedded bus answers at once).
    expect(await app.bus.lease(queueLeaseName(group), 'other', claimIdleMs)).toBe(true);
    const claimed = await app.bus.claimStale(group, 'other', { minIdleMs: claimIdleMs, count: 10 });
    expect(claimed.map((d) => d.event.payload['seq'])).toEqual([1]);
    // The other consumer holds both past the end of the backoff.
    const holding = setInterval(() => {
      void app.bus.lease(queueLeaseName(group), 'other', claimIdleMs);
      void app.bus.renew(group, 'other', [claimed[0]!.id]);
    }, 100);
    disposers.push(() => clearInterval(holding));

    // The backoff ends: the stale holder leaves the delivery (hands it back) instead of running it.
    await until('the stalled holder to leave the delivery, or run it again', () => (left.length > 0 || counter.calls > 1 ? true : undefined), 30_000);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(BACKOFF_MS);
    expect(counter.calls).toBe(1);
    // The pause is no crash: handed back, the entry the other consumer claimed has its count lowered
    // (its claim counted a pause, not a delivery the process died during), so repeated pauses never
    // bring it to the crash quarantine (src/runtime/quarantine.ts).
    await until('the hand-back to reach the bus', async () => ((await app.bus.pending(group))[0]?.deliveryCount === 1 ? true : undefined), 5_000).catch(() => undefined);
    expect((await app.bus.pending(group)).map((p) => ({ consumer: p.consumer, deliveryCount: p.deliveryCount }))).toEqual([{ consumer: 'other', deliveryCount: 1 }]);

    // The other consumer goes away holding it: the entry goes stale, the worker takes the queue back
    // and runs the delivery's next attempt, once.
    clearInterval(holding);
    await app.bus.releaseLease(queueLeaseName(group), 'other');
    await drained(app, group, 30_000);
    expect(counter.calls).toBe(2);
    expect((await marks(app, 'acme')).map((m) => m.seq)).toEqual([1]);
    expect(await app.bus.deadLetters()).toEqual([]);
  }, 60_000);
});

describe('a call waiting for a worker when the queue lease is lost (embedded bus)', () => {
  it('ROUTER-RETRY-LEASE-3 a call still queued for a worker when its process stalled past the lease is dropped unrun: the delivery is left (not dead-lettered), handed back, and runs once at the next holding', async () => {
    const claimIdleMs = 600;
    const site = newSite('embedded', 'queued-lease');
    disposers.push(() => site.dispose());
    const app = await openApp(site, {}, { router: { refreshMs: 200, concurrency: 4, claimIdleMs } });
    disposers.push(() => app.close());
    await deployProbe(app, probe, { name: 'Slow', subscribeTo: ['Step'], settings: { mode: 'mark', marker: 'S' } });
    await app.runtime!.router.refresh();
    const group = laneGroup('Slow', 'acme');
    const left = handBacks(app, group);
    // The first call: the process stalls past its lease after the attempt began (its holding checked)
    // and before the call reaches a worker; meanwhile another consumer takes the queue's lease. (The
    // entry is still this process's: a drop taken for a failure would dead-letter it.)
    const invoker = routerInvoker(app);
    const invoke = invoker.invoke.bind(invoker);
    let calls = 0;
    let holding: NodeJS.Timeout | undefined;
    invoker.invoke = async (plugin, input, options) => {
      if (++calls === 1) {
        const stalledUntil = Date.now() + claimIdleMs + 100;
        while (Date.now() < stalledUntil);
        expect(await app.bus.lease(queueLeaseName(group), 'other', claimIdleMs)).toBe(true);
        holding = setInterval(() => void app.bus.lease(queueLeaseName(group), 'other', claimIdleMs), 100);
      }
      return invoke(plugin, input, options);
    };
    disposers.push(() => clearInterval(holding));

    await app.store.commit(acme, { events: [{ type: 'Step', entityId: 'x1', payload: { seq: 1 } }] });
    await until('the stalled holder to leave the delivery', () => (left.length > 0 ? true : undefined), 30_000);
    // The plugin did not run (no mark, no commit while another holds the queue), nor was it dead-lettered.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await marks(app, 'acme')).toEqual([]);
    expect(calls).toBe(1);
    expect(await app.bus.deadLetters()).toEqual([]);
    // Left at once: no failed invocation counted, no retry waited out.
    expect(app.runtime!.router.metrics.snapshot().filter((m) => m.retries > 0 || Object.keys(m.errors).length > 0)).toEqual([]);

    // The other consumer goes away: the worker takes the queue back and runs the delivery, once.
    clearInterval(holding);
    await app.bus.releaseLease(queueLeaseName(group), 'other');
    await drained(app, group, 30_000);
    expect(calls).toBe(2);
    expect((await marks(app, 'acme')).map((m) => m.seq)).toEqual([1]);
    expect(await app.bus.deadLetters()).toEqual([]);
  }, 60_000);
});

describe('a retry after the queue lease was lost (Redis bus, PostgreSQL store, two routers)', () => {
  it('ROUTER-RETRY-LEASE-2 a router paused past its heartbeat during a retry\'s backoff, another router taking the queue over, runs the plugin once: the new holder runs the retry, the paused one leaves it when it wakes', async () => {
    const heartbeatMs = 600;
    const schema = randomSchema('retrylease');
    schemas.push(schema);
    const store = schemaUrl(schema);
    const site = newSite('redis', 'retry-lease');
    disposers.push(() => site.dispose());
    // claimIdleMs far beyond the heartbeat: only the heartbeat moves the queue in this test's time.
    const options = { router: { refreshMs: 200, backoffMs: BACKOFF_MS, concurrency: 4, heartbeatMs, claimIdleMs: 60_000 } };
    const group = laneGroup('Flaky', 'acme');
    // The split of the queues gives acme's lane to A while both live (to B while A's heartbeat lapsed).
    const names = firstOwns(group);
    const a = await openApp(site, { store }, { router: { ...options.router, consumerName: names.first } });
    disposers.push(() => a.close());
    await deployProbe(a, probe, { name: 'Flaky', subscribeTo: ['Step'], settings: { mode: 'mark', marker: 'F' } });
    await a.runtime!.router.refresh();
    const step = (seq: number) => a.store.commit(acme, { events: [{ type: 'Step', entityId: 'x1', payload: { seq } }] });
    await step(0);
    await until('A to handle seq 0', async () => ((await marks(a, 'acme')).length === 1 ? true : undefined));
    const dir = tempDir('uee-retry-lease-b');
    disposers.push(() => dir[Symbol.dispose]());
    const b = await openApp({ ...site, dataDir: dir.path }, { store }, { router: { ...options.router, consumerName: names.second } });
    disposers.push(() => b.close());

    // A's pause, as it looks from outside: its heartbeat stops reaching Redis until `wake()`.
    const { pause, wake } = pausableHeartbeat(a);
    const inA = countInvocations(a, pause);
    const inB = countInvocations(b);
    const left = handBacks(a, group);

    await step(1);
    await until('A\'s first attempt of seq 1 to fail', () => (inA.calls === 1 ? true : undefined));
    // B takes the queue and the entry A held, and runs the retry.
    await until('B to handle seq 1', async () => ((await marks(a, 'acme')).length === 2 ? true : undefined), 30_000);
    wake();
    await until('A to leave the delivery, or run it again', () => (left.length > 0 || inA.calls > 1 ? true : undefined), 30_000);
    expect({ a: inA.calls, b: inB.calls }).toEqual({ a: 1, b: 1 });

    await step(2);
    await until('seq 2 handled', async () => ((await marks(a, 'acme')).length === 3 ? true : undefined), 30_000);
    await drained(b, group, 30_000);
    expect((await marks(a, 'acme')).map((m) => m.seq).sort()).toEqual([0, 1, 2]);
    expect(await b.bus.deadLetters()).toEqual([]);
  }, 120_000);
});
