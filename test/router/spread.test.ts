/**
 * ROUTER-SPREAD: many tenants × 1 plugin. The queue workers of one process read and ack their
 * queues together (one bus call per turn for every queue that asks), yet each queue stays on its
 * own: one tenant's hot queue or failing plugin never takes the turn of the others.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { WOKEN_POLL_FACTOR } from '../../src/router/delivery.js';
import { BACKENDS, deployProbe, marks, newSite, openApp, probeWasm, refresh, until, watModule, type AppSite } from './harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 300_000);

describe.each(BACKENDS)('many small queues read together ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  /** An app dispatching on this bus with 20 tenants' idle queues (pollMs 20), nothing published. */
  async function idleQueues(tag: string): Promise<{ pollMs: number; tenants: string[]; router: NonNullable<UeeApp['runtime']>['router'] }> {
    site = newSite(name, tag);
    const pollMs = 20;
    app = await openApp(site, {}, { router: { refreshMs: 60_000, pollMs } });
    const tenants = Array.from({ length: 20 }, (_, i) => `q${i}`);
    for (const t of tenants) await app.store.tenants.create(t);
    for (const t of tenants) await deployProbe(app, probe, { name: 'Idle', subscribeTo: ['Tick'], tenantScope: 'tenant', tenantId: t, settings: { mode: 'mark', marker: t } });
    await refresh(app);
    const router = app.runtime!.router;
    await until('this process dispatches', () => (router.leading ? true : undefined));
    return { pollMs, tenants, router };
  }

  it('ROUTER-SPREAD-1 behind one tenant\'s hot slow queue and another\'s failing plugin, 30 tenants\' events are each handled once, long before the hot queue drains, with several queues per bus read', async () => {
    site = newSite(name, 'spread');
    app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: 20, concurrency: 4 } });
    const quiet = Array.from({ length: 30 }, (_, i) => `t${i}`);
    for (const t of ['hot', 'failing', ...quiet]) await app.store.tenants.create(t);
    await app.registry.deploy('user:test', { manifest: { name: 'Hot', subscribeTo: ['Tick'], tenantScope: 'tenant', tenantId: 'hot', capabilities: [] }, wasm: await watModule('spin') });
    await app.registry.deploy('user:test', { manifest: { name: 'Failing', subscribeTo: ['Tick'], tenantScope: 'tenant', tenantId: 'failing', capabilities: [] }, wasm: await watModule('fail') });
    for (const t of quiet) await deployProbe(app, probe, { name: 'Quiet', subscribeTo: ['Tick'], tenantScope: 'tenant', tenantId: t, settings: { mode: 'mark', marker: t } });
    await refresh(app);
    const router = app.runtime!.router;
    const handled = (plugin: string): number => router.metrics.snapshot().filter((m) => m.name === plugin).reduce((n, m) => n + m.invocations, 0);
    const flood = 120;
    await app.store.commit({ tenantId: 'hot', actor: 'user:test' }, { events: Array.from({ length: flood }, (_, i) => ({ type: 'Tick', payload: { seq: i } })) });
    await app.store.commit({ tenantId: 'failing', actor: 'user:test' }, { events: Array.from({ length: 40 }, (_, i) => ({ type: 'Tick', payload: { seq: i } })) });
    // Published after the flood and the failures, so behind them in the stream.
    const per = 4;
    const sent = new Map<string, string[]>();
    for (const t of quiet) {
      const { events } = await app.store.commit({ tenantId: t, actor: 'user:test' }, { events: Array.from({ length: per }, (_, i) => ({ type: 'Tick', payload: { seq: i } })) });
      sent.set(t, events.map((e) => e.eventId));
    }
    const readsBefore = { calls: router.queueIo.readCalls, queues: router.queueIo.queueReads };
    await until(
      'every quiet tenant\'s events handled',
      async () => {
        for (const t of quiet) if ((await marks(app, t)).length < per) return undefined;
        return true;
      },
      90_000,
    );
    const hotDoneWhenQuietDone = handled('Hot');
    // Each event once, by its own tenant's plugin (no queue served another's entries, none twice).
    for (const t of quiet) {
      const seen = (await marks(app, t)).map((m) => String(m.sourceEvent)).sort();
      expect(seen).toEqual([...sent.get(t)!].sort());
    }
    const calls = router.queueIo.readCalls - readsBefore.calls;
    const queues = router.queueIo.queueReads - readsBefore.queues;
    process.stdout.write(`ROUTER-SPREAD-1 (${name}): quiet tenants done when ${hotDoneWhenQuietDone} of ${flood} hot events were; ${queues} queue reads in ${calls} bus calls\n`);
    expect(hotDoneWhenQuietDone).toBeLessThan(flood / 2);
    // The reads were shared: on average more than one queue per bus call.
    expect(queues).toBeGreaterThan(calls);
    await until('the hot queue drained', () => (handled('Hot') >= flood ? true : undefined), 150_000);
  }, 300_000);
  it('ROUTER-SPREAD-3 while this process dispatches, idle queues are polled at most every 10 × pollMs (every delivery wakes its worker): 20 idle queues cost a fraction of the reads', async () => {
    const { pollMs, tenants, router } = await idleQueues('spread3');
    const before = router.queueIo.queueReads;
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const elapsed = Date.now() - started;
    const reads = router.queueIo.queueReads - before;
    process.stdout.write(`ROUTER-SPREAD-3 (${name}): ${reads} reads of ${tenants.length} idle queues in ${elapsed} ms (pollMs ${pollMs})\n`);
    // Every 10 × pollMs, plus the doubling waits up to it (20, 40, 80, 160 ms) and one in progress.
    expect(reads).toBeLessThanOrEqual(tenants.length * (6 + elapsed / (WOKEN_POLL_FACTOR * pollMs)));
    // …and still polled: a delivery nobody woke the worker for is found.
    expect(reads).toBeGreaterThan(0);
  }, 120_000);

  it('ROUTER-SPREAD-4 idle queues at their slowest pace poll together: 20 idle queues\' polls share bus calls, and an event still reaches its queue at once', async () => {
    const { pollMs, tenants, router } = await idleQueues('spread4');
    // Past the doubling waits (20 … 160 ms): every queue polls at its slowest pace.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const before = { calls: router.queueIo.readCalls, queues: router.queueIo.queueReads, timers: router.queueIo.ticksStarted };
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const calls = router.queueIo.readCalls - before.calls;
    const queues = router.queueIo.queueReads - before.queues;
    const timers = router.queueIo.ticksStarted - before.timers;
    process.stdout.write(`ROUTER-SPREAD-4 (${name}): ${queues} polls of ${tenants.length} idle queues in ${calls} bus calls, on ${timers} timers\n`);
    expect(queues).toBeGreaterThanOrEqual(tenants.length);
    // One timer per instant, not one per queue: with a timer each, 20 queues' polls took ~one timer a poll.
    expect(queues / Math.max(1, timers)).toBeGreaterThanOrEqual(tenants.length / 2);
    // The polls of one instant go in one bus call (about 10 of the 20 queues per call on a loaded VM:
    // they come due at the same instant but not always in the same turn of the event loop).
    expect(queues / calls).toBeGreaterThanOrEqual(tenants.length / 4);
    // Waiting for the shared instant never delays a delivery: an event wakes its queue at once.
    const sentAt = Date.now();
    await app.store.commit({ tenantId: 'q7', actor: 'user:test' }, { events: [{ type: 'Tick', payload: {} }] });
    await until('the event handled', async () => ((await marks(app, 'q7')).length === 1 ? true : undefined), 30_000);
    expect(Date.now() - sentAt).toBeLessThan(WOKEN_POLL_FACTOR * pollMs * 5);
  }, 120_000);
});
