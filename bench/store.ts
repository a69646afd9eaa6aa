// Entity store throughput: the SQLite port beside raw better-sqlite3 on the same machine, same run.
// Run: node --import tsx bench/store.ts   (or npm run bench -- store)
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { TenantContext } from '../src/core/index.js';
import { openSqliteStore } from '../src/store/index.js';
import { applySchema } from '../src/store/sqlite/schema.js';
import { newId } from '../src/core/ids.js';
import { printResult, printTable } from './_table.js';
import { postgresSection } from './_store-postgres.js';

const SINGLE = 2000;
const BATCH = 100;
const BATCHES = 40;
/** One-write commits in one group (one transaction): about what a worker batch's effects make. */
const GROUP = 60;
const GROUPS = 100;
const GETS = 5000;
const QUERIES = 400;
const QUERY_LIMIT = 50;

/** About 200 bytes of JSON, varied per row. */
function attributes(i: number): Record<string, unknown> {
  return {
    title: `Task number ${i} for the store benchmark`,
    status: i % 3 === 0 ? 'done' : 'open',
    priority: i % 5,
    tags: ['bench', i % 2 === 0 ? 'even' : 'odd'],
    description: 'Write the quarterly report and send it to the team lead.',
  };
}

/** Operations per second of `fn`, run `n` times after a short warm-up; `per` counts items per call. */
async function rate(n: number, fn: (i: number) => unknown, per = 1): Promise<number> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(-1 - i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return (n * per) / seconds;
}

function openRaw(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE rows (id TEXT PRIMARY KEY, type TEXT NOT NULL, attributes TEXT NOT NULL)');
  db.exec('CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL)');
  return db;
}

/** Best of `ROUNDS` alternating runs of raw and port, so a busy neighbour skews both alike. */
const ROUNDS = 3;
async function pair(raw: () => Promise<number>, port: () => Promise<number>): Promise<[number, number]> {
  let bestRaw = 0;
  let bestPort = 0;
  for (let r = 0; r < ROUNDS; r++) {
    bestRaw = Math.max(bestRaw, await raw());
    bestPort = Math.max(bestPort, await port());
  }
  return [bestPort, bestRaw];
}

/** Runs the benchmark, prints the table and the closing JSON line, and returns the figures. */
export async function main(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'uee-bench-store-'));
  try {
    // Raw baseline: one row per write, JSON encoded by the caller, as an application would do.
    const raw = openRaw(join(dir, 'raw.db'));
    const insert = raw.prepare('INSERT INTO rows (id, type, attributes) VALUES (?, ?, ?)');
    const insertEvent = raw.prepare('INSERT INTO outbox (event) VALUES (?)');
    const ids: string[] = [];
    const rawInsert = (i: number): void => {
      const id = randomUUID();
      if (i >= 0) ids.push(id);
      insert.run(id, 'Task', JSON.stringify(attributes(i)));
    };
    const rawBatchTx = raw.transaction((base: number) => {
      for (let k = 0; k < BATCH; k++) rawInsert(base * BATCH + k);
    });
    // The same rows the port writes per entity (a version row and an outbox row), for context.
    const rawSameRowsTx = raw.transaction(() => {
      for (let k = 0; k < BATCH; k++) {
        const a = JSON.stringify(attributes(k));
        insert.run(randomUUID(), 'Task', a);
        insertEvent.run(a);
      }
    });
    // Grouped commits as the port writes them (CommitGroup): one transaction writing, per one-write
    // commit, the rows the port writes (version, outbox, journal, idempotency key) into the store's own
    // tables; and the same with each commit in its own savepoint (the port before 2026-12-03), whose
    // statement journal spills to a temporary file past 64 KiB (SQLite's default temp_store, FILE)
    // and stays a file until the transaction ends, or with temp_store MEMORY.
    const rawGroup = (path: string, savepoints: 'none' | 'FILE' | 'MEMORY'): { db: Database.Database; run: () => void } => {
      const db = new Database(path);
      applySchema(db, path);
      if (savepoints !== 'none') db.pragma(`temp_store = ${savepoints}`);
      const version = db.prepare('INSERT INTO entity_versions (tenant_key, entity_id, version, entity_type_id, is_latest, deleted, doc) VALUES (?, ?, 1, ?, 1, 0, ?)');
      const outbox = db.prepare('INSERT INTO outbox (event) VALUES (?)');
      const journal = db.prepare('INSERT OR IGNORE INTO event_journal (tenant_key, position, event_id, type, occurred_at, event) VALUES (?, ?, ?, ?, ?, ?)');
      const key = db.prepare('INSERT INTO idempotency (tenant_key, key, result, created_at) VALUES (?, ?, ?, ?)');
      let position = 0;
      const write = (k: number): void => {
        const id = newId();
        const doc = JSON.stringify({ entityId: id, entityTypeId: 'Task', version: 1, attributes: attributes(k) });
        const at = new Date().toISOString();
        version.run('bench', id, 'Task', doc);
        outbox.run(doc);
        journal.run('bench', ++position, newId(), 'entity.created', at, doc);
        key.run('bench', newId(), doc, at);
      };
      const one = savepoints === 'none' ? write : db.transaction(write);
      return {
        db,
        run: db.transaction(() => {
          for (let k = 0; k < GROUP; k++) one(k);
        }),
      };
    };
    const rawDirect = rawGroup(join(dir, 'raw-group.db'), 'none');
    const rawFileTemp = rawGroup(join(dir, 'raw-savepoints-file.db'), 'FILE');
    const rawMemoryTemp = rawGroup(join(dir, 'raw-savepoints-memory.db'), 'MEMORY');
    const select = raw.prepare('SELECT attributes FROM rows WHERE id = ?');
    const page = raw.prepare('SELECT id, attributes FROM rows WHERE type = ? ORDER BY id LIMIT ?');

    // The port, on its own file.
    const store = await openSqliteStore({ path: join(dir, 'store.db') });
    await store.tenants.create('bench');
    const ctx: TenantContext = { tenantId: 'bench', actor: 'user:bench' };
    const entityIds: string[] = [];
    const batch = (b: number): Promise<unknown> =>
      store.commit(ctx, { writes: Array.from({ length: BATCH }, (_, k) => ({ entityTypeId: 'Task', attributes: attributes(b * BATCH + k) })) });

    const [portSingle, rawSingle] = await pair(
      () => rate(SINGLE, rawInsert),
      () =>
        rate(SINGLE, async (i) => {
          const v = await store.put(ctx, { entityTypeId: 'Task', attributes: attributes(i) });
          if (i >= 0) entityIds.push(v.entityId);
        }),
    );
    const [portBatch, rawBatch] = await pair(() => rate(BATCHES, (b) => rawBatchTx(b), BATCH), () => rate(BATCHES, batch, BATCH));
    const [, rawSameRows] = await pair(() => rate(BATCHES, () => rawSameRowsTx(), BATCH), () => Promise.resolve(0));
    // The router's shape: GROUP concurrent one-write commits with idempotency keys, grouped by the store.
    const group = (g: number): Promise<unknown> =>
      Promise.all(
        Array.from({ length: GROUP }, (_, k) =>
          store.commit(ctx, { idempotencyKey: `bench:${g}:${k}:${randomUUID()}`, writes: [{ entityTypeId: 'Task', attributes: attributes(k) }] }),
        ),
      );
    const [portGrouped, rawGrouped] = await pair(() => rate(GROUPS, () => rawDirect.run(), GROUP), () => rate(GROUPS, group, GROUP));
    const [rawGroupedMemory, rawGroupedFile] = await pair(() => rate(GROUPS, () => rawFileTemp.run(), GROUP), () => rate(GROUPS, () => rawMemoryTemp.run(), GROUP));
    const [portGet, rawGet] = await pair(
      () => rate(GETS, (i) => JSON.parse((select.get(ids[Math.abs(i) % ids.length]!) as { attributes: string }).attributes)),
      () => rate(GETS, (i) => store.get(ctx, entityIds[Math.abs(i) % entityIds.length]!)),
    );
    const [portQuery, rawQuery] = await pair(
      () => rate(QUERIES, () => (page.all('Task', QUERY_LIMIT) as Array<{ attributes: string }>).map((r) => JSON.parse(r.attributes) as unknown)),
      () => rate(QUERIES, () => store.query(ctx, { entityTypeId: 'Task', limit: QUERY_LIMIT })),
    );
    raw.close();
    rawDirect.db.close();
    rawFileTemp.db.close();
    rawMemoryTemp.db.close();
    await store.close();

    const overhead = (port: number, base: number): number => Math.round((base / port - 1) * 1000) / 10;
    const rows: Array<[string, number, number]> = [
      ['single put (autocommit)', portSingle, rawSingle],
      [`batched commit (${BATCH} writes/tx), writes/s`, portBatch, rawBatch],
      [`grouped commits (${GROUP} one-write commits/tx), commits/s`, portGrouped, rawGrouped],
      ['get by id', portGet, rawGet],
      [`query ${QUERY_LIMIT} rows`, portQuery, rawQuery],
    ];
    printTable(
      ['operation', 'ops/s', 'raw ops/s', 'port/raw overhead %'],
      rows.map(([name, port, base]) => [name, port, base, `${overhead(port, base)}%`]),
    );
    process.stdout.write(
      `\nraw batched inserts writing the same rows as the port (row + outbox event): ${Math.round(rawSameRows).toLocaleString('en-US')} writes/s ` +
        `(port overhead against it: ${overhead(portBatch, rawSameRows)}%)\n` +
        `raw grouped commits writing the port's rows (version, outbox, journal, idempotency key): ${Math.round(rawGrouped).toLocaleString('en-US')} commits/s; ` +
        `with a savepoint per commit, ${Math.round(rawGroupedFile).toLocaleString('en-US')} on SQLite's default temp_store FILE (${(rawGrouped / rawGroupedFile).toFixed(2)}× slower), ` +
        `${Math.round(rawGroupedMemory).toLocaleString('en-US')} on MEMORY\n`,
    );
    // PostgreSQL: the port beside raw `pg` on the same server, in the same run.
    const pgf = await postgresSection(attributes);
    printTable(
      ['PostgreSQL operation', 'ops/s', 'raw pg ops/s', 'port/raw overhead %'],
      [
        ['single put (autocommit)', pgf.pgSinglePutPerSec, pgf.pgRawSingleInsertPerSec, `${overhead(pgf.pgSinglePutPerSec, pgf.pgRawSingleInsertPerSec)}%`],
        [`batched commit (${BATCH} writes/tx), writes/s`, pgf.pgBatchedWritesPerSec, pgf.pgRawBatchedInsertsPerSec, `${overhead(pgf.pgBatchedWritesPerSec, pgf.pgRawBatchedInsertsPerSec)}%`],
        ['  same, raw writing the same rows (row + outbox)', pgf.pgBatchedWritesPerSec, pgf.pgRawBatchedSameRowsPerSec, `${overhead(pgf.pgBatchedWritesPerSec, pgf.pgRawBatchedSameRowsPerSec)}%`],
        ['get by id', pgf.pgGetPerSec, pgf.pgRawGetPerSec, `${overhead(pgf.pgGetPerSec, pgf.pgRawGetPerSec)}%`],
        [`query ${QUERY_LIMIT} rows`, pgf.pgQueryPerSec, pgf.pgRawQueryPerSec, `${overhead(pgf.pgQueryPerSec, pgf.pgRawQueryPerSec)}%`],
      ],
    );
    const figures = {
      ...pgf,
      singlePutPerSec: Math.round(portSingle),
      rawSingleInsertPerSec: Math.round(rawSingle),
      batchedWritesPerSec: Math.round(portBatch),
      rawBatchedInsertsPerSec: Math.round(rawBatch),
      rawBatchedSameRowsPerSec: Math.round(rawSameRows),
      groupedCommitsPerSec: Math.round(portGrouped),
      rawGroupedCommitsPerSec: Math.round(rawGrouped),
      rawGroupedSavepointsFileTempPerSec: Math.round(rawGroupedFile),
      rawGroupedSavepointsMemoryTempPerSec: Math.round(rawGroupedMemory),
      getPerSec: Math.round(portGet),
      rawGetPerSec: Math.round(rawGet),
      queryPerSec: Math.round(portQuery),
      rawQueryPerSec: Math.round(rawQuery),
      batchedOverheadPct: overhead(portBatch, rawBatch),
      singleOverheadPct: overhead(portSingle, rawSingle),
      getOverheadPct: overhead(portGet, rawGet),
      queryOverheadPct: overhead(portQuery, rawQuery),
    };
    printResult('store', figures);
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
