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
import { TEST_REDIS_URL, randomPrefix, tempDir } from '../helpers.js';
import { BACKENDS, deleteRedisKeys, newSite, openApp } from '../router/app-site.js';
import { dropSchemas, otherSpelling, randomSchema, schemaUrl } from '../store/postgres-helpers.js';

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
  await marked([relay], 1);
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
  await marked([relay], 1);
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

/** Two processes on one store file, each with its store object, its bus instance and a relay under one lease. */
async function twoProcesses(bus: 'embedded' | 'redis', lease: { ttlMs: number }, tuning: { maxIdleMs?: number } = {}) {
  const { store, path } = await site();
  const other = await openStore({ kind: 'sqlite', path }, { maxAttributeBytes: 1 << 20, logger: silentLogger });
  disposers.push(() => other.close());
  const prefix = randomPrefix('relay');
  if (bus === 'redis') disposers.push(() => deleteRedisKeys(prefix));
  const open = async (): Promise<EventBus> => {
    const b = await openBus(bus === 'redis' ? { kind: 'redis', url: TEST_REDIS_URL, prefix } : { kind: 'embedded', path }, { logger: silentLogger });
    disposers.push(() => b.close());
    return b;
  };
  const [busA, busB] = [await open(), await open()];
  const relay = (outbox: EntityStore['outbox'], b: EventBus, owner: string): OutboxRelay => {
    const r = new OutboxRelay(outbox, b, { idleMs: 5, maxIdleMs: tuning.maxIdleMs ?? 50, errorBackoffMs: 100, lease: { name: 'relay:test', owner, ...lease }, logger: silentLogger });
    disposers.push(() => r.stop());
    return r;
  };
  return { store, other, busA, busB, relay };
}

/**
 * Until the relays' marks account for `n` events: a relay counts a batch once it is marked, after its
 * publish — a probe of the bus can see the events before the relay that published them has counted them.
 */
async function marked(relays: readonly OutboxRelay[], n: number): Promise<void> {
  await until(`${n} events marked published`, () => Promise.resolve(relays.reduce((sum, r) => sum + r.published, 0) >= n), 5_000);
}

async function until(what: string, probe: () => Promise<boolean>, ms = 10_000): Promise<number> {
  const t0 = Date.now();
  while (!(await probe())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
  return Date.now() - t0;
}

const pings = (n: number, tag: string) => ({ events: Array.from({ length: n }, (_, i) => ({ type: 'Ping', entityId: `${tag}${i}` })) });

it('RELAY-9 relays of several processes on one store publish its outbox one at a time (the lease): each event published once, not once per process; a hung holder is taken over once its lease lapses', async () => {
  const { store, other, busA, busB, relay } = await twoProcesses('embedded', { ttlMs: 600 });
  let hungOwner = '';
  let stuck = false;
  let unhang!: () => void;
  const gate = new Promise<void>((r) => (unhang = r));
  disposers.push(() => unhang());
  const hangable = (outbox: EntityStore['outbox'], who: string) => ({
    ...outbox,
    peek: async (n: number) => (hungOwner === who ? ((stuck = true), await gate, []) : outbox.peek(n)),
  });
  const a = relay(hangable(store.outbox, 'A'), busA, 'A');
  const b = relay(hangable(other.outbox, 'B'), busB, 'B');
  for (let k = 0; k < 5; k++) {
    await store.commit(ctx, pings(100, `a${k}-`));
    await other.commit(ctx, pings(100, `b${k}-`));
  }
  await until('1,000 events on the bus', async () => (await busA.length()) === 1_000);
  await sleep(200);
  // Published once: before the lease, each relay published (nearly) every row of both processes.
  expect(a.published + b.published).toBe(1_000);
  expect([a.holding, b.holding].sort()).toEqual([false, true]);
  const [holder, standby, standbyStore] = a.holding ? [a, b, other] : [b, a, store];
  // The holder hangs (its loop stuck in a peek: no renewals). The other takes over within the lease's ttl.
  hungOwner = a.holding ? 'A' : 'B';
  await until('the holder is stuck', () => Promise.resolve(stuck));
  const only = standby === a ? 'A' : 'B';
  await standbyStore.commit(ctx, pings(100, 'late-'));
  const ms = await until('the standby takes over', async () => (await busA.length()) === 1_100, 5_000);
  console.info(`RELAY-9 ${only} took over ${ms} ms after the holder hung (ttl 600)`);
  expect(standby.holding).toBe(true);
  expect(await busA.length()).toBe(1_100);
  unhang();
  await holder.stop();
}, 30_000);

it('RELAY-10 a holder that stops cleanly hands the lease over at once, not after its ttl', async () => {
  const { store, other, busA, busB, relay } = await twoProcesses('embedded', { ttlMs: 6_000 });
  const a = relay(store.outbox, busA, 'A');
  await until('A holds the lease', () => Promise.resolve(a.holding));
  const b = relay(other.outbox, busB, 'B');
  await sleep(100);
  expect(b.holding).toBe(false);
  await a.stop();
  const t0 = Date.now();
  await other.commit(ctx, pings(10, 'b-'));
  await until('B publishes', async () => (await busB.length()) === 10, 10_000);
  const ms = Date.now() - t0;
  console.info(`RELAY-10 B took over ${ms} ms after A stopped (ttl 6,000; B asks every 2,000)`);
  // Without the release the lease lapses 4,000–6,000 ms after A's last renewal.
  expect(ms).toBeLessThan(3_000);
  expect(b.holding).toBe(true);
}, 30_000);

it('RELAY-11 (Redis bus) a commit in a process standing by rings the holder, which publishes it at once instead of at its next idle poll', async () => {
  const { store, other, busA, busB, relay } = await twoProcesses('redis', { ttlMs: 30_000 }, { maxIdleMs: 8_000 });
  const a = relay(store.outbox, busA, 'A');
  await until('A holds the lease', () => Promise.resolve(a.holding));
  const b = relay(other.outbox, busB, 'B');
  await sleep(6_000); // A idle: its wait has grown to several seconds
  expect(b.holding).toBe(false);
  const t0 = Date.now();
  await other.commit(ctx, pings(10, 'b-'));
  await until('A publishes B\'s commit', async () => (await busA.length()) === 10, 10_000);
  const ms = Date.now() - t0;
  console.info(`RELAY-11 B's commit reached the bus ${ms} ms later (A's idle wait ~4,000–8,000 ms)`);
  expect(ms).toBeLessThan(1_000);
  await marked([a, b], 10);
  expect(a.published).toBe(10);
  expect(b.published).toBe(0);
}, 30_000);

it('RELAY-13 (embedded bus, no rings) the holder polls at most every 50 ms while it holds the lease, so a commit in a process standing by is published promptly', async () => {
  const { store, other, busA, busB, relay } = await twoProcesses('embedded', { ttlMs: 30_000 }, { maxIdleMs: 5_000 });
  const a = relay(store.outbox, busA, 'A');
  await until('A holds the lease', () => Promise.resolve(a.holding));
  const b = relay(other.outbox, busB, 'B');
  await sleep(3_000); // idle: without the cap A's wait would have grown to seconds
  const t0 = Date.now();
  await other.commit(ctx, pings(10, 'b-'));
  await until('A publishes B\'s commit', async () => (await busA.length()) === 10, 10_000);
  const ms = Date.now() - t0;
  console.info(`RELAY-13 B's commit reached the bus ${ms} ms later`);
  expect(ms).toBeLessThan(500);
  expect(b.published).toBe(0);
}, 30_000);

it('RELAY-12 the app gives its relay a lease named after its store: two processes on one site relay one at a time', async () => {
  const site = newSite('embedded', 'relay');
  disposers.push(() => site.dispose());
  const one = await openApp(site, { runtime: 'off' }, {});
  disposers.push(() => one.close());
  const two = await openApp(site, { runtime: 'off' }, {});
  disposers.push(() => two.close());
  await until('one of them holds the lease', () => Promise.resolve(one.relay.holding || two.relay.holding));
  await sleep(1_200); // past a renewal (every 1 s)
  expect([one.relay.holding, two.relay.holding].sort()).toEqual([false, true]);
}, 30_000);

it('RELAY-14 processes with stores of their own on one Redis bus each relay their own outbox (in-memory stores: one lease name would leave the standby\'s events unpublished)', async () => {
  const site = newSite('redis', 'relay');
  disposers.push(() => site.dispose());
  const one = await openApp(site, { runtime: 'off', store: 'sqlite::memory:' }, {});
  disposers.push(() => one.close());
  const two = await openApp(site, { runtime: 'off', store: 'sqlite::memory:' }, {});
  disposers.push(() => two.close());
  await one.store.commit(ctx, pings(5, 'one-'));
  await two.store.commit(ctx, pings(7, 'two-'));
  await until('both commits on the bus', async () => (await one.bus.length()) === 12, 8_000);
  expect(await one.store.outbox.size()).toBe(0);
  expect(await two.store.outbox.size()).toBe(0);
  expect(one.relay.holding && two.relay.holding).toBe(true);
}, 30_000);

it('RELAY-15 two spellings of one PostgreSQL database\'s address name one relay lease: one process relays at a time', async () => {
  const schema = randomSchema('relay');
  const site = newSite('redis', 'relay');
  disposers.push(() => site.dispose());
  disposers.push(() => dropSchemas([schema]));
  const url = schemaUrl(schema);
  const one = await openApp(site, { runtime: 'off', store: url }, {});
  disposers.push(() => one.close());
  const two = await openApp(site, { runtime: 'off', store: otherSpelling(url) }, {});
  disposers.push(() => two.close());
  expect(one.config.store).not.toEqual(two.config.store);
  await until('one of them holds the lease', () => Promise.resolve(one.relay.holding || two.relay.holding));
  await sleep(1_200); // past a renewal (every 1 s)
  expect([one.relay.holding, two.relay.holding].sort()).toEqual([false, true]);
  // Each process's commits still reach the bus (the holder relays the one outbox they share).
  await two.store.commit(ctx, pings(4, 'two-'));
  await until('the commit on the bus', async () => (await one.bus.length()) === 4, 5_000);
}, 30_000);
