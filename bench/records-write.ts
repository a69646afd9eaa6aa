/**
 * Writing invocation records into a records file, as the SQLite store's records thread does (WAL,
 * `synchronous = NORMAL`, the store's own `recordInserter`, batches of 256): CPU per record with the
 * records of 1 tenant and of 1,000 tenants, for the index layout of `INVOCATIONS_DDL` and, as the
 * baseline in the same run, the layout before 2026-12-04 (every index led by the tenant key). Each
 * file first holds 100,000 records (the tree a running store has), then 3 rounds of 40 batches are
 * measured; the figure is the median round. Entities are drawn from 20,000 ids, so an entity's
 * records land mid-index in both layouts. A second table gives, for one tenant, the layout without its
 * entity index and without any secondary index: what the indexes cost the records thread.
 * Run: npm run bench -- records-write
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../src/core/ids.js';
import type { InvocationRecord } from '../src/store/invocations.js';
import { INVOCATIONS_DDL, recordInserter } from '../src/store/sqlite/invocations-sql.js';
import { noopRecord } from './_records.js';
import { median, printResult, printTable } from './_table.js';

const BATCH = 256;
const PRELOAD = Number(process.env.UEE_BENCH_RECORDS ?? 100_000);
const BATCHES = 40;
const ROUNDS = 3;

/** The layout before 2026-12-04, from today's: the event, correlation and entity indexes led by the tenant key. */
const TENANT_LED_DDL = [
  ['invocations_event ON invocations (event_id, tenant_key, record_id)', 'invocations_by_event ON invocations (tenant_key, event_id, record_id)'],
  ['invocations_correlation ON invocations (correlation_id, tenant_key, record_id)', 'invocations_by_correlation ON invocations (tenant_key, correlation_id, record_id)'],
  ['invocations_entity ON invocations (entity_id, tenant_key, record_id)', 'invocations_by_entity ON invocations (tenant_key, entity_id, record_id)'],
].reduce((ddl, [now, before]) => {
  if (!ddl.includes(now!)) throw new Error(`INVOCATIONS_DDL has no "${now}": update the baseline`);
  return ddl.replace(now!, before!);
}, INVOCATIONS_DDL);

const entities = Array.from({ length: 20_000 }, () => newId());
let drawn = 0;

/** The next no-op delivery's record, of one of `tenants` tenants in turn. */
function record(tenants: number): InvocationRecord {
  const i = drawn++;
  const now = Date.now();
  return noopRecord({ recordId: newId(now), eventId: newId(now), tenantId: `tenant-${i % tenants}`, at: new Date(now).toISOString(), entityId: entities[(i * 7919) % entities.length]! });
}

/** CPU µs per record written (median round), into a fresh file with `ddl` holding {@link PRELOAD} records first. */
function measure(ddl: string, tenants: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'uee-bench-records-'));
  const db = new Database(join(dir, 'records.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(ddl);
    const insert = recordInserter(db);
    for (let n = 0; n < PRELOAD; n += BATCH) insert(Array.from({ length: BATCH }, () => record(tenants)));
    const rounds: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const batches = Array.from({ length: BATCHES }, () => Array.from({ length: BATCH }, () => record(tenants)));
      const before = process.cpuUsage();
      for (const b of batches) insert(b);
      const used = process.cpuUsage(before);
      rounds.push((used.user + used.system) / (BATCHES * BATCH));
    }
    return median(rounds);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Array<Array<string | number>> = [];
const figures: Record<string, number> = {};
for (const tenants of [1, 1000]) {
  const before = measure(TENANT_LED_DDL, tenants);
  const now = measure(INVOCATIONS_DDL, tenants);
  rows.push([tenants, before, now, before / now]);
  figures[`tenants${tenants}TenantLedUs`] = Math.round(before * 10) / 10;
  figures[`tenants${tenants}Us`] = Math.round(now * 10) / 10;
  figures[`tenants${tenants}Ratio`] = Math.round((before / now) * 100) / 100;
}
printTable(['tenants', 'tenant-led indexes, CPU µs/record (baseline)', 'INVOCATIONS_DDL, CPU µs/record', 'baseline ÷ this'], rows);

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
const noEntity = measure(withoutIndexes(INVOCATIONS_DDL, ['invocations_entity']), 1);
const noSecondary = measure(withoutIndexes(INVOCATIONS_DDL, SECONDARY), 1);
printTable(
  ['layout (1 tenant)', 'CPU µs/record'],
  [
    ['INVOCATIONS_DDL', figures['tenants1Us']!],
    ['without the entity index', noEntity],
    ['without any secondary index', noSecondary],
  ],
);
figures['tenants1NoEntityIndexUs'] = Math.round(noEntity * 10) / 10;
figures['tenants1NoSecondaryIndexUs'] = Math.round(noSecondary * 10) / 10;
printResult('records-write', { preload: PRELOAD, batch: BATCH, ...figures });
