/**
 * ROUTER-INTERNAL: platform-internal events (the `uee.` namespace) reach no plugin. A tenant deploy
 * commits the tenant's subscriber guard (`uee.subscriber-guard`) with its plugin write, and the store
 * announces that write with an event in the tenant's stream; a tenant plugin subscribed to it — by
 * its type, or by the type the guard used to carry — never receives it (nor spends its chain budget
 * on it), while the platform's facts (PluginInstalled) and the tenant's own events still reach it.
 * Nor does the store's generic announcement (EntityCreated / EntityUpdated / EntityDeleted) of a write
 * to a platform entity type — a review proposal, a workflow instance — reach a plugin subscribed to it.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import type { TenantContext } from '../../src/core/index.js';
import { SUBSCRIBER_GUARD_EVENT, SUBSCRIBER_GUARD_TYPE, pluginGroup } from '../../src/registry/index.js';
import { PROPOSAL_TYPE } from '../../src/review/index.js';
import { WORKFLOW_INSTANCE_TYPE } from '../../src/workflows/index.js';
import { BACKENDS, Observer, deployProbe, drained, marks, newSite, openApp, probeWasm, until, type AppSite } from './harness.js';

const acme: TenantContext = { tenantId: 'acme', actor: 'user:test' };

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);

describe.each(BACKENDS)('platform-internal events ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('ROUTER-INTERNAL-1 a tenant plugin subscribed to the subscriber guard\'s event never receives the guard writes of its own or a later deploy; facts and the tenant\'s events still reach it', async () => {
    site = newSite(name, 'internal');
    app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: 20, concurrency: 4 } });
    const observer = new Observer(app);
    const tenant = { tenantScope: 'tenant' as const, tenantId: 'acme' };
    // A deploy may not subscribe to the guard's own (uee.) type...
    await expect(deployProbe(app, probe, { name: 'Watcher', ...tenant, subscribeTo: [SUBSCRIBER_GUARD_EVENT, 'ThingMade'], settings: { mode: 'mark', marker: 'w' } })).rejects.toMatchObject({
      code: 'RESERVED_NAME',
      details: { eventType: SUBSCRIBER_GUARD_EVENT },
      hint: expect.stringContaining('PluginInstalled'),
    });
    // ...so as broad as a subscription gets around the guard: the type it had, and the facts. (A stored
    // subscription to a uee. type, from before that check, is left out of the index: ROUTER-INDEX-INTERNAL.)
    await deployProbe(app, probe, { name: 'Watcher', ...tenant, subscribeTo: ['PluginSubscribersChecked', 'PluginInstalled', 'ThingMade'], settings: { mode: 'mark', marker: 'w' } });
    await app.runtime!.router.refresh();
    await deployProbe(app, probe, { name: 'Other', ...tenant, subscribeTo: ['Ping'], settings: { mode: 'noop' } });
    await app.store.commit(acme, { writes: [{ entityTypeId: 'Thing', attributes: {}, eventType: 'ThingMade' }] });
    await until('the Watcher to see the later deploy and the tenant\'s event', async () => ((await marks(app, 'acme')).some((m) => m.sourceType === 'ThingMade') ? true : undefined));
    await drained(app, pluginGroup('Watcher', 'acme'));

    // Both deploys did write the guard into the tenant's stream...
    const guardEvents = (await observer.poll()).filter((e) => e.entityTypeId === SUBSCRIBER_GUARD_TYPE);
    expect(guardEvents.map((e) => ({ type: e.type, tenantId: e.tenantId }))).toEqual([
      { type: SUBSCRIBER_GUARD_EVENT, tenantId: 'acme' },
      { type: SUBSCRIBER_GUARD_EVENT, tenantId: 'acme' },
    ]);
    // ...and the Watcher saw none of them: only the facts of the deploys (Other's, and its own when the
    // table had it already) and the tenant's event.
    expect([...new Set((await marks(app, 'acme')).map((m) => m.sourceType))].sort()).toEqual(['PluginInstalled', 'ThingMade']);
    // The refused deploy committed nothing: one Watcher version, the one deployed after it.
    expect((await app.registry.versions(acme, 'Watcher')).map((v) => v.attributes.pluginVersion)).toEqual([1]);
    expect(await app.bus.deadLetters()).toEqual([]);
  }, 60_000);

  it('ROUTER-INTERNAL-2 the store\'s EntityCreated / EntityUpdated / EntityDeleted of a platform entity (a review proposal, a workflow instance) reach no plugin; the tenant\'s own entities\' still do', async () => {
    site = newSite(name, 'internal2');
    app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: 20, concurrency: 4 } });
    const observer = new Observer(app);
    const tenant = { tenantScope: 'tenant' as const, tenantId: 'acme' };
    // Updates and deletes of anything (its own Mark writes are creates: no loop); creates of two types, by filter.
    await deployProbe(app, probe, { name: 'Changes', ...tenant, subscribeTo: ['EntityUpdated', 'EntityDeleted'], settings: { mode: 'mark', marker: 'u' } });
    await deployProbe(app, probe, { name: 'Creates', ...tenant, subscribeTo: ['EntityCreated'], filter: { entityTypes: ['Thing', PROPOSAL_TYPE] }, settings: { mode: 'mark', marker: 'c' } });
    await app.runtime!.router.refresh();
    const system = { source: { kind: 'system' as const, id: 'test' } };
    for (const entityTypeId of [PROPOSAL_TYPE, WORKFLOW_INSTANCE_TYPE]) {
      const created = await app.store.put(acme, { entityTypeId, attributes: { status: 'pending' } }, system);
      await app.store.put(acme, { entityId: created.entityId, entityTypeId, expectedVersion: 1, attributes: { status: 'applied' } }, system);
      await app.store.commit(acme, { writes: [{ entityId: created.entityId, entityTypeId, expectedVersion: 2, attributes: {}, deleted: true }], source: system.source });
    }
    const thing = await app.store.put(acme, { entityTypeId: 'Thing', attributes: { n: 1 } });
    await app.store.put(acme, { entityId: thing.entityId, entityTypeId: 'Thing', expectedVersion: 1, attributes: { n: 2 } });
    await app.store.commit(acme, { writes: [{ entityId: thing.entityId, entityTypeId: 'Thing', expectedVersion: 2, attributes: {}, deleted: true }] });
    await until('both plugins to see the Thing\'s last event', async () => ((await marks(app, 'acme')).some((m) => m.sourceType === 'EntityDeleted') ? true : undefined));
    await drained(app, pluginGroup('Changes', 'acme'));
    await drained(app, pluginGroup('Creates', 'acme'));

    // The platform entities' announcements are on the bus...
    const platform = (await observer.poll()).filter((e) => e.entityTypeId === PROPOSAL_TYPE || e.entityTypeId === WORKFLOW_INSTANCE_TYPE);
    expect(platform.map((e) => e.type)).toEqual(['EntityCreated', 'EntityUpdated', 'EntityDeleted', 'EntityCreated', 'EntityUpdated', 'EntityDeleted']);
    // ...and reached neither plugin: only the Thing's three events did.
    const seen = (await marks(app, 'acme')).map((m) => `${String(m.marker)}:${String(m.sourceType)}:${m.sourceEntity === thing.entityId ? 'thing' : String(m.sourceEntity)}`);
    expect(seen.sort()).toEqual(['c:EntityCreated:thing', 'u:EntityDeleted:thing', 'u:EntityUpdated:thing']);
    expect(await app.bus.deadLetters()).toEqual([]);
  }, 60_000);
});
