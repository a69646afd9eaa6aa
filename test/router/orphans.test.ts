/**
 * ROUTER-ORPHAN: queues of plugins that no longer route anywhere are removed even when no process saw
 * the change happen — a plugin entity deleted or disabled while nothing ran — by the dispatcher's
 * housekeeping sweep (`OrphanSweeper`), and never the queue a plugin being deployed is about to get.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import type { TenantContext } from '../../src/core/index.js';
import { PLUGIN_ENTITY_TYPE, laneGroup, pluginGroup } from '../../src/registry/index.js';
import { WORKFLOW_QUEUE } from '../../src/workflows/index.js';
import { BACKENDS, deployProbe, drained, marks, newSite, openApp, probeWasm, until, redisKeys, type AppSite } from './harness.js';

/** Short enough for a test; the sweep runs every quarter of it. */
const GRACE_MS = 3000;
const admin: TenantContext = { tenantId: null, actor: 'admin' };
const acme: TenantContext = { tenantId: 'acme', actor: 'user:test' };

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);

async function queueExists(app: UeeApp, group: string): Promise<boolean> {
  return app.bus.groupInfo(group).then(
    () => true,
    () => false,
  );
}

describe.each(BACKENDS)('orphaned queues ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  const apps: UeeApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0).reverse()) await a.close();
    await site?.dispose();
  });
  const router = { refreshMs: 100, backoffMs: 20, orphanGraceMs: GRACE_MS };

  it('ROUTER-ORPHAN-1 a plugin deleted, and one disabled, while no process ran: the next dispatcher removes their queues (stream, group, consumers, lease); live plugins keep theirs', async () => {
    site = newSite(name, 'orphans');
    const offline = await openApp(site, { runtime: 'off' });
    const deleted = await deployProbe(offline, probe, { name: 'Deleted', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'd' } });
    const disabled = await deployProbe(offline, probe, { name: 'Disabled', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'x' } });
    await deployProbe(offline, probe, { name: 'Live', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'l' } });
    // With their tenants' lanes (a global plugin's queue per tenant with events).
    const gone = [pluginGroup('Deleted', null), pluginGroup('Disabled', null), laneGroup('Deleted', 'acme'), laneGroup('Disabled', 'globex')];
    const live = pluginGroup('Live', null);
    const liveLane = laneGroup('Live', 'acme');
    await offline.bus.ensureQueue(liveLane);
    // The queues exist (a deploy creates its queue), with a consumer and a lease, as a router leaves them.
    for (const g of gone) {
      await offline.bus.ensureQueue(g);
      await offline.bus.read(g, 'old-process', { count: 1 });
      await offline.bus.lease(`q:${g}`, 'old-process', 1);
    }
    // Gone while nothing routed: the entity tombstoned, the other disabled.
    await offline.store.put(admin, { entityId: deleted.id, entityTypeId: PLUGIN_ENTITY_TYPE, attributes: deleted.attributes, deleted: true }, { source: { kind: 'system', id: 'test' } });
    await offline.registry.setStatus(admin, disabled.id, 'disabled');
    for (const g of gone) expect(await queueExists(offline, g)).toBe(true);
    await offline.close();

    const app = await openApp(site, {}, { router });
    apps.push(app);
    await until('the dispatching lease', () => (app.runtime!.router.leading ? true : undefined));
    await until('the orphaned queues to be removed', async () => ((await Promise.all(gone.map((g) => queueExists(app, g)))).every((e) => !e) ? true : undefined), 6 * GRACE_MS);
    if (name === 'redis') for (const g of gone) expect(await redisKeys(`${site.redisPrefix}*${g}*`)).toEqual([]);
    // Only plugin queues are swept: the workflow service's queue, older than every sweep, stays.
    expect((await app.bus.queues!()).sort()).toEqual([live, liveLane, WORKFLOW_QUEUE].sort());
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { i: 1 }, eventType: 'TaskCreated' });
    await drained(app, live);
    expect((await marks(app, 'acme')).map((m) => m.marker)).toEqual(['l']);
    // Enabled again: its queue comes back and it handles events.
    await app.registry.setStatus(admin, disabled.id, 'enabled');
    await until('the queue to be back', async () => ((await queueExists(app, gone[1]!)) ? true : undefined));
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { i: 2 }, eventType: 'TaskCreated' });
    // Both plugins' queues: Live handles the event too, and nothing says which of the two is done first
    // (draining Disabled's alone once read Live's second mark before it was written).
    await drained(app, gone[1]!);
    await drained(app, live);
    // acme's event came back through a new lane of the plugin.
    expect(await queueExists(app, laneGroup('Disabled', 'acme'))).toBe(true);
    expect((await marks(app, 'acme')).map((m) => m.marker).sort()).toEqual(['l', 'l', 'x']);
  }, 120_000);

  it('ROUTER-ORPHAN-2 the queue a deploy creates before it commits the plugin is not swept meanwhile, however many sweeps see it first', async () => {
    site = newSite(name, 'orphans-deploy');
    const app = await openApp(site, {}, { router });
    apps.push(app);
    await until('the dispatching lease', () => (app.runtime!.router.leading ? true : undefined));
    let sweeps = 0;
    const list = app.bus.queues!.bind(app.bus);
    app.bus.queues = () => {
      sweeps++;
      return list();
    };
    const group = pluginGroup('Soon', 'acme');
    // The deploy's first step, then its commit held back while two sweeps run to the end (the third has
    // started): without the grace, the first would mark the queue and the second remove it.
    const commit = app.store.commit.bind(app.store);
    let held = false;
    app.store.commit = async (...args: Parameters<typeof commit>) => {
      if (!held && (args[1].writes ?? []).some((w) => w.entityTypeId === PLUGIN_ENTITY_TYPE)) {
        held = true;
        const from = sweeps;
        await until('two sweeps during the deploy', () => (sweeps >= from + 3 ? true : undefined), 6 * GRACE_MS);
        expect(await queueExists(app, group)).toBe(true);
      }
      return commit(...args);
    };
    await deployProbe(app, probe, { name: 'Soon', tenantScope: 'tenant', tenantId: 'acme', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 's' } });
    expect(held).toBe(true);
    await app.runtime!.router.refresh();
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { i: 1 }, eventType: 'TaskCreated' });
    await drained(app, group);
    expect((await marks(app, 'acme')).map((m) => m.marker)).toEqual(['s']);
  }, 120_000);
});
