import type { Database } from 'better-sqlite3';
import { INVOCATION_COLUMNS, INVOCATION_COLUMN_COUNT, invocationQuerySql, pushInvocationRow, type InvocationRecord, type NormalisedInvocationQuery } from '../invocations.js';

/**
 * The SQL of the SQLite invocation records, shared by the adapter (in-memory stores, reads) and the
 * records writer thread (file stores): one row per record, its searchable fields as columns and the
 * record as JSON. Every lookup is answered from an index holding the tenant key, but only the primary
 * key and the plugin index start with it: the event, correlation and entity indexes start with their
 * id, which is time-ordered (UUIDv7), so a record's entry goes at the end of them whatever its tenant.
 * Led by the tenant key, a batch of records of many tenants wrote one leaf page per tenant per index,
 * each a page written to the WAL at commit: batches of 256 records of 1,000 tenants cost the records
 * thread ~126–133 µs of CPU per record that way, ~73–83 µs this way (`npm run bench -- records-write`;
 * one tenant ~37 µs either way). The indexes of that layout are dropped when a records file is opened.
 */
export const INVOCATIONS_DDL = `
CREATE TABLE IF NOT EXISTS invocations (
  tenant_key TEXT NOT NULL,
  record_id TEXT NOT NULL,
  at TEXT NOT NULL,
  event_id TEXT NOT NULL,
  correlation_id TEXT NOT NULL,
  entity_id TEXT,
  plugin_name TEXT NOT NULL,
  plugin_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  experiment_id TEXT,
  doc TEXT NOT NULL,
  PRIMARY KEY (tenant_key, record_id)
);
DROP INDEX IF EXISTS invocations_by_event;
DROP INDEX IF EXISTS invocations_by_correlation;
DROP INDEX IF EXISTS invocations_by_entity;
CREATE INDEX IF NOT EXISTS invocations_event ON invocations (event_id, tenant_key, record_id);
CREATE INDEX IF NOT EXISTS invocations_correlation ON invocations (correlation_id, tenant_key, record_id);
CREATE INDEX IF NOT EXISTS invocations_entity ON invocations (entity_id, tenant_key, record_id) WHERE entity_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS invocations_by_plugin ON invocations (tenant_key, plugin_name, record_id);
CREATE INDEX IF NOT EXISTS invocations_by_experiment ON invocations (tenant_key, experiment_id, record_id) WHERE experiment_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS invocations_by_at ON invocations (at);
`;

/**
 * The page size of a records file, set when the file is created (an existing file keeps its own):
 * a record's row is ~1 KB and records are only appended, so a page holds more of them and a
 * transaction writes fewer WAL frames (two writes each) and checkpoints fewer pages. With the writer's
 * settings below, one tenant's records cost the records thread ~12 → ~10 µs each, 1,000 tenants'
 * ~56 → ~30 in batches of 2,048 (`npm run bench -- records-write`).
 */
export const RECORDS_PAGE_SIZE = 16_384;

/**
 * The records writer's connection settings. A cache of 32 MiB holds the leaf pages the tenant-led
 * indexes are written at (one per tenant), so a batch finds them in memory; a checkpoint every 2,500
 * pages (~40 MiB of WAL) writes a page rewritten by several batches back once, not once per batch;
 * the WAL file is cut back to 64 MiB after a checkpoint.
 */
export const RECORDS_WRITER_PRAGMAS = ['cache_size = -32768', 'wal_autocheckpoint = 2500', 'journal_size_limit = 67108864'] as const;

/**
 * The records thread writes the appends it takes in groups: one transaction of at most this many
 * records, or of what it took within {@link RECORDS_GROUP_MS} (a flush or close writes at once). A
 * transaction costs the thread per page it dirties — for the tenant-led key and index, a page per
 * tenant in it — so with 1,000 tenants' records, groups of 16,384 in key order cost it ~10 µs per
 * record against ~31 in the recorder's batches of 256 (`npm run bench -- records-write`).
 */
export const RECORDS_GROUP_SIZE = 16_384;
/** How long the records thread holds what it took before writing it (see {@link RECORDS_GROUP_SIZE}). */
export const RECORDS_GROUP_MS = 500;

/** {@link invocationQuerySql} with SQLite's placeholders. */
export const sqliteInvocationQuery = (tk: string, q: NormalisedInvocationQuery): { sql: string; params: unknown[] } => invocationQuerySql(tk, q, () => '?');

/** Deletes at most `limit` records older than `before`, oldest first (see `InvocationRecordStore.purgeBefore`). */
export const PURGE_SQL = 'DELETE FROM invocations WHERE rowid IN (SELECT rowid FROM invocations WHERE at < ? ORDER BY at LIMIT +?)';

const INSERT_HEAD = `INSERT OR IGNORE INTO invocations (${INVOCATION_COLUMNS}) VALUES `;
const ROW = `(${Array.from({ length: INVOCATION_COLUMN_COUNT }, () => '?').join(', ')})`;
/** Rows per multi-row INSERT (11 parameters each, far below SQLite's limit): one statement call for many records. */
const ROWS_PER_INSERT = 32;
const INSERT_ONE_SQL = INSERT_HEAD + ROW;
const INSERT_MANY_SQL = INSERT_HEAD + Array.from({ length: ROWS_PER_INSERT }, () => ROW).join(', ');

/** Inserts prepared records into `db`'s `invocations` table (idempotent by record id), in the caller's transaction. */
function rowInserter(db: Database): (records: readonly InvocationRecord[]) => void {
  const many = db.prepare(INSERT_MANY_SQL);
  const one = db.prepare(INSERT_ONE_SQL);
  const params: unknown[] = [];
  return (records) => {
    let i = 0;
    for (; i + ROWS_PER_INSERT <= records.length; i += ROWS_PER_INSERT) {
      params.length = 0;
      for (let j = i; j < i + ROWS_PER_INSERT; j++) pushInvocationRow(params, records[j]!);
      many.run(params);
    }
    for (; i < records.length; i++) {
      params.length = 0;
      pushInvocationRow(params, records[i]!);
      one.run(params);
    }
  };
}

/** A function inserting prepared records into `db`'s `invocations` table in one transaction (idempotent by record id). */
export function recordInserter(db: Database): (records: readonly InvocationRecord[]) => void {
  return db.transaction(rowInserter(db));
}

/**
 * A function inserting batches of prepared records, all in one transaction; an iterator's batches
 * are made only as they are inserted (see `preparedInKeyOrder`).
 */
export function groupInserter(db: Database): (batches: Iterable<readonly InvocationRecord[]>) => void {
  const rows = rowInserter(db);
  return db.transaction((batches: Iterable<readonly InvocationRecord[]>) => {
    for (const records of batches) rows(records);
  });
}
