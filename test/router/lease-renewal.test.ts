/**
 * ROUTER-LEASE-RENEW: a queue's lease retaken by the worker's renewal timer (its loop waiting for
 * room behind a slow delivery) is a takeover like any other: what the previous holder left pending
 * is handled before anything read later, so an entity's events keep their queue order.
 */
import { expect, it } from 'vitest';
import { silentLogger, type EventEnvelope } from '../../src/core/index.js';
import { queueLeaseName } from '../../src/bus/index.js';
import { QueueWorker, type DeliveryHandler } from '../../src/router/index.js';
import { makeEvent } from '../bus/conformance.js';
import { embeddedBusSuite, until } from './harness.js';

const openBus = embeddedBusSuite('uee-lease-renew');

it('ROUTER-LEASE-RENEW-1 a lease the renewal timer takes back after another holder left entries pending: those entries are handled before newer ones of the same entity', async () => {
  const { bus, stopFirst } = await openBus();
  const queue = 'plugin:acme/Slow';
  await bus.ensureGroup('d', 'earliest');
  await bus.ensureQueue(queue);
  /** Publishes `events` and routes them to the queue, in order. */
  const enqueue = async (...events: EventEnvelope[]): Promise<void> => {
    await bus.publish(events);
    const read = await bus.read('d', 'dispatcher', { count: events.length });
    await bus.route('d', read.map((d) => ({ id: d.id, groups: [queue] })));
  };

  const handled: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const handler = {
    prepay: () => Promise.resolve(new Map()),
    settings: { batch: () => ({ plugin: () => Promise.resolve({}) }) },
    handle: async (_route: unknown, delivery: { event: EventEnvelope }) => {
      // The first delivery is slow: the loop waits for room (concurrency 1), only the timer renews.
      if (delivery.event.payload['name'] === 'slow') await held;
      handled.push(String(delivery.event.payload['name']));
      return 'done';
    },
  } as unknown as DeliveryHandler;
  const claimIdleMs = 600;
  const worker = new QueueWorker({ group: queue, name: 'Slow', tenantId: 'acme', versions: [] }, bus, 'me', handler, { batchSize: 1, concurrency: 1, claimIdleMs, consumerIdleMs: 600_000, idleMs: 5, pollMs: 20 }, silentLogger);
  await enqueue(makeEvent({ entityId: 'b', payload: { name: 'slow' } }), makeEvent({ entityId: 'c', payload: { name: 'waiting' } }));
  worker.start();
  stopFirst(() => worker.stop());
  await until('the loop waiting for room behind the slow delivery', async () => ((await bus.pending(queue)).length === 2 ? true : undefined));

  // This process stalls past the lease (its event loop blocked: no timer runs), and meanwhile another
  // takes the queue over, reads an event of entity `a`, and goes away holding it.
  const stalledUntil = Date.now() + claimIdleMs + 100;
  while (Date.now() < stalledUntil);
  expect(await bus.lease(queueLeaseName(queue), 'other', claimIdleMs)).toBe(true);
  await enqueue(makeEvent({ entityId: 'a', payload: { name: 'first' } }));
  expect((await bus.read(queue, 'other', { count: 1 })).map((d) => d.event.payload['name'])).toEqual(['first']);
  await bus.releaseLease(queueLeaseName(queue), 'other');
  // Only the renewal timer asks for the lease now (the loop is still waiting for room): it takes it back.
  await until('the lease taken back', async () => {
    const mine = await bus.lease(queueLeaseName(queue), 'probe', claimIdleMs);
    if (mine) await bus.releaseLease(queueLeaseName(queue), 'probe');
    return mine ? undefined : true;
  });
  await enqueue(makeEvent({ entityId: 'a', payload: { name: 'second' } }));
  release();
  await until('every event handled', () => (handled.length === 4 ? true : undefined), 30_000);
  // `first` waited for the other holder's entry to go stale, then came before `second`.
  expect(handled.filter((n) => n === 'first' || n === 'second')).toEqual(['first', 'second']);
}, 60_000);

it('ROUTER-LEASE-RENEW-2 deliveries read under a holding that lapsed are not started under the holding the renewal timer takes back: an entity event left pending in the gap is not overtaken by the next one of its batch', async () => {
  const { bus, stopFirst } = await openBus();
  const queue = 'plugin:acme/Gap';
  await bus.ensureGroup('d', 'earliest');
  await bus.ensureQueue(queue);
  const handled: string[] = [];
  const gates = new Map<string, () => void>();
  const gated = new Map<string, Promise<void>>();
  for (const name of ['s', 'x']) gated.set(name, new Promise<void>((resolve) => gates.set(name, resolve)));
  const handler = {
    prepay: () => Promise.resolve(new Map()),
    settings: { batch: () => ({ plugin: () => Promise.resolve({}) }) },
    handle: async (_route: unknown, delivery: { event: EventEnvelope }) => {
      const name = String(delivery.event.payload['name']);
      await gated.get(name);
      handled.push(name);
      return 'done';
    },
  } as unknown as DeliveryHandler;
  const claimIdleMs = 600;
  // One batch of five, two in flight: s (entity b) and x (entity c) run and wait at their gates; a1
  // waits for room.
  const worker = new QueueWorker({ group: queue, name: 'Gap', tenantId: 'acme', versions: [] }, bus, 'me', handler, { batchSize: 5, concurrency: 2, claimIdleMs, consumerIdleMs: 600_000, idleMs: 5, pollMs: 20 }, silentLogger);
  const events = [
    makeEvent({ entityId: 'b', payload: { name: 's' } }),
    makeEvent({ entityId: 'c', payload: { name: 'x' } }),
    makeEvent({ entityId: 'a', payload: { name: 'a1' } }),
    makeEvent({ entityId: 'b', payload: { name: 'b2' } }),
    makeEvent({ entityId: 'a', payload: { name: 'a2' } }),
  ];
  await bus.publish(events);
  const read = await bus.read('d', 'dispatcher', { count: events.length });
  await bus.route('d', read.map((d) => ({ id: d.id, groups: [queue] })));
  worker.start();
  stopFirst(() => worker.stop());
  await until('the batch read, two deliveries in flight', async () => ((await bus.pending(queue)).length === 5 ? true : undefined));

  // This process stalls past its lease; another process takes the lease (and holds it for now).
  const stalledUntil = Date.now() + claimIdleMs + 100;
  while (Date.now() < stalledUntil);
  expect(await bus.lease(queueLeaseName(queue), 'other', claimIdleMs)).toBe(true);
  // x finishes: a1 starts with no holding and is left pending; b2 takes the free slot behind s (same
  // entity), so a2 waits for room.
  gates.get('x')!();
  await until('x handled', () => (handled.includes('x') ? true : undefined));
  await bus.releaseLease(queueLeaseName(queue), 'other');
  // The renewal timer (the loop still waits for room) takes the lease back: a new holding.
  await until('the lease taken back', async () => {
    const mine = await bus.lease(queueLeaseName(queue), 'probe', claimIdleMs);
    if (mine) await bus.releaseLease(queueLeaseName(queue), 'probe');
    return mine ? undefined : true;
  });
  gates.get('s')!();
  await until('every event handled', () => (handled.length === 5 ? true : undefined), 30_000);
  // Entity a's events in their queue order (a2 ran before a1 when the rest of the batch ran under the new holding).
  expect(handled.filter((n) => n.startsWith('a'))).toEqual(['a1', 'a2']);
  expect(handled.filter((n) => n === 's' || n === 'b2')).toEqual(['s', 'b2']);
}, 60_000);
