/**
 * ROUTER-STALE: a process that lost a lease while it still believed it held it — paused past its
 * heartbeat or TTL, its last check made just before the pause — reads nothing under it once awake.
 * Every read and claim of the dispatcher and of a queue worker is made under its lease and checked
 * by the bus in the same step (`ReadOptions.lease`): otherwise the stale reader takes entries the new
 * holder then reads past — later events routed or handled before earlier ones (ROUTER-LIVE-2 saw a
 * commit's events routed after the next commit's once in CI).
 *
 * The lease is moved on the bus behind the process's back (released and taken by another owner on
 * the embedded bus; the key overwritten on Redis, where leases are bound to a heartbeat that stays
 * alive here): the process's local view still says it holds it. ROUTER-STALE-3 moves it in the
 * window between the take and the catch-up claim that follows it, as a pause there would.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { newId, silentLogger } from '../../src/core/index.js';
import { openEmbeddedBus, openRedisBus, queueLeaseName, type EventBus } from '../../src/bus/index.js';
import { DISPATCH_GROUP, Dispatcher, QueueWorker, SubscriptionIndex, type DeliveryHandler } from '../../src/router/index.js';
import { ProcessLiveness } from '../../src/router/liveness.js';
import { TEST_REDIS_URL, randomPrefix, tempDir } from '../helpers.js';
import { makeEvents } from '../bus/conformance.js';
import { deleteRedisKeys, until } from './harness.js';

/** Far beyond the test: only the move made by the test takes the lease from the process. */
const LEASE_MS = 60_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Site {
  bus: EventBus;
  liveness: ProcessLiveness | undefined;
  /** Gives lease `name` to `owner` on the bus, behind the back of the process holding it. */
  move: (name: string, owner: string) => Promise<void>;
}

const sites: Record<string, () => Promise<Site>> = {
  embedded: async () => {
    const dir = tempDir('stale-reader');
    cleanups.push(() => dir[Symbol.dispose]());
    const bus = await openEmbeddedBus({ path: `${dir.path}/bus.db` });
    cleanups.push(() => bus.close());
    return {
      bus,
      liveness: undefined,
      move: async (name, owner) => {
        await bus.releaseLease(name, 'me');
        expect(await bus.lease(name, owner, LEASE_MS)).toBe(true);
      },
    };
  },
  redis: async () => {
    const prefix = randomPrefix('stale');
    cleanups.push(() => deleteRedisKeys(prefix, TEST_REDIS_URL));
    const bus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
    cleanups.push(() => bus.close());
    const liveness = (await ProcessLiveness.start(bus, 'me', 2_000, silentLogger))!;
    cleanups.push(() => liveness.stop());
    const redis = new Redis(TEST_REDIS_URL);
    cleanups.push(() => redis.quit().then(() => undefined));
    // The new owner's heartbeat lives: the lease is not this process's to take back.
    const move = async (name: string, owner: string): Promise<void> => {
      await redis.set(`${prefix}alive:${owner}`, '1', 'PX', LEASE_MS);
      await redis.set(`${prefix}lease:${name}`, owner);
    };
    return { bus, liveness, move };
  },
};

/** A handler that only records the event ids it is given, each done at once. */
function recordingHandler(handled: string[]): DeliveryHandler {
  return {
    prepay: () => Promise.resolve(new Map()),
    settings: { batch: () => ({ plugin: () => Promise.resolve({}) }) },
    handle: (_route: unknown, delivery: { event: { eventId: string } }) => {
      handled.push(delivery.event.eventId);
      return Promise.resolve('done');
    },
  } as unknown as DeliveryHandler;
}

describe.each(Object.keys(sites))('stale readers (%s bus)', (kind) => {
  it('ROUTER-STALE-1 a dispatcher whose lease moved while it believed it held it takes nothing more from the stream: the new holder gets every later entry, in order', async () => {
    const { bus, liveness, move } = await sites[kind]!();
    let wakes = 0;
    const dispatcher = new Dispatcher(bus, 'me', () => new SubscriptionIndex([]), () => undefined, { batchSize: 64, claimIdleMs: LEASE_MS, consumerIdleMs: 600_000, blockMs: 20, liveness }, silentLogger, undefined, undefined, [], () => wakes++);
    await dispatcher.start();
    cleanups.push(() => dispatcher.stop());
    await until('dispatching', () => (dispatcher.leading ? true : undefined));
    const first = makeEvents(3);
    await bus.publish(first);
    await until('the first events routed', async () => ((await bus.groupInfo(DISPATCH_GROUP)).lag === 0 && (await bus.pending(DISPATCH_GROUP)).length === 0 ? true : undefined));

    await move(DISPATCH_GROUP, 'other');
    expect(dispatcher.leading).toBe(true); // its local view still says so
    const later = makeEvents(5);
    await bus.publish(later);
    // Its next read is refused: it stops leading (and wakes its workers, as on any loss) without taking anything.
    await until('the loss seen', () => (!dispatcher.leading && wakes === 1 ? true : undefined));
    await sleep(100);
    expect(await bus.pending(DISPATCH_GROUP)).toEqual([]);
    const got = await bus.read(DISPATCH_GROUP, 'other', { count: 100, lease: DISPATCH_GROUP });
    expect(got.map((d) => d.event.eventId)).toEqual(later.map((e) => e.eventId));
  }, 30_000);

  it('ROUTER-STALE-2 a queue worker whose lease moved while it believed it held it reads and claims nothing more of its queue: the new holder gets every later delivery, in order', async () => {
    const { bus, liveness, move } = await sites[kind]!();
    const queue = `plugin:acme/Stale-${newId().slice(-6)}`;
    await bus.ensureQueue(queue);
    await bus.ensureGroup('src', 'latest');
    const route = async (n: number): Promise<string[]> => {
      const events = makeEvents(n);
      await bus.publish(events);
      const read = await bus.read('src', 'd', { count: 100 });
      await bus.route('src', read.map((d) => ({ id: d.id, groups: [queue] })));
      return events.map((e) => e.eventId);
    };
    const handled: string[] = [];
    const handler = recordingHandler(handled);
    const worker = new QueueWorker({ group: queue, name: 'Stale', tenantId: 'acme', versions: [] }, bus, 'me', handler, { batchSize: 8, concurrency: 8, claimIdleMs: LEASE_MS, consumerIdleMs: 600_000, idleMs: 5, pollMs: 20, liveness }, silentLogger);
    worker.start();
    cleanups.push(() => worker.stop());
    const first = await route(2);
    await until('the first deliveries handled and acked', async () => (handled.length === 2 && (await bus.pending(queue)).length === 0 ? true : undefined));
    expect(handled).toEqual(first);

    await move(queueLeaseName(queue), 'other');
    const later = await route(4);
    worker.wake();
    await sleep(300); // many polls of the worker
    expect(handled).toEqual(first);
    expect(await bus.pending(queue)).toEqual([]);
    const got = await bus.read(queue, 'other', { count: 100, lease: queueLeaseName(queue) });
    expect(got.map((d) => d.event.eventId)).toEqual(later);
  }, 30_000);
});

/**
 * The bus as a process sees it when a pause falls between its lease check and its next claim: the
 * first claim `consumer` makes once `armed` is set moves `lease` to another owner just before it
 * reaches the bus.
 */
function pausedBeforeClaim(bus: EventBus, consumer: string, lease: string, move: Site['move']): { bus: EventBus; arm: () => void } {
  let armed = false;
  const wrapped = new Proxy(bus, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (prop === 'claimStale') {
        return async (...args: Parameters<EventBus['claimStale']>) => {
          if (armed && args[1] === consumer) {
            armed = false;
            await move(lease, 'other');
          }
          return target.claimStale(...args);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { bus: wrapped, arm: () => (armed = true) };
}

it('ROUTER-STALE-3 a catch-up claim made after the lease moved (a pause between the take and the claim) takes nothing: a dead process\'s entries stay for the holder, dispatcher and queue worker alike (Redis)', async () => {
  const { bus, liveness, move } = await sites.redis!();
  // A process that died holding entries: read, never acked, no heartbeat — claimable at once (deadOwners).
  await bus.ensureGroup(DISPATCH_GROUP, 'latest');
  const queue = `plugin:acme/Stale-${newId().slice(-6)}`;
  await bus.ensureQueue(queue);
  const events = makeEvents(3);
  await bus.publish(events);
  const read = await bus.read(DISPATCH_GROUP, 'ghost', { count: 10 });
  expect(read).toHaveLength(3);
  await bus.ensureGroup('src', 'earliest');
  await bus.route('src', (await bus.read('src', 'd', { count: 10 })).map((d) => ({ id: d.id, groups: [queue] })));
  expect(await bus.read(queue, 'ghost', { count: 10 })).toHaveLength(3);

  // The dispatcher takes its lease (fresh: a catch-up claim follows at once) and is paused before the claim.
  const forDispatcher = pausedBeforeClaim(bus, 'me', DISPATCH_GROUP, move);
  forDispatcher.arm();
  const dispatcher = new Dispatcher(forDispatcher.bus, 'me', () => new SubscriptionIndex([]), () => undefined, { batchSize: 64, claimIdleMs: LEASE_MS, consumerIdleMs: 600_000, blockMs: 20, liveness }, silentLogger);
  await dispatcher.start();
  cleanups.push(() => dispatcher.stop());
  // The queue worker likewise.
  const handled: string[] = [];
  const handler = recordingHandler(handled);
  const forWorker = pausedBeforeClaim(bus, 'me', queueLeaseName(queue), move);
  forWorker.arm();
  const worker = new QueueWorker({ group: queue, name: 'Stale', tenantId: 'acme', versions: [] }, forWorker.bus, 'me', handler, { batchSize: 8, concurrency: 8, claimIdleMs: LEASE_MS, consumerIdleMs: 600_000, idleMs: 5, pollMs: 20, liveness }, silentLogger);
  worker.start();
  cleanups.push(() => worker.stop());

  await sleep(500);
  expect(handled).toEqual([]);
  expect((await bus.pending(DISPATCH_GROUP)).map((p) => p.consumer)).toEqual(['ghost', 'ghost', 'ghost']);
  expect((await bus.pending(queue)).map((p) => p.consumer)).toEqual(['ghost', 'ghost', 'ghost']);
  // The holder ('other', which the lease names) claims them, in order.
  const ids = events.map((e) => e.eventId);
  expect((await bus.claimStale(DISPATCH_GROUP, 'other', { minIdleMs: 0, lease: DISPATCH_GROUP })).map((d) => d.event.eventId)).toEqual(ids);
  expect((await bus.claimStale(queue, 'other', { minIdleMs: 0, lease: queueLeaseName(queue) })).map((d) => d.event.eventId)).toEqual(ids);
}, 30_000);
