/**
 * RELAY: the outbox relay is told of this process's commits (`Outbox.onAppended`) instead of
 * polling for them every 5 ms. An idle relay's wait doubles up to `maxIdleMs` (an idle `uee start`
 * spent ~5% of a core in those polls), and a commit wakes it at once whatever its wait; a commit
 * of another store object (another process) is still found by polling.
 */
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { OutboxRelay, openBus, openStore } from '../../src/app/index.js';
import type { EventBus } from '../../src/bus/port.js';
import type { EntityStore } from '../../src/store/port.js';
import { tempDir } from '../helpers.js';

const MAX_IDLE_MS = 10_000;
const disposers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

async function site(): Promise<{ store: EntityStore; bus: EventBus; path: string }> {
  const dir = tempDir('uee-relay');
  disposers.push(() => dir[Symbol.dispose]());
  const path = join(dir.path, 'uee.db');
  const store = await openStore({ kind: 'sqlite', path }, { maxAttributeBytes: 1 << 20, logger: silentLogger });
  disposers.push(() => store.close());
  await store.tenants.create('acme');
  const bus = await openBus({ kind: 'embedded', path }, { logger: silentLogger });
  disposers.push(() => bus.close());
  return { store, bus, path };
}

const ctx = { tenantId: 'acme', actor: 'user:test' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

it('RELAY-1 an idle relay polls less and less, and a commit through the store wakes it at once whatever its wait', async () => {
  const { store, bus } = await site();
  let peeks = 0;
  const peek = store.outbox.peek.bind(store.outbox);
  const outbox = { ...store.outbox, peek: (n: number) => (peeks++, peek(n)) };
  const relay = new OutboxRelay(outbox, bus, { idleMs: 5, maxIdleMs: MAX_IDLE_MS, logger: silentLogger });
  disposers.push(() => relay.stop());
  // 2.6 s idle: waits of 5, 10, 20 … 2,560 ms — about 10 peeks (a fixed 5 ms poll: ~500). The relay
  // is now in a wait of ~2.5 s.
  await sleep(2_600);
  console.info(`RELAY-1 peeks in 2.6 s idle: ${peeks}`);
  expect(peeks).toBeLessThanOrEqual(14);
  const t0 = Date.now();
  await store.commit(ctx, { events: [{ type: 'Ping', entityId: 'p1' }] });
  while ((await bus.length()) === 0) {
    if (Date.now() - t0 > MAX_IDLE_MS) throw new Error('the event never reached the bus');
    await sleep(2);
  }
  const ms = Date.now() - t0;
  console.info(`RELAY-1 the commit reached the bus ${ms} ms later (the relay's wait was ~2,500 ms)`);
  expect(ms).toBeLessThan(500);
  expect(relay.published).toBe(1);
}, 30_000);

it('RELAY-2 a commit of another store object on the same file (another process) is found by polling, within the longest wait', async () => {
  const { store, bus, path } = await site();
  const relay = new OutboxRelay(store.outbox, bus, { idleMs: 5, maxIdleMs: 200, logger: silentLogger });
  disposers.push(() => relay.stop());
  const other = await openStore({ kind: 'sqlite', path }, { maxAttributeBytes: 1 << 20, logger: silentLogger });
  disposers.push(() => other.close());
  await sleep(1_000);
  await other.commit(ctx, { events: [{ type: 'Ping', entityId: 'p2' }] });
  const t0 = Date.now();
  while ((await bus.length()) === 0) {
    if (Date.now() - t0 > 5_000) throw new Error('the event never reached the bus');
    await sleep(5);
  }
  expect(relay.published).toBe(1);
}, 30_000);

it('RELAY-3 a failing bus is retried at the error backoff however many commits ring, loses nothing, and does not hold a stop', async () => {
  const { store, bus } = await site();
  let failing = true;
  let attempts = 0;
  const flaky = {
    publish: (events: Parameters<EventBus['publish']>[0]) => {
      attempts++;
      return failing ? Promise.reject(new Error('bus down')) : bus.publish(events);
    },
  } as unknown as EventBus;
  const relay = new OutboxRelay(store.outbox, flaky, { idleMs: 5, maxIdleMs: 200, errorBackoffMs: 2_000, logger: silentLogger });
  // ~100 commits over ~1.5 s, each ringing the relay: retried at each would be ~100 attempts.
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < 1_500; i++) {
    await store.commit(ctx, { events: [{ type: 'Ping', entityId: `p${i}` }] });
    await sleep(10);
  }
  const committed = (await store.outbox.peek(1_000)).length;
  console.info(`RELAY-3 ${committed} commits during the outage, ${attempts} publish attempts`);
  expect(committed).toBeGreaterThan(20);
  expect(attempts).toBeLessThanOrEqual(3);
  failing = false;
  while ((await bus.length()) < committed) {
    if (Date.now() - t0 > 10_000) throw new Error(`only ${await bus.length()} of ${committed} reached the bus`);
    await sleep(20);
  }
  // Failing again: the relay is in its 2 s error wait when stopped; the stop does not wait it out (half of it would be far more than a stop takes).
  failing = true;
  await store.commit(ctx, { events: [{ type: 'Ping', entityId: 'last' }] });
  await sleep(50);
  const s0 = performance.now();
  await relay.stop(); // drains once (fails, logged) and returns
  const stopMs = performance.now() - s0;
  console.info(`RELAY-3 stop during the error wait took ${stopMs.toFixed(0)} ms`);
  expect(stopMs).toBeLessThan(1_000);
  expect(await bus.length()).toBe(committed);
}, 30_000);

it('RELAY-4 a flush while the loop publishes waits for its round instead of publishing the same entries again', async () => {
  const { store, bus } = await site();
  let published = 0;
  // A bus that takes a while to answer (a network round trip), so the loop's round is in flight when flush starts.
  const slow = {
    publish: async (events: Parameters<EventBus['publish']>[0]) => {
      published += events.length;
      await sleep(30);
      return bus.publish(events);
    },
  } as unknown as EventBus;
  const relay = new OutboxRelay(store.outbox, slow, { idleMs: 5, maxIdleMs: 200, logger: silentLogger });
  disposers.push(() => relay.stop());
  for (let k = 0; k < 5; k++) {
    await store.commit(ctx, { events: Array.from({ length: 20 }, (_, i) => ({ type: 'Ping', entityId: `p${k}-${i}` })) });
    await sleep(5);
    await relay.flush();
  }
  expect(await bus.length()).toBe(100);
  expect(published).toBe(100);
});
