/**
 * TIMER-1..4, WORKFLOW-SPAWN-1: the timer service firing persisted `uee.timer` entities exactly once,
 * and `spawn_workflow` reaching the workflow it names — through the real composition (UeeApp from a
 * config object), against the embedded bus and real Redis (random prefix per test).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TimerService, type UeeApp } from '../../src/app/index.js';
import { silentLogger, type EventEnvelope, type JsonObject } from '../../src/core/index.js';
import type { PluginManifestInput } from '../../src/registry/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { TIMER_ENTITY_TYPE, timerEntityId } from '../../src/runtime/index.js';
import type { EntityStore } from '../../src/store/port.js';
import {
  BACKENDS,
  Observer,
  TEST_APP_OPTIONS,
  allOfType,
  compiledTs,
  drained,
  newSite,
  openApp,
  refresh,
  until,
  type AppSite,
} from '../router/harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await compiledTs('timer-probe');
}, 300_000);

const acme = { tenantId: 'acme', actor: 'user:test' };
/** Everything the timer probe module imports: every deploy of it must grant all of them. */
const CAPABILITIES: PluginManifestInput['capabilities'] = ['writeEntities', 'executeTimers', 'spawnWorkflows'];

/** The app's timer clock: real time shifted by `offsetMs`, or frozen at the epoch (nothing is ever due). */
interface TestClock {
  frozen: boolean;
  offsetMs: number;
}

type Mark = JsonObject & { marker: string; sourceEvent: string; sourceType: string; payload: JsonObject; entityId: string };

async function timerMarks(app: UeeApp, marker?: string): Promise<Mark[]> {
  const all = (await allOfType(app, 'acme', 'TimerMark')).map((m) => ({ ...(m.attributes as Mark), entityId: m.entityId }));
  return marker === undefined ? all : all.filter((m) => m.marker === marker);
}

/** A store whose timer queries wait until `parties` of them are in flight: every service reads the same due timer before any fires it. */
function gatedStore(store: EntityStore, parties: number): EntityStore {
  let waiting: Array<() => void> = [];
  return new Proxy(store, {
    get(target, prop, receiver) {
      const gate = (): Promise<void> =>
        new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length >= parties) {
            for (const w of waiting) w();
            waiting = [];
          }
        });
      if (prop === 'query') {
        return async (...args: Parameters<EntityStore['query']>) => {
          const page = await target.query(...args);
          if (args[1].entityTypeId === TIMER_ENTITY_TYPE && page.items.length > 0) await gate();
          return page;
        };
      }
      if (prop === 'dueTimers' && target.dueTimers !== undefined) {
        return async (now: string, limit: number) => {
          const due = await target.dueTimers!(now, limit);
          if (due.length > 0) await gate();
          return due;
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.each(BACKENDS)('timers and workflow spawning ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  let clock: TestClock;
  const open = async (): Promise<UeeApp> => {
    site = newSite(name, 'timers');
    clock = { frozen: false, offsetMs: 0 };
    app = await openApp(site, {}, { ...TEST_APP_OPTIONS, timers: { intervalMs: 50, now: () => (clock.frozen ? 0 : Date.now() + clock.offsetMs) } });
    return app;
  };
  const deploy = async (manifest: Omit<PluginManifestInput, 'capabilities'>): Promise<void> => {
    await app.registry.deploy('user:test', { manifest: { capabilities: CAPABILITIES, ...manifest }, wasm: probe, language: 'ts' });
  };
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('TIMER-1 a timer scheduled with delayMs 200 fires once, as its own event, continuing the chain', async () => {
    await open();
    const observer = new Observer(app);
    await deploy({ name: 'Scheduler', subscribeTo: ['TimerA'], settings: { mode: 'schedule', timerType: 'TimerB', delayMs: 200 } });
    await deploy({ name: 'OnB', subscribeTo: ['TimerB'], settings: { mode: 'mark', marker: 'b' } });
    await refresh(app);
    const task = await app.store.put(acme, { entityTypeId: 'Task', attributes: { seq: 1 }, eventType: 'TimerA' });
    const [mark] = await until('the write caused by the fired timer', async () => {
      const m = await timerMarks(app, 'b');
      return m.length > 0 ? m : undefined;
    });
    // More rounds after the first firing must not fire it again.
    await app.runtime!.timers.runOnce();
    await app.runtime!.timers.runOnce();
    await drained(app, pluginGroup('OnB', null));
    const events = await observer.poll();
    const a = events.find((e) => e.type === 'TimerA' && e.entityId === task.entityId)!;
    const bs = events.filter((e) => e.type === 'TimerB');
    expect(bs).toHaveLength(1);
    expect(await timerMarks(app, 'b')).toHaveLength(1);
    const b = bs[0]!;
    const [timer] = await allOfType(app, 'acme', TIMER_ENTITY_TYPE);
    expect(timer).toMatchObject({ tenantId: 'acme', attributes: { status: 'fired', type: 'TimerB', causation: { eventId: a.eventId, correlationId: a.correlationId, hop: 0 } } });
    expect(b).toMatchObject({
      tenantId: 'acme',
      entityId: task.entityId,
      entityTypeId: 'Task',
      payload: { seq: 1, entityId: task.entityId, timerId: timer!.attributes.timerId },
      source: { kind: 'timer', id: timer!.entityId },
      causationId: a.eventId,
      correlationId: a.correlationId,
      hop: 1,
    });
    expect(Date.parse(b.occurredAt) - Date.parse(a.occurredAt)).toBeGreaterThanOrEqual(200);
    expect(mark).toMatchObject({ sourceEvent: b.eventId, sourceType: 'TimerB', correlationId: a.correlationId, source: { kind: 'timer' } });
    expect(events.filter((e) => e.type === 'TimerFired' && e.entityId === timer!.entityId)).toHaveLength(1);
    expect(await app.bus.deadLetters()).toEqual([]);
  });

  it('TIMER-2 a cancelled timer never fires', async () => {
    await open();
    clock.frozen = true;
    const observer = new Observer(app);
    const timerId = `tmr-${randomBytes(4).toString('hex')}`;
    const stored = timerEntityId('acme', 'Scheduler', timerId);
    await deploy({ name: 'Scheduler', subscribeTo: ['TimerA', 'TimerCancel'], settings: { mode: 'schedule', timerType: 'TimerB', delayMs: 200, cancelType: 'TimerCancel' } });
    await deploy({ name: 'OnB', subscribeTo: ['TimerB'], settings: { mode: 'mark', marker: 'b' } });
    await refresh(app);
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { seq: 2, timerId }, eventType: 'TimerA' });
    await until('the timer to be scheduled', async () => ((await app.store.get(acme, stored)).attributes.status === 'scheduled' ? true : undefined));
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { timerId }, eventType: 'TimerCancel' });
    await until('the timer to be cancelled', async () => ((await app.store.get(acme, stored)).attributes.status === 'cancelled' ? true : undefined));
    // Now everything scheduled is long due: a round must still fire nothing.
    clock.frozen = false;
    clock.offsetMs = 60_000;
    const round = await app.runtime!.timers.runOnce();
    expect(round).toMatchObject({ fired: 0, conflicts: 0 });
    await app.runtime!.timers.runOnce();
    await drained(app, pluginGroup('OnB', null));
    expect((await observer.poll()).filter((e) => e.type === 'TimerB' || e.type === 'TimerFired')).toEqual([]);
    expect(await timerMarks(app)).toEqual([]);
    expect((await app.store.get(acme, stored)).attributes.status).toBe('cancelled');
  });

  it('TIMER-3 two timer services racing on one store fire a due timer exactly once', async () => {
    await open();
    clock.frozen = true; // the app's own service stays out of the race
    const observer = new Observer(app);
    await deploy({ name: 'Scheduler', subscribeTo: ['TimerA'], settings: { mode: 'schedule', timerType: 'TimerB', delayMs: 200 } });
    await deploy({ name: 'OnB', subscribeTo: ['TimerB'], settings: { mode: 'mark', marker: 'b' } });
    await refresh(app);
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { seq: 3 }, eventType: 'TimerA' });
    const [timer] = await until('the timer to be scheduled', async () => {
      const t = await allOfType(app, 'acme', TIMER_ENTITY_TYPE);
      return t.length > 0 ? t : undefined;
    });
    const store = gatedStore(app.store, 2);
    const later = (): number => Date.now() + 60_000;
    const one = new TimerService(store, { logger: silentLogger, now: later });
    const two = new TimerService(store, { logger: silentLogger, now: later });
    const rounds = await Promise.all([one.runOnce(), two.runOnce()]);
    expect(rounds.map((r) => r.fired).sort()).toEqual([0, 1]);
    expect(rounds.map((r) => r.conflicts).sort()).toEqual([0, 1]);
    expect(await Promise.all([one.runOnce(), two.runOnce()])).toEqual([
      { fired: 0, conflicts: 0, skipped: 0, dead: 0, more: false },
      { fired: 0, conflicts: 0, skipped: 0, dead: 0, more: false },
    ]);
    await app.relay.flush();
    await until('the write caused by the fired timer', async () => ((await timerMarks(app, 'b')).length > 0 ? true : undefined));
    await drained(app, pluginGroup('OnB', null));
    expect((await observer.poll()).filter((e: EventEnvelope) => e.type === 'TimerB')).toHaveLength(1);
    expect(await timerMarks(app, 'b')).toHaveLength(1);
    expect(await app.store.get(acme, timer!.entityId)).toMatchObject({ version: 2, attributes: { status: 'fired' } });
    await one.stop();
    await two.stop();
  });

  it('WORKFLOW-SPAWN-1 spawn_workflow runs the named workflow once with the input; other plugins only by subscribing', async () => {
    await open();
    const observer = new Observer(app);
    await deploy({ name: 'Spawner', subscribeTo: ['SpawnRequested'], settings: { mode: 'spawn', workflow: 'onboard' } });
    await deploy({ name: 'onboard', kind: 'workflow', subscribeTo: ['NeverSent'], settings: { mode: 'mark', marker: 'wf' } });
    await deploy({ name: 'offboard', kind: 'workflow', subscribeTo: ['NeverSent'], settings: { mode: 'mark', marker: 'other-wf' } });
    await deploy({ name: 'Bystander', subscribeTo: ['NeverSent'], settings: { mode: 'mark', marker: 'bystander' } });
    await deploy({ name: 'Listener', subscribeTo: ['WorkflowSpawned'], settings: { mode: 'mark', marker: 'listener' } });
    await refresh(app);
    await app.store.put(acme, { entityTypeId: 'Task', attributes: { seq: 7 }, eventType: 'SpawnRequested' });
    const [run] = await until('the workflow run', async () => {
      const m = await timerMarks(app, 'wf');
      return m.length > 0 ? m : undefined;
    });
    for (const plugin of ['onboard', 'offboard', 'Bystander', 'Listener']) await drained(app, pluginGroup(plugin, null));
    const events = await observer.poll();
    const request = events.find((e) => e.type === 'SpawnRequested')!;
    const spawned = events.filter((e) => e.type === 'WorkflowSpawned');
    expect(spawned).toHaveLength(1);
    expect(spawned[0]).toMatchObject({ tenantId: 'acme', causationId: request.eventId, payload: { workflow: 'onboard', input: { seq: 7, from: request.eventId } } });
    expect(await timerMarks(app, 'wf')).toHaveLength(1);
    expect(run).toMatchObject({ sourceEvent: spawned[0]!.eventId, sourceType: 'WorkflowSpawned', payload: { workflow: 'onboard', input: { seq: 7, from: request.eventId } } });
    expect(await timerMarks(app, 'listener')).toHaveLength(1);
    expect(await timerMarks(app, 'other-wf')).toEqual([]);
    expect(await timerMarks(app, 'bystander')).toEqual([]);
  });
});
