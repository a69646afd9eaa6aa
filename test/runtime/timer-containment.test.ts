/**
 * TIMER-OWN-*, TIMER-DEAD-*, TIMER-HORIZON-1: timers are owned per plugin and tenant (a plugin reusing
 * another's `timerId` gets its own timer), a timer that cannot fire is dead-lettered instead of being
 * retried in a loop, and timers beyond the horizon are refused — real composition on the embedded bus,
 * real SQLite store.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TimerService, type UeeApp } from '../../src/app/index.js';
import { UeeError, silentLogger, type JsonObject } from '../../src/core/index.js';
import type { PluginManifestInput } from '../../src/registry/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { DEFAULT_TIMER_HORIZON_MS, TIMER_ENTITY_TYPE, timerEntityId } from '../../src/runtime/index.js';
import { openSqliteStore, type EntityStore } from '../../src/store/index.js';
import { TEST_APP_OPTIONS, Observer, allOfType, compiledTs, drained, newSite, openApp, refresh, until, type AppSite } from '../router/harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await compiledTs('timer-probe');
}, 300_000);

const acme = { tenantId: 'acme', actor: 'user:test' };
const CAPABILITIES: PluginManifestInput['capabilities'] = ['writeEntities', 'executeTimers', 'spawnWorkflows'];

describe('timer ownership (embedded bus)', () => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  let clock: { frozen: boolean; offsetMs: number };
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });
  const open = async (): Promise<void> => {
    site = newSite('embedded', 'timer-own');
    clock = { frozen: true, offsetMs: 0 };
    app = await openApp(site, {}, { ...TEST_APP_OPTIONS, timers: { intervalMs: 50, now: () => (clock.frozen ? 0 : Date.now() + clock.offsetMs) } });
  };
  const deploy = async (manifest: Omit<PluginManifestInput, 'capabilities'>): Promise<void> => {
    await app.registry.deploy('user:test', { manifest: { capabilities: CAPABILITIES, ...manifest }, wasm: probe, language: 'ts' });
  };

  it('TIMER-OWN-1 a plugin reusing another plugin\'s timerId neither replaces nor cancels that timer', async () => {
    await open();
    const observer = new Observer(app);
    await deploy({ name: 'Owner', subscribeTo: ['Arm'], settings: { mode: 'schedule', timerType: 'OwnerTimer', delayMs: 100 } });
    await deploy({ name: 'Intruder', subscribeTo: ['Hijack', 'Disarm'], settings: { mode: 'schedule', timerType: 'IntruderTimer', delayMs: 100, cancelType: 'Disarm' } });
    await deploy({ name: 'Watcher', subscribeTo: ['OwnerTimer', 'IntruderTimer'], settings: { mode: 'mark', marker: 'w' } });
    await refresh(app);
    const ownerTimer = timerEntityId('acme', 'Owner', 'shared');
    const intruderTimer = timerEntityId('acme', 'Intruder', 'shared');
    expect(ownerTimer).not.toBe(intruderTimer);
    // Other tenants and the global scope get other ids for the same name too.
    expect(timerEntityId('globex', 'Owner', 'shared')).not.toBe(ownerTimer);
    expect(timerEntityId(null, 'Owner', 'shared')).not.toBe(ownerTimer);

    await app.store.put(acme, { entityTypeId: 'Task', attributes: { timerId: 'shared' }, eventType: 'Arm' });
    await until('the owner timer', async () => ((await allOfType(app, 'acme', TIMER_ENTITY_TYPE)).length === 1 ? true : undefined));
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { timerId: 'shared' }, eventType: 'Hijack' });
    await until('the intruder timer', async () => ((await allOfType(app, 'acme', TIMER_ENTITY_TYPE)).length === 2 ? true : undefined));
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { timerId: 'shared' }, eventType: 'Disarm' });
    await until('the intruder cancel', async () => ((await app.store.get(acme, intruderTimer)).attributes.status === 'cancelled' ? true : undefined));

    const owned = await app.store.get(acme, ownerTimer);
    expect(owned).toMatchObject({ version: 1, attributes: { status: 'scheduled', type: 'OwnerTimer', pluginName: 'Owner', timerId: 'shared' } });

    clock.frozen = false;
    clock.offsetMs = 60_000;
    await app.runtime!.timers.runOnce();
    await until('the owner timer to fire', async () => ((await app.store.get(acme, ownerTimer)).attributes.status === 'fired' ? true : undefined));
    await drained(app, pluginGroup('Watcher', null));
    const fired = (await observer.poll()).filter((e) => e.type === 'OwnerTimer' || e.type === 'IntruderTimer');
    expect(fired.map((e) => [e.type, e.payload.timerId])).toEqual([['OwnerTimer', 'shared']]);
  });
});

/** uee.timer is reserved: writes straight into the store come from a platform source, as the runtime's do. */
const PLATFORM = { source: { kind: 'timer' as const, id: 'test' } };

/** A timer entity written straight into the store (as a runtime commit would), due at the epoch. */
function timerWrite(payload: JsonObject): { entityTypeId: string; attributes: JsonObject } {
  return { entityTypeId: TIMER_ENTITY_TYPE, attributes: { type: 'Ping', fireAt: '1970-01-01T00:00:01.000Z', payload, status: 'scheduled', timerId: 't', pluginId: 'p', pluginName: 'p' } };
}

/** Counts the store's commits that touch timers (each one a firing or dead-lettering attempt). */
function counting(store: EntityStore, fail?: () => UeeError | undefined): { store: EntityStore; commits: () => number } {
  let commits = 0;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'commit') {
        return (...args: Parameters<EntityStore['commit']>) => {
          if (args[1].writes?.some((w) => w.entityTypeId === TIMER_ENTITY_TYPE)) {
            commits++;
            const err = fail?.();
            if (err !== undefined) return Promise.reject(err);
          }
          return target.commit(...args);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: proxy, commits: () => commits };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('timers that cannot fire (SQLite store)', () => {
  let store: EntityStore;
  afterEach(async () => {
    await store?.close();
  });

  it('TIMER-DEAD-1 a timer stored near the size cap is dead-lettered once, never retried in a loop', async () => {
    const cap = 4096;
    store = await openSqliteStore({ path: ':memory:', limits: { maxAttributeBytes: cap } });
    await store.tenants.create('acme');
    // Grow the payload until the stored attributes sit just under the cap: adding `firedAt` breaks it.
    let filler = 'x'.repeat(cap - 300);
    while (JSON.stringify(timerWrite({ filler: filler + 'x' }).attributes).length <= cap - 5) filler += 'x';
    const stored = await store.put(acme, { entityId: 'tmr:big', ...timerWrite({ filler }) }, PLATFORM);
    expect(JSON.stringify(stored.attributes).length).toBeGreaterThan(cap - 10);
    const counted = counting(store);
    const service = new TimerService(counted.store, { logger: silentLogger, intervalMs: 5 });
    service.start();
    await until('the timer to be retired', async () => ((await store.get(acme, 'tmr:big')).attributes.status === 'dead' ? true : undefined));
    // Give a spinning loop every chance to show itself.
    await sleep(300);
    await service.stop();
    const dead = await store.get(acme, 'tmr:big');
    expect(dead).toMatchObject({ version: 2, attributes: { status: 'dead', payload: {}, timerId: 't', deadLetter: { code: 'PAYLOAD_TOO_LARGE' } } });
    // One failed firing, one dead-letter write; the rounds after that find nothing due.
    expect(counted.commits()).toBe(2);
    expect(service.metrics()).toMatchObject({ fired: 0, deadLettered: 1 });
    expect(await store.dueTimers!(new Date().toISOString(), 10)).toEqual([]);
    expect(service.metrics().rounds).toBeGreaterThan(5);
  });

  it('TIMER-DEAD-2 a malformed timer record is dead-lettered, and a good one beside it still fires', async () => {
    store = await openSqliteStore({ path: ':memory:' });
    await store.tenants.create('acme');
    await store.put(acme, { entityId: 'tmr:bad', entityTypeId: TIMER_ENTITY_TYPE, attributes: { type: 'not a type!', fireAt: '1970-01-01T00:00:00.000Z', status: 'scheduled', payload: {} } }, PLATFORM);
    await store.put(acme, { entityId: 'tmr:good', ...timerWrite({ n: 1 }) }, PLATFORM);
    const service = new TimerService(store, { logger: silentLogger });
    expect(await service.runOnce()).toMatchObject({ fired: 1, dead: 1 });
    expect(await service.runOnce()).toEqual({ fired: 0, conflicts: 0, skipped: 0, dead: 0, more: false });
    expect((await store.get(acme, 'tmr:bad')).attributes).toMatchObject({ status: 'dead', deadLetter: { code: 'CORRUPT_DATA' } });
    expect((await store.get(acme, 'tmr:good')).attributes.status).toBe('fired');
  });

  it('TIMER-DEAD-3 transient commit failures back off, then dead-letter after maxAttempts', async () => {
    store = await openSqliteStore({ path: ':memory:' });
    await store.tenants.create('acme');
    await store.put(acme, { entityId: 'tmr:flaky', ...timerWrite({ n: 1 }) }, PLATFORM);
    let failures = 0;
    const counted = counting(store, () => {
      // Every firing attempt fails transiently; the dead-letter write (no event) goes through.
      failures++;
      return failures <= 3 ? new UeeError('BACKEND_UNAVAILABLE', 'store busy', { retryable: true }) : undefined;
    });
    const service = new TimerService(counted.store, { logger: silentLogger, intervalMs: 5, maxAttempts: 3 });
    service.start();
    await until('the timer to be retired', async () => ((await store.get(acme, 'tmr:flaky')).attributes.status === 'dead' ? true : undefined));
    await sleep(200);
    await service.stop();
    // Three failed attempts (spaced 10, 20 ms apart, not every 5 ms round), then the dead letter.
    expect(counted.commits()).toBe(4);
    expect(service.metrics().rounds).toBeGreaterThan(counted.commits());
    expect((await store.get(acme, 'tmr:flaky')).attributes).toMatchObject({ status: 'dead', deadLetter: { code: 'BACKEND_UNAVAILABLE' } });
  });

  it('TIMER-LAG-1 due-time lag is reported for fired timers', async () => {
    store = await openSqliteStore({ path: ':memory:' });
    await store.tenants.create('acme');
    await store.put(acme, { entityId: 'tmr:late', ...timerWrite({}) }, PLATFORM);
    const service = new TimerService(store, { logger: silentLogger, now: () => 5_000 });
    await service.runOnce();
    // fireAt is 1 s after the epoch, the clock says 5 s: 4 s late.
    expect(service.metrics()).toMatchObject({ fired: 1, lagMs: { last: 4000, max: 4000, p50: 4000 } });
  });
});

describe('timer horizon (embedded bus)', () => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });
  it('TIMER-HORIZON-1 a timer beyond the horizon is refused with TIMER_HORIZON_EXCEEDED and nothing is committed', async () => {
    site = newSite('embedded', 'timer-horizon');
    app = await openApp(site);
    await app.registry.deploy('user:test', {
      manifest: { capabilities: CAPABILITIES, name: 'FarAway', subscribeTo: ['Arm'], settings: { mode: 'schedule', timerType: 'Never', delayMs: DEFAULT_TIMER_HORIZON_MS + 1 } },
      wasm: probe,
      language: 'ts',
    });
    await refresh(app);
    await app.store.put(acme, { entityTypeId: 'Task', attributes: {}, eventType: 'Arm' });
    const [dead] = await until('the refused delivery', async () => {
      const d = await app.bus.deadLetters();
      return d.length > 0 ? d : undefined;
    });
    // The host answers the plugin TIMER_HORIZON_EXCEEDED; the probe rethrows it as its own error.
    expect(dead!.error.message).toContain(`the horizon is ${DEFAULT_TIMER_HORIZON_MS} ms`);
    expect(await allOfType(app, 'acme', TIMER_ENTITY_TYPE)).toEqual([]);
  });
});

