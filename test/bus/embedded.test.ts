import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedBus } from '../../src/bus/index.js';
import { isUeeError } from '../../src/core/index.js';
import { tempDir } from '../helpers.js';
import { killChild, spawnChild } from '../router/harness.js';
import { busConformance, expectCorruptEntryDeadLettered, makeEvent, makeEvents } from './conformance.js';

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

busConformance('embedded (SQLite file)', (options) => openEmbeddedBus({ path: file, ...(options ? { options } : {}) }));

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

  it('BUS-E4: a file whose plain groups still list pending entries one row each (older UEE) opens with the same pending entries', async () => {
    const before = await openEmbeddedBus({ path: file });
    await before.ensureGroup('g', 'earliest');
    await before.publish(makeEvents(4));
    const read = await before.read('g', 'old', { count: 4 });
    await before.close();
    // Rewrite the runs as the per-entry rows an older UEE wrote.
    const raw = new Database(file);
    raw.exec(`INSERT INTO bus_pending (grp, n, ms, consumer, delivered_at, deliveries)
                SELECT r.grp, e.n, e.ms, r.consumer, r.delivered_at, 3 FROM bus_leased r JOIN bus_entries e ON e.n BETWEEN r.lo AND r.hi;
              DELETE FROM bus_leased;`);
    raw.close();
    const after = await openEmbeddedBus({ path: file });
    try {
      expect((await after.pending('g')).map((p) => [p.id, p.consumer, p.deliveryCount])).toEqual(read.map((d) => [d.id, 'old', 3]));
      expect(await after.ack('g', [read[1]!.id])).toBe(1);
      expect((await after.claimStale('g', 'new', { minIdleMs: 0 })).map((d) => d.id)).toEqual([read[0]!.id, read[2]!.id, read[3]!.id]);
    } finally {
      await after.close();
    }
  });

  it('BUS-E5: an entry routed to queues reads back from each queue as published (the queue read reuses the envelope the group read decoded)', async () => {
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
