/**
 * Writing invocation records into a records file, as the SQLite store's records thread does (WAL,
 * `synchronous = NORMAL`, the store's own `recordInserter`): CPU per record with the records of 1
 * tenant and of 1,000 tenants. The baseline, in the same run, is the records file before 2026-12-05:
 * 4 KiB pages, SQLite's default cache and checkpoints, batches of 256. Beside it, today's file
 * (`RECORDS_PAGE_SIZE`, `RECORDS_WRITER_PRAGMAS`) in batches of 256 (a records thread keeping up) and
 * of 2,048 (the backlog one write takes, `InvocationRecords`' `maxBatchSize`). Each file first holds
 * 100,000 records (the tree a running store has), then 3 rounds of ~10,000 records are measured; the
 * figure is the median round. Entities are drawn from 20,000 ids, so an entity's records land
 * mid-index. A second table gives, for one tenant in batches of 256, today's layout without its
 * entity index and without any secondary index: what the indexes cost the records thread.
 * Run: npm run bench -- records-write
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORDS_BATCH_SIZE, RECORDS_MAX_BATCH_SIZE } from '../src/app/invocation-records.js';
import { INVOCATIONS_DDL, RECORDS_PAGE_SIZE, RECORDS_WRITER_PRAGMAS, recordInserter } from '../src/store/sqlite/invocations-sql.js';
import { noopRecords } from './_records.js';
import { median, printResult, printTable } from './_table.js';

/** Records measured per round (a whole number of batches of either size). */
const PER_ROUND = 10_240;
const PRELOAD = Number(process.env.UEE_BENCH_RECORDS ?? 100_000);
const ROUNDS = 3;

/** The next no-op delivery's record, of one of `tenants` tenants in turn. */
const record = noopRecords().next;

/** How a records file is written: its page size (when created), the writer's pragmas, records per transaction. */
interface Writer {
  pageSize: number;
  pragmas: readonly string[];
  batch: number;
}
const BEFORE: Writer = { pageSize: 4096, pragmas: [], batch: 256 };
const TODAY: Writer = { pageSize: RECORDS_PAGE_SIZE, pragmas: RECORDS_WRITER_PRAGMAS, batch: RECORDS_BATCH_SIZE };
const TODAY_BACKLOG: Writer = { ...TODAY, batch: RECORDS_MAX_BATCH_SIZE };

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
    const insert = recordInserter(db);
    for (let n = 0; n < PRELOAD; n += writer.batch) insert(Array.from({ length: writer.batch }, () => record(tenants)));
    const rounds: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const batches = Array.from({ length: PER_ROUND / writer.batch }, () => Array.from({ length: writer.batch }, () => record(tenants)));
      const before = process.cpuUsage();
      for (const b of batches) insert(b);
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
  const today = measure(INVOCATIONS_DDL, tenants, TODAY);
  const backlog = measure(INVOCATIONS_DDL, tenants, TODAY_BACKLOG);
  rows.push([tenants, before, today, backlog, before / today, before / backlog]);
  figures[`tenants${tenants}BeforeUs`] = round1(before);
  figures[`tenants${tenants}Us`] = round1(today);
  figures[`tenants${tenants}Batch2048Us`] = round1(backlog);
  figures[`tenants${tenants}Ratio`] = Math.round((before / today) * 100) / 100;
  figures[`tenants${tenants}Batch2048Ratio`] = Math.round((before / backlog) * 100) / 100;
}
printTable(
  ['tenants', '4 KiB pages, defaults, batches of 256, CPU µs/record (baseline)', 'records file today, batches of 256', 'records file today, batches of 2,048', 'baseline ÷ 256', 'baseline ÷ 2,048'],
  rows,
);

// What the indexes cost, one tenant: INVOCATIONS_DDL without its entity index (keyed by entity id,
// so each record's entry lands on a page of its own), and without any secondary index (the row and
// its primary key alone), against the full layout measured above.
const withoutIndexes = (ddl: string, names: readonly string[]): string =>
  names.reduce((d, name) => {
    const at = d.indexOf(`CREATE INDEX IF NOT EXISTS ${name} `);
    if (at < 0) throw new Error(`INVOCATIONS_DDL has no index "${name}": update this bench`);
    return d.slice(0, at) + d.slice(d.indexOf(';', at) + 1);
  }, ddl);
const SECONDARY = ['invocations_event', 'invocations_correlation', 'invocations_entity', 'invocations_by_plugin', 'invocations_by_experiment', 'invocations_by_at'] as const;
const noEntity = measure(withoutIndexes(INVOCATIONS_DDL, ['invocations_entity']), 1, TODAY);
const noSecondary = measure(withoutIndexes(INVOCATIONS_DDL, SECONDARY), 1, TODAY);
printTable(
  ['layout (1 tenant)', 'CPU µs/record'],
  [
    ['INVOCATIONS_DDL', figures['tenants1Us']!],
    ['without the entity index', noEntity],
    ['without any secondary index', noSecondary],
  ],
);
figures['tenants1NoEntityIndexUs'] = round1(noEntity);
figures['tenants1NoSecondaryIndexUs'] = round1(noSecondary);
printResult('records-write', { preload: PRELOAD, ...figures });
