import { afterEach, describe, expect, it } from 'vitest';
import { isUeeError, newId, type EventEnvelope } from '../../src/core/index.js';
import type { BusOptions, Delivery, EventBus } from '../../src/bus/index.js';
import { CORRUPT_EVENT_TYPE, queueLeaseName } from '../../src/bus/index.js';

/**
 * Opens a bus on the current test's namespace. Every call within one test opens another instance on
 * the SAME storage (a second worker process, in effect); each test gets a fresh namespace.
 */
export type OpenBus = (options?: Partial<BusOptions>) => Promise<EventBus>;

/** A valid event envelope with a fresh id. */
export function makeEvent(overrides: Partial<EventEnvelope> = {}): EventEnvelope {
  const eventId = newId();
  return {
    eventId,
    type: 'TaskCreated',
    tenantId: 'acme',
    entityId: `task-${eventId.slice(-6)}`,
    entityTypeId: 'Task',
    entityVersion: 1,
    payload: { title: 'write the bus', n: 1 },
    occurredAt: new Date().toISOString(),
    correlationId: eventId,
    causationId: null,
    hop: 0,
    source: { kind: 'api', id: 'user:test' },
    ...overrides,
  };
}

export function makeEvents(n: number): EventEnvelope[] {
  return Array.from({ length: n }, (_, i) => makeEvent({ payload: { i } }));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Compares stream ids numerically (`ms-seq`). */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : am < bm ? -1 : 1;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUeeError(err) ? err.code : err).toBe(code);
}

/**
 * Asserts that a garbage entry injected into the stream (by `inject`) never reaches the consumer: it
 * becomes a `CORRUPT_DATA` dead letter, is acked, and valid events around it are still delivered.
 */
export async function expectCorruptEntryDeadLettered(bus: EventBus, inject: () => Promise<void>): Promise<void> {
  await bus.ensureGroup('g', 'earliest');
  const before = makeEvent();
  const after = makeEvent();
  await bus.publish([before]);
  await inject();
  await bus.publish([after]);
  const got = await bus.read('g', 'c1', { count: 10 });
  expect(got.map((d) => d.event.eventId)).toEqual([before.eventId, after.eventId]);
  const dead = await bus.deadLetters({ group: 'g' });
  expect(dead).toHaveLength(1);
  expect(dead[0]!.error.code).toBe('CORRUPT_DATA');
  expect(dead[0]!.event.type).toBe(CORRUPT_EVENT_TYPE);
  expect(dead[0]!.event.payload.streamId).toBe(dead[0]!.originalId);
  const pending = await bus.pending('g');
  expect(pending.map((p) => p.id).sort()).toEqual(got.map((d) => d.id).sort());
  await bus.ack('g', got.map((d) => d.id));
  expect((await bus.groupInfo('g')).pending).toBe(0);
}

/**
 * Publishes `n` events into a plain group `g` and, routed, a queue `q` (both unread), and returns
 * their names: a test of pending-entry rules runs on both kinds.
 */
async function groupAndQueue(bus: EventBus, n: number): Promise<['g', 'q']> {
  await bus.publish(makeEvents(n));
  await bus.ensureGroup('g', 'earliest');
  await bus.ensureGroup('src', 'earliest');
  await bus.ensureQueue('q');
  await bus.route('src', (await bus.read('src', 'd', { count: n })).map((d) => ({ id: d.id, groups: ['q'] })));
  return ['g', 'q'];
}

/** The event bus conformance suite: every adapter must pass all of it against its real backend. */
export function busConformance(name: string, open: OpenBus): void {
  describe(`EventBus conformance: ${name}`, () => {
    const opened: EventBus[] = [];
    const openBus = async (options?: Partial<BusOptions>): Promise<EventBus> => {
      const bus = await open(options);
      opened.push(bus);
      return bus;
    };
    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((b) => b.close()));
    });

    it('BUS-1: delivers published events in order; ack removes them from pending', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      const events = makeEvents(3);
      const first = await bus.publish(events.slice(0, 2));
      const second = await bus.publish(events.slice(2));
      const ids = [...first.ids, ...second.ids] as string[];
      expect(ids.every((id) => /^\d+-\d+$/.test(id))).toBe(true);
      expect([...ids].sort(compareIds)).toEqual(ids);
      const got = await bus.read('g', 'c1', { count: 10 });
      expect(got.map((d) => d.id)).toEqual(ids);
      expect(got.map((d) => d.event)).toEqual(events);
      expect(got.every((d) => d.deliveryCount === 1)).toBe(true);
      expect(await bus.read('g', 'c1')).toEqual([]);
      expect(await bus.ack('g', ids)).toBe(3);
      expect(await bus.ack('g', ids)).toBe(0);
      expect(await bus.pending('g')).toEqual([]);
      expect(await bus.length()).toBe(3);
    });

    it('BUS-2: a batch of 250 is appended in order and read in pages', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      const events = makeEvents(250);
      const { ids } = await bus.publish(events);
      expect(ids.filter((id) => id !== null)).toHaveLength(250);
      const pages = [await bus.read('g', 'c', { count: 100 }), await bus.read('g', 'c', { count: 100 }), await bus.read('g', 'c', { count: 100 })];
      expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
      expect(pages.flat().map((d) => d.event.eventId)).toEqual(events.map((e) => e.eventId));
      expect(await bus.publish([])).toEqual({ ids: [] });
    });

    it('BUS-3: an eventId published twice (same batch or a later one) is appended once', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      const [a, b, c] = makeEvents(3) as [EventEnvelope, EventEnvelope, EventEnvelope];
      const first = await bus.publish([a, b, a]);
      expect(first.ids[0]).not.toBeNull();
      expect(first.ids[2]).toBeNull();
      const second = await bus.publish([a, c, b]);
      expect(second.ids[0]).toBeNull();
      expect(second.ids[1]).not.toBeNull();
      expect(second.ids[2]).toBeNull();
      const got = await bus.read('g', 'c1', { count: 10 });
      expect(got.map((d) => d.event.eventId)).toEqual([a.eventId, b.eventId, c.eventId]);
      expect(await bus.length()).toBe(3);
    });

    it('BUS-4: every group receives every event; a "latest" group only later ones; ensureGroup is idempotent', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g1', 'earliest');
      await bus.ensureGroup('g2', 'earliest');
      const early = makeEvents(4);
      await bus.publish(early);
      await bus.ensureGroup('late', 'latest');
      await bus.ensureGroup('g1', 'latest');
      const later = makeEvents(2);
      await bus.publish(later);
      const all = [...early, ...later].map((e) => e.eventId);
      for (const g of ['g1', 'g2']) expect((await bus.read(g, 'c', { count: 100 })).map((d) => d.event.eventId)).toEqual(all);
      expect((await bus.read('late', 'c', { count: 100 })).map((d) => d.event.eventId)).toEqual(later.map((e) => e.eventId));
    });

    it('BUS-5: two consumers of one group share the entries without duplicates', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      const events = makeEvents(10);
      await bus.publish(events);
      const one = await bus.read('g', 'c1', { count: 4 });
      const two = await bus.read('g', 'c2', { count: 100 });
      expect(one).toHaveLength(4);
      expect(two).toHaveLength(6);
      const seen = [...one, ...two].map((d) => d.event.eventId);
      expect(new Set(seen).size).toBe(10);
      expect(seen).toEqual(events.map((e) => e.eventId));
    });

    it('BUS-6: unacked entries stay pending with consumer, idle time and delivery count', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      await bus.publish(makeEvents(3));
      const a = await bus.read('g', 'c1', { count: 2 });
      const b = await bus.read('g', 'c2', { count: 2 });
      await sleep(40);
      const pending = await bus.pending('g');
      expect(pending.map((p) => [p.id, p.consumer, p.deliveryCount])).toEqual([
        [a[0]!.id, 'c1', 1],
        [a[1]!.id, 'c1', 1],
        [b[0]!.id, 'c2', 1],
      ]);
      expect(pending.every((p) => p.idleMs >= 30 && p.idleMs < 10_000)).toBe(true);
      expect((await bus.pending('g', { consumer: 'c2' })).map((p) => p.id)).toEqual([b[0]!.id]);
      expect(await bus.pending('g', { count: 1 })).toHaveLength(1);
    });

    it('BUS-7: claimStale takes only entries idle ≥ minIdleMs, bumps the delivery count and transfers ownership', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      await bus.publish(makeEvents(3));
      const old = await bus.read('g', 'c1', { count: 2 });
      await sleep(120);
      const fresh = await bus.read('g', 'c1', { count: 1 });
      const claimed = await bus.claimStale('g', 'c2', { minIdleMs: 100 });
      expect(claimed.map((d) => d.id)).toEqual(old.map((d) => d.id));
      expect(claimed.map((d) => d.deliveryCount)).toEqual([2, 2]);
      expect(claimed.map((d) => d.event)).toEqual(old.map((d) => d.event));
      const owners = (await bus.pending('g')).map((p) => [p.id, p.consumer, p.deliveryCount]);
      expect(owners).toEqual([
        [old[0]!.id, 'c2', 2],
        [old[1]!.id, 'c2', 2],
        [fresh[0]!.id, 'c1', 1],
      ]);
      expect(await bus.claimStale('g', 'c3', { minIdleMs: 100 })).toEqual([]);
      const again = await bus.claimStale('g', 'c3', { minIdleMs: 0, count: 1 });
      expect(again.map((d) => [d.id, d.deliveryCount])).toEqual([[old[0]!.id, 3]]);
    });

    it('BUS-7b: claimStale takes stale entries in stream order up to the first one still in hand — another consumer\'s or the claimer\'s own — and none past it', async () => {
      const bus = await openBus();
      for (const group of await groupAndQueue(bus, 6)) {
        const first = await bus.read(group, 'c1', { count: 2 });
        const middle = await bus.read(group, 'c2', { count: 2 });
        const last = await bus.read(group, 'c3', { count: 2 });
        const ids = (ds: Delivery[]): string[] => ds.map((d) => d.id);
        await sleep(80);
        // c2 still works on the middle two: the last two are stale but newer, and stay where they are.
        expect(await bus.renew(group, 'c2', ids(middle))).toBe(2);
        expect(ids(await bus.claimStale(group, 'c4', { minIdleMs: 50 }))).toEqual(ids(first));
        // The claimer's own entries in hand stop it too.
        expect(await bus.claimStale(group, 'c4', { minIdleMs: 50 })).toEqual([]);
        expect(await bus.claimStale(group, 'c2', { minIdleMs: 50 })).toEqual([]);
        await bus.ack(group, ids(first));
        // Handed back (stale at once), the middle two come first, then the last two, in one claim.
        expect(await bus.handBack(group, 'c2', middle)).toBe(2);
        expect(ids(await bus.claimStale(group, 'c4', { minIdleMs: 50 }))).toEqual([...ids(middle), ...ids(last)]);
        await bus.ack(group, [...ids(middle), ...ids(last)]);
        expect((await bus.groupInfo(group)).pending).toBe(0);
      }
    });

    it('BUS-8: a consumer killed with unacked entries has them reclaimed by another worker', async () => {
      const worker1 = await openBus();
      await worker1.ensureGroup('g', 'earliest');
      const events = makeEvents(5);
      await worker1.publish(events);
      expect(await worker1.read('g', 'dead-worker', { count: 10 })).toHaveLength(5);
      await worker1.close(); // killed before acking
      const worker2 = await openBus();
      await sleep(60);
      const reclaimed = await worker2.claimStale('g', 'live-worker', { minIdleMs: 50, count: 10 });
      expect(reclaimed.map((d) => d.event.eventId)).toEqual(events.map((e) => e.eventId));
      expect(await worker2.ack('g', reclaimed.map((d) => d.id))).toBe(5);
      const info = await worker2.groupInfo('g');
      expect(info.pending).toBe(0);
      expect(info.lag).toBe(0);
    });

    it('BUS-9: deadLetter acks the entry and records it with error and attempts, once', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      await bus.publish(makeEvents(2));
      const got = await bus.read('g', 'c1', { count: 2 });
      const d1 = got[0]!;
      const d2 = got[1]!;
      const attempts = [
        { at: new Date().toISOString(), code: 'PLUGIN_TRAP', message: 'unreachable' },
        { at: new Date().toISOString(), code: 'TIMEOUT', message: 'took too long' },
      ];
      await bus.deadLetter('g', d1, { code: 'TIMEOUT', message: 'took too long' }, attempts);
      await bus.deadLetter('g', d1, { code: 'TIMEOUT', message: 'again' }, attempts);
      expect((await bus.pending('g')).map((p) => p.id)).toEqual([d2.id]);
      const dead = await bus.deadLetters();
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({ group: 'g', originalId: d1.id, event: d1.event, error: { code: 'TIMEOUT', message: 'took too long' }, attempts });
      expect(typeof dead[0]!.id).toBe('string');
      expect(Number.isNaN(Date.parse(dead[0]!.deadAt))).toBe(false);
      expect(await bus.deadLetters({ group: 'other' })).toEqual([]);
      expect(await bus.deadLetters({ group: 'g', count: 1 })).toHaveLength(1);
      await bus.deadLetter('g', d2, { code: 'PLUGIN_ERROR', message: 'bad' });
      expect((await bus.deadLetters({ group: 'g' })).map((d) => [d.originalId, d.attempts.length])).toEqual([
        [d1.id, 2],
        [d2.id, 1],
      ]);
      expect((await bus.groupInfo('g')).pending).toBe(0);
    });

    it('BUS-9c: deadLetter with a holder records only while that consumer holds the entry: not once another claimed it', async () => {
      const bus = await openBus();
      await bus.ensureQueue('q');
      await bus.ensureGroup('g', 'earliest');
      await bus.publish(makeEvents(1));
      const [entry] = await bus.read('g', 'd1', { count: 1 });
      await bus.route('g', [{ id: entry!.id, groups: ['q'] }]);
      for (const group of ['g2', 'q']) {
        if (group === 'g2') await bus.ensureGroup('g2', 'earliest');
        const [d] = await bus.read(group, 'c1', { count: 1 });
        // c1 paused past its lease: c2 claimed the entry and is handling it.
        const [claimed] = await bus.claimStale(group, 'c2', { minIdleMs: 0 });
        expect(await bus.deadLetter(group, d!, { code: 'TIMEOUT', message: 'stale holder' }, [], 'c1')).toBe(false);
        expect((await bus.pending(group)).map((p) => [p.id, p.consumer])).toEqual([[d!.id, 'c2']]);
        expect(await bus.deadLetter(group, claimed!, { code: 'TIMEOUT', message: 'holder' }, [], 'c2')).toBe(true);
        expect(await bus.deadLetter(group, claimed!, { code: 'TIMEOUT', message: 'again' }, [], 'c2')).toBe(false);
        expect((await bus.pending(group)).length).toBe(0);
      }
      expect((await bus.deadLetters()).map((l) => [l.group, l.error.message])).toEqual([
        ['g2', 'holder'],
        ['q', 'holder'],
      ]);
    });

    it('BUS-9b: deleteDeadLetters removes the named letters once; unknown ids are ignored', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      await bus.publish(makeEvents(2));
      const [d1, d2] = await bus.read('g', 'c1', { count: 2 });
      await bus.deadLetter('g', d1!, { code: 'PLUGIN_ERROR', message: 'bad' });
      await bus.deadLetter('g', d2!, { code: 'PLUGIN_ERROR', message: 'bad' });
      const [l1, l2] = await bus.deadLetters();
      expect(await bus.deleteDeadLetters([l1!.id, '1-999999'])).toBe(1);
      expect(await bus.deleteDeadLetters([l1!.id])).toBe(0);
      expect((await bus.deadLetters()).map((l) => l.id)).toEqual([l2!.id]);
    });

    it('BUS-9c: dead letters by tenant — listed without anyone else\'s, bounded per tenant, and past the bound in all only the tenant holding the most loses its oldest', async () => {
      const bus = await openBus({ maxDeadLettersPerTenant: 5, maxDeadLetters: 12 });
      await bus.ensureGroup('g', 'earliest');
      /** Publishes and dead-letters `n` events of `tenantId`, one call each; returns their event ids. */
      const letters = async (tenantId: string | null, n: number): Promise<string[]> => {
        const events = Array.from({ length: n }, (_, i) => makeEvent({ tenantId, payload: { i } }));
        await bus.publish(events);
        const read = await bus.read('g', 'c', { count: n });
        for (const d of read) expect(await bus.deadLetter('g', d, { code: 'PLUGIN_ERROR', message: String(tenantId) })).toBe(true);
        return events.map((e) => e.eventId);
      };
      const ids = async (q: Parameters<EventBus['deadLetters']>[0]): Promise<string[]> => (await bus.deadLetters(q)).map((l) => l.event.eventId);
      const quiet = await letters('quiet', 3);
      const platform = await letters(null, 1);
      const flood = await letters('flood', 20);
      // The flood keeps its newest 5; the others keep everything.
      expect(await ids({ tenantId: 'flood' })).toEqual(flood.slice(15));
      expect(await ids({ tenantId: 'quiet' })).toEqual(quiet);
      expect(await ids({ tenantId: 'quiet', newestFirst: true })).toEqual([...quiet].reverse());
      expect(await ids({ tenantId: 'quiet', newestFirst: true, count: 2 })).toEqual([quiet[2], quiet[1]]);
      expect(await ids({ tenantId: null })).toEqual(platform);
      expect(await ids({ tenantId: 'quiet', group: 'other' })).toEqual([]);
      expect(await ids({ tenantId: 'nobody' })).toEqual([]);
      // Every tenant's, in order.
      expect(await ids({})).toEqual([...quiet, ...platform, ...flood.slice(15)]);
      expect(await ids({ newestFirst: true, count: 3 })).toEqual([flood[19], flood[18], flood[17]]);
      // 3 + 1 + 5 + 4 = 13 > 12: the tenant holding the most (flood) loses its oldest, nobody else anything.
      const second = await letters('second', 4);
      expect(await ids({ tenantId: 'flood' })).toEqual(flood.slice(16));
      expect(await ids({ tenantId: 'second' })).toEqual(second);
      expect(await ids({ tenantId: 'quiet' })).toEqual(quiet);
      expect(await ids({ tenantId: null })).toEqual(platform);
      expect(await bus.deadLetters({ count: 100 })).toHaveLength(12);
      // A removed letter frees its tenant's room: the next one of that tenant trims nothing.
      const [firstSecond] = await bus.deadLetters({ tenantId: 'second' });
      expect(await bus.deleteDeadLetters([firstSecond!.id])).toBe(1);
      const more = await letters('second', 1);
      expect(await ids({ tenantId: 'second' })).toEqual([...second.slice(1), ...more]);
      expect(await ids({ tenantId: 'quiet' })).toEqual(quiet);
      expect(await ids({ tenantId: 'flood' })).toEqual(flood.slice(16));
      // By id, whoever's: in id order, unknown and removed ids skipped.
      const [q0, , q2] = await bus.deadLetters({ tenantId: 'quiet' });
      const [f0] = await bus.deadLetters({ tenantId: 'flood' });
      expect((await bus.deadLettersById([q2!.id, f0!.id, q0!.id, '1-999999', firstSecond!.id])).map((l) => l.id)).toEqual([q0!.id, q2!.id, f0!.id].sort(compareIds));
      // Bad input is typed.
      await expectCode(bus.deadLetters({ tenantId: 'no spaces allowed' }), 'VALIDATION_FAILED');
      await expectCode(bus.deadLettersById(['not-an-id']), 'VALIDATION_FAILED');
    });

    it('BUS-10: groupInfo reports pending, lag, consumers and last delivered id; NOT_FOUND for an unknown group', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      await bus.publish(makeEvents(5));
      expect((await bus.groupInfo('g')).lag).toBe(5);
      const got = await bus.read('g', 'c1', { count: 2 });
      await bus.ack('g', [got[0]!.id]);
      const info = await bus.groupInfo('g');
      expect(info).toMatchObject({ group: 'g', pending: 1, lag: 3, lastDeliveredId: got[1]!.id });
      expect(info.consumers.map((c) => [c.name, c.pending])).toEqual([['c1', 1]]);
      expect(info.consumers[0]!.idleMs).toBeGreaterThanOrEqual(0);
      await expectCode(bus.groupInfo('nope'), 'NOT_FOUND');
      await expectCode(bus.read('nope', 'c1'), 'NOT_FOUND');
      await expectCode(bus.pending('nope'), 'NOT_FOUND');
      await expectCode(bus.claimStale('nope', 'c1', { minIdleMs: 0 }), 'NOT_FOUND');
    });

    it('BUS-11: a blocking read wakes on publish, and returns [] after blockMs when nothing comes', async () => {
      const bus = await openBus();
      const publisher = await openBus();
      await bus.ensureGroup('g', 'latest');
      const started = Date.now();
      const empty = await bus.read('g', 'c1', { blockMs: 150 });
      expect(empty).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      const event = makeEvent();
      const reading = bus.read('g', 'c1', { blockMs: 10_000 });
      const publishedAt = Date.now();
      setTimeout(() => void publisher.publish([event]), 50);
      const got = await reading;
      expect(got.map((d) => d.event.eventId)).toEqual([event.eventId]);
      expect(Date.now() - publishedAt).toBeLessThan(2_000);
    });

    it('BUS-12: close() breaks a blocked read promptly, is safe twice, and later calls fail with CLOSED', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'latest');
      const reading = bus.read('g', 'c1', { blockMs: 20_000 });
      await sleep(50);
      const started = Date.now();
      await bus.close();
      expect(await reading).toEqual([]);
      expect(Date.now() - started).toBeLessThan(1_000);
      await bus.close();
      await expectCode(bus.publish([makeEvent()]), 'CLOSED');
      await expectCode(bus.read('g', 'c1'), 'CLOSED');
      await expectCode(bus.ack('g', ['1-1']), 'CLOSED');
      await expectCode(bus.pending('g'), 'CLOSED');
      await expectCode(bus.claimStale('g', 'c1', { minIdleMs: 0 }), 'CLOSED');
      await expectCode(bus.groupInfo('g'), 'CLOSED');
      await expectCode(bus.length(), 'CLOSED');
      await expectCode(bus.ensureGroup('g'), 'CLOSED');
      await expectCode(bus.deadLetters(), 'CLOSED');
    });

    it('BUS-13: retention trims the oldest entries beyond maxLength (approximately) once every group has them; advisory groups do not hold it', async () => {
      const bus = await openBus({ maxLength: 10 });
      await bus.ensureGroup('g', 'earliest');
      await bus.ensureGroup('catalogue', 'earliest', { retention: 'advisory' });
      const events = makeEvents(300);
      for (let i = 0; i < events.length; i += 10) {
        await bus.publish(events.slice(i, i + 10));
        const got = await bus.read('g', 'c', { count: 100 });
        await bus.ack('g', got.map((d) => d.id));
      }
      await bus.publish(makeEvents(200)); // retention runs as publishing goes on
      const length = await bus.length();
      expect(length).toBeGreaterThanOrEqual(10);
      expect(length).toBeLessThan(300); // Redis trims whole stream nodes (100 entries each)
      // The advisory group skips what was trimmed before it read it.
      expect((await bus.read('catalogue', 'c', { count: 1_000 })).length).toBe(length);
      // Trimmed entries stay de-duplicated: publishing them again appends nothing.
      expect((await bus.publish([events[0]!])).ids).toEqual([null]);
    });

    it('BUS-13b: retention never trims what a group still needs: a group that read nothing gets every event', async () => {
      const bus = await openBus({ maxLength: 10 });
      await bus.ensureGroup('g', 'earliest');
      await bus.ensureGroup('fast', 'earliest');
      const events = makeEvents(300);
      for (let i = 0; i < events.length; i += 10) {
        await bus.publish(events.slice(i, i + 10));
        await bus.ack('fast', (await bus.read('fast', 'c', { count: 100 })).map((d) => d.id));
      }
      const got: Delivery[] = [];
      for (let batch = await bus.read('g', 'c', { count: 100 }); batch.length > 0; batch = await bus.read('g', 'c', { count: 100 })) {
        // A pending (delivered, unacked) entry is needed too: publishing more must not trim it.
        if (got.length === 0) await bus.publish(makeEvents(50));
        got.push(...batch);
      }
      expect(got.slice(0, 300).map((d) => d.event.eventId)).toEqual(events.map((e) => e.eventId));
      const claimed = await bus.claimStale('g', 'c2', { minIdleMs: 0, count: 1_000 });
      expect(claimed.length).toBe(got.length);
      await bus.ack('g', got.map((d) => d.id));
      await bus.ack('fast', (await bus.read('fast', 'c', { count: 10_000 })).map((d) => d.id));
      await bus.publish(makeEvents(200));
      expect(await bus.length()).toBeLessThan(400); // caught up: retention resumes
    });

    it('BUS-17b: route queues each entry still pending once, in order — also one named twice, and entries spread over a range holding many others', async () => {
      const bus = await openBus();
      await bus.ensureGroup('dispatch', 'earliest');
      await bus.ensureQueue('qa');
      await bus.ensureQueue('qb');
      const events = makeEvents(300);
      for (let i = 0; i < events.length; i += 100) await bus.publish(events.slice(i, i + 100));
      const read = await bus.read('dispatch', 'd', { count: 300 });
      expect(read).toHaveLength(300);
      // A small batch, one entry named twice.
      const items = [read[1]!, read[1]!, read[2]!, read[3]!].map((d, i) => ({ id: d.id, groups: i === 2 ? ['qa', 'qb'] : ['qa'] }));
      expect(await bus.route('dispatch', items)).toBe(3);
      expect((await bus.read('qa', 'c', { count: 10 })).map((d) => d.event.eventId)).toEqual([1, 2, 3].map((i) => events[i]!.eventId));
      expect((await bus.read('qb', 'c', { count: 10 })).map((d) => d.event.eventId)).toEqual([events[2]!.eventId]);
      // Entries far apart, with many others between them (some still pending, most acked): only the
      // named ones that are still pending are queued, each once.
      expect(await bus.ack('dispatch', read.slice(50, 250).map((d) => d.id))).toBe(200);
      const spread = [read[0]!, read[150]!, read[299]!, read[0]!, read[2]!].map((d) => ({ id: d.id, groups: ['qa'] }));
      expect(await bus.route('dispatch', spread)).toBe(2);
      expect((await bus.read('qa', 'c', { count: 10 })).map((d) => d.event.eventId)).toEqual([0, 299].map((i) => events[i]!.eventId));
      expect((await bus.groupInfo('dispatch')).pending).toBe(300 - 3 - 200 - 2);
      // The rest, in one call: every one still pending is queued once.
      const rest = read.filter((_, i) => i >= 4 && (i < 50 || i >= 250) && i !== 299);
      expect(await bus.route('dispatch', rest.map((d) => ({ id: d.id, groups: ['qb'] })))).toBe(rest.length);
      expect((await bus.groupInfo('dispatch')).pending).toBe(0);
      expect((await bus.read('qb', 'c', { count: 1000 })).map((d) => d.event.eventId)).toEqual(rest.map((d) => d.event.eventId));
    });

    it('BUS-17: route hands entries from a group to queues atomically: acked there, queued here, in order, once', async () => {
      const bus = await openBus();
      await bus.ensureGroup('dispatch', 'earliest');
      await bus.ensureQueue('qa');
      await bus.ensureQueue('qb');
      await bus.ensureQueue('qa'); // idempotent
      const events = makeEvents(6);
      await bus.publish(events);
      const read = await bus.read('dispatch', 'd', { count: 10 });
      const items = read.map((d, i) => ({ id: d.id, groups: i % 3 === 0 ? [] : i % 2 === 0 ? ['qa'] : ['qa', 'qb'] }));
      expect(await bus.route('dispatch', items)).toBe(6);
      expect(await bus.route('dispatch', items)).toBe(0); // already handed over: nothing queued twice
      expect((await bus.groupInfo('dispatch')).pending).toBe(0);
      expect((await bus.groupInfo('qa')).lag).toBe(4);
      const a = await bus.read('qa', 'c', { count: 10 });
      expect(a.map((d) => d.event.eventId)).toEqual([1, 2, 4, 5].map((i) => events[i]!.eventId));
      expect(a.every((d) => d.deliveryCount === 1)).toBe(true);
      const b = await bus.read('qb', 'c', { count: 10 });
      expect(b.map((d) => d.event.eventId)).toEqual([1, 5].map((i) => events[i]!.eventId));
      expect(await bus.read('qa', 'c', { count: 10 })).toEqual([]);
      // A queue is a group: pending, claim, ack, dead letters.
      expect((await bus.groupInfo('qa')).pending).toBe(4);
      const claimed = await bus.claimStale('qa', 'c2', { minIdleMs: 0, count: 1 });
      expect(claimed.map((d) => [d.event.eventId, d.deliveryCount])).toEqual([[events[1]!.eventId, 2]]);
      await bus.deadLetter('qa', claimed[0]!, { code: 'X', message: 'y' });
      expect((await bus.deadLetters({ group: 'qa' })).map((l) => l.event.eventId)).toEqual([events[1]!.eventId]);
      expect(await bus.ack('qa', a.slice(1).map((d) => d.id))).toBe(3);
      expect((await bus.groupInfo('qa')).pending).toBe(0);
      // Routing into a queue that does not exist changes nothing.
      await bus.publish([makeEvent()]);
      const [next] = await bus.read('dispatch', 'd');
      await expectCode(bus.route('dispatch', [{ id: next!.id, groups: ['qa', 'nope'] }]), 'NOT_FOUND');
      expect((await bus.groupInfo('dispatch')).pending).toBe(1);
      expect((await bus.groupInfo('qa')).lag).toBe(0);
    });

    it('BUS-24: readQueues / ackQueues serve many queues in one call exactly as read / ack each; an unknown queue fails only its own part', async () => {
      const bus = await openBus();
      if (bus.readQueues === undefined || bus.ackQueues === undefined) return;
      await bus.ensureGroup('dispatch', 'earliest');
      for (const q of ['qa', 'qb', 'qc']) await bus.ensureQueue(q);
      const events = makeEvents(7);
      await bus.publish(events);
      const read = await bus.read('dispatch', 'd', { count: 10 });
      // qa: 0,2,4,6 (hot); qb: 1; qc: nothing.
      await bus.route('dispatch', read.map((d, i) => ({ id: d.id, groups: i % 2 === 0 ? ['qa'] : i === 1 ? ['qb'] : [] })));
      const out = await bus.readQueues('c1', [
        { group: 'qa', count: 3 },
        { group: 'nope', count: 10 },
        { group: 'qb', count: 10 },
        { group: 'qc', count: 10 },
      ]);
      expect(out.map((o) => (o.ok ? o.value.map((d) => d.event.eventId) : o.error.code))).toEqual([
        [0, 2, 4].map((i) => events[i]!.eventId),
        'NOT_FOUND',
        [events[1]!.eventId],
        [],
      ]);
      const [qa, , qb] = out.map((o) => (o.ok ? o.value : []));
      expect([...qa!, ...qb!].every((d) => d.deliveryCount === 1)).toBe(true);
      // Delivered to c1 exactly as read() would: pending there, the rest still queued, in order.
      expect((await bus.pending('qa')).map((p) => [p.id, p.consumer])).toEqual(qa!.map((d) => [d.id, 'c1']));
      expect((await bus.read('qa', 'c2', { count: 10 })).map((d) => d.event.eventId)).toEqual([events[6]!.eventId]);
      const acked = await bus.ackQueues([
        { group: 'qa', ids: qa!.map((d) => d.id) },
        { group: 'qb', ids: [...qb!.map((d) => d.id), qb![0]!.id] },
        { group: 'qc', ids: [] },
      ]);
      expect(acked.map((o) => (o.ok ? o.value : o.error.code))).toEqual([3, 1, 0]);
      expect((await bus.groupInfo('qa')).pending).toBe(1);
      expect((await bus.groupInfo('qb')).pending).toBe(0);
      expect((await bus.readQueues('c1', [{ group: 'qa', count: 10 }, { group: 'qb', count: 10 }])).map((o) => o.ok && o.value.length)).toEqual([0, 0]);
      // A queue deleted after this bus has read it (known to it as a queue) fails its own part only.
      const more = makeEvents(2);
      await bus.publish(more);
      const next = await bus.read('dispatch', 'd', { count: 10 });
      await bus.route('dispatch', next.map((d) => ({ id: d.id, groups: ['qa', 'qc'] })));
      await bus.deleteQueue('qb');
      const after = await bus.readQueues('c1', [
        { group: 'qa', count: 10 },
        { group: 'qb', count: 10 },
        { group: 'qc', count: 1 },
      ]);
      expect(after.map((o) => (o.ok ? o.value.map((d) => d.event.eventId) : o.error.code))).toEqual([more.map((e) => e.eventId), 'NOT_FOUND', [more[0]!.eventId]]);
    });

    it('BUS-24b: ackAndReadQueues acks, then reads, each part exactly as ackQueues / readQueues would; an unknown queue fails only its own part', async () => {
      const bus = await openBus();
      if (bus.ackAndReadQueues === undefined) return;
      await bus.ensureGroup('dispatch', 'earliest');
      for (const q of ['qa', 'qb']) await bus.ensureQueue(q);
      const events = makeEvents(6);
      await bus.publish(events);
      const read = await bus.read('dispatch', 'd', { count: 10 });
      // qa: 0,2,4 ; qb: 1,3,5
      await bus.route('dispatch', read.map((d, i) => ({ id: d.id, groups: [i % 2 === 0 ? 'qa' : 'qb'] })));
      const first = await bus.read('qa', 'c1', { count: 2 });
      const qb1 = await bus.read('qb', 'c2', { count: 1 });
      const fourth = read[4]!.id;
      const out = await bus.ackAndReadQueues('c1', [
        { group: 'qa', ids: [...first.map((d) => d.id), first[0]!.id] },
        { group: 'qb', ids: [] },
        { group: 'qb', ids: qb1.map((d) => d.id) },
      ], [
        { group: 'qa', count: 10 },
        { group: 'nope', count: 10 },
        { group: 'qb', count: 1 },
      ]);
      expect(out.acks.map((o) => (o.ok ? o.value : o.error.code))).toEqual([2, 0, 1]);
      expect(out.reads.map((o) => (o.ok ? o.value.map((d) => d.event.eventId) : o.error.code))).toEqual([[events[4]!.eventId], 'NOT_FOUND', [events[3]!.eventId]]);
      // The acked entries are gone; the read ones are pending for c1, delivered once; qb's last one still queued.
      expect((await bus.pending('qa')).map((p) => [p.id, p.consumer, p.deliveryCount])).toEqual([[fourth, 'c1', 1]]);
      expect((await bus.pending('qb')).map((p) => p.consumer)).toEqual(['c1']);
      expect((await bus.read('qb', 'c2', { count: 10 })).map((d) => d.event.eventId)).toEqual([events[5]!.eventId]);
    });

    it('BUS-25: reads and claims under a lease take entries only while the consumer holds it on the bus: a former holder that reads on (it was paused) takes nothing — FENCED — also in a blocked read, and the holder gets everything, in order', async () => {
      const a = await openBus();
      const b = await openBus();
      const ids = (ds: readonly Delivery[]): string[] => ds.map((d) => d.event.eventId);
      const [e0, e1, e2, e3] = makeEvents(4);
      await a.ensureGroup('g', 'latest');
      expect(await a.lease('L', 'p1', 60_000)).toBe(true);
      await a.publish([e0!]);
      expect(ids(await a.read('g', 'p1', { count: 10, lease: 'L' }))).toEqual([e0!.eventId]);
      // A blocked read under the lease, and the lease moves while it waits (p1 believes it still holds it).
      const blocked = a.read('g', 'p1', { count: 10, lease: 'L', blockMs: 10_000 });
      await sleep(50);
      await a.releaseLease('L', 'p1');
      expect(await b.lease('L', 'p2', 60_000)).toBe(true);
      await b.publish([e1!, e2!]);
      await expectCode(blocked, 'FENCED');
      await expectCode(a.read('g', 'p1', { count: 10, lease: 'L' }), 'FENCED');
      await expectCode(a.claimStale('g', 'p1', { minIdleMs: 0, lease: 'L' }), 'FENCED');
      // Nothing was taken by p1: the holder claims what p1 read while it held the lease, then reads the rest.
      expect(ids(await b.claimStale('g', 'p2', { minIdleMs: 0, lease: 'L' }))).toEqual([e0!.eventId]);
      expect(ids(await b.read('g', 'p2', { count: 10, lease: 'L' }))).toEqual([e1!.eventId, e2!.eventId]);
      expect((await b.pending('g')).map((p) => p.consumer)).toEqual(['p2', 'p2', 'p2']);
      // The holder renewing its lease between its reads (a TTL lease's renewal rewrites it) fences nothing.
      expect(await b.lease('L', 'p2', 60_000)).toBe(true);
      const renewed = makeEvent();
      await a.publish([renewed]);
      expect(ids(await b.read('g', 'p2', { count: 10, lease: 'L' }))).toEqual([renewed.eventId]);
      // A lease that lapsed with nobody taking it is not held either; a read without a lease is not fenced.
      expect(await a.lease('L2', 'p1', 100)).toBe(true);
      await sleep(150);
      await a.publish([e3!]);
      await expectCode(a.read('g', 'p1', { count: 10, lease: 'L2' }), 'FENCED');
      expect(ids(await a.read('g', 'p1', { count: 10 }))).toEqual([e3!.eventId]);
      await expectCode(a.read('g', 'p1', { lease: 'bad name' }), 'VALIDATION_FAILED');

      // Queues: each queue's read is fenced by its own lease, in the multi-queue calls too.
      await a.ensureGroup('dispatch', 'earliest');
      for (const q of ['qa', 'qb', 'qc']) await a.ensureQueue(q);
      const routed = await a.read('dispatch', 'd', { count: 10 });
      await a.route('dispatch', routed.map((d) => ({ id: d.id, groups: ['qa', 'qb', 'qc'] })));
      const all = [e0!, e1!, e2!, renewed, e3!].map((e) => e.eventId);
      expect(await a.lease(queueLeaseName('qa'), 'p1', 60_000)).toBe(true);
      expect(await b.lease(queueLeaseName('qb'), 'p2', 60_000)).toBe(true);
      expect(await b.lease(queueLeaseName('qc'), 'p2', 60_000)).toBe(true);
      await expectCode(a.read('qb', 'p1', { count: 10, lease: queueLeaseName('qb') }), 'FENCED');
      if (a.readQueues !== undefined) {
        const out = await a.readQueues('p1', [
          { group: 'qa', count: 10, lease: queueLeaseName('qa') },
          { group: 'qb', count: 10, lease: queueLeaseName('qb') },
        ]);
        expect(out.map((o) => (o.ok ? ids(o.value) : o.error.code))).toEqual([all, 'FENCED']);
      } else {
        expect(ids(await a.read('qa', 'p1', { count: 10, lease: queueLeaseName('qa') }))).toEqual(all);
      }
      if (a.ackAndReadQueues !== undefined) {
        const out = await a.ackAndReadQueues('p1', [{ group: 'qa', ids: [] }], [{ group: 'qc', count: 10, lease: queueLeaseName('qc') }]);
        expect(out.reads.map((o) => (o.ok ? ids(o.value) : o.error.code))).toEqual(['FENCED']);
      }
      expect(ids(await b.read('qb', 'p2', { count: 10, lease: queueLeaseName('qb') }))).toEqual(all);
      expect(ids(await b.read('qc', 'p2', { count: 10, lease: queueLeaseName('qc') }))).toEqual(all);
      await expectCode(b.claimStale('qa', 'p2', { minIdleMs: 0, lease: queueLeaseName('qa') }), 'FENCED');
      expect((await a.pending('qa')).map((p) => p.consumer)).toEqual(all.map(() => 'p1'));
      // Concurrent reads under one lease by its holder share the entries, none twice.
      await b.ensureGroup('g2', 'latest');
      const more = makeEvents(4);
      await b.publish(more);
      const both = await Promise.all([1, 2, 3].map(() => b.read('g2', 'p2', { count: 2, lease: 'L' })));
      expect(both.flatMap(ids).sort()).toEqual(more.map((e) => e.eventId).sort());
      // Concurrent reads by a former holder are each fenced (on Redis all but the first find the
      // consumer's armed connection busy and check on a connection of their own), and take nothing.
      const late = makeEvents(3);
      await b.publish(late);
      const refused = await Promise.allSettled([1, 2, 3].map(() => a.read('g2', 'p1', { count: 1, lease: 'L' })));
      expect(refused.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'read'))).toEqual(['FENCED', 'FENCED', 'FENCED']);
      expect(ids(await b.read('g2', 'p2', { count: 10, lease: 'L' }))).toEqual(late.map((e) => e.eventId));
      expect(new Set((await b.pending('g2')).map((p) => p.consumer))).toEqual(new Set(['p2']));
    });

    it('BUS-18: a queue keeps what it needs across retention, and a blocked queue read wakes on route', async () => {
      const bus = await openBus({ maxLength: 10 });
      await bus.ensureGroup('dispatch', 'earliest');
      await bus.ensureQueue('slow');
      const events = makeEvents(200);
      for (let i = 0; i < events.length; i += 10) {
        await bus.publish(events.slice(i, i + 10));
        const read = await bus.read('dispatch', 'd', { count: 100 });
        await bus.route('dispatch', read.map((d) => ({ id: d.id, groups: ['slow'] })));
      }
      const got: Delivery[] = [];
      for (let batch = await bus.read('slow', 'c', { count: 64 }); batch.length > 0; batch = await bus.read('slow', 'c', { count: 64 })) got.push(...batch);
      expect(got.map((d) => d.event.eventId)).toEqual(events.map((e) => e.eventId));
      const waiting = bus.read('slow', 'c', { count: 10, blockMs: 5_000 });
      await sleep(30);
      const late = makeEvent();
      await bus.publish([late]);
      const [d] = await bus.read('dispatch', 'd');
      await bus.route('dispatch', [{ id: d!.id, groups: ['slow'] }]);
      expect((await waiting).map((x) => x.event.eventId)).toEqual([late.eventId]);
    });

    it('BUS-26: a queue holds at most maxQueueLength undelivered entries: by the time route answers, its oldest undelivered are dead letters (QUEUE_OVERFLOW) under their tenant — none lost, none twice; delivered entries stay pending; another queue gets everything', async () => {
      const cap = 50;
      const bus = await openBus({ maxQueueLength: cap });
      await bus.ensureGroup('dispatch', 'earliest');
      await bus.ensureQueue('stuck');
      await bus.ensureQueue('live');
      const events = Array.from({ length: 300 }, (_, i) => makeEvent({ tenantId: i % 3 === 0 ? 'globex' : 'acme', payload: { i } }));
      let held: Delivery[] = [];
      const live: Delivery[] = [];
      for (let i = 0; i < events.length; i += 10) {
        await bus.publish(events.slice(i, i + 10));
        const read = await bus.read('dispatch', 'd', { count: 100 });
        await bus.route('dispatch', read.map((d) => ({ id: d.id, groups: ['stuck', 'live'] })));
        // The stuck queue's reader takes 5 and never finishes them: delivered, pending for good.
        if (i === 0) held = await bus.read('stuck', 'slow', { count: 5 });
        expect((await bus.groupInfo('stuck')).lag).toBeLessThanOrEqual(cap);
        const got = await bus.read('live', 'c', { count: 100 });
        live.push(...got);
        await bus.ack('live', got.map((d) => d.id));
      }
      const order = (ds: ReadonlyArray<{ event: EventEnvelope }>): number[] => ds.map((d) => d.event.payload.i as number);
      const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);
      expect(order(live)).toEqual(range(0, 300));
      expect(order(held)).toEqual(range(0, 5));
      expect((await bus.pending('stuck')).map((p) => p.id).sort(compareIds)).toEqual(held.map((d) => d.id).sort(compareIds));
      // The oldest undelivered went, each once; the newest `cap` are still queued, in order.
      const dead = await bus.deadLetters({ group: 'stuck', count: 1_000 });
      expect(dead.every((l) => l.error.code === 'QUEUE_OVERFLOW' && l.group === 'stuck')).toBe(true);
      expect(order(dead).sort((a, b) => a - b)).toEqual(range(5, 300 - cap));
      const left: Delivery[] = [];
      for (let b = await bus.read('stuck', 'c', { count: 100 }); b.length > 0; b = await bus.read('stuck', 'c', { count: 100 })) left.push(...b);
      expect(order(left)).toEqual(range(300 - cap, 300));
      // Each letter is its event's tenant's: listed for globex without acme's.
      const globex = await bus.deadLetters({ tenantId: 'globex', group: 'stuck', count: 1_000 });
      expect(order(globex).sort((a, b) => a - b)).toEqual(range(5, 300 - cap).filter((i) => i % 3 === 0));
      expect((await bus.groupInfo('live')).lag).toBe(0);
    });

    it('BUS-20: renew restarts the idle time of entries the consumer still holds, without a delivery; others are left alone', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      await bus.publish(makeEvents(3));
      const theirs = await bus.read('g', 'c2', { count: 1 });
      const mine = await bus.read('g', 'c1', { count: 2 });
      await sleep(120);
      expect(await bus.renew('g', 'c1', [...mine.map((d) => d.id), theirs[0]!.id])).toBe(2);
      // Renewed: not stale. Not renewed (held by c2): stale, and still c2's until claimed.
      const claimed = await bus.claimStale('g', 'c3', { minIdleMs: 100 });
      expect(claimed.map((d) => d.id)).toEqual([theirs[0]!.id]);
      const owners = (await bus.pending('g')).map((p) => [p.id, p.consumer, p.deliveryCount]);
      expect(owners).toEqual([
        [theirs[0]!.id, 'c3', 2],
        [mine[0]!.id, 'c1', 1],
        [mine[1]!.id, 'c1', 1],
      ]);
      await bus.ack('g', [mine[0]!.id]);
      expect(await bus.renew('g', 'c1', [mine[0]!.id, mine[1]!.id])).toBe(1);
    });

    it('BUS-20b: handBack lowers the delivery count of entries left unfinished knowingly: one still held turns stale at once, one claimed by another since keeps its owner', async () => {
      const bus = await openBus();
      for (const group of await groupAndQueue(bus, 3)) {
        const [d0, d1, d2] = await bus.read(group, 'c1', { count: 3 });
        // c1 paused; c2 claimed d0 meanwhile. c1 wakes, is fenced, and hands back d0 and d1.
        await bus.claimStale(group, 'c2', { minIdleMs: 0, count: 1 });
        expect(await bus.handBack(group, 'c1', [d0!, d1!])).toBe(2);
        expect((await bus.pending(group)).map((p) => [p.id, p.consumer, p.deliveryCount])).toEqual([
          [d0!.id, 'c2', 1],
          [d1!.id, 'c1', 0],
          [d2!.id, 'c1', 1],
        ]);
        // d1 is not claimed while c2 still has d0, the older entry, in hand (see BUS-7b).
        expect(await bus.claimStale(group, 'c3', { minIdleMs: 60_000 })).toEqual([]);
        await bus.ack(group, [d0!.id]);
        // Stale at once, and the claim restores the count: the handed-back delivery is not counted.
        const claimed = await bus.claimStale(group, 'c3', { minIdleMs: 60_000 });
        expect(claimed.map((d) => [d.id, d.deliveryCount])).toEqual([[d1!.id, 1]]);
        // Only at the count it was delivered with, and only once.
        expect(await bus.handBack(group, 'c1', [{ id: d2!.id, deliveryCount: 2 }, { id: d0!.id, deliveryCount: 1 }, d1!])).toBe(0);
        expect((await bus.pending(group)).map((p) => p.deliveryCount)).toEqual([1, 1]);
      }
    });

    it('BUS-21: a lease has one owner at a time across bus instances; it is renewed by its owner, taken once expired or released', async () => {
      const a = await openBus();
      const b = await openBus();
      expect(await a.lease('q:x', 'p1', 150)).toBe(true);
      expect(await b.lease('q:x', 'p2', 150)).toBe(false);
      expect(await a.lease('q:x', 'p1', 150)).toBe(true); // renewed
      expect(await b.lease('q:y', 'p2', 150)).toBe(true); // another lease is independent
      await sleep(200);
      expect(await b.lease('q:x', 'p2', 10_000)).toBe(true); // expired: taken over
      expect(await a.lease('q:x', 'p1', 150)).toBe(false);
      await a.releaseLease('q:x', 'p1'); // not the owner: nothing happens
      expect(await a.lease('q:x', 'p1', 150)).toBe(false);
      await b.releaseLease('q:x', 'p2');
      expect(await a.lease('q:x', 'p1', 150)).toBe(true);
      await expectCode(a.lease('bad name', 'p1', 100), 'VALIDATION_FAILED');
    });

    it('BUS-22: deleteQueue removes a queue with its queued and pending entries and its lease; idempotent; the event stream is untouched', async () => {
      const bus = await openBus();
      await bus.ensureGroup('dispatch', 'earliest');
      await bus.ensureQueue('gone');
      await bus.publish(makeEvents(4));
      const read = await bus.read('dispatch', 'd', { count: 10 });
      await bus.route('dispatch', read.map((d) => ({ id: d.id, groups: ['gone'] })));
      await bus.read('gone', 'c', { count: 1 });
      expect(await bus.lease('q:gone', 'c', 60_000)).toBe(true);
      await bus.deleteQueue('gone');
      await bus.deleteQueue('gone');
      await expectCode(bus.groupInfo('gone'), 'NOT_FOUND');
      await expectCode(bus.route('dispatch', [{ id: read[0]!.id, groups: ['gone'] }]), 'NOT_FOUND');
      expect(await bus.lease('q:gone', 'other', 60_000)).toBe(true); // its lease went with it
      expect(await bus.length()).toBe(4);
      await bus.ensureQueue('gone');
      const info = await bus.groupInfo('gone');
      expect([info.pending, info.lag]).toEqual([0, 0]);
    });

    it('BUS-22b: queues() lists every queue, from any instance of the bus: not plain groups, not deleted queues', async () => {
      const a = await openBus();
      const b = await openBus();
      await a.ensureGroup('plain', 'earliest');
      await a.ensureQueue('plugin:*:one');
      await b.ensureQueue('plugin:acme:two');
      await a.ensureQueue('plugin:acme:gone');
      await b.deleteQueue('plugin:acme:gone');
      expect((await a.queues!()).sort()).toEqual(['plugin:*:one', 'plugin:acme:two']);
      expect((await b.queues!()).sort()).toEqual(['plugin:*:one', 'plugin:acme:two']);
    });

    it('BUS-28: queueBacklogs gives each queue\'s entries waiting and in flight, each counted up to the cap; null for a plain group or an unknown name', async () => {
      const bus = await openBus();
      await bus.ensureGroup('dispatch', 'earliest');
      await bus.ensureQueue('q1');
      await bus.ensureQueue('q2');
      await bus.publish(makeEvents(6));
      const read = await bus.read('dispatch', 'd', { count: 10 });
      await bus.route('dispatch', read.map((d, i) => ({ id: d.id, groups: i < 5 ? ['q1'] : ['q2'] })));
      expect(await bus.queueBacklogs(['q1', 'q2', 'dispatch', 'nope'], 100)).toEqual([{ waiting: 5, inFlight: 0 }, { waiting: 1, inFlight: 0 }, null, null]);
      const taken = await bus.read('q1', 'c', { count: 2 });
      expect(await bus.queueBacklogs(['q1'], 100)).toEqual([{ waiting: 3, inFlight: 2 }]);
      expect(await bus.queueBacklogs(['q1'], 1)).toEqual([{ waiting: 1, inFlight: 1 }]);
      await bus.ack('q1', [taken[0]!.id]);
      expect(await bus.queueBacklogs(['q1', 'q2'], 100)).toEqual([{ waiting: 3, inFlight: 1 }, { waiting: 1, inFlight: 0 }]);
      expect(await bus.queueBacklogs([], 100)).toEqual([]);
      await expectCode(bus.queueBacklogs(['q1'], 0), 'VALIDATION_FAILED');
      await bus.deleteQueue('q2');
      expect(await bus.queueBacklogs(['q2'], 100)).toEqual([null]);
      // Entries routed after a later one was read (routed late): waiting too.
      await bus.ensureQueue('q3');
      await bus.publish(makeEvents(3));
      const more = await bus.read('dispatch', 'd', { count: 10 });
      await bus.route('dispatch', [{ id: more[2]!.id, groups: ['q3'] }]);
      expect(await bus.read('q3', 'c', { count: 10 })).toHaveLength(1);
      await bus.route('dispatch', more.slice(0, 2).map((d) => ({ id: d.id, groups: ['q3'] })));
      expect(await bus.queueBacklogs(['q3'], 100)).toEqual([{ waiting: 2, inFlight: 1 }]);
      expect(await bus.queueBacklogs(['q3'], 1)).toEqual([{ waiting: 1, inFlight: 1 }]);
    });

    it('BUS-23: a counter is shared by bus instances: add returns the new value, 0 reads it, a new one is 0', async () => {
      const a = await openBus();
      const b = await openBus();
      expect(await a.counter('table')).toBe(0);
      expect(await a.counter('table', 1)).toBe(1);
      expect(await b.counter('table', 2)).toBe(3);
      expect(await a.counter('table')).toBe(3);
      expect(await b.counter('other')).toBe(0);
      await expectCode(a.counter('table', 0.5), 'VALIDATION_FAILED');
    });

    it('BUS-19: pruneConsumers removes idle consumers and the named one, never one holding pending entries', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      await bus.publish(makeEvents(3));
      await bus.read('g', 'busy', { count: 1 });
      await bus.read('g', 'done', { count: 1 }).then((ds) => bus.ack('g', ds.map((d) => d.id)));
      await bus.read('g', 'me', { count: 1 }).then((ds) => bus.ack('g', ds.map((d) => d.id)));
      expect((await bus.groupInfo('g')).consumers.map((c) => c.name).sort()).toEqual(['busy', 'done', 'me']);
      expect(await bus.pruneConsumers('g', { idleMs: 60_000, consumer: 'busy' })).toBe(0);
      expect(await bus.pruneConsumers('g', { idleMs: 60_000, consumer: 'me' })).toBe(1);
      await sleep(20);
      expect(await bus.pruneConsumers('g', { idleMs: 10 })).toBe(1);
      expect((await bus.groupInfo('g')).consumers.map((c) => c.name)).toEqual(['busy']);
      expect((await bus.pending('g')).length).toBe(1);
    });

    it('BUS-3b: the default de-duplication window outlives a relay restart: an event published again seconds later is still dropped', async () => {
      // The outbox's exactly-once claim rests on this window (24 h by default): a relay that crashed
      // after publishing republishes its batch after a restart, seconds or minutes later.
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      const event = makeEvent();
      expect((await bus.publish([event])).ids[0]).not.toBeNull();
      await sleep(1_500);
      expect((await bus.publish([event])).ids).toEqual([null]);
      expect((await bus.read('g', 'c', { count: 10 })).map((d) => d.event.eventId)).toEqual([event.eventId]);
    });

    it('BUS-27: a settled event id is remembered settledDedupeMs more, an unsettled one the whole window; settling never lengthens, nor forgets a copy published after it; a publish read more than half of settledDedupeMs ago is refused (FENCED), nothing appended', async () => {
      const bus = await openBus({ dedupeWindowMs: 60_000, settledDedupeMs: 600 });
      const longer = await openBus({ dedupeWindowMs: 60_000, settledDedupeMs: 30_000 }); // another process, other settings
      await bus.ensureGroup('g', 'earliest');
      const [a, b, c, d] = makeEvents(4) as [EventEnvelope, EventEnvelope, EventEnvelope, EventEnvelope];
      expect((await bus.publish([a, b, d])).ids.every((id) => id !== null)).toBe(true);
      await bus.settle([a.eventId, d.eventId, 'never-published']);
      await longer.settle([d.eventId]); // settling again with a longer time does not lengthen d's
      const mid = await openBus({ dedupeWindowMs: 60_000, settledDedupeMs: 1_200 });
      await mid.settle([d.eventId]); // lapses after d is forgotten and published again (below): must not forget that copy
      // Right after settling they are still remembered: a relay that read them before the mark is not doubled.
      expect((await bus.publish([a, b, d])).ids).toEqual([null, null, null]);
      await sleep(800);
      // The settled ids are forgotten (a copy would now be appended: the bound, by design); b was never settled.
      expect((await bus.publish([b])).ids).toEqual([null]);
      expect((await bus.publish([a, d])).ids.every((id) => id !== null)).toBe(true);
      expect(await bus.length()).toBe(5);
      // The fence: read 400 ms ago, more than half of 600: refused, nothing appended, c stays unknown.
      const refused = await bus.publish([c], { readAt: Date.now() - 400 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isUeeError(refused) ? [refused.code, refused.details?.reason] : refused).toEqual(['FENCED', 'stale']);
      expect(await bus.length()).toBe(5);
      expect((await bus.publish([c], { readAt: Date.now() })).ids[0]).not.toBeNull();
      expect((await bus.read('g', 'c', { count: 10 })).map((x) => x.event.eventId)).toEqual([a, b, d, a, d, c].map((e) => e.eventId));
      await sleep(700);
      // mid's settle of d has lapsed too: it covered the copy published before it, not the one published since.
      expect((await bus.publish([d])).ids).toEqual([null]);
      await expectCode(bus.publish([makeEvent()], { readAt: Number.NaN }), 'VALIDATION_FAILED');
      await expectCode(bus.settle(['']), 'VALIDATION_FAILED');
      await expectCode(openBus({ dedupeWindowMs: 1_000, settledDedupeMs: 2_000 }), 'CONFIG_INVALID');
      expect(await bus.length()).toBe(6);
    });

    it('BUS-14: bad input is rejected with typed errors and nothing is published', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      const { eventId: _, ...noId } = makeEvent();
      await expectCode(bus.publish([makeEvent(), noId as EventEnvelope]), 'VALIDATION_FAILED');
      await expectCode(bus.publish([makeEvent({ eventId: 'x'.repeat(129) })]), 'VALIDATION_FAILED');
      expect(await bus.length()).toBe(0);
      await expectCode(bus.ack('g', ['not-an-id']), 'VALIDATION_FAILED');
      await expectCode(bus.read('g', 'c', { count: 0 }), 'VALIDATION_FAILED');
      await expectCode(bus.ensureGroup(''), 'VALIDATION_FAILED');
      await expectCode(bus.claimStale('g', 'c', { minIdleMs: -1 }), 'VALIDATION_FAILED');
    });

    it('BUS-16: range reads retained entries in order from an id (inclusive), paged, without touching groups', async () => {
      const bus = await openBus();
      await bus.ensureGroup('g', 'earliest');
      const events = makeEvents(5);
      const { ids } = await bus.publish(events);
      expect(typeof bus.range).toBe('function');
      const all = await bus.range!('-', 100);
      expect(all.map((e) => e.id)).toEqual(ids);
      expect(all.map((e) => e.event)).toEqual(events);
      const fromThird = await bus.range!(ids[2]!, 2);
      expect(fromThird.map((e) => e.event.eventId)).toEqual([events[2]!.eventId, events[3]!.eventId]);
      expect((await bus.groupInfo('g')).lag).toBe(5);
      expect((await bus.read('g', 'c', { count: 10 })).length).toBe(5);
      await expectCode(bus.range!('not-an-id', 10), 'VALIDATION_FAILED');
      await expectCode(bus.range!('-', 0), 'VALIDATION_FAILED');
    });

    it('BUS-15: an invalid envelope that got published is never delivered: readers dead-letter it as CORRUPT_DATA', async () => {
      const bus = await openBus();
      await expectCorruptEntryDeadLettered(bus, async () => {
        await bus.publish([{ ...makeEvent(), hop: -1, tenantId: 'not a tenant!' }]);
      });
    });
  });
}
