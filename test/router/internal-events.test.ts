/**
 * ROUTER-INTERNAL: platform-internal events (the `uee.` namespace) reach no plugin. A tenant deploy
 * commits the tenant's subscriber guard (`uee.subscriber-guard`) with its plugin write, and the store
 * announces that write with an event in the tenant's stream; a tenant plugin subscribed to it — by
 * its type, or by the type the guard used to carry — never receives it (nor spends its chain budget
 * on it), while the platform's facts (PluginInstalled) and the tenant's own events still reach it.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import type { TenantContext } from '../../src/core/index.js';
import { SUBSCRIBER_GUARD_EVENT, SUBSCRIBER_GUARD_TYPE, pluginGroup } from '../../src/registry/index.js';
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
});
