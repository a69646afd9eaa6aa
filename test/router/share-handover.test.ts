/**
 * ROUTER-SHARE-2: a queue the split moves to another process is released on the bus even when this
 * process's local view of its holding has lapsed. A heartbeat that lapsed and came back (a pause
 * past its TTL that nobody used to take the queue) leaves the lease key naming this process while
 * the process no longer counts the lease as held; released only when it looked held, the queue would
 * wait for the other process's fallback (two heartbeat TTLs) while its new owner could not take it.
 */
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { openRedisBus, queueLeaseName, type EventBus } from '../../src/bus/index.js';
import { QueueWorker, type DeliveryHandler } from '../../src/router/index.js';
import { ProcessLiveness } from '../../src/router/liveness.js';
import { FOREIGN_QUEUE_TTLS } from '../../src/router/delivery.js';
import { TEST_REDIS_URL, randomPrefix } from '../helpers.js';
import { deleteRedisKeys, until } from './harness.js';

const TTL_MS = 400;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('ROUTER-SHARE-2 a queue moved away is released on the bus although the local view of its holding lapsed: the new owner takes it at once, not after the fallback', async () => {
  const prefix = randomPrefix('share2');
  cleanups.push(() => deleteRedisKeys(prefix, TEST_REDIS_URL));
  const bus: EventBus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
  cleanups.push(() => bus.close());
  const other: EventBus = await openRedisBus({ url: TEST_REDIS_URL, prefix });
  cleanups.push(() => other.close());
  const queue = 'plugin:acme/Moved';
  const lease = queueLeaseName(queue);
  await bus.ensureQueue(queue);

  // This process's heartbeat, pausable as a stalled process looks from the bus: a beat started during
  // the pause reaches Redis only when it ends.
  let paused = false;
  let resume!: () => void;
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  const beat = bus.heartbeat!.bind(bus);
  bus.heartbeat = async (owner, ttlMs) => {
    if (paused) await resumed;
    return beat(owner, ttlMs);
  };
  const liveness = (await ProcessLiveness.start(bus, 'me', TTL_MS, silentLogger))!;
  cleanups.push(() => liveness.stop());

  let mine = true;
  const handler = { prepay: () => Promise.resolve(new Map()), settings: { batch: () => ({ plugin: () => Promise.resolve({}) }) }, handle: () => Promise.resolve('done') } as unknown as DeliveryHandler;
  const worker = new QueueWorker(
    { group: queue, name: 'Moved', tenantId: 'acme', versions: [] },
    bus,
    'me',
    handler,
    { batchSize: 8, concurrency: 8, claimIdleMs: 60_000, consumerIdleMs: 600_000, idleMs: 5, pollMs: 20, liveness, owns: () => mine },
    silentLogger,
  );
  worker.start();
  cleanups.push(() => worker.stop());
  const redis = new Redis(TEST_REDIS_URL);
  cleanups.push(() => redis.quit().then(() => undefined));
  const holder = (): Promise<string | null> => redis.get(`${prefix}lease:${lease}`);
  await until('the worker to hold its queue', async () => ((await holder()) === 'me' ? true : undefined));

  // Its heartbeat lapses (nobody takes the queue meanwhile), the split moves the queue to the other
  // process, then the heartbeat comes back under a new generation: the key still names this process.
  paused = true;
  await until('the heartbeat key to lapse', async () => ((await redis.exists(`${prefix}alive:me`)) === 0 ? true : undefined));
  expect(liveness.alive).toBe(false);
  const generation = liveness.generation;
  mine = false;
  worker.wake();
  paused = false;
  resume();
  await until('the heartbeat back under a new generation', () => (liveness.alive && liveness.generation > generation ? true : undefined));
  await other.heartbeat!('them', 60_000);

  const movedAt = Date.now();
  await until('the new owner to take the queue', async () => ((await other.lease(lease, 'them', TTL_MS, { liveness: true })) ? true : undefined), 10 * TTL_MS);
  const tookMs = Date.now() - movedAt;
  // Well within the fallback, after which this process would have read and handed the queue over anyway.
  expect(tookMs).toBeLessThan(FOREIGN_QUEUE_TTLS * TTL_MS);
  expect(await holder()).toBe('them');
}, 30_000);
