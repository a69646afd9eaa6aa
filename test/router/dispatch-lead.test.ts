/**
 * ROUTER-LEAD: while a process dispatches, its queue workers poll their empty queues rarely (every
 * delivery queued is its own dispatcher's, which wakes them); once it stops dispatching, it wakes
 * them all, so what the next dispatcher routes to them is seen within `pollMs` again.
 */
import { expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { DISPATCH_GROUP, Dispatcher, SubscriptionIndex } from '../../src/router/index.js';
import { embeddedBusSuite, until } from './harness.js';

const openBus = embeddedBusSuite('uee-lead');

it('ROUTER-LEAD-1 a dispatcher that loses its lease to another process wakes every queue worker of its process, once', async () => {
  const { bus, stopFirst } = await openBus();
  let wakes = 0;
  // A short lease (600 ms) so the loss is seen within a fraction of a second.
  const dispatcher = new Dispatcher(bus, 'me', () => new SubscriptionIndex([]), () => undefined, { batchSize: 64, claimIdleMs: 600, consumerIdleMs: 600_000, blockMs: 20 }, silentLogger, undefined, undefined, [], () => wakes++);
  await dispatcher.start();
  stopFirst(() => dispatcher.stop());
  await until('dispatching', () => (dispatcher.leading ? true : undefined));
  expect(wakes).toBe(0);
  // Another process takes the lease over (this one's lapsed: released here, then taken at once).
  await bus.releaseLease(DISPATCH_GROUP, 'me');
  expect(await bus.lease(DISPATCH_GROUP, 'other', 600_000)).toBe(true);
  await until('the loss seen and the workers woken', () => (wakes > 0 ? true : undefined));
  expect(dispatcher.leading).toBe(false);
  // Once per loss, not on every retry to take the lease back.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect(wakes).toBe(1);
}, 60_000);
