/**
 * ROUTER-ROUTING: events are read once and queued only for the plugins they concern; every other
 * plugin's queue stays untouched, and a plugin that cannot keep up holds back no one.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { laneGroup, pluginGroup } from '../../src/registry/index.js';
import { DISPATCH_GROUP, TABLE_WATERMARK } from '../../src/router/index.js';
import { BACKENDS, deployProbe, drained, marks, newSite, openApp, probeWasm, refresh, until, watModule, redisKeys, type AppSite } from './harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 300_000);

const acme = { tenantId: 'acme', actor: 'user:test' };

describe.each(BACKENDS)('routing by subscription ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('ROUTER-10 an event reaches only the queues of the plugins it concerns; the others are never delivered anything', async () => {
    site = newSite(name, 'routing');
    app = await openApp(site);
    await deployProbe(app, probe, { name: 'Marker', subscribeTo: ['TaskCreated'], tenantScope: 'tenant', tenantId: 'acme', settings: { mode: 'mark', marker: 'm' } });
    const bystanders: string[] = [];
    for (let i = 0; i < 12; i++) {
      const variant = i % 3;
      const manifest =
        variant === 0
          ? { name: `OtherType${i}`, subscribeTo: [`Other${i}`] }
          : variant === 1
            ? { name: `OtherTenant${i}`, subscribeTo: ['TaskCreated'], tenantScope: 'tenant' as const, tenantId: 'globex' }
            : { name: `OtherEntity${i}`, subscribeTo: ['TaskCreated'], filter: { entityTypes: ['Note'] } };
      await deployProbe(app, probe, { ...manifest, settings: { mode: 'mark', marker: `x${i}` } });
      bystanders.push(pluginGroup(manifest.name, 'tenantId' in manifest ? (manifest.tenantId ?? null) : null));
    }
    await refresh(app);
    const before = new Map<string, string>();
    for (const g of bystanders) before.set(g, (await app.bus.groupInfo(g)).lastDeliveredId);
    const markerBefore = (await app.bus.groupInfo(pluginGroup('Marker', 'acme'))).lastDeliveredId;
    for (let i = 0; i < 20; i++) await app.store.put(acme, { entityTypeId: 'Task', attributes: { i }, eventType: 'TaskCreated' });
    await until('20 marks', async () => ((await marks(app, 'acme')).filter((m) => m.marker === 'm').length >= 20 ? true : undefined));
    await drained(app, pluginGroup('Marker', 'acme'));
    await until('the dispatcher to drain', async () => {
      const info = await app.bus.groupInfo(DISPATCH_GROUP);
      return info.pending === 0 && info.lag === 0 ? true : undefined;
    });
    for (const g of bystanders) {
      const info = await app.bus.groupInfo(g);
      expect({ g, lastDeliveredId: info.lastDeliveredId, lag: info.lag, pending: info.pending }).toEqual({ g, lastDeliveredId: before.get(g), lag: 0, pending: 0 });
    }
    expect((await app.bus.groupInfo(pluginGroup('Marker', 'acme'))).lastDeliveredId).not.toBe(markerBefore);
    expect((await marks(app, 'acme')).filter((m) => m.marker === 'm')).toHaveLength(20);
    expect((await marks(app, 'acme')).filter((m) => m.marker !== 'm')).toEqual([]);
    const invoked = app.runtime!.router.metrics.snapshot().filter((m) => m.invocations > 0).map((m) => m.name);
    expect(invoked).toEqual(['Marker']);
  });
});

describe('routing lifecycle (embedded bus)', () => {
  let site: AppSite & { dispose(): Promise<void> };
  afterEach(async () => {
    await site?.dispose();
  });

  it('ROUTER-11 a router stopped between retries leaves the failing delivery pending (not dead-lettered); a restart retries it', async () => {
    site = newSite('embedded', 'routing-stop');
    const trapper = await watModule('trap-mid-writes');
    let app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: 60_000, maxAttempts: 3 } });
    await app.registry.deploy('user:test', { manifest: { name: 'Trapper', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities', 'emitEvents'] }, wasm: trapper });
    await refresh(app);
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { i: 1 }, eventType: 'TaskCreated' });
    await until('the first failure', () => (app.runtime!.router.metrics.snapshot().some((m) => m.name === 'Trapper' && m.invocations >= 1) ? true : undefined));
    const stopping = Date.now();
    await app.close();
    expect(Date.now() - stopping).toBeLessThan(30_000); // the 60 s backoff did not hold the shutdown
    app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: 10, maxAttempts: 3, claimIdleMs: 100 } });
    try {
      const group = laneGroup('Trapper', 'acme');
      // Still pending after the stop: nothing was dead-lettered by the shutdown itself.
      const letters = await until('the dead letter after the restart', async () => {
        const l = await app.bus.deadLetters({ group });
        return l.length > 0 ? l : undefined;
      });
      expect(letters).toHaveLength(1);
      // Attempts span both processes: the restart's delivery count continues from the first.
      expect(app.runtime!.router.metrics.snapshot().find((m) => m.name === 'Trapper')?.invocations).toBeGreaterThanOrEqual(1);
    } finally {
      await app.close();
    }
  }, 60_000);
});

describe.each(BACKENDS)('queue leases ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('ROUTER-14 a batch behind a slow handler keeps its lease: another consumer claiming stale entries takes none of it', async () => {
    site = newSite(name, 'routing-lease');
    const claimIdleMs = 150;
    app = await openApp(site, {}, { router: { refreshMs: 200, claimIdleMs, concurrency: 1 } });
    await app.registry.deploy('user:test', { manifest: { name: 'Spinner', subscribeTo: ['Tick'], capabilities: [] }, wasm: await watModule('spin') });
    await refresh(app);
    const group = laneGroup('Spinner', 'acme');
    // Enough spinning events that the batch outlives the claim threshold many times over on a fast machine.
    const n = 48;
    await app.store.commit(acme, { events: Array.from({ length: n }, (_, i) => ({ type: 'Tick', payload: { seq: i } })) });
    // Another process's worker, as it sees the queue: it reclaims whatever looks stale.
    const stolen: string[] = [];
    const started = Date.now();
    await until('every event handled', async () => {
      for (const d of await app.bus.claimStale(group, 'thief', { minIdleMs: claimIdleMs })) stolen.push(d.id);
      return app.runtime!.router.metrics.invocations >= n ? true : undefined;
    }, 60_000);
    const tookMs = Date.now() - started;
    expect(tookMs).toBeGreaterThan(claimIdleMs); // the batch outlived the claim threshold…
    expect(stolen).toEqual([]); // …yet nothing in it was taken
    expect(app.runtime!.router.metrics.invocations).toBe(n);
    await drained(app, group);
  }, 90_000);
});

describe.each(BACKENDS)('redelivery after commit ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('ROUTER-15 a delivery whose effects committed but whose ack was lost is acked on redelivery without running the plugin again', async () => {
    site = newSite(name, 'routing-redeliver');
    app = await openApp(site, {}, { router: { refreshMs: 200, claimIdleMs: 200, backoffMs: 20, concurrency: 1 } });
    await deployProbe(app, probe, { name: 'Marker', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'm' } });
    await refresh(app);
    const group = laneGroup('Marker', 'acme');
    // The process "dies" between commit and ack: the first ack of the queue is lost, so the entry
    // stays pending and is reclaimed as stale (delivery count 2).
    const bus = app.bus;
    const ack = bus.ack.bind(bus);
    let lost = 0;
    bus.ack = (g, ids) => {
      if (g === group && lost === 0) {
        lost++;
        return Promise.resolve(0);
      }
      return ack(g, ids);
    };
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { i: 1 }, eventType: 'TaskCreated' });
    const router = app.runtime!.router;
    await until('the redelivery to be found committed', () => (router.metrics.alreadyCommitted >= 1 ? true : undefined));
    await drained(app, group);
    expect(lost).toBe(1);
    expect(router.metrics.snapshot().find((m) => m.name === 'Marker')?.invocations).toBe(1);
    expect(await marks(app, 'acme')).toHaveLength(1);
    expect(await app.bus.deadLetters({ group })).toEqual([]);
  }, 60_000);
});

describe.each(BACKENDS)('routing table housekeeping ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('ROUTER-16 disabling a plugin removes its queue (no keys or rows left); enabling it brings the queue back and it handles events again', async () => {
    site = newSite(name, 'routing-park');
    app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: 20 } });
    const plugin = await deployProbe(app, probe, { name: 'Parked', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'p' } });
    await refresh(app);
    const group = pluginGroup('Parked', null);
    // acme's lane of the global plugin goes with it.
    const lane = laneGroup('Parked', 'acme');
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { i: 1 }, eventType: 'TaskCreated' });
    await until('the first mark', async () => ((await marks(app, 'acme')).length === 1 ? true : undefined));
    await until('the dispatching lease', () => (app.runtime!.router.leading ? true : undefined));
    await app.registry.setStatus({ tenantId: null, actor: 'admin' }, plugin.id, 'disabled');
    await until('the queue and its lane to be removed', async () => {
      for (const q of [group, lane]) {
        try {
          await app.bus.groupInfo(q);
          return undefined;
        } catch {
          // gone
        }
      }
      return true;
    });
    expect((await app.bus.queues!()).filter((q) => q === group || q === lane)).toEqual([]);
    if (name === 'redis') expect(await redisKeys(`${site.redisPrefix}*Parked*`)).toEqual([]);
    await app.registry.setStatus({ tenantId: null, actor: 'admin' }, plugin.id, 'enabled');
    await until('the queue to be back', async () => ((await app.bus.groupInfo(group).catch(() => undefined)) === undefined ? undefined : true));
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { i: 2 }, eventType: 'TaskCreated' });
    await until('the second mark', async () => ((await marks(app, 'acme')).length === 2 ? true : undefined));
    await drained(app, group);
  }, 60_000);

  it('ROUTER-17 the periodic refresh reads one watermark, not the registry: the table is reloaded only when another process moved it', async () => {
    site = newSite(name, 'routing-watermark');
    // 50 ms periods: the safety-net full reload (every 30 periods, timed from the last full one) is
    // 1.5 s away, well past the idle window below even when a loaded machine delays the setup.
    app = await openApp(site, {}, { router: { refreshMs: 50, backoffMs: 20 } });
    // Becoming the dispatcher reloads the table once (another process may have dispatched before).
    await until('the dispatching lease', () => (app.runtime!.router.leading ? true : undefined));
    await new Promise((r) => setTimeout(r, 50));
    const registry = app.registry;
    const listAllSince = registry.listAllSince.bind(registry);
    let reloads = 0;
    registry.listAllSince = (known) => {
      reloads++;
      return listAllSince(known);
    };
    // 10 periods without a change: no reload.
    await new Promise((r) => setTimeout(r, 500));
    const idle = reloads;
    // Another process applied a lifecycle change: it bumped the watermark.
    await app.bus.counter(TABLE_WATERMARK, 1);
    await until('a reload', () => (reloads > idle ? true : undefined));
    expect(idle).toBe(0);
  }, 30_000);
});

describe('one tenant cannot stall routing for others (embedded bus)', () => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('ROUTER-18 behind a flood of slow events of one tenant, another tenant\'s event is handled long before the flood drains', async () => {
    site = newSite('embedded', 'routing-flood');
    app = await openApp(site, {}, { router: { refreshMs: 200, concurrency: 4 } });
    const spin = await watModule('spin');
    await app.registry.deploy('user:test', { manifest: { name: 'Flooded', subscribeTo: ['Tick'], tenantScope: 'tenant', tenantId: 'acme', capabilities: [] }, wasm: spin });
    await deployProbe(app, probe, { name: 'Quick', subscribeTo: ['Tick'], tenantScope: 'tenant', tenantId: 'globex', settings: { mode: 'mark', marker: 'q' } });
    await refresh(app);
    const router = app.runtime!.router;
    const handled = (name: string): number => router.metrics.snapshot().filter((m) => m.name === name).reduce((n, m) => n + m.invocations, 0);
    const flood = 120;
    await app.store.commit(acme, { events: Array.from({ length: flood }, (_, i) => ({ type: 'Tick', payload: { seq: i } })) });
    // globex's event is published after the whole flood, so it is behind it in the stream.
    await app.store.commit({ tenantId: 'globex', actor: 'user:test' }, { events: [{ type: 'Tick', payload: { seq: 0 } }] });
    await until('globex\'s event handled', async () => ((await marks(app, 'globex')).length === 1 ? true : undefined), 60_000);
    const floodDoneWhenQuickDone = handled('Flooded');
    await until('the flood drained', () => (handled('Flooded') >= flood ? true : undefined), 120_000);
    // The baseline is the flood itself: globex waited for a small share of it, not for all of it.
    process.stdout.write(`ROUTER-18: globex's event handled when ${floodDoneWhenQuickDone} of acme's ${flood} flood events were\n`);
    expect(floodDoneWhenQuickDone).toBeLessThan(flood / 2);
  }, 180_000);
});
