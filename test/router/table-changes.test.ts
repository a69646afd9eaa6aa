/**
 * ROUTER-CHANGE-2: a routing change made in one process (a front end's pin, an experiment, a deploy)
 * is named on the bus with the watermark it bumped, and every other process applies just that change —
 * before, each other process reloaded its whole table (every tenant's plugins, pins and experiments:
 * ~45 ms of main thread with 1,000 tenants, O(tenants)) for each change anywhere. A bump no process
 * named (lost, or an older UEE's) still makes them reload, one check period later. ROUTER-CHANGE-4: a
 * change that names the versions it wrote (a deploy, a status change) has just those read back, not
 * every version of the plugin ever deployed. TABLE-MARK-1..3: the watermark's bookkeeping and the
 * signal's parsing alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { PLUGIN_ENTITY_TYPE, pluginVersionId } from '../../src/registry/index.js';
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
    const ok = { from: 'p1', mark: 7, changes: [{ tenantId: 'acme', names: ['A.B'] }, { tenantId: null, names: [] }, { tenantId: 'acme', names: ['A.B'], versions: [{ tenantId: null, name: 'A.B', version: 3 }] }] };
    expect(parseRoutingSignal(JSON.stringify(ok))).toEqual(ok);
    const versioned = (versions: unknown) => JSON.stringify({ ...ok, changes: [{ tenantId: 'acme', names: ['A.B'], versions }] });
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
      versioned({}),
      versioned([{ tenantId: 'acme', name: 'A.B', version: 0 }]),
      versioned([{ tenantId: 'acme', name: 'A.B', version: 1.5 }]),
      versioned([{ tenantId: 'acme', name: '', version: 1 }]),
      versioned([{ tenantId: 4, name: 'A.B', version: 1 }]),
      versioned([null]),
      versioned(Array.from({ length: 257 }, () => ({ tenantId: 'acme', name: 'A.B', version: 1 }))),
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

  it('ROUTER-CHANGE-4 a change naming the versions it wrote is applied by reading just those: a deploy and a disable of Pinned, whose 40 older versions are not read again', async () => {
    const { worker, front, handledBy } = await pair();
    // 40 more versions of Pinned, each with a 20 KB source (v3..v42), then the worker's table in full.
    const [v2] = await front.registry.versions(acme, 'Pinned');
    const files = { 'plugin.ts': `// ${'x'.repeat(20_000)}\n` };
    for (let v = 3; v <= 42; v++) {
      await front.store.put(acme, { entityId: pluginVersionId('acme', 'Pinned', v), entityTypeId: PLUGIN_ENTITY_TYPE, attributes: { ...v2!.attributes, pluginVersion: v, source: { language: 'ts', files } }, expectedVersion: 0, eventType: 'Touched' }, { source: { kind: 'system', id: 'test' } });
    }
    const router = worker.runtime!.router;
    await router.refresh();
    expect(await handledBy()).toBe(42);
    await until('the routing signal heard', () => (router.hearingChanges ? true : undefined));
    const reads = { versions: 0, get: 0 };
    const { registry } = worker;
    const versions = registry.versions.bind(registry);
    const get = registry.get.bind(registry);
    const version = registry.version.bind(registry);
    registry.versions = (ctx, name) => (reads.versions++, versions(ctx, name));
    // One version read back, by id or by number.
    registry.get = (ctx, id) => (reads.get++, get(ctx, id));
    registry.version = (ctx, name, n) => (reads.get++, version(ctx, name, n));
    const ctx = { app: front } as unknown as ToolContext;
    // A deploy (v43) and then a disable of it, each announced as the tools announce them.
    const deployed = await front.registry.deploy('user:test', { manifest: { name: 'Pinned', subscribeTo: ['Ping'], tenantScope: 'tenant', tenantId: 'acme', capabilities: [] }, wasm: await watModule('noop') });
    const v43 = { tenantId: 'acme', name: 'Pinned', version: deployed.plugin.attributes.pluginVersion };
    expect(v43.version).toBe(43);
    await routingChanged(ctx, { tenantId: 'acme', names: ['Pinned'], versions: [v43] });
    await until('v43 in force', async () => ((await handledBy()) === 43 ? true : undefined));
    await front.registry.setStatus(acme, deployed.plugin.id, 'disabled');
    await routingChanged(ctx, { tenantId: 'acme', names: ['Pinned'], versions: [v43] });
    await until('v42 in force again', async () => ((await handledBy()) === 42 ? true : undefined));
    expect(router.tableUpdates.fullReloads).toBe(0);
    // Each change read its one version (the lifecycle events the worker's dispatcher also applies read it once more each).
    expect(reads.versions).toBe(0);
    expect(reads.get).toBeLessThanOrEqual(4);
    registry.versions = versions;
    registry.get = get;
    registry.version = version;
  }, 90_000);

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
