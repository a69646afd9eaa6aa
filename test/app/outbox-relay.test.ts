/**
 * RELAY: the outbox relay is told of this process's commits (`Outbox.onAppended`) instead of
 * polling for them every 5 ms. An idle relay's wait doubles up to `maxIdleMs` (an idle `uee start`
 * spent ~5% of a core in those polls), and a commit wakes it at once whatever its wait; a commit
 * of another store object (another process) is still found by polling.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { OutboxRelay, openBus, openStore } from '../../src/app/index.js';
import type { BusOptions, EventBus } from '../../src/bus/port.js';
import type { EntityStore } from '../../src/store/port.js';
import { tempDir } from '../helpers.js';
import { BACKENDS, newSite, openApp } from '../router/app-site.js';

const MAX_IDLE_MS = 10_000;
const disposers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

async function site(busOptions?: Partial<BusOptions>): Promise<{ store: EntityStore; bus: EventBus; path: string }> {
  const dir = tempDir('uee-relay');
  disposers.push(() => dir[Symbol.dispose]());
  const path = join(dir.path, 'uee.db');
  const store = await openStore({ kind: 'sqlite', path }, { maxAttributeBytes: 1 << 20, logger: silentLogger });
  disposers.push(() => store.close());
  await store.tenants.create('acme');
  const bus = await openBus({ kind: 'embedded', path }, { logger: silentLogger, ...(busOptions ? { busOptions } : {}) });
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
    settle: (ids: string[]) => bus.settle(ids),
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
  let settled = 0;
  // A bus that takes a while to answer (a network round trip), so the loop's round is in flight when flush starts.
  const slow = {
    publish: async (events: Parameters<EventBus['publish']>[0]) => {
      published += events.length;
      await sleep(30);
      return bus.publish(events);
    },
    settle: async (ids: string[]) => {
      await sleep(30);
      await bus.settle(ids);
      settled += ids.length;
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
  expect(settled).toBe(100); // a flush answers once what it moved is settled
});

it('RELAY-5 a batch is settled only once marked: a relay that died between publish and mark leaves its ids for the whole window, and its republish long after the settled horizon is still dropped', async () => {
  // settledDedupeMs 300: an id settled too early would be forgotten before the republish 800 ms later.
  const { store, bus } = await site({ dedupeWindowMs: 3_600_000, settledDedupeMs: 300 });
  let failMark = true;
  const settledWhile: number[] = [];
  const outbox = {
    ...store.outbox,
    markPublished: (seqs: number[]) => (failMark ? ((failMark = false), Promise.reject(new Error('store unreachable: the process dies here'))) : store.outbox.markPublished(seqs)),
  };
  const spy = { ...bus, publish: bus.publish.bind(bus), length: bus.length.bind(bus), settle: async (ids: string[]) => (settledWhile.push(await store.outbox.size()), bus.settle(ids)) };
  await store.commit(ctx, { events: Array.from({ length: 50 }, (_, i) => ({ type: 'Ping', entityId: `p${i}` })) });
  const relay = new OutboxRelay(outbox, spy, { idleMs: 5, maxIdleMs: 50, errorBackoffMs: 800, logger: silentLogger });
  disposers.push(() => relay.stop());
  const t0 = Date.now();
  while ((await store.outbox.size()) > 0) {
    if (Date.now() - t0 > 10_000) throw new Error('the outbox never emptied');
    await sleep(20);
  }
  await relay.stop();
  // Published once (the second publish, 800 ms after the first, found every id), settled once, after the mark.
  expect(await bus.length()).toBe(50);
  expect(settledWhile).toEqual([0]);
}, 30_000);

it('RELAY-6 a relay that read a batch before another relay published, marked and settled it is refused (FENCED) once its copy could outlive the ids, reads again and finds nothing: each event on the bus once', async () => {
  const { store, bus } = await site({ dedupeWindowMs: 3_600_000, settledDedupeMs: 400 });
  await store.commit(ctx, { events: Array.from({ length: 30 }, (_, i) => ({ type: 'Ping', entityId: `p${i}` })) });
  let settled!: () => void;
  const aSettled = new Promise<void>((r) => (settled = r));
  const warnings: string[] = [];
  const logger = { ...silentLogger, warn: (msg: string) => void warnings.push(msg), child: () => logger };
  // B peeks the 30 events, then stalls (a GC pause, a slow network) until A has published, marked and
  // settled them and 600 ms more have passed — longer than the settled ids are remembered (400).
  let stalled = false;
  const slowPeek = {
    ...store.outbox,
    peek: async (n: number) => {
      const entries = await store.outbox.peek(n);
      if (entries.length > 0 && !stalled) {
        stalled = true;
        await aSettled;
        await sleep(600);
      }
      return entries;
    },
  };
  const b = new OutboxRelay(slowPeek, bus, { idleMs: 5, maxIdleMs: 50, logger: logger });
  disposers.push(() => b.stop());
  await sleep(50); // B is stalled holding its peek
  const spy = { ...bus, publish: bus.publish.bind(bus), settle: async (ids: string[]) => (await bus.settle(ids), settled()) };
  const a = new OutboxRelay(store.outbox, spy, { idleMs: 5, maxIdleMs: 50, logger: silentLogger });
  disposers.push(() => a.stop());
  await aSettled;
  await sleep(1_000);
  await b.stop();
  await a.stop();
  expect(await bus.length()).toBe(30);
  expect(a.published).toBe(30);
  expect(b.published).toBe(0);
  expect(warnings.some((w) => w.includes('read too long before its publish'))).toBe(true);
}, 30_000);

it('RELAY-8 a batch too slow to publish within the fence (large events, a slow bus) is read again smaller until it fits, instead of stopping the relay: each event on the bus once', async () => {
  // settledDedupeMs 400: a publish must land within 200 ms of its peek. This bus takes 2 ms per event,
  // so a batch of 500 (1 s), 250 or 125 never fits; 63 does.
  const { store, bus } = await site({ dedupeWindowMs: 3_600_000, settledDedupeMs: 400 });
  const sizes: number[] = [];
  let msPerEvent = 2;
  const slow = {
    publish: async (events: Parameters<EventBus['publish']>[0], options: Parameters<EventBus['publish']>[1]) => {
      sizes.push(events.length);
      await sleep(msPerEvent * events.length);
      return bus.publish(events, options);
    },
    settle: (ids: string[]) => bus.settle(ids),
  } as unknown as EventBus;
  for (let k = 0; k < 3; k++) await store.commit(ctx, { events: Array.from({ length: 100 }, (_, i) => ({ type: 'Ping', entityId: `p${k}-${i}` })) });
  const relay = new OutboxRelay(store.outbox, slow, { idleMs: 5, maxIdleMs: 50, errorBackoffMs: 100, logger: silentLogger });
  disposers.push(() => relay.stop());
  const t0 = Date.now();
  while (relay.published < 300) {
    if (Date.now() - t0 > 15_000) throw new Error(`only ${relay.published} of 300 published; batches tried: ${sizes.join(', ')}`);
    await sleep(20);
  }
  expect(sizes.slice(0, 3)).toEqual([300, 150, 75]);
  expect(Math.max(...sizes.slice(3))).toBeLessThanOrEqual(150); // back up by doubling: 75 lands, 150 does not
  // The bus is fast again: the batches grow back to the relay's batch size (500).
  msPerEvent = 0;
  const before = sizes.length;
  // Commits of 1,000: whenever the relay peeks, at least its (doubling) batch is there until the last.
  for (let k = 0; k < 2; k++) await store.commit(ctx, { events: Array.from({ length: 1_000 }, (_, i) => ({ type: 'Ping', entityId: `q${k}-${i}` })) });
  await relay.flush();
  await relay.stop();
  expect(await bus.length()).toBe(2_300);
  expect(Math.max(...sizes.slice(before))).toBe(500);
}, 30_000);

describe.each(BACKENDS)('relay through the app ($name bus)', ({ name: backend }) => {
  it('RELAY-7 --dedupe-window-ms and --settled-dedupe-ms reach the bus the app opens: relayed events are remembered until the settled time has passed, then a copy is appended', async () => {
    const site = newSite(backend, 'relay');
    disposers.push(() => site.dispose());
    const app = await openApp(site, { runtime: 'off', dedupeWindowMs: '3600000', settledDedupeMs: '1000' }, {});
    disposers.push(() => app.close());
    await app.store.commit(ctx, { events: Array.from({ length: 200 }, (_, i) => ({ type: 'Ping', entityId: `p${i}` })) });
    await app.relay.flush();
    const relayed = (await app.bus.range!('-', 1_000)).map((e) => e.event);
    expect(relayed.length).toBe(200);
    // A relay that read them before the mark publishing them now: dropped.
    expect((await app.bus.publish(relayed)).ids.every((id) => id === null)).toBe(true);
    await sleep(1_300);
    // Settled 1 s ago (the default would keep them 60 s, the window an hour): forgotten.
    expect((await app.bus.publish(relayed)).ids.every((id) => id !== null)).toBe(true);
    expect(await app.bus.length()).toBe(400);
  }, 30_000);
});
