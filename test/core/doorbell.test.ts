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
