import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openEmbeddedBus, type Delivery, type EventBus } from '../../src/bus/index.js';
import { isUeeError, silentLogger, type Logger } from '../../src/core/index.js';
import { entrySeq } from '../../src/bus/shared/options.js';
import { readEvent } from '../../src/store/shared.js';
import { tempDir } from '../helpers.js';
import { killChild, spawnChild } from '../router/harness.js';
import { busConformance, compareIds, expectCorruptEntryDeadLettered, makeEvent, makeEvents } from './conformance.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dir: ReturnType<typeof tempDir> | undefined;
let file = '';
beforeEach(() => {
  dir = tempDir('uee-bus');
  file = join(dir.path, 'uee.db');
});
afterEach(() => {
  dir?.[Symbol.dispose]();
  dir = undefined;
});

/**
 * Runs `fn` with a bus on the test's file and a second, raw connection to it (another process, as
 * far as the bus can tell); both are closed after, and real timers restored.
 */
async function withRawConnection(fn: (bus: EventBus, raw: Database.Database) => Promise<void>): Promise<void> {
  const bus = await openEmbeddedBus({ path: file });
  const raw = new Database(file);
  try {
    await fn(bus, raw);
  } finally {
    vi.useRealTimers();
    raw.close();
    await bus.close();
  }
}

/** Runs `fn` while `raw` holds the file's write lock, and expects it answered without waiting for the lock (the bus waits up to 5 s for one). */
async function whileWriteLocked(raw: Database.Database, fn: () => Promise<void>): Promise<void> {
  raw.exec('BEGIN IMMEDIATE');
  try {
    const started = performance.now();
    await fn();
    expect(performance.now() - started).toBeLessThan(1_000);
  } finally {
    raw.exec('ROLLBACK');
  }
}

busConformance('embedded (SQLite file)', (options) => openEmbeddedBus({ path: file, ...(options ? { options } : {}) }));

/** Publishes `n` events, reads them in group `src` and routes entry `i` into `groupsOf(i)` of the queues `q` and `q2`. */
async function routeIntoQueues(bus: EventBus, n: number, groupsOf: (i: number) => string[]): Promise<void> {
  await bus.publish(makeEvents(n));
  await bus.ensureGroup('src', 'earliest');
  await bus.ensureQueue('q');
  await bus.ensureQueue('q2');
  await bus.route('src', (await bus.read('src', 'd', { count: n })).map((d, i) => ({ id: d.id, groups: groupsOf(i) })));
}

describe('embedded bus specifics', () => {
  it('BUS-E1: a corrupt row in the log becomes a CORRUPT_DATA dead letter and the consumer continues', async () => {
    const bus = await openEmbeddedBus({ path: file });
    try {
      await expectCorruptEntryDeadLettered(bus, () => {
        const raw = new Database(file);
        raw.prepare('INSERT INTO bus_entries (ms, data) VALUES (?, ?)').run(Date.now(), '{"not":"an event"');
        raw.close();
        return Promise.resolve();
      });
    } finally {
      await bus.close();
    }
  });

  it('BUS-E2: shares the store file without touching its tables; ":memory:" works; bad options are CONFIG_INVALID', async () => {
    const store = new Database(file);
    store.exec('CREATE TABLE entity_versions (x TEXT); PRAGMA user_version = 1;');
    store.close();
    const bus = await openEmbeddedBus({ path: file });
    await bus.publish([makeEvent()]);
    await bus.close();
    const check = new Database(file);
    expect(check.pragma('user_version', { simple: true })).toBe(1);
    expect(check.pragma('journal_mode', { simple: true })).toBe('wal');
    check.close();
    const memory = await openEmbeddedBus({ path: ':memory:' });
    expect((await memory.publish([makeEvent()])).ids).toHaveLength(1);
    await memory.close();
    const err = await openEmbeddedBus({ path: file, options: { maxLength: 0 } }).catch((e: unknown) => e);
    expect(isUeeError(err, 'CONFIG_INVALID')).toBe(true);
  });

  it('BUS-E3: a plain group keeps a batch as one pending run; a partial claim, renew or ack changes only the entries it names', async () => {
    const bus = await openEmbeddedBus({ path: file });
    try {
      await bus.ensureGroup('g', 'earliest');
      await bus.publish(makeEvents(10));
      const read = await bus.read('g', 'a', { count: 10 });
      const runs = (): number => {
        const raw = new Database(file);
        const n = (raw.prepare("SELECT count(*) AS c FROM bus_leased WHERE grp = 'g'").get() as { c: number }).c;
        raw.close();
        return n;
      };
      expect(runs()).toBe(1);
      await sleep(30);
      // Entries 3..5 taken over by b (second delivery); the rest stays a's, delivered once.
      await bus.ack('g', [read[0]!.id, read[1]!.id]);
      const claimed = await bus.claimStale('g', 'b', { minIdleMs: 10, count: 3 });
      expect(claimed.map((d) => [d.id, d.deliveryCount])).toEqual(read.slice(2, 5).map((d) => [d.id, 2]));
      expect(await bus.renew('g', 'a', [read[6]!.id, read[2]!.id])).toBe(1);
      const pending = await bus.pending('g');
      expect(pending.map((p) => [p.id, p.consumer, p.deliveryCount])).toEqual(read.slice(2).map((d, i) => [d.id, i < 3 ? 'b' : 'a', i < 3 ? 2 : 1]));
      // Claimed and renewed entries were touched after the others' 30 ms: each is less idle than any other.
      const touched = new Set([...read.slice(2, 5), read[6]!].map((d) => d.id));
      const idle = (mine: boolean): number[] => pending.filter((p) => touched.has(p.id) === mine).map((p) => p.idleMs);
      expect(Math.max(...idle(true))).toBeLessThan(Math.min(...idle(false)));
      expect(await bus.ack('g', read.map((d) => d.id))).toBe(8);
      expect(await bus.pending('g')).toEqual([]);
      expect(runs()).toBe(0);
    } finally {
      await bus.close();
    }
  });

  it('BUS-E4: a file whose groups and queues list pending entries one row each (older UEE) opens with the same pending and unread entries', async () => {
    const before = await openEmbeddedBus({ path: file });
    await before.ensureGroup('g', 'earliest');
    await before.publish(makeEvents(4));
    const read = await before.read('g', 'old', { count: 4 });
    await before.ensureGroup('d', 'earliest');
    await before.ensureQueue('q');
    const routed = await before.read('d', 'c', { count: 4 });
    await before.route('d', [{ id: routed[0]!.id, groups: ['q'] }]);
    await before.read('q', 'w', { count: 10 });
    await before.close();
    // Rewrite the runs as the per-entry rows an older UEE wrote (a queue's pending entry is not in
    // bus_queued there, which held only unread rows); queue entries 2-4 unread, the queue's cursor at
    // entry 3 (an older UEE read queue rows in position order whatever its cursor).
    const raw = new Database(file);
    raw.exec(`INSERT INTO bus_pending (grp, n, ms, consumer, delivered_at, deliveries)
                SELECT r.grp, e.n, e.ms, r.consumer, r.delivered_at, CASE r.grp WHEN 'q' THEN 1 ELSE 3 END FROM bus_leased r JOIN bus_entries e ON e.n BETWEEN r.lo AND r.hi;
              DELETE FROM bus_queued WHERE grp = 'q';
              DELETE FROM bus_leased;
              UPDATE bus_groups SET last_n = last_n + 2 WHERE grp = 'q';
              INSERT INTO bus_queued (grp, n, ms) SELECT 'q', n, ms FROM bus_entries ORDER BY n LIMIT 3 OFFSET 1;`);
    raw.close();
    const after = await openEmbeddedBus({ path: file });
    try {
      expect((await after.pending('g')).map((p) => [p.id, p.consumer, p.deliveryCount])).toEqual(read.map((d) => [d.id, 'old', 3]));
      expect((await after.pending('q')).map((p) => [p.id, p.consumer, p.deliveryCount])).toEqual([[read[0]!.id, 'w', 1]]);
      expect((await after.read('q', 'w', { count: 10 })).map((d) => d.id)).toEqual(read.slice(1).map((d) => d.id));
      expect(await after.ack('q', read.map((d) => d.id))).toBe(4);
      expect((await after.groupInfo('q')).lag).toBe(0);
      expect(await after.ack('g', [read[1]!.id])).toBe(1);
      expect((await after.claimStale('g', 'new', { minIdleMs: 0 })).map((d) => d.id)).toEqual([read[0]!.id, read[2]!.id, read[3]!.id]);
    } finally {
      await after.close();
    }
  });

  it('BUS-E5: an entry routed to queues reads back from each queue as published (each queue read reuses the envelope the group read decoded)', async () => {
    const bus = await openEmbeddedBus({ path: file });
    try {
      await bus.ensureGroup('d', 'earliest');
      await bus.ensureQueue('q1');
      await bus.ensureQueue('q2');
      const events = makeEvents(5);
      await bus.publish(events);
      const read = await bus.read('d', 'c', { count: 5 });
      expect(await bus.route('d', read.map((d, i) => ({ id: d.id, groups: i % 2 === 0 ? ['q1', 'q2'] : ['q1'] })))).toBe(5);
      const q1 = await bus.read('q1', 'c', { count: 10 });
      const q2 = await bus.read('q2', 'c', { count: 10 });
      expect(q1.map((d) => [d.id, d.event, d.deliveryCount])).toEqual(read.map((d, i) => [d.id, events[i], 1]));
      expect(q2.map((d) => [d.id, d.event])).toEqual([0, 2, 4].map((i) => [read[i]!.id, events[i]]));
      // Decoded once: every queue an entry went to gets the group read's envelope, not a parse of its own.
      q1.forEach((d, i) => expect(d.event).toBe(read[i]!.event));
      q2.forEach((d, k) => expect(d.event).toBe(read[2 * k]!.event));
    } finally {
      await bus.close();
    }
  });

  it('BUS-E17: an envelope the store decoded (the outbox relay\'s) and this process published is read as that object, group and queues; any other is parsed; a rolled-back publish keeps nothing', async () => {
    await withRawConnection(async (bus, raw) => {
      await bus.ensureGroup('d', 'earliest');
      await bus.ensureQueue('q');
      // As the relay publishes: the envelope readEvent decoded from the outbox row's text.
      const stored = makeEvent();
      const decoded = readEvent(JSON.stringify(stored), { table: 'outbox' });
      const fresh = makeEvent();
      await bus.publish([decoded, fresh]);
      const [a, b] = await bus.read('d', 'c', { count: 2 });
      expect(a!.event).toBe(decoded);
      expect(a!.text).toBe(JSON.stringify(stored));
      expect(b!.event).not.toBe(fresh);
      expect(b!.event).toEqual(fresh);
      expect(await bus.route('d', [a!, b!].map((d) => ({ id: d.id, groups: ['q'] })))).toBe(2);
      const queued = await bus.read('q', 'w', { count: 2 });
      expect(queued.map((d) => d.event)).toEqual([stored, fresh]);
      expect(queued[0]!.event).toBe(decoded);
      // A publish that fails after appending a decoded envelope keeps none: its position is given to the next entry.
      raw.exec(`CREATE TRIGGER boom BEFORE INSERT ON bus_entries WHEN NEW.data LIKE '%"boom"%' BEGIN SELECT RAISE(ABORT, 'boom'); END`);
      const lost = readEvent(JSON.stringify(makeEvent()), { table: 'outbox' });
      await expect(bus.publish([lost, makeEvent({ type: 'boom' })])).rejects.toThrow();
      raw.exec('DROP TRIGGER boom');
      const next = makeEvent();
      const [published] = (await bus.publish([next])).ids;
      expect(entrySeq(published!)).toBe(entrySeq(b!.id) + 1); // the rolled-back envelope's position
      const [c] = await bus.read('d', 'c', { count: 5 });
      expect(c!.id).toBe(published);
      expect(c!.event).toEqual(next);
    });
  });

  it('BUS-E6: an entry routed to a queue after later ones were read from it is still read, once, and acked like the others', async () => {
    const bus = await openEmbeddedBus({ path: file });
    try {
      await bus.ensureGroup('d', 'earliest');
      await bus.ensureQueue('q');
      await bus.publish(makeEvents(4));
      const [e1, e2, e3, e4] = await bus.read('d', 'c', { count: 4 });
      expect(await bus.route('d', [e1!, e3!].map((d) => ({ id: d.id, groups: ['q'] })))).toBe(2);
      expect((await bus.read('q', 'w', { count: 10 })).map((d) => d.id)).toEqual([e1!.id, e3!.id]);
      // e2 sorts between entries already read from q: routed now, it is unread, not pending.
      expect(await bus.route('d', [{ id: e2!.id, groups: ['q'] }])).toBe(1);
      expect((await bus.groupInfo('q')).lag).toBe(1);
      expect((await bus.read('q', 'w', { count: 10 })).map((d) => d.id)).toEqual([e2!.id]);
      expect(await bus.read('q', 'w', { count: 10 })).toEqual([]);
      expect((await bus.pending('q')).map((p) => [p.id, p.deliveryCount])).toEqual([e1, e2, e3].map((d) => [d!.id, 1]));
      expect(await bus.route('d', [{ id: e4!.id, groups: ['q'] }])).toBe(1);
      expect((await bus.read('q', 'w', { count: 10 })).map((d) => d.id)).toEqual([e4!.id]);
      expect(await bus.ack('q', [e1, e2, e3, e4].map((d) => d!.id))).toBe(4);
      expect(await bus.pending('q')).toEqual([]);
      expect((await bus.groupInfo('q')).lag).toBe(0);
    } finally {
      await bus.close();
    }
  });

  it('BUS-E14: ackAndReadQueues is one transaction: a read that fails rolls back the acks made with it, and nothing is taken as read', async () => {
    const bus = await openEmbeddedBus({ path: file });
    const raw = new Database(file);
    try {
      await routeIntoQueues(bus, 4, (i) => [i < 2 ? 'q' : 'q2']);
      const held = await bus.read('q', 'c1', { count: 2 });
      raw.exec(`CREATE TRIGGER fail_q2 BEFORE INSERT ON bus_leased WHEN NEW.grp = 'q2' BEGIN SELECT RAISE(ABORT, 'injected'); END;`);
      await expect(bus.ackAndReadQueues!('c1', [{ group: 'q', ids: held.map((d) => d.id) }], [{ group: 'q2', count: 10 }])).rejects.toThrow(/injected/);
      expect((await bus.pending('q')).map((p) => p.id)).toEqual(held.map((d) => d.id));
      raw.exec('DROP TRIGGER fail_q2;');
      const out = await bus.ackAndReadQueues!('c1', [{ group: 'q', ids: held.map((d) => d.id) }], [{ group: 'q2', count: 10 }]);
      expect(out.acks).toEqual([{ ok: true, value: 2 }]);
      expect(out.reads.map((o) => o.ok && o.value.length)).toEqual([2]);
      expect(await bus.pending('q')).toEqual([]);
    } finally {
      raw.close();
      await bus.close();
    }
  });

  it('BUS-E15: a route into a queue another process deleted (known to this one as a queue) fails NOT_FOUND and queues nothing: the entry stays pending for the dispatcher', async () => {
    const bus = await openEmbeddedBus({ path: file });
    const other = await openEmbeddedBus({ path: file });
    try {
      await bus.publish(makeEvents(2));
      await bus.ensureGroup('src', 'earliest');
      await bus.ensureQueue('q');
      await bus.ensureQueue('q2');
      const [first, second] = await bus.read('src', 'd', { count: 2 });
      await bus.route('src', [{ id: first!.id, groups: ['q'] }]);
      await other.deleteQueue('q');
      await expect(bus.route('src', [{ id: second!.id, groups: ['q2', 'q'] }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect((await bus.pending('src')).map((p) => p.id)).toEqual([second!.id]);
      expect(await bus.read('q2', 'c', { count: 10 })).toEqual([]);
      await bus.ensureQueue('q');
      expect(await bus.read('q', 'c', { count: 10 })).toEqual([]);
    } finally {
      await other.close();
      await bus.close();
    }
  });

  it('BUS-E7: a read or lease whose transaction rolls back leaves nothing taken as written: the next one registers its process and consumer', async () => {
    const bus = await openEmbeddedBus({ path: file });
    const raw = new Database(file);
    try {
      await routeIntoQueues(bus, 3, () => ['q', 'q2']);
      const names = (sql: string): unknown[] => raw.prepare(sql).pluck().all();
      // SQLite itself fails a write after the process and consumer rows were written in the same
      // transaction: q2's read, after q's (one transaction for both), and the lease after its owner's row
      raw.exec(`CREATE TRIGGER fail_c1 BEFORE INSERT ON bus_leased WHEN NEW.grp = 'q2' BEGIN SELECT RAISE(ABORT, 'injected'); END;
                CREATE TRIGGER fail_o1 BEFORE INSERT ON bus_leases WHEN NEW.owner = 'o1' BEGIN SELECT RAISE(ABORT, 'injected'); END;`);
      await expect(bus.readQueues!('c1', [{ group: 'q', count: 10 }, { group: 'q2', count: 10 }])).rejects.toThrow(/injected/);
      await expect(bus.lease('L', 'o1', 60_000)).rejects.toThrow(/injected/);
      expect(names("SELECT name FROM bus_processes WHERE name IN ('c1', 'o1')")).toEqual([]);
      raw.exec('DROP TRIGGER fail_c1; DROP TRIGGER fail_o1;');
      // another consumer takes the queue's entries: c1's next read finds nothing unread, and still writes what was rolled back
      expect(await bus.read('q', 'c2', { count: 10 })).toHaveLength(3);
      expect(await bus.readQueues!('c1', [{ group: 'q', count: 10 }])).toEqual([{ ok: true, value: [] }]);
      expect(await bus.lease('L', 'o1', 60_000)).toBe(true);
      expect(names("SELECT name FROM bus_processes WHERE name IN ('c1', 'c2', 'o1') ORDER BY name")).toEqual(['c1', 'c2', 'o1']);
      expect(names("SELECT consumer FROM bus_consumers WHERE grp = 'q' ORDER BY consumer")).toEqual(['c1', 'c2']);
    } finally {
      raw.close();
      await bus.close();
    }
  });

  it('BUS-E8: a reading consumer\'s seen_at is written at most once a second, so its idle time is at most that late', async () => {
    const bus = await openEmbeddedBus({ path: file });
    try {
      await bus.publish(makeEvents(3));
      await bus.ensureGroup('src', 'earliest');
      await bus.ensureQueue('q');
      await bus.route('src', (await bus.read('src', 'd', { count: 3 })).map((d) => ({ id: d.id, groups: ['q'] })));
      const idle = async (): Promise<number> => (await bus.groupInfo('q')).consumers.find((c) => c.name === 'c')!.idleMs;
      expect(await bus.read('q', 'c', { count: 1 })).toHaveLength(1);
      await sleep(60);
      // read again within the second: not written, its idle time runs on from the first read
      expect(await bus.read('q', 'c', { count: 1 })).toHaveLength(1);
      expect(await idle()).toBeGreaterThanOrEqual(60);
      await sleep(1_000);
      expect(await bus.read('q', 'c', { count: 1 })).toHaveLength(1);
      expect(await idle()).toBeLessThan(500);
    } finally {
      await bus.close();
    }
  });

  it('BUS-E9: a delivery carries its stored text only when that text is JSON.stringify of its envelope, through the group read and every queue read', async () => {
    const bus = await openEmbeddedBus({ path: file });
    try {
      await bus.ensureGroup('d', 'earliest');
      await bus.ensureQueue('q1');
      await bus.ensureQueue('q2');
      await bus.publish(makeEvents(2));
      // Written behind the bus's back: an envelope with a key the schema strips (the fast check refuses it).
      const raw = new Database(file);
      raw.prepare('INSERT INTO bus_entries (ms, data) VALUES (?, ?)').run(Date.now(), JSON.stringify({ ...makeEvent(), smuggled: { admin: true } }));
      raw.close();
      const read = await bus.read('d', 'c', { count: 10 });
      expect(read).toHaveLength(3);
      expect(await bus.route('d', read.map((d) => ({ id: d.id, groups: ['q1', 'q2'] })))).toBe(3);
      for (const d of [...read, ...(await bus.read('q1', 'c', { count: 10 })), ...(await bus.read('q2', 'c', { count: 10 }))]) {
        expect(d.event).not.toHaveProperty('smuggled');
        if (d.text !== undefined) expect(d.text).toBe(JSON.stringify(d.event));
      }
      // The two published entries do carry it (the input splices it in); the stripped one does not.
      expect(read.map((d) => d.text !== undefined)).toEqual([true, true, false]);
    } finally {
      await bus.close();
    }
  });

  it('BUS-E9b: a queue read takes an entry\'s text with its envelope from the hand-off when this process holds it, else from the log: the same either way', async () => {
    const a = await openEmbeddedBus({ path: file });
    // Another process on the file: its hand-off never held these entries.
    const b = await openEmbeddedBus({ path: file });
    try {
      await a.ensureGroup('d', 'earliest');
      await a.ensureQueue('q1');
      await a.ensureQueue('q2');
      const events = makeEvents(3);
      await a.publish(events);
      const read = await a.read('d', 'c', { count: 10 });
      expect(await a.route('d', read.map((d) => ({ id: d.id, groups: ['q1', 'q2'] })))).toBe(3);
      for (const ds of [await a.read('q1', 'c', { count: 10 }), await b.read('q2', 'c', { count: 10 })]) {
        expect(ds.map((d) => d.event.eventId)).toEqual(events.map((e) => e.eventId));
        expect(ds.map((d) => d.text)).toEqual(events.map((e) => JSON.stringify(e)));
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('BUS-E10: with many queues, retention still keeps the log within its cap plus one trim interval (the number of groups), and cuts only what every queue is done with', async () => {
    const bus = await openEmbeddedBus({ path: file, options: { maxLength: 10 } });
    try {
      await bus.ensureGroup('d', 'earliest');
      const queues = Array.from({ length: 40 }, (_, i) => `q${i}`);
      for (const q of queues) await bus.ensureQueue(q);
      /** Routes what was published to every queue; the queues in `reading` read and ack it. */
      const drain = async (reading: readonly string[]): Promise<void> => {
        const read = await bus.read('d', 'c', { count: 100 });
        await bus.route('d', read.map((d) => ({ id: d.id, groups: queues })));
        for (const q of reading) await bus.ack(q, (await bus.read(q, 'c', { count: 100 })).map((d) => d.id));
      };
      // q0 holds back: the log keeps every entry it has not read, whatever the cap.
      const held = makeEvents(100);
      for (let i = 0; i < held.length; i += 10) {
        await bus.publish(held.slice(i, i + 10));
        await drain(queues.slice(1));
      }
      expect(await bus.length()).toBe(100);
      expect((await bus.read('q0', 'c', { count: 1_000 })).map((d) => d.event.eventId)).toEqual(held.map((e) => e.eventId));
      await bus.ack('q0', (await bus.claimStale('q0', 'c', { minIdleMs: 0, count: 1_000 })).map((d) => d.id));
      // Caught up: retention resumes at its next trim (within 41 appends: one per group), and from then
      // on the log stays within 10 + 41 + one publish of 10.
      const lengths: number[] = [];
      for (let i = 0; i < 30; i++) {
        await bus.publish(makeEvents(10));
        await drain(queues);
        lengths.push(await bus.length());
      }
      expect(Math.max(...lengths.slice(5))).toBeLessThanOrEqual(10 + 41 + 10);
      expect(Math.min(...lengths)).toBeGreaterThanOrEqual(10);
    } finally {
      await bus.close();
    }
  });

  it('BUS-E11: renewLeases renews, in one transaction, exactly the named leases still the owner\'s, and returns those', async () => {
    await withRawConnection(async (bus, raw) => {
      const expiry = (name: string): number | undefined => (raw.prepare('SELECT expires_at FROM bus_leases WHERE name = ?').pluck().get(name) as number | undefined);
      expect(await bus.lease('a', 'me', 40)).toBe(true);
      expect(await bus.lease('b', 'me', 40)).toBe(true);
      expect(await bus.lease('c', 'me', 40)).toBe(true);
      expect(await bus.lease('theirs', 'other', 60_000)).toBe(true);
      await bus.releaseLease('c', 'me');
      await sleep(60); // a and b have expired on the bus; nobody took them: still "me"'s, as lease() would renew them
      expect(await bus.lease('b', 'other', 60_000)).toBe(true); // b is another's now
      const before = Date.now();
      expect(await bus.renewLeases!('me', 60_000, ['a', 'b', 'c', 'theirs'])).toEqual(['a']);
      expect(expiry('a')).toBeGreaterThanOrEqual(before + 60_000);
      expect(await bus.lease('a', 'other', 60_000)).toBe(false); // renewed: not taken
      expect(expiry('c')).toBeUndefined(); // released: not brought back
      expect(raw.prepare("SELECT owner FROM bus_leases WHERE name IN ('b', 'theirs') ORDER BY name").pluck().all()).toEqual(['other', 'other']);
      expect(await bus.renewLeases!('me', 60_000, [])).toEqual([]);
      await expect(bus.renewLeases!('me', 60_000, [''])).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });
  });

  it('BUS-E12: idle queues\' periodic claims and prunes take no write lock: a claim that finds nothing held, by a consumer written in the last minute, and a prune that finds no one idle', async () => {
    await withRawConnection(async (bus, raw) => {
      await bus.ensureQueue('q');
      await bus.ensureQueue('busy');
      await bus.publish(makeEvents(1));
      await bus.ensureGroup('src', 'earliest');
      await bus.route('src', (await bus.read('src', 'd', { count: 1 })).map((d) => ({ id: d.id, groups: ['busy'] })));
      expect(await bus.claimStale('q', 'c1', { minIdleMs: 0 })).toEqual([]); // c1's first claim writes it
      expect(await bus.read('busy', 'c2', { count: 1 })).toHaveLength(1); // held in "busy"
      // Another process holds the write lock.
      await whileWriteLocked(raw, async () => {
        expect(await bus.claimStale('q', 'c1', { minIdleMs: 0 })).toEqual([]);
        expect(await bus.pruneConsumers('q', { idleMs: 60_000 })).toBe(0);
        // Still answers what it must: a missing group, and (once the lock is free, below) what is held.
        await expect(bus.claimStale('nope', 'c1', { minIdleMs: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      });
      expect(await bus.claimStale('busy', 'c1', { minIdleMs: 0 })).toHaveLength(1);
      expect(await bus.pruneConsumers('busy', { idleMs: 0, consumer: 'c2' })).toBe(1); // c2 holds nothing now
      // A minute on, an idle claim writes its consumer's seen_at again (its idle time is at most that late).
      const seenAt = (): number => raw.prepare("SELECT seen_at FROM bus_consumers WHERE grp = 'q' AND consumer = 'c1'").pluck().get() as number;
      const seen = seenAt();
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 30_000 });
      expect(await bus.claimStale('q', 'c1', { minIdleMs: 0 })).toEqual([]);
      expect(seenAt()).toBe(seen);
      vi.setSystemTime(Date.now() + 31_000);
      expect(await bus.claimStale('q', 'c1', { minIdleMs: 0 })).toEqual([]);
      expect(seenAt()).toBe(Date.now());
    });
  });

  it('BUS-E13: asking for a lease another live owner holds takes no write lock (a process sharing the file asks for every queue\'s lease); a lapsed lease is still taken', async () => {
    await withRawConnection(async (bus, raw) => {
      expect(await bus.lease('q-lease', 'owner-a', 60_000)).toBe(true);
      // Another process holds the write lock.
      await whileWriteLocked(raw, async () => {
        expect(await bus.lease('q-lease', 'owner-b', 60_000)).toBe(false);
      });
      // Its owner renews it; once it lapses, another takes it.
      expect(await bus.lease('q-lease', 'owner-a', 60_000)).toBe(true);
      expect(await bus.lease('q-lease', 'owner-b', 60_000)).toBe(false);
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 61_000 });
      expect(await bus.lease('q-lease', 'owner-b', 60_000)).toBe(true);
      expect(await bus.lease('q-lease', 'owner-a', 60_000)).toBe(false);
    });
  });

  it('BUS-E16: an entry routed below a queue\'s cursor is read, however the cursor got there — a group turned into a queue, a queue created after the log moved on, another process\'s read, an older UEE\'s read, a file from before the route mark', async () => {
    const bus = await openEmbeddedBus({ path: file });
    const other = await openEmbeddedBus({ path: file });
    const raw = new Database(file);
    await bus.ensureGroup('src', 'earliest');
    await other.ensureGroup('src2', 'earliest');
    /** Publishes 8 more events; this process's `src` reads them. */
    const eight = async (): Promise<Delivery[]> => {
      await bus.publish(makeEvents(8));
      return bus.read('src', 'd', { count: 8 });
    };
    /** Routes `entry` into `q` (from `src`) and expects `q`'s next read to give exactly it. */
    const readsBack = async (q: string, entry: Delivery): Promise<void> => {
      expect(await bus.route('src', [{ id: entry.id, groups: [q] }])).toBe(1);
      expect((await bus.read(q, 'w', { count: 10 })).map((d) => d.id)).toEqual([entry.id]);
    };
    try {
      // Each case starts with every earlier cursor below its own: a mark not raised for it fails it.
      // A plain group that read up to a[3] and acked a[2], turned into a queue: its unread tail is
      // queued, its cursor kept.
      const a = await eight();
      await bus.ensureGroup('plain', 'earliest');
      await bus.read('plain', 'w', { count: 4 });
      expect(await bus.ack('plain', [a[2]!.id])).toBe(1);
      await bus.ensureQueue('plain');
      expect((await bus.read('plain', 'w', { count: 10 })).map((d) => d.id)).toEqual(a.slice(4).map((d) => d.id));
      await readsBack('plain', a[2]!);
      // A queue created now: its cursor is the log's end, above the entries read before.
      const b = await eight();
      await bus.ensureQueue('created');
      await readsBack('created', b[1]!);
      // Another process routes c[6] into q and reads it: this process routes c[5] there after.
      await bus.ensureQueue('q');
      const c = await eight();
      const seen = await other.read('src2', 'o', { count: 100 });
      const c6 = seen.find((d) => d.id === c[6]!.id)!;
      await other.route('src2', [{ id: c6.id, groups: ['q'] }]);
      expect((await other.read('q', 'o', { count: 10 })).map((d) => d.id)).toEqual([c6.id]);
      await readsBack('q', c[5]!);
      // A process of an older UEE (no route mark in its code) routes d[6] into q and reads it: its
      // statements, as it runs them, move q's cursor without raising the mark. This process routes d[5] there after.
      const d = await eight();
      raw.prepare('INSERT INTO bus_queued (grp, n, ms) VALUES (?, ?, ?)').run('q', entrySeq(d[6]!.id), Number(d[6]!.id.split('-')[0]));
      raw.prepare('UPDATE bus_groups SET last_ms = ?, last_n = ? WHERE grp = ?').run(Number(d[6]!.id.split('-')[0]), entrySeq(d[6]!.id), 'q');
      raw.prepare('DELETE FROM bus_queued WHERE grp = ? AND n = ?').run('q', entrySeq(d[6]!.id));
      await readsBack('q', d[5]!);
      // ... and makes a queue at the log's end, and turns a plain group that read everything into one.
      const e = await eight();
      const seqMs = (x: Delivery): [number, number] => [Number(x.id.split('-')[0]), entrySeq(x.id)];
      raw.prepare('INSERT INTO bus_groups (grp, last_ms, last_n, routed) VALUES (?, ?, ?, 1)').run('old-made', ...seqMs(e[7]!));
      await readsBack('old-made', e[2]!);
      const f = await eight();
      raw.prepare('INSERT INTO bus_groups (grp, last_ms, last_n) VALUES (?, ?, ?)').run('old-turned', ...seqMs(f[7]!));
      raw.prepare('UPDATE bus_groups SET routed = 1 WHERE grp = ?').run('old-turned');
      await readsBack('old-turned', f[3]!);
      // A file from before the mark: set at open where its queues' cursors and rows are.
      await other.close();
      await bus.close();
      raw.exec('DROP TABLE bus_route_mark');
      const reopened = await openEmbeddedBus({ path: file });
      try {
        expect(raw.prepare('SELECT n FROM bus_route_mark').pluck().get()).toBe(entrySeq(f[7]!.id));
        expect(await reopened.route('src', [{ id: f[4]!.id, groups: ['old-turned'] }])).toBe(1);
        expect((await reopened.read('old-turned', 'w', { count: 10 })).map((x) => x.id)).toEqual([f[4]!.id]);
      } finally {
        await reopened.close();
      }
    } finally {
      raw.close();
      await other.close();
      await bus.close();
    }
  });

  it('BUS-E19: dead letters of a file from before their tenant column are listed by tenant and counted; an older UEE\'s letter gets its tenant, its trim is counted', async () => {
    const first = await openEmbeddedBus({ path: file, options: { maxDeadLettersPerTenant: 3 } });
    await first.ensureGroup('g', 'earliest');
    const events = [makeEvent({ tenantId: 'a' }), makeEvent({ tenantId: 'b' }), makeEvent({ tenantId: 'a' }), makeEvent({ tenantId: null })];
    await first.publish(events);
    for (const d of await first.read('g', 'c', { count: 4 })) await first.deadLetter('g', d, { code: 'PLUGIN_ERROR', message: 'x' });
    await first.close();
    // The file as a UEE before the tenant column left it.
    const raw = new Database(file);
    raw.exec('DROP TRIGGER bus_dead_counted; DROP TRIGGER bus_dead_uncounted; DROP TRIGGER bus_dead_recounted; DROP TRIGGER bus_dead_tenant_of_older; DROP INDEX bus_dead_by_tenant; DROP TABLE bus_dead_counts; ALTER TABLE bus_dead DROP COLUMN tenant;');
    const bus = await openEmbeddedBus({ path: file, options: { maxDeadLettersPerTenant: 3 } });
    try {
      const ids = async (tenantId: string | null): Promise<string[]> => (await bus.deadLetters({ tenantId })).map((l) => l.event.eventId);
      expect(await ids('a')).toEqual([events[0]!.eventId, events[2]!.eventId]);
      expect(await ids('b')).toEqual([events[1]!.eventId]);
      expect(await ids(null)).toEqual([events[3]!.eventId]);
      const counts = (): unknown => raw.prepare('SELECT tenant, n FROM bus_dead_counts ORDER BY tenant').all();
      expect(counts()).toEqual([{ tenant: '', n: 1 }, { tenant: '*', n: 4 }, { tenant: 'a', n: 2 }, { tenant: 'b', n: 1 }]);
      // An older UEE's letter (no tenant named) and its trim by position alone.
      const data = raw.prepare('SELECT data FROM bus_dead WHERE tenant = ?').pluck().get('b') as string;
      raw.prepare('INSERT INTO bus_dead (ms, grp, data) VALUES (?, ?, ?)').run(Date.now(), 'g', data);
      expect(counts()).toEqual([{ tenant: '', n: 1 }, { tenant: '*', n: 5 }, { tenant: 'a', n: 2 }, { tenant: 'b', n: 2 }]);
      raw.prepare('DELETE FROM bus_dead WHERE n <= (SELECT min(n) FROM bus_dead)').run();
      expect(counts()).toEqual([{ tenant: '', n: 1 }, { tenant: '*', n: 4 }, { tenant: 'a', n: 1 }, { tenant: 'b', n: 2 }]);
      // Bounds apply on the counts as kept: b's fourth letter trims b's oldest only.
      await bus.publish([makeEvent({ tenantId: 'b' }), makeEvent({ tenantId: 'b' })]);
      for (const d of await bus.read('g', 'c', { count: 2 })) await bus.deadLetter('g', d, { code: 'PLUGIN_ERROR', message: 'x' });
      expect(await bus.deadLetters({ tenantId: 'b' })).toHaveLength(3);
      expect(await ids('a')).toEqual([events[2]!.eventId]);
    } finally {
      raw.close();
      await bus.close();
    }
  });

  it('BUS-E-DEDUPE-1: the de-duplication rows are bounded by what was published lately: settled ids lapse settledDedupeMs after their settle and are purged, only the never-settled stay the whole window', async () => {
    const bus = await openEmbeddedBus({ path: file, options: { dedupeWindowMs: 3_600_000, settledDedupeMs: 300 } });
    const raw = new Database(file, { readonly: true });
    const rows = (): number => (raw.prepare('SELECT count(*) AS n FROM bus_dedupe').get() as { n: number }).n;
    try {
      // As the outbox relay does: batches of 500, each settled once published (and marked).
      for (let i = 0; i < 8; i++) {
        const batch = makeEvents(500);
        await bus.publish(batch, { readAt: Date.now() });
        await bus.settle(batch.map((e) => e.eventId));
      }
      const unsettled = makeEvents(10); // a relay that died before marking these
      await bus.publish(unsettled);
      await sleep(400);
      // The next purge (every 5,000 appends) drops the lapsed rows: 2,000 more appends reach it.
      await bus.publish(makeEvents(2_000));
      expect(rows()).toBe(2_010);
      expect((await bus.publish(unsettled)).ids.every((id) => id === null)).toBe(true);
      expect(await bus.length()).toBe(6_010);
    } finally {
      raw.close();
      await bus.close();
    }
  });

  it('BUS-E-OVERFLOW-1: a queue nobody reads no longer holds the log: past maxQueueLength its oldest go as QUEUE_OVERFLOW dead letters, retention moves on, and each entry is queued, pending or one dead letter', async () => {
    const warnings: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
    const logger: Logger = { ...silentLogger, warn: (msg, fields) => void warnings.push({ msg, fields }), child: () => logger };
    const bus = await openEmbeddedBus({ path: file, options: { maxLength: 100, maxQueueLength: 50 }, logger });
    try {
      await bus.ensureGroup('dispatch', 'earliest');
      await bus.ensureGroup('plain', 'earliest');
      await bus.ensureQueue('stuck');
      const routed: string[] = [];
      const lengths: number[] = [];
      for (let i = 0; i < 2_000; i += 50) {
        await bus.publish(makeEvents(50));
        const read = await bus.read('dispatch', 'd', { count: 100 });
        await bus.route('dispatch', read.map((d) => ({ id: d.id, groups: ['stuck'] })));
        routed.push(...read.map((d) => d.id));
        // A plain group that keeps up: it holds nothing back.
        await bus.ack('plain', (await bus.read('plain', 'c', { count: 100 })).map((d) => d.id));
        expect((await bus.groupInfo('stuck')).lag).toBe(Math.min(50, routed.length));
        lengths.push(await bus.length());
      }
      expect(routed).toHaveLength(2_000);
      // The log stays within its cap plus a few batches: without the bound it held all 2,000.
      expect(Math.max(...lengths)).toBeLessThanOrEqual(100 + 3 * 50);
      // Every entry once: 1,950 dead letters (the oldest), the newest 50 still queued, none pending.
      const dead = await bus.deadLetters({ group: 'stuck', count: 10_000 });
      expect(dead.every((l) => l.error.code === 'QUEUE_OVERFLOW' && l.group === 'stuck' && l.attempts.length === 0)).toBe(true);
      expect(await bus.pending('stuck', { count: 10_000 })).toEqual([]);
      const queued = (await bus.read('stuck', 'c', { count: 1_000 })).map((d) => d.id);
      expect(queued).toEqual(routed.slice(-50));
      expect(dead.map((l) => l.originalId)).toEqual(routed.slice(0, -50));
      expect(new Set([...dead.map((l) => l.originalId), ...queued]).size).toBe(2_000);
      // Logged once (at most once a minute), naming the queue.
      const logged = warnings.filter((w) => w.msg.includes('maxQueueLength'));
      expect(logged).toHaveLength(1);
      expect(logged[0]!.fields).toMatchObject({ group: 'stuck', maxQueueLength: 50 });
    } finally {
      await bus.close();
    }
  });

  it('BUS-E-OVERFLOW-2: with its queue read by this process and another, and routed into by both, no entry under maxQueueLength is dead-lettered: a backlog counted before another\'s read is counted again; this process\'s own reads keep its count; a failed route counts nothing', async () => {
    const a = await openEmbeddedBus({ path: file, options: { maxQueueLength: 20 } });
    const b = await openEmbeddedBus({ path: file, options: { maxQueueLength: 20 } });
    try {
      await a.ensureGroup('d', 'earliest');
      await a.ensureQueue('q');
      const routed: string[] = [];
      const held: string[] = [];
      /** `by` publishes and routes `n` events into q; q then holds exactly its cap unread. */
      const route = async (by: EventBus, n: number): Promise<void> => {
        await by.publish(makeEvents(n));
        const read = await by.read('d', 'x', { count: 100 });
        await by.route('d', read.map((d) => ({ id: d.id, groups: ['q'] })));
        routed.push(...read.map((d) => d.id));
        expect((await a.groupInfo('q')).lag).toBe(20);
      };
      const take = async (by: EventBus): Promise<void> => {
        held.push(...(await by.read('q', 'r', { count: 5 })).map((d) => d.id));
      };
      await route(a, 30);
      await take(a); // this process's own read
      await route(a, 5);
      await take(b); // another process's read: the cursor moved under a's count
      await route(a, 5);
      await route(a, 10);
      await route(b, 5); // another process's overflow: rows of a's count went
      await route(a, 5);
      // A route that fails (into a queue another process deleted) counts nothing it put in: with room
      // for 5 again, a's next route of the same 5 dead-letters none.
      await take(a);
      await a.ensureQueue('gone');
      await b.deleteQueue('gone');
      await a.publish(makeEvents(5));
      const again = await a.read('d', 'x', { count: 100 });
      await expect(a.route('d', again.map((d) => ({ id: d.id, groups: ['q', 'gone'] })))).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect((await a.groupInfo('q')).lag).toBe(15);
      await a.route('d', again.map((d) => ({ id: d.id, groups: ['q'] })));
      routed.push(...again.map((d) => d.id));
      expect((await a.groupInfo('q')).lag).toBe(20);
      const queued = (await a.read('q', 'c', { count: 100 })).map((d) => d.id);
      expect(queued).toEqual(routed.slice(-20));
      expect((await a.pending('q')).map((p) => p.id).sort(compareIds)).toEqual(queued.concat(held).sort(compareIds));
      const dead = (await a.deadLetters({ group: 'q', count: 1_000 })).map((l) => l.originalId);
      // The oldest undelivered each time: everything neither read early nor among the newest 20.
      expect(dead.sort(compareIds)).toEqual(routed.filter((id) => !held.includes(id) && !queued.includes(id)).sort(compareIds));
      expect(dead).toHaveLength(65 - 15 - 20);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('BUS-E-OVERFLOW-3: entries routed below a queue\'s cursor and read late are not counted as still there: the next route past the room dead-letters none under maxQueueLength', async () => {
    const bus = await openEmbeddedBus({ path: file, options: { maxQueueLength: 20 } });
    try {
      await bus.ensureGroup('d', 'earliest');
      await bus.ensureQueue('q');
      // 20 entries the dispatcher holds back, then one routed into q past its room and read: counted, room 20.
      await bus.publish(makeEvents(20));
      const old = await bus.read('d', 'x', { count: 20 });
      await bus.publish(makeEvents(30));
      const read = await bus.read('d', 'x', { count: 30 });
      await bus.ack('d', read.slice(0, 29).map((d) => d.id));
      await bus.route('d', [{ id: read[29]!.id, groups: ['q'] }]);
      await bus.read('q', 'w', { count: 10 });
      // The 20 routed now, below q's cursor (within its room), and read late: the cursor stays.
      await bus.route('d', old.map((d) => ({ id: d.id, groups: ['q'] })));
      expect((await bus.read('q', 'w', { count: 100 })).map((d) => d.id)).toEqual(old.map((d) => d.id));
      // One more: the queue holds one, no dead letter.
      await bus.publish(makeEvents(1));
      const last = await bus.read('d', 'x', { count: 10 });
      await bus.route('d', last.map((d) => ({ id: d.id, groups: ['q'] })));
      expect(await bus.deadLetters({ group: 'q' })).toEqual([]);
      expect((await bus.groupInfo('q')).lag).toBe(1);
    } finally {
      await bus.close();
    }
  });

  it('BUS-E-CRASH-1: a lease and entries held by a process that crashed are taken over at once, a live holder keeps them', async () => {
    const bus = await openEmbeddedBus({ path: file });
    const group = 'g-crash';
    try {
      await bus.ensureGroup(group, 'earliest');
      await bus.publish([makeEvent({ type: 'ItemOne' }), makeEvent({ type: 'ItemTwo' }), makeEvent({ type: 'ItemThree' })]);
      const child = await spawnChild(join(import.meta.dirname, 'holder-child.ts'), { file, group, lease: 'q-crash' }, 'holding 3');
      try {
        // Alive: its lease (10 min) and its entries (just read) stay its own.
        expect(await bus.lease('q-crash', 'parent-owner', 600_000)).toBe(false);
        expect(await bus.claimStale(group, 'parent-consumer', { minIdleMs: 600_000 })).toEqual([]);
      } finally {
        await killChild(child);
      }
      // Crashed (SIGKILL): nothing waits for the 10-minute TTL or claim threshold.
      expect(await bus.lease('q-crash', 'parent-owner', 600_000)).toBe(true);
      const claimed = await bus.claimStale(group, 'parent-consumer', { minIdleMs: 600_000 });
      expect(claimed.map((d) => d.event.type)).toEqual(['ItemOne', 'ItemTwo', 'ItemThree']);
      expect(claimed.every((d) => d.deliveryCount === 2)).toBe(true);
      // This process's own names are never taken for gone.
      expect(await bus.lease('q-crash', 'another-owner', 600_000)).toBe(false);
    } finally {
      await bus.close();
    }
  });
});
