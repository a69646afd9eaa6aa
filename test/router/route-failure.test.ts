/**
 * ROUTER-ROUTE-FAIL: a dispatcher whose route step fails (the bus failing a moment: a dropped
 * connection, a failover) routes the events of that step again before it reads anything newer — so
 * per-entity order holds across the failure, and the events wait for the next attempt (half a second),
 * not for the stale-entry claim (`claimIdleMs`, 30 s). Before 2026-12-07 the dispatcher backed off
 * and read on past them: events published after the failure reached the plugin first, and the failed
 * step's events half a minute later. ROUTER-ROUTE-FAIL-2: a step refused because a queue was removed
 * behind the router's back creates it again and is made again at once. ROUTER-ROUTE-FAIL-3: a step
 * that keeps failing is held `routeAttempts` times, then left to the claim, and not held again.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery, EventBus } from '../../src/bus/index.js';
import { UeeApp } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { UeeError, createLogger } from '../../src/core/index.js';
import { laneGroup, pluginGroup } from '../../src/registry/index.js';
import { DISPATCH_GROUP } from '../../src/router/index.js';
import { BACKENDS, TEST_APP_OPTIONS, deployProbe, drained, marks, newSite, openApp, probeWasm, refresh, siteSettings, until, type AppSite } from './harness.js';

const acme = { tenantId: 'acme', actor: 'user:test' };
const ENTITIES = 3;
const STEPS = 12;

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 300_000);

/** Fails the next `n` route steps of `bus` that carry an entry (as a bus failing for a moment would), counting them in `failed`. */
function failRoutes(bus: EventBus, n: number, failed: { count: number }): void {
  const real = bus.route.bind(bus);
  bus.route = async (group, items) => {
    if (failed.count < n && items.length > 0) {
      failed.count++;
      throw new UeeError('BACKEND_UNAVAILABLE', 'the bus failed for a moment (test)', { retryable: true });
    }
    return real(group, items);
  };
}

/**
 * Fails every route step of `bus` that carries an event of type `type` (a fault no retry mends),
 * counting them in `failed`, and logs the dispatcher's calls in `calls`: `read` and `claim` (of its
 * group, with what they returned), `fail` (a failed step).
 */
function failRoutesOf(bus: EventBus, type: string, failed: { count: number }, calls: string[] = []): void {
  const real = bus.route.bind(bus);
  const ids = new Set<string>();
  const note = (what: string, got: Delivery[]): Delivery[] => {
    for (const d of got) if (d.event.type === type) ids.add(d.id);
    if (got.length > 0) calls.push(what);
    return got;
  };
  const read = bus.read.bind(bus);
  bus.read = async (group, consumer, options) => (group === DISPATCH_GROUP ? note('read', await read(group, consumer, options)) : read(group, consumer, options));
  const claim = bus.claimStale.bind(bus);
  bus.claimStale = async (group, consumer, options) => (group === DISPATCH_GROUP ? note('claim', await claim(group, consumer, options)) : claim(group, consumer, options));
  bus.route = async (group, items) => {
    if (items.some((i) => ids.has(i.id))) {
      failed.count++;
      calls.push('fail');
      throw new UeeError('INTERNAL', 'this step cannot be made (test)');
    }
    return real(group, items);
  };
}

describe.each(BACKENDS)('a failed route step ($name bus)', ({ name }) => {
  let site: (AppSite & { dispose(): Promise<void> }) | undefined;
  const apps: UeeApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0).reverse()) await a.close();
    await site?.dispose();
    site = undefined;
  });

  it('ROUTER-ROUTE-FAIL-1 the events of a failed route step are routed again before anything newer: each entity\'s events applied once each, in order, with no wait for the stale-entry claim', async () => {
    site = newSite(name, 'routefail');
    const app = await openApp(site);
    apps.push(app);
    await deployProbe(app, probe, { name: 'Appender', subscribeTo: ['Step'], settings: { mode: 'append', marker: 'f' } });
    const failed = { count: 0 };
    // Two steps in a row fail: the retry of the first failed step fails too.
    failRoutes(app.bus, 2, failed);
    const commitSteps = async (from: number, to: number): Promise<void> => {
      for (let seq = from; seq < to; seq++) {
        await app.store.commit(acme, { events: Array.from({ length: ENTITIES }, (_, e) => ({ type: 'Step', entityId: `ent-${e}`, payload: { seq } })) });
      }
      await app.relay.flush();
    };
    await commitSteps(0, STEPS / 2);
    await until('a route step to fail', () => (failed.count >= 1 ? true : undefined));
    // Published after the failure: read by the dispatcher only after the failed step's events.
    await commitSteps(STEPS / 2, STEPS);
    // Well under the stale-entry claim (claimIdleMs 30 s): the failed step's events are not left to it.
    await drained(app, pluginGroup('Appender', null), 15_000);
    expect(failed.count).toBe(2);
    for (let e = 0; e < ENTITIES; e++) {
      const record = await app.store.get(acme, `order-f-ent-${e}`);
      expect(record.attributes.seqs, `entity ent-${e}`).toEqual(Array.from({ length: STEPS }, (_, i) => i));
    }
    expect(await app.bus.deadLetters()).toEqual([]);
  });

  it('ROUTER-ROUTE-FAIL-3 a step that keeps failing is held routeAttempts times, then left pending for the stale-entry claim: later events are routed, nothing is lost, and each claim of it fails once instead of being held again', async () => {
    site = newSite(name, 'routepoison');
    // Stale entries claimed after 1 s (every 0.5 s): the poison event comes back by the claim within the test.
    const app = await openApp(site, {}, { ...TEST_APP_OPTIONS, router: { ...TEST_APP_OPTIONS.router, routeAttempts: 3, claimIdleMs: 1000 } });
    apps.push(app);
    await deployProbe(app, probe, { name: 'Marker', subscribeTo: ['Ping', 'Poison'], settings: { mode: 'mark', marker: 'p' } });
    await refresh(app);
    const failed = { count: 0 };
    const calls: string[] = [];
    failRoutesOf(app.bus, 'Poison', failed, calls);
    // One event through first: the dispatcher's reads from then on go through the wrapped read (one
    // already waiting when it was wrapped would not see the poison event's id).
    await app.store.commit(acme, { events: [{ type: 'Ping', entityId: 'first', payload: {} }] });
    await app.relay.flush();
    await until('the first event handled', async () => ((await marks(app, 'acme')).length === 1 ? true : undefined));
    await app.store.commit(acme, { events: [{ type: 'Poison', entityId: 'bad', payload: {} }] });
    await app.relay.flush();
    await until('the poison step to fail', () => (failed.count >= 1 ? true : undefined));
    await app.store.commit(acme, { events: [{ type: 'Ping', entityId: 'good', payload: {} }] });
    await app.relay.flush();
    // After 3 attempts (half a second apart) the dispatcher reads on: the later event is handled.
    await until('the later event handled', async () => ((await marks(app, 'acme')).length === 2 ? true : undefined), 10_000);
    expect(failed.count).toBeGreaterThanOrEqual(3);
    expect((await marks(app, 'acme')).map((m) => m.sourceEntity).sort()).toEqual(['first', 'good']);
    // The poison event is not lost: still pending in the dispatcher's group.
    expect((await app.bus.groupInfo(DISPATCH_GROUP)).pending).toBe(1);
    // Claimed again (idle 1 s) and failing: never held again — after the first three attempts, no two
    // failed steps follow each other without a read or claim between them.
    await until('the poison event claimed and failing twice more', () => (failed.count >= 5 ? true : undefined), 15_000);
    const afterHold = calls.slice(calls.indexOf('fail') + 3);
    expect(calls.slice(calls.indexOf('fail'), calls.indexOf('fail') + 3)).toEqual(['fail', 'fail', 'fail']);
    for (let i = 1; i < afterHold.length; i++) expect(`${afterHold[i - 1]}→${afterHold[i]}`, calls.join(' ')).not.toBe('fail→fail');
  });

  it('ROUTER-ROUTE-FAIL-2 a queue removed behind the router\'s back (a global plugin\'s lane, a tenant plugin\'s queue) is created again when a route step finds it gone: the step is retried, its events handled at once (the workers take their lease back without waiting its retry period), the routing of the rest goes on', async () => {
    site = newSite(name, 'routelost');
    const lines: Array<{ msg: string; code?: string }> = [];
    const app = await UeeApp.create(loadConfig(siteSettings(site, {}), {}), createLogger({ level: 'info', sink: (line) => lines.push(JSON.parse(line) as { msg: string; code?: string }) }), TEST_APP_OPTIONS);
    apps.push(app);
    await deployProbe(app, probe, { name: 'Everywhere', subscribeTo: ['Ping'], settings: { mode: 'mark', marker: 'g' } });
    await deployProbe(app, probe, { name: 'Mine', subscribeTo: ['Ping'], tenantScope: 'tenant', tenantId: 'acme', settings: { mode: 'mark', marker: 'm' } });
    await refresh(app);
    const ping = async (n: number): Promise<void> => {
      await app.store.commit(acme, { events: Array.from({ length: n }, (_, i) => ({ type: 'Ping', entityId: `p${i}`, payload: {} })) });
      await app.relay.flush();
    };
    await ping(2);
    await until('the first pings handled', async () => ((await marks(app, 'acme')).length === 4 ? true : undefined));
    // Known to the dispatcher as existing; then gone, as an operator's DEL or a lost Redis would leave them.
    await app.bus.deleteQueue(laneGroup('Everywhere', 'acme'));
    await app.bus.deleteQueue(pluginGroup('Mine', 'acme'));
    await ping(3);
    // Within half the lease's retry period (claimIdleMs / 3 = 10 s embedded): the workers whose lease
    // went with their queue take it back at once when the bus refuses their read, not a period later.
    await until('the later pings handled by both plugins', async () => ((await marks(app, 'acme')).length === 10 ? true : undefined), 5_000);
    await drained(app, pluginGroup('Everywhere', null), 15_000);
    expect(await app.bus.deadLetters()).toEqual([]);
    // The step that found a queue gone was made again at once, not after the half-second back-off
    // that holds every tenant's routing.
    expect(lines.filter((l) => l.msg === 'a route step found a queue gone; made again at once').length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.msg === 'dispatcher failed; backing off')).toEqual([]);
  });
});
