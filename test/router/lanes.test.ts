/**
 * ROUTER-LANE: a global plugin reads each tenant's events from a queue of that tenant's (a lane), so
 * one tenant's backlog never holds another tenant's events behind it. Lanes are opened when the
 * dispatcher routes to them, closed when idle, found again on the bus after a restart, and their
 * dead letters belong to the plugin.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import type { Delivery } from '../../src/bus/index.js';
import { laneGroup, pluginGroup } from '../../src/registry/index.js';
import { DISPATCH_GROUP } from '../../src/router/index.js';
import { groupPlugin } from '../../src/tools/plugin-tools/dead-letters.js';
import { BACKENDS, deployProbe, drained, marks, newSite, openApp, probeSuite, queuesOf, refresh, until, watchRouterCalls, type AppSite } from './harness.js';

const suite = probeSuite();
const acme = { tenantId: 'acme', actor: 'user:test' };
const globex = { tenantId: 'globex', actor: 'user:test' };

describe.each(BACKENDS)('global plugins\' lanes ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  const apps: UeeApp[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0).reverse()) await app.close();
    await site?.dispose();
  });

  it('ROUTER-LANE-1 one tenant\'s backlog for a global plugin does not hold another tenant\'s event behind it: globex\'s one event, published after 3,000 of acme\'s, is handled before most of them', async () => {
    site = newSite(name, 'lanes-hol');
    const app = await openApp(site, {}, { router: { refreshMs: 200 } });
    apps.push(app);
    await deployProbe(app, suite.probe, { name: 'Shared', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 's' } });
    await refresh(app);
    // The tenant of each invocation, in the order they start.
    const order: Array<string | null> = [];
    watchRouterCalls(app, (input) => order.push(input.event.tenantId));
    const N = 3000;
    for (let i = 0; i < N; i += 500) {
      await app.store.commit(acme, { events: Array.from({ length: 500 }, (_, j) => ({ type: 'TaskCreated', entityId: `a${i + j}`, payload: {} })) });
    }
    await app.store.commit(globex, { events: [{ type: 'TaskCreated', entityId: 'g1', payload: {} }] });
    await until('globex\'s event handled', () => (order.includes('globex') ? true : undefined), 60_000);
    const acmeBefore = order.indexOf('globex');
    await drained(app, pluginGroup('Shared', null), 120_000);
    console.info(`ROUTER-LANE-1 (${name}): globex's event started after ${acmeBefore} of acme's ${N}`);
    // In one queue it would come after all of acme's but those in hand (≤ concurrency + a batch: 320).
    expect(acmeBefore).toBeLessThan(N / 2);
    expect(order.filter((t) => t === 'acme')).toHaveLength(N);
    expect(order.filter((t) => t === 'globex')).toHaveLength(1);
    expect((await marks(app, 'acme')).length).toBe(N);
    // Each tenant's events went to its own lane; the plugin's queue holds the global scope's.
    expect(await queuesOf(app.bus, pluginGroup('Shared', null))).toEqual([pluginGroup('Shared', null), laneGroup('Shared', 'acme'), laneGroup('Shared', 'globex')]);
    expect(await app.bus.deadLetters()).toEqual([]);
  }, 180_000);

  it('ROUTER-LANE-2 an idle lane\'s worker closes and the queue stays; the next event opens it again and is handled', async () => {
    site = newSite(name, 'lanes-idle');
    const app = await openApp(site, {}, { router: { refreshMs: 200, laneIdleMs: 300 } });
    apps.push(app);
    await deployProbe(app, suite.probe, { name: 'Idler', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'i' } });
    await refresh(app);
    await until('the dispatching lease', () => (app.runtime!.router.leading ? true : undefined));
    for (let round = 1; round <= 3; round++) {
      await app.store.put(acme, { entityTypeId: 'Task', attributes: { round }, eventType: 'TaskCreated' });
      await until(`mark ${round}`, async () => ((await marks(app, 'acme')).length === round ? true : undefined), 30_000);
      await until('the idle lane to close', () => (app.runtime!.router.lanesOpen === 0 ? true : undefined), 30_000);
      expect(await app.bus.queues!()).toContain(laneGroup('Idler', 'acme'));
      expect((await app.status()).runtime.lanes).toBe(0);
    }
    expect(await marks(app, 'acme')).toHaveLength(3);
  }, 120_000);

  it('ROUTER-LANE-3 deliveries a previous process left in a lane are handled after a restart: the router finds the lanes on the bus', async () => {
    site = newSite(name, 'lanes-found');
    const offline = await openApp(site, { runtime: 'off' });
    await deployProbe(offline, suite.probe, { name: 'Finder', subscribeTo: ['Found'], settings: { mode: 'mark', marker: 'f' } });
    // A dispatcher routed two events to globex's lane and its process died before any worker read them.
    const lane = laneGroup('Finder', 'globex');
    await offline.bus.ensureQueue(lane);
    await offline.store.commit(globex, { events: [{ type: 'Found', entityId: 'f1', payload: {} }, { type: 'Found', entityId: 'f2', payload: {} }] });
    const read: Delivery[] = [];
    await until('the events on the stream', async () => {
      await offline.relay.flush();
      read.push(...(await offline.bus.read(DISPATCH_GROUP, 'old-dispatcher', { count: 10 })));
      return read.filter((d) => d.event.type === 'Found').length === 2 ? true : undefined;
    });
    // (The deploy's own event concerns no plugin.)
    await offline.bus.route(DISPATCH_GROUP, read.map((d) => ({ id: d.id, groups: d.event.type === 'Found' ? [lane] : [] })));
    await offline.close();

    const app = await openApp(site, {}, { router: { refreshMs: 200 } });
    apps.push(app);
    await until('both marks', async () => ((await marks(app, 'globex')).length === 2 ? true : undefined), 30_000);
    await drained(app, pluginGroup('Finder', null));
  }, 120_000);

  it('ROUTER-LANE-4 a lane\'s dead letter belongs to the global plugin: the tools name the plugin, and it is redriven to a newer version of it', async () => {
    site = newSite(name, 'lanes-dead');
    const app = await openApp(site, {}, { router: { refreshMs: 200, backoffMs: 10, maxAttempts: 2 } });
    apps.push(app);
    await deployProbe(app, suite.probe, { name: 'Failing', subscribeTo: ['TaskCreated'], settings: { mode: 'throw', marker: 'x', code: 'NOT_TODAY' } });
    await refresh(app);
    await app.store.put(acme, { entityTypeId: 'Task', attributes: {}, eventType: 'TaskCreated' });
    const [letter] = await until('the dead letter', async () => {
      const d = await app.bus.deadLetters();
      return d.length > 0 ? d : undefined;
    }, 30_000);
    expect(letter!.group).toBe(laneGroup('Failing', 'acme'));
    expect(groupPlugin(letter!.group)).toEqual({ name: 'Failing', tenantId: null });
    const fixed = await deployProbe(app, suite.probe, { name: 'Failing', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'fixed' } });
    await refresh(app);
    const outcome = await app.runtime!.router.redrive(letter!, fixed);
    expect(outcome.ok).toBe(true);
    expect((await marks(app, 'acme')).map((m) => m.marker)).toEqual(['fixed']);
  }, 120_000);
});
