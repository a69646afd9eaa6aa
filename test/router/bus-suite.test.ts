/**
 * ROUTER-HARNESS-1: embeddedBusSuite (test/router/harness.ts) stops the router parts registered with
 * `stopFirst` while their bus is still open, and closes the bus after them: a part stopped after its
 * bus is closed leaks timers and fails intermittently.
 */
import { expect, it } from 'vitest';
import { embeddedBusSuite } from './harness.js';

const openBus = embeddedBusSuite('uee-bus-suite');
const seen: string[] = [];

it('ROUTER-HARNESS-1 (setup) a part registered with stopFirst', async () => {
  const { bus, stopFirst } = await openBus();
  await bus.ensureGroup('g', 'earliest');
  stopFirst(async () => {
    // The bus still answers: not closed yet.
    seen.push(`stopped, bus open: ${(await bus.groupInfo('g').then(() => true, () => false)) ? 'yes' : 'no'}`);
  });
});

it('ROUTER-HARNESS-1 was stopped before its bus was closed', () => {
  expect(seen).toEqual(['stopped, bus open: yes']);
});
