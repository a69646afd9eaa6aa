/**
 * Writing invocation records into a records file, as the SQLite store's records thread does (WAL,
 * `synchronous = NORMAL`, the store's own `recordInserter`): CPU per record with the records of 1
 * tenant and of 1,000 tenants. The baseline, in the same run, is the records file before 2026-12-05:
 * 4 KiB pages, SQLite's default cache and checkpoints, batches of 256. Beside it, today's file
 * (`RECORDS_PAGE_SIZE`, `RECORDS_WRITER_PRAGMAS`) written three ways: as the recorder's batches came
 * until 2026-12-06 — 256 (a thread keeping up) and 2,048 (the backlog one write took,
 * `InvocationRecords`' `maxBatchSize`) — and as the thread writes them now: groups of
 * `RECORDS_GROUP_SIZE` records, appends of 256 in one transaction in key order. Each is timed as the
 * thread runs it, from the packed appends the main thread posts (unpacked and prepared there). Each
 * file first holds 100,000 records (the tree a running store has), then 3 rounds of 32,768 records
 * are measured; the figure is the median round. Entities are drawn from 20,000 ids, so an entity's
 * records land mid-index. A second table gives, for one tenant in groups, today's layout without its
 * entity index and without any secondary index: what the indexes cost the records thread.
 * Run: npm run bench -- records-write
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORDS_BATCH_SIZE, RECORDS_MAX_BATCH_SIZE } from '../src/app/invocation-records.js';
import { INVOCATIONS_DDL, RECORDS_GROUP_SIZE, RECORDS_PAGE_SIZE, RECORDS_WRITER_PRAGMAS, groupInserter, recordInserter } from '../src/store/sqlite/invocations-sql.js';
import { prepareInvocationRecord } from '../src/store/invocations.js';
import { packRecords, preparedInKeyOrder, unpackRecords, type PackedRecords } from '../src/store/sqlite/records-codec.js';
import { noopRecords } from './_records.js';
import { median, printResult, printTable } from './_table.js';

/** Records measured per round (a whole number of batches of every size). */
const PER_ROUND = 32_768;
const PRELOAD = Number(process.env.UEE_BENCH_RECORDS ?? 100_000);
const ROUNDS = 3;

/** The next no-op delivery's record, of one of `tenants` tenants in turn. */
const record = noopRecords().next;

/**
 * How a records file is written: its page size (when created), the writer's pragmas, records per
 * transaction, and, for the records thread's groups, how many appends of {@link RECORDS_BATCH_SIZE}
 * records one transaction takes (in key order: `groupInserter`, `preparedInKeyOrder`).
 */
interface Writer {
  pageSize: number;
  pragmas: readonly string[];
  batch: number;
  appendsPerGroup?: number;
}
const BEFORE: Writer = { pageSize: 4096, pragmas: [], batch: 256 };
const BATCHES: Writer = { pageSize: RECORDS_PAGE_SIZE, pragmas: RECORDS_WRITER_PRAGMAS, batch: RECORDS_BATCH_SIZE };
const BACKLOG: Writer = { ...BATCHES, batch: RECORDS_MAX_BATCH_SIZE };
const GROUPS: Writer = { ...BATCHES, batch: RECORDS_GROUP_SIZE, appendsPerGroup: RECORDS_GROUP_SIZE / RECORDS_BATCH_SIZE };
/** The preload in whole transactions of `batch`. */
const PRELOAD_ROUNDED = (batch: number): number => Math.ceil(PRELOAD / batch) * batch;

/** CPU µs per record written (median round), into a fresh file with `ddl` holding {@link PRELOAD} records first. */
function measure(ddl: string, tenants: number, writer: Writer): number {
  const dir = mkdtempSync(join(tmpdir(), 'uee-bench-records-'));
  const db = new Database(join(dir, 'records.db'));
  try {
    db.pragma(`page_size = ${writer.pageSize}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    for (const pragma of writer.pragmas) db.pragma(pragma);
    db.exec(ddl);
    const inserter = recordInserter(db);
    const inGroups = groupInserter(db);
    const appends = writer.appendsPerGroup ?? 1;
    /**
     * One transaction of `appends` packed appends, unpacked and prepared as the thread does: batch by
     * batch as they came (`unpackRecords`), or as a group in key order (`preparedInKeyOrder`).
     */
    const insert = (group: PackedRecords[]): void => {
      if (writer.appendsPerGroup === undefined) return inserter(unpackRecords(group[0]!).map(prepareInvocationRecord));
      inGroups(preparedInKeyOrder(group));
    };
    /** `n` records as the main thread posts them: packed, in appends of `writer.batch / appends`. */
    const packed = (n: number): PackedRecords[][] =>
      Array.from({ length: n / writer.batch }, () => Array.from({ length: appends }, () => packRecords(Array.from({ length: writer.batch / appends }, () => record(tenants)))));
    for (const group of packed(PRELOAD_ROUNDED(writer.batch))) insert(group);
    const rounds: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const groups = packed(PER_ROUND);
      const before = process.cpuUsage();
      for (const group of groups) insert(group);
      const used = process.cpuUsage(before);
      rounds.push((used.user + used.system) / PER_ROUND);
    }
    return median(rounds);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Array<Array<string | number>> = [];
const figures: Record<string, number> = {};
const round1 = (x: number): number => Math.round(x * 10) / 10;
for (const tenants of [1, 1000]) {
  const before = measure(INVOCATIONS_DDL, tenants, BEFORE);
  const batches = measure(INVOCATIONS_DDL, tenants, BATCHES);
  const backlog = measure(INVOCATIONS_DDL, tenants, BACKLOG);
  const groups = measure(INVOCATIONS_DDL, tenants, GROUPS);
  rows.push([tenants, before, batches, backlog, groups, before / groups, batches / groups]);
  figures[`tenants${tenants}BeforeUs`] = round1(before);
  figures[`tenants${tenants}Batch256Us`] = round1(batches);
  figures[`tenants${tenants}Batch2048Us`] = round1(backlog);
  figures[`tenants${tenants}GroupedUs`] = round1(groups);
  figures[`tenants${tenants}Ratio`] = Math.round((before / groups) * 100) / 100;
  figures[`tenants${tenants}Batch256VsGroupedRatio`] = Math.round((batches / groups) * 100) / 100;
}
printTable(
  [
    'tenants',
    '4 KiB pages, defaults, batches of 256, CPU µs/record (baseline)',
    'records file today, batches of 256',
    'batches of 2,048',
    `groups of ${RECORDS_GROUP_SIZE.toLocaleString('en-US')} in key order (the thread today)`,
    'baseline ÷ groups',
    '256 ÷ groups',
  ],
  rows,
);

// What the indexes cost, one tenant in groups: INVOCATIONS_DDL without its entity index (keyed by entity id,
// so each record's entry lands on a page of its own), and without any secondary index (the row and
// its primary key alone), against the full layout measured above.
const withoutIndexes = (ddl: string, names: readonly string[]): string =>
  names.reduce((d, name) => {
    const at = d.indexOf(`CREATE INDEX IF NOT EXISTS ${name} `);
    if (at < 0) throw new Error(`INVOCATIONS_DDL has no index "${name}": update this bench`);
    return d.slice(0, at) + d.slice(d.indexOf(';', at) + 1);
  }, ddl);
const SECONDARY = ['invocations_event', 'invocations_correlation', 'invocations_entity', 'invocations_by_plugin', 'invocations_by_experiment', 'invocations_by_at'] as const;
const noEntity = measure(withoutIndexes(INVOCATIONS_DDL, ['invocations_entity']), 1, GROUPS);
const noSecondary = measure(withoutIndexes(INVOCATIONS_DDL, SECONDARY), 1, GROUPS);
printTable(
  ['layout (1 tenant)', 'CPU µs/record'],
  [
    ['INVOCATIONS_DDL', figures['tenants1GroupedUs']!],
    ['without the entity index', noEntity],
    ['without any secondary index', noSecondary],
  ],
);
figures['tenants1NoEntityIndexUs'] = round1(noEntity);
figures['tenants1NoSecondaryIndexUs'] = round1(noSecondary);
printResult('records-write', { preload: PRELOAD, ...figures });
