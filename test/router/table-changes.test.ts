/**
 * ROUTER-CHANGE-2: a routing change made in one process (a front end's pin, an experiment, a deploy)
 * is named on the bus with the watermark it bumped, and every other process applies just that change —
 * before, each other process reloaded its whole table (every tenant's plugins, pins and experiments:
 * ~45 ms of main thread with 1,000 tenants, O(tenants)) for each change anywhere. A bump no process
 * named (lost, or an older UEE's) still makes them reload, one check period later. TABLE-MARK-1..3:
 * the watermark's bookkeeping and the signal's parsing alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { PINS_VIEW, TABLE_WATERMARK, TableWatermark, parseRoutingSignal } from '../../src/router/index.js';
import { routingChanged } from '../../src/tools/plugin-tools/shared.js';
import type { ToolContext } from '../../src/tools/define-tool.js';
import { newSite, openApp, until, watModule, type AppSite } from './harness.js';

describe('the table watermark', () => {
  it('TABLE-MARK-1 bumps reflected in any order move the mark only over a run without gaps', () => {
    const w = new TableWatermark();
    w.reflect(3);
    expect(w.mark).toBeUndefined();
    w.reset(2);
    w.reflect(5);
    w.reflect(4);
    expect(w.mark).toBe(2);
    w.reflect(3);
    expect(w.mark).toBe(5);
    expect(w.covers(5)).toBe(true);
    expect(w.covers(6)).toBe(false);
    w.reflect(5);
    expect(w.mark).toBe(5);
  });

  it('TABLE-MARK-2 a check waits one period for a bump it has not heard of, then reloads; without signals it reloads at once', () => {
    const w = new TableWatermark();
    expect(w.check(0, true)).toBe('reload');
    w.reset(10);
    expect(w.check(10, true)).toBe('current');
    // 11 and 12 bumped, both heard within the period: no reload
    expect(w.check(12, true)).toBe('wait');
    w.reflect(12);
    w.reflect(11);
    expect(w.check(12, true)).toBe('current');
    // 12 bumped, only 11 heard by the next check: reloaded
    w.reset(10);
    expect(w.check(12, true)).toBe('wait');
    w.reflect(11);
    expect(w.check(12, true)).toBe('reload');
    w.reset(12);
    // 13 never heard: waited one period, then reloaded
    expect(w.check(13, true)).toBe('wait');
    expect(w.check(13, true)).toBe('reload');
    w.reset(13);
    // the counter moving on while the earlier gap was filled keeps waiting, a period per new bump
    expect(w.check(14, true)).toBe('wait');
    w.reflect(14);
    expect(w.check(15, true)).toBe('wait');
    expect(w.check(15, true)).toBe('reload');
    w.reset(15);
    expect(w.check(16, false)).toBe('reload');
  });

  it('TABLE-MARK-3 only a well-formed signal within its bounds is read', () => {
    const ok = { from: 'p1', mark: 7, changes: [{ tenantId: 'acme', names: ['A.B'] }, { tenantId: null, names: [] }] };
    expect(parseRoutingSignal(JSON.stringify(ok))).toEqual(ok);
    for (const bad of [
      'not json',
      'null',
      JSON.stringify({ ...ok, mark: 0 }),
      JSON.stringify({ ...ok, mark: 1.5 }),
      JSON.stringify({ ...ok, from: '' }),
      JSON.stringify({ ...ok, changes: {} }),
      JSON.stringify({ ...ok, changes: [{ tenantId: 3, names: [] }] }),
      JSON.stringify({ ...ok, changes: [{ tenantId: 'acme', names: [1] }] }),
      JSON.stringify({ ...ok, changes: [{ tenantId: 'acme', names: ['x'.repeat(513)] }] }),
      JSON.stringify({ ...ok, changes: Array.from({ length: 257 }, () => ({ tenantId: 'acme', names: [] })) }),
    ]) {
      expect(parseRoutingSignal(bad), bad.slice(0, 80)).toBeUndefined();
    }
  });
});

describe('routing changes of one process applied alone in the others (Redis)', () => {
  const acme = { tenantId: 'acme', actor: 'user:test' };
  let site: AppSite & { dispose(): Promise<void> };
  const apps: UeeApp[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await site?.dispose();
  });

  /** A worker (runtime on, 250 ms checks: a loaded machine applying a heard change in more than one check period would reload) and a front end (runtime off) on one Redis bus and store, with Pinned v1 and v2 of acme deployed. */
  async function pair(): Promise<{ worker: UeeApp; front: UeeApp; handledBy: () => Promise<number>; pin: (version: number | null) => Promise<void> }> {
    site = newSite('redis', 'table-changes');
    const worker = await openApp(site, {}, { router: { refreshMs: 250, backoffMs: 20 } });
    apps.push(worker);
    const front = await openApp(site, { runtime: 'off' });
    apps.push(front);
    const wasm = await watModule('noop');
    const manifest = { name: 'Pinned', subscribeTo: ['Ping'], tenantScope: 'tenant' as const, tenantId: 'acme', capabilities: [] };
    await front.registry.deploy('user:test', { manifest, wasm });
    await front.registry.deploy('user:test', { manifest, wasm });
    await front.relay.flush();
    const ctx = { app: front } as unknown as ToolContext;
    return {
      worker,
      front,
      /** Publishes one Ping from the front end and answers the version of Pinned that handled it in the worker. */
      handledBy: async () => {
        const [event] = (await front.store.commit(acme, { events: [{ type: 'Ping', payload: {} }] })).events;
        await front.relay.flush();
        return until(`Ping ${event!.eventId} handled`, async () => {
          const page = await worker.store.invocations.query(acme, { eventId: event!.eventId });
          return page.items[0]?.plugin.version;
        });
      },
      /** Pins (or unpins) Pinned as plugin_configure does in a front end: the store, then the announcement. */
      pin: async (version) => {
        if (version === null) await front.store.readModels.delete(acme, PINS_VIEW, 'Pinned');
        else await front.store.readModels.upsert(acme, PINS_VIEW, 'Pinned', { version });
        await routingChanged(ctx, { tenantId: 'acme', names: ['Pinned'] });
      },
    };
  }

  it('ROUTER-CHANGE-2 a front end\'s pins take effect in the worker process with no full reload there; an unannounced bump reloads it once', async () => {
    const { worker, front, handledBy, pin } = await pair();
    expect(await handledBy()).toBe(2);
    const router = worker.runtime!.router;
    await until('the routing signal heard', () => (router.hearingChanges ? true : undefined));
    let reloads = 0;
    const refresh = router.refresh.bind(router);
    router.refresh = () => (reloads++, refresh());
    try {
      for (const version of [1, 2, 1]) {
        await pin(version);
        // applied when heard: the next events are handled by the pinned version
        await until(`v${version} in force`, async () => ((await handledBy()) === version ? true : undefined));
        // several of the worker's checks (250 ms) pass with the counter moved by the front end
        await new Promise((r) => setTimeout(r, 700));
      }
      await pin(null);
      await until('v2 in force', async () => ((await handledBy()) === 2 ? true : undefined));
      await new Promise((r) => setTimeout(r, 700));
      expect(reloads).toBe(0);
      expect(router.tableUpdates.fullReloads).toBe(0);
      // A process of an older UEE pins and only bumps the watermark: the worker reloads, once.
      await front.store.readModels.upsert(acme, PINS_VIEW, 'Pinned', { version: 1 });
      await front.bus.counter(TABLE_WATERMARK, 1);
      await until('v1 in force after the reload', async () => ((await handledBy()) === 1 ? true : undefined));
      await new Promise((r) => setTimeout(r, 700));
      expect(reloads).toBe(1);
    } finally {
      router.refresh = refresh;
    }
  }, 60_000);

  it('ROUTER-CHANGE-3 a burst of 100 announced changes is applied in a few passes (one index rebuild each), and the last pin wins', async () => {
    const { worker, handledBy, pin } = await pair();
    expect(await handledBy()).toBe(2);
    const router = worker.runtime!.router;
    await until('the routing signal heard', () => (router.hearingChanges ? true : undefined));
    const before = { ...router.tableUpdates };
    // 99 pins of v2, then one of v1, all announced at once
    await Promise.all(Array.from({ length: 99 }, () => pin(2)));
    await pin(1);
    await until('v1 in force', async () => ((await handledBy()) === 1 ? true : undefined));
    const passes = router.tableUpdates.passes - before.passes;
    expect(passes).toBeGreaterThan(0);
    expect(passes).toBeLessThan(50);
    await new Promise((r) => setTimeout(r, 700));
    expect(await handledBy()).toBe(1);
  }, 60_000);
});
