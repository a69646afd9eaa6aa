// RECORDS-THREAD: a file-backed SQLite store keeps its invocation records in its records file,
// written by the records thread; the recorder (InvocationRecords) buffers them off the delivery path.
// What must hold whatever thread writes them: flush() settles only once everything recorded before
// it is readable, every record is either written or counted dropped, close loses nothing appended
// before it, a tenant reads only its own records, and records an older UEE kept in the store file
// stay readable.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { InvocationRecords } from '../../src/app/index.js';
import { openSqliteStore, type EntityStore, type InvocationRecordDraft, type InvocationRecordStore } from '../../src/store/index.js';
import { normaliseInvocationQuery } from '../../src/store/invocations.js';
import { INVOCATIONS_DDL, RECORDS_GROUP_SIZE, RECORDS_PAGE_SIZE, sqliteInvocationQuery } from '../../src/store/sqlite/invocations-sql.js';
import { recordsPathOf } from '../../src/store/sqlite/records-thread.js';
import { tempDir, tenantCtx } from '../helpers.js';
import { appendStored, draft } from './invocations-conformance.js';

const dir = tempDir('uee-records');
afterAll(() => dir[Symbol.dispose]());
let n = 0;
const A = tenantCtx('acme');
const B = tenantCtx('globex');

/** A file-backed store with tenants acme and globex; `recordsGroupMs` as given (the default's otherwise). */
async function fileStore(recordsGroupMs?: number): Promise<{ store: EntityStore; path: string }> {
  const path = join(dir.path, `store-${n++}.db`);
  const store = await openSqliteStore({ path, ...(recordsGroupMs === undefined ? {} : { recordsGroupMs }) });
  await store.tenants.create('acme');
  await store.tenants.create('globex');
  return { store, path };
}

async function count(store: EntityStore, ctx = A): Promise<number> {
  return (await store.invocations.query(ctx, { limit: 1000 })).items.length;
}

const at = (i: number): string => new Date(Date.UTC(2026, 11, 1, 6, 0, 0, i)).toISOString();

describe('invocation records on a file-backed SQLite store', () => {
  it('RECORDS-THREAD-1 flush() settles only once every record recorded before it is readable, in two batches and a partial one', async () => {
    const { store } = await fileStore();
    const records = new InvocationRecords(store.invocations, { retentionMs: 3_600_000, flushMs: 60_000, batchSize: 100, logger: silentLogger });
    try {
      for (let i = 0; i < 250; i++) records.record(draft('acme', at(i)));
      await records.flush();
      expect(await count(store)).toBe(250);
      expect(records.written).toBe(250);
      expect(records.dropped).toBe(0);
      // Recorded after that flush: the next flush waits for them too.
      for (let i = 0; i < 3; i++) records.record(draft('acme', at(300 + i)));
      await records.flush();
      expect(await count(store)).toBe(253);
    } finally {
      await records.close();
      await store.close();
    }
  });

  it('RECORDS-THREAD-2 records live in the records file beside the store file, and a tenant reads only its own', async () => {
    const { store, path } = await fileStore();
    try {
      await appendStored(store, [draft('acme', at(1)), draft('globex', at(2)), draft(null, at(3))]);
      expect(existsSync(recordsPathOf(path))).toBe(true);
      expect(recordsPathOf(path)).toBe(join(dir.path, `store-${n - 1}.records.db`));
      const acme = (await store.invocations.query(A)).items;
      expect(acme.map((r) => r.tenantId)).toEqual(['acme']);
      expect((await store.invocations.query(B)).items.map((r) => r.tenantId)).toEqual(['globex']);
      expect((await store.invocations.query(tenantCtx(null))).items.map((r) => r.tenantId)).toEqual([null]);
      // Asking for another tenant's event by id finds nothing.
      expect((await store.invocations.query(B, { eventId: acme[0]!.event.eventId })).items).toEqual([]);
      const main = new Database(path, { readonly: true });
      try {
        expect(main.prepare("SELECT name FROM sqlite_master WHERE name = 'invocations'").get()).toBeUndefined();
      } finally {
        main.close();
      }
    } finally {
      await store.close();
    }
  });

  it('RECORDS-THREAD-10 a new records file is made of 16 KiB pages (fewer WAL frames per record); a file made before keeps its own and its records', async () => {
    const pageSize = (file: string): number => {
      const db = new Database(file, { readonly: true });
      try {
        return db.pragma('page_size', { simple: true }) as number;
      } finally {
        db.close();
      }
    };
    const { store, path } = await fileStore();
    try {
      await store.invocations.append([draft('acme', at(1))]);
      expect(pageSize(recordsPathOf(path))).toBe(RECORDS_PAGE_SIZE);
    } finally {
      await store.close();
    }
    // A records file of 4 KiB pages, as an older UEE made it: opened as it is, still read and written.
    const older = join(dir.path, `store-${n++}.db`);
    const file = new Database(recordsPathOf(older));
    file.pragma('journal_mode = WAL');
    file.exec(INVOCATIONS_DDL);
    file.close();
    const reopened = await openSqliteStore({ path: older });
    try {
      await reopened.tenants.create('acme');
      await appendStored(reopened, [draft('acme', at(2))]);
      expect(await count(reopened)).toBe(1);
      expect(pageSize(recordsPathOf(older))).toBe(4096);
    } finally {
      await reopened.close();
    }
  });

  it('RECORDS-THREAD-3 closing the store writes every record appended before close (not awaited), and they read back after reopening', async () => {
    const { store, path } = await fileStore();
    const appended = store.invocations.append(Array.from({ length: 300 }, (_, i) => draft('acme', at(i))));
    await store.close();
    await appended;
    await expect(store.invocations.append([draft('acme', at(999))])).rejects.toMatchObject({ code: 'CLOSED' });
    const again = await openSqliteStore({ path });
    try {
      expect(await count(again)).toBe(300);
    } finally {
      await again.close();
    }
  });

  it('RECORDS-THREAD-4 closing the recorder then the store (the app shutdown order) keeps what was only buffered', async () => {
    const { store, path } = await fileStore();
    const records = new InvocationRecords(store.invocations, { retentionMs: 3_600_000, flushMs: 60_000, batchSize: 1000, logger: silentLogger });
    for (let i = 0; i < 40; i++) records.record(draft('acme', at(i)));
    await records.close();
    await store.close();
    const again = await openSqliteStore({ path });
    try {
      expect(await count(again)).toBe(40);
    } finally {
      await again.close();
    }
  });

  it('RECORDS-THREAD-5 retention runs in the thread, after what it took before: older records go, newer stay, counted', async () => {
    const { store } = await fileStore(60_000);
    try {
      // Taken, not flushed: the purge asked after them still finds them.
      await store.invocations.append([draft('acme', '2026-11-01T00:00:00.000Z'), draft('globex', '2026-11-02T00:00:00.000Z'), draft('acme', '2026-12-01T00:00:00.000Z')]);
      expect(await store.invocations.purgeBefore('2026-11-15T00:00:00.000Z')).toBe(2);
      expect(await count(store)).toBe(1);
      expect(await count(store, B)).toBe(0);
      await expect(store.invocations.purgeBefore('not a time')).rejects.toBeTruthy();
    } finally {
      await store.close();
    }
  });

  it('RECORDS-THREAD-6 records an older UEE kept in the store file are moved to the records file on open', async () => {
    const { store, path } = await fileStore();
    await store.close();
    const old = new Database(path);
    const { INVOCATIONS_DDL } = await import('../../src/store/sqlite/invocations-sql.js');
    old.exec(INVOCATIONS_DDL);
    const legacy = { ...draft('acme', at(5)), recordId: '0193c7a0-0000-7000-8000-000000000001' };
    old
      .prepare('INSERT INTO invocations (tenant_key, record_id, at, event_id, correlation_id, entity_id, plugin_name, plugin_id, outcome, experiment_id, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run('acme', legacy.recordId, legacy.at, legacy.event.eventId, legacy.event.correlationId, legacy.event.entityId ?? null, legacy.plugin.name, legacy.plugin.id, legacy.outcome, null, JSON.stringify(legacy));
    old.close();
    const again = await openSqliteStore({ path });
    try {
      expect((await again.invocations.query(A)).items.map((r) => r.recordId)).toEqual([legacy.recordId]);
    } finally {
      await again.close();
    }
    const main = new Database(path, { readonly: true });
    expect(main.prepare("SELECT name FROM sqlite_master WHERE name = 'invocations'").get()).toBeUndefined();
    main.close();
  });

  it('RECORDS-THREAD-9 a records file with the tenant-led indexes is moved to the id-led ones on open, and every lookup is answered from an index, newest first without a sort', async () => {
    const { store, path } = await fileStore();
    await store.close();
    // The layout before 2026-12-04: every lookup index led by the tenant key.
    const old = new Database(recordsPathOf(path));
    old.exec(`DROP INDEX invocations_event; DROP INDEX invocations_correlation; DROP INDEX invocations_entity;
      CREATE INDEX invocations_by_event ON invocations (tenant_key, event_id, record_id);
      CREATE INDEX invocations_by_correlation ON invocations (tenant_key, correlation_id, record_id);
      CREATE INDEX invocations_by_entity ON invocations (tenant_key, entity_id, record_id) WHERE entity_id IS NOT NULL;`);
    old.close();
    const again = await openSqliteStore({ path });
    const mine = draft('acme', at(7), { event: { eventId: 'ev-moved', type: 'TaskCreated', correlationId: 'corr-moved', causationId: null, hop: 0, entityId: 'task-moved', entityTypeId: 'Task' } });
    try {
      await appendStored(again, [mine, draft('globex', at(8), { event: mine.event })]);
      await expect.poll(() => count(again), { timeout: 5000 }).toBe(1);
      for (const q of [{ eventId: 'ev-moved' }, { correlationId: 'corr-moved' }, { entityId: 'task-moved' }]) {
        expect((await again.invocations.query(A, q)).items.map((r) => [r.tenantId, r.event.eventId])).toEqual([['acme', 'ev-moved']]);
      }
    } finally {
      await again.close();
    }
    const db = new Database(recordsPathOf(path), { readonly: true });
    try {
      const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'invocations' AND sql IS NOT NULL ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
      expect(indexes).toEqual(['invocations_by_at', 'invocations_by_experiment', 'invocations_by_plugin', 'invocations_correlation', 'invocations_entity', 'invocations_event']);
      const plan = (q: Record<string, unknown>): string => {
        const { sql, params } = sqliteInvocationQuery('acme', normaliseInvocationQuery(q));
        return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
      };
      const cursor = { after: '0193c7a0-0000-7000-8000-000000000001' };
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{}, /SEARCH invocations USING INDEX sqlite_autoindex_invocations_1 \(tenant_key=\?/],
        [{ eventId: 'e' }, /USING INDEX invocations_event \(event_id=\? AND tenant_key=\?/],
        [{ correlationId: 'c' }, /USING INDEX invocations_correlation \(correlation_id=\? AND tenant_key=\?/],
        [{ entityId: 't' }, /USING INDEX invocations_entity \(entity_id=\? AND tenant_key=\?/],
        [{ plugin: 'p' }, /USING INDEX invocations_by_plugin \(tenant_key=\? AND plugin_name=\?/],
        [{ experimentId: 'x' }, /USING INDEX invocations_by_experiment \(tenant_key=\? AND experiment_id=\?/],
        [{ eventId: 'e', ...cursor }, /USING INDEX invocations_event \(event_id=\? AND tenant_key=\? AND record_id<\?/],
        [{ plugin: 'p', outcome: 'ok', from: at(0) }, /USING INDEX invocations_by_plugin \(tenant_key=\? AND plugin_name=\?/],
      ];
      for (const [q, index] of cases) {
        const detail = plan(q);
        expect(detail, JSON.stringify(q)).toMatch(index);
        expect(detail, JSON.stringify(q)).not.toMatch(/TEMP B-TREE/);
      }
    } finally {
      db.close();
    }
  });

  it('RECORDS-GROUP-1 the thread takes appends and writes them together: not yet on their answer, all of them on flush, and unflushed ones once the group has waited its time', async () => {
    const { store } = await fileStore(60_000);
    try {
      for (let b = 0; b < 3; b++) await store.invocations.append(Array.from({ length: 40 }, (_, i) => draft(i % 2 === 0 ? 'acme' : 'globex', at(b * 100 + i))));
      // Taken, held for one transaction.
      expect(await count(store)).toBe(0);
      await store.invocations.flush!();
      expect([await count(store), await count(store, B)]).toEqual([60, 60]);
    } finally {
      await store.close();
    }
    const timed = await fileStore(100);
    try {
      await timed.store.invocations.append([draft('acme', at(500))]);
      // Never flushed: written once the group has waited its time.
      await expect.poll(() => count(timed.store), { timeout: 5000, interval: 20 }).toBe(1);
    } finally {
      await timed.store.close();
    }
  });

  it('RECORDS-GROUP-2 a group that reaches RECORDS_GROUP_SIZE records is written before the append that filled it settles', async () => {
    const { store, path } = await fileStore(60_000);
    const rows = (): number => {
      const db = new Database(recordsPathOf(path), { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM invocations').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    try {
      await store.invocations.append(Array.from({ length: RECORDS_GROUP_SIZE - 1 }, (_, i) => draft(i % 2 === 0 ? 'acme' : 'globex', at(i))));
      expect(rows()).toBe(0);
      await store.invocations.append([draft('acme', at(RECORDS_GROUP_SIZE))]);
      expect(rows()).toBe(RECORDS_GROUP_SIZE);
    } finally {
      await store.close();
    }
  });

  it('RECORDS-GROUP-3 records the thread took wait in the recorder\'s count until written; a group it could not write is logged and counted dropped, and flush still settles', async () => {
    const path = join(dir.path, `store-${n++}.db`);
    const warnings: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
    const logger = { ...silentLogger, warn: (msg: string, fields?: Record<string, unknown>) => void warnings.push({ msg, fields }), child: () => logger };
    const store = await openSqliteStore({ path, logger, recordsGroupMs: 60_000 });
    const records = new InvocationRecords(store.invocations, { retentionMs: 3_600_000, flushMs: 60_000, batchSize: 7, logger: silentLogger });
    try {
      await store.tenants.create('acme');
      for (let i = 0; i < 7; i++) records.record(draft('acme', at(i)));
      await expect.poll(() => records.written).toBe(7);
      // Taken by the thread, not written: still waiting, as /status shows it.
      expect({ waiting: records.waiting, dropped: records.dropped }).toEqual({ waiting: 7, dropped: 0 });
      // The table goes while the group waits: its insert fails in the thread.
      const db = new Database(recordsPathOf(path));
      db.exec('DROP TABLE invocations');
      db.close();
      await records.flush();
      expect({ waiting: records.waiting, dropped: records.dropped }).toEqual({ waiting: 0, dropped: 7 });
      expect(warnings.filter((w) => w.msg.startsWith('invocation records lost')).map((w) => w.fields?.records)).toEqual([7]);
    } finally {
      await records.close();
      await store.close();
    }
  });

  it('RECORDS-THREAD-8 a process that shuts down, only asks for a flush, or only appends and runs out of work, exits cleanly with every record written', async () => {
    for (const mode of ['close', 'drain', 'append'] as const) {
      const path = join(dir.path, `child-${mode}.db`);
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'child-records-writer.ts'), path, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect({ mode, code, closed: out.includes('closed') }).toEqual({ mode, code: 0, closed: mode === 'close' });
      const store = await openSqliteStore({ path });
      try {
        expect({ mode, records: await count(store) }).toEqual({ mode, records: 50 });
      } finally {
        await store.close();
      }
    }
  }, 120_000);
});

/** A store whose appends wait until released, or fail; it keeps what it was given, and each batch's size. */
function heldStore(): {
  store: InvocationRecordStore;
  appended: InvocationRecordDraft[];
  batches: number[];
  written: (tenantId: string) => number;
  release: () => void;
  failNext: () => void;
} {
  let gate: { promise: Promise<void>; resolve: () => void } | undefined;
  const hold = (): void => {
    let resolve!: () => void;
    gate = { promise: new Promise<void>((r) => (resolve = r)), resolve };
  };
  hold();
  let fail = false;
  const appended: InvocationRecordDraft[] = [];
  const batches: number[] = [];
  return {
    appended,
    batches,
    written: (tenantId) => appended.filter((r) => r.tenantId === tenantId).length,
    release: () => gate?.resolve(),
    failNext: () => (fail = true),
    store: {
      append: async (records) => {
        batches.push(records.length);
        await gate?.promise;
        if (fail) {
          fail = false;
          throw new Error('disk full');
        }
        appended.push(...records);
      },
      query: () => Promise.resolve({ items: [], nextCursor: null }),
      purgeBefore: () => Promise.resolve(0),
    },
  };
}

/** The router's records buffer on `held`: a write starts at 10 records and takes at most 20, else only when flushed. */
const bufferOn = (held: ReturnType<typeof heldStore>, bounds: { maxBuffered: number; maxBufferedPerTenant?: number; maxBatchSize?: number }): InvocationRecords =>
  new InvocationRecords(held.store, { retentionMs: 3_600_000, flushMs: 60_000, batchSize: 10, maxBatchSize: 20, ...bounds, logger: silentLogger });

describe('InvocationRecords bounds', () => {
  it('RECORDS-THREAD-7 beyond maxBuffered records are dropped and counted, never lost silently: written + dropped = recorded', async () => {
    const held = heldStore();
    const records = bufferOn(held, { maxBuffered: 25, maxBufferedPerTenant: 25 });
    for (let i = 0; i < 40; i++) records.record(draft('acme', at(i)));
    expect(records.dropped).toBe(15);
    // What an operator reads in /status: the 25 kept wait — in the write the store holds, or buffered.
    await new Promise((resolve) => setImmediate(resolve));
    expect(records.waiting).toBe(25);
    held.release();
    await records.flush();
    expect(records.written).toBe(25);
    expect(records.waiting).toBe(0);
    expect(held.appended).toHaveLength(25);
    // A batch the store refuses is counted dropped too.
    held.failNext();
    for (let i = 0; i < 4; i++) records.record(draft('acme', at(100 + i)));
    await records.flush();
    expect(records.dropped).toBe(19);
    expect(records.written + records.dropped).toBe(44);
    await records.close();
  });

  it('RECORDS-FAIR-1 a tenant whose records flood a slow store fills only its part of the buffer: another tenant\'s records are all kept, the flood\'s beyond its part dropped and counted', async () => {
    const held = heldStore();
    // 100 in all, 50 per tenant (the default part: half).
    const records = bufferOn(held, { maxBuffered: 100 });
    for (let i = 0; i < 200; i++) records.record(draft('flood', at(i)));
    expect(records.dropped).toBe(150);
    for (let i = 0; i < 10; i++) records.record(draft('quiet', at(500 + i)));
    expect(records.dropped).toBe(150);
    held.release();
    await records.flush();
    const by = held.written;
    expect([by('flood'), by('quiet')]).toEqual([50, 10]);
    // Written, the flood's part is free again.
    for (let i = 0; i < 20; i++) records.record(draft('flood', at(1000 + i)));
    await records.flush();
    expect(by('flood')).toBe(70);
    expect(records.written + records.dropped).toBe(230);
    await records.close();
  });

  it("RECORDS-FAIR-2 several tenants flooding a slow store fill the buffer: a quiet tenant's records take the place of the biggest flood's newest, and are all kept", async () => {
    const held = heldStore();
    // 100 in all, 50 per tenant: two floods fill it (the first 10 of a in the write the store holds).
    const records = bufferOn(held, { maxBuffered: 100 });
    for (let i = 0; i < 200; i++) records.record(draft(i % 2 === 0 ? 'flood-a' : 'flood-b', at(i)));
    expect(records.dropped).toBe(100);
    // Full, and each flood holds its fair part (50 of 100 for two) or more: its own records are dropped.
    records.record(draft('flood-a', at(300)));
    expect(records.dropped).toBe(101);
    // A quiet tenant under its fair part (100 / 3): each of its records replaces a flood's newest buffered one.
    for (let i = 0; i < 10; i++) records.record(draft('quiet', at(500 + i)));
    expect(records.dropped).toBe(111);
    held.release();
    await records.flush();
    const by = held.written;
    expect(by('quiet')).toBe(10);
    expect(by('flood-a') + by('flood-b')).toBe(90);
    // The floods lost alike: the one holding more gave up each place.
    expect(Math.abs(by('flood-a') - by('flood-b'))).toBeLessThanOrEqual(1);
    expect(records.written + records.dropped).toBe(211);
    await records.close();
  });

  it('RECORDS-FAIR-3 a write starts at batchSize records and takes at most maxBatchSize, tenant by tenant in turn, and flush writes everything recorded so far', async () => {
    const held = heldStore();
    const records = bufferOn(held, { maxBuffered: 1000 });
    for (let i = 0; i < 30; i++) records.record(draft('a', at(i)));
    for (let i = 0; i < 5; i++) records.record(draft('b', at(100 + i)));
    held.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The first write took 20 of the 35 (a's first), the next the 15 left, b first: a tenant left with
    // some goes to the back.
    expect(held.batches).toEqual([20, 15]);
    expect(held.appended.slice(20).map((r) => r.tenantId)).toEqual([...Array<string>(5).fill('b'), ...Array<string>(10).fill('a')]);
    for (let i = 0; i < 5; i++) records.record(draft('b', at(200 + i)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Fewer than batchSize wait for the timer or a flush.
    expect(held.written('b')).toBe(5);
    await records.flush();
    expect(held.written('b')).toBe(10);
    expect(records.written).toBe(40);
    await records.close();
  });

  it('RECORDS-BATCH-1 a backlog built while the store writes goes in writes of up to maxBatchSize, not batchSize: fewer, bigger transactions', async () => {
    const held = heldStore();
    const records = bufferOn(held, { maxBuffered: 10_000, maxBatchSize: 100 });
    for (let i = 0; i < 10; i++) records.record(draft(`t${i % 7}`, at(i)));
    // The first write took those 10 and is held: 250 more build up behind it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 10; i < 260; i++) records.record(draft(`t${i % 7}`, at(i)));
    held.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(held.batches).toEqual([10, 100, 100, 50]);
    expect(records.written).toBe(260);
    expect(new Set(held.appended.map((r) => r.event.eventId)).size).toBe(260);
    await records.close();
  });
});

describe('reads that flush the records (flushFor: invocation_list, event_trace)', () => {
  /**
   * A recorder on a file-backed store that writes only when flushed (a group held a minute, a batch
   * of 1,000), counting the forced writes that reach the store.
   */
  async function counted(tenantFlushMs: number): Promise<{ store: EntityStore; records: InvocationRecords; storeFlushes: () => number }> {
    const { store } = await fileStore(60_000);
    let flushes = 0;
    const inv = store.invocations;
    const wrapped: InvocationRecordStore = {
      ...inv,
      flush: () => {
        flushes++;
        return inv.flush!();
      },
    };
    const records = new InvocationRecords(wrapped, { retentionMs: 3_600_000, flushMs: 60_000, batchSize: 1000, tenantFlushMs, flushSpacingMs: 10, logger: silentLogger });
    return { store, records, storeFlushes: () => flushes };
  }

  it("RECORDS-FLUSH-1 one tenant's reads polling in parallel force at most one write per tenantFlushMs, and each read sees every record recorded before it", async () => {
    const { store, records, storeFlushes } = await counted(150);
    try {
      const start = performance.now();
      let recorded = 0;
      // Eight pollers of acme, five rounds each: record, read, check.
      await Promise.all(
        Array.from({ length: 8 }, async (_, p) => {
          for (let round = 0; round < 5; round++) {
            records.record(draft('acme', at(p * 100 + round)));
            const before = ++recorded;
            await records.flushFor('acme');
            expect(await count(store)).toBeGreaterThanOrEqual(before);
          }
        }),
      );
      const elapsed = performance.now() - start;
      expect(await count(store)).toBe(40);
      // 40 reads: unbounded, 40 writes; bounded, one at once and one per 150 ms after.
      expect(records.forcedWrites).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 150));
      expect(records.forcedWrites).toBeLessThan(10);
      expect(storeFlushes()).toBe(records.forcedWrites);
    } finally {
      await records.close();
      await store.close();
    }
  });

  it("RECORDS-FLUSH-2 a tenant polling does not hold back another tenant's read: globex's is served before acme's next, with globex's record in it", async () => {
    const { store, records } = await counted(2_000);
    try {
      records.record(draft('acme', at(1)));
      await records.flushFor('acme');
      // acme's next read waits for its interval (2 s); globex's, asked after it, does not.
      const order: string[] = [];
      records.record(draft('acme', at(2)));
      const acmeNext = records.flushFor('acme').then(() => order.push('acme'));
      records.record(draft('globex', at(3)));
      await records.flushFor('globex').then(() => order.push('globex'));
      expect(await count(store, B)).toBe(1);
      await acmeNext;
      expect(order).toEqual(['globex', 'acme']);
      expect(await count(store, A)).toBe(2);
    } finally {
      await records.close();
      await store.close();
    }
  });

  it('RECORDS-FLUSH-3 reads of forty tenants at once share forced writes (two: the first, and one for all asked while it ran)', async () => {
    const { store, records, storeFlushes } = await counted(2_000);
    try {
      for (let i = 0; i < 10; i++) records.record(draft('acme', at(i)));
      await Promise.all(Array.from({ length: 40 }, (_, i) => records.flushFor(`tenant-${i}`)));
      expect(await count(store)).toBe(10);
      expect(records.forcedWrites).toBeLessThanOrEqual(2);
      expect(storeFlushes()).toBeLessThanOrEqual(2);
    } finally {
      await records.close();
      await store.close();
    }
  });
});
