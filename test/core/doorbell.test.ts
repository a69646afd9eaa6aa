/**
 * DOORBELL: the cut-short wait of the polling loops (outbox relay, timer and workflow services, queue
 * workers, dispatcher). A ring while nobody waits is not lost; clear() forgets it.
 */
import { expect, it } from 'vitest';
import { Doorbell } from '../../src/core/index.js';

it('DOORBELL-1 a ring ends the wait in progress; a ring while nobody waits ends the next wait at once; clear forgets it', async () => {
  const bell = new Doorbell();
  // A wait of a minute ended by a ring (the test's timeout would catch a missed one).
  const during = bell.wait(60_000);
  setTimeout(() => bell.ring(), 5);
  expect(await during).toBe(true);
  // A ring between two waits: the next one returns at once, and only that one.
  bell.ring();
  expect(bell.rung).toBe(true);
  expect(await bell.wait(60_000)).toBe(true);
  expect(bell.rung).toBe(false);
  expect(await bell.wait(5)).toBe(false);
  // Cleared before the wait: it runs its full time.
  bell.ring();
  bell.clear();
  expect(await bell.wait(5)).toBe(false);
}, 10_000);

it('DOORBELL-2 waitOut is not ended by a ring, only by a ring once stopped() is true', async () => {
  const bell = new Doorbell();
  let stopped = false;
  const out = bell.waitOut(60_000, () => stopped);
  setTimeout(() => bell.ring(), 5);
  setTimeout(() => {
    stopped = true;
    bell.ring();
  }, 40);
  await out;
  // Ended by the first ring, it would have returned while stopped() was still false.
  expect(stopped).toBe(true);
}, 10_000);

it('DOORBELL-3 waitFor ends when its shared timeout settles or at a ring; a timeout settling after a ring ended its wait does not end the next one', async () => {
  const bell = new Doorbell();
  let fire!: () => void;
  const shared = new Promise<void>((resolve) => (fire = resolve));
  // Ended by the ring; the shared timeout is still to come.
  const first = bell.waitFor(shared);
  setTimeout(() => bell.ring(), 5);
  expect(await first).toBe(true);
  // The next wait is a timer of its own: the old timeout settling now must neither end it nor
  // take away what a ring wakes (the test's timeout would catch a ring that no longer ends it).
  const next = bell.wait(60_000);
  fire();
  await new Promise((resolve) => setTimeout(resolve, 5));
  bell.ring();
  expect(await next).toBe(true);
  // A waitFor ended by its timeout resolves false.
  expect(await bell.waitFor(Promise.resolve())).toBe(false);
});
