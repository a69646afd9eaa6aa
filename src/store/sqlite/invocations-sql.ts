import type { Database } from 'better-sqlite3';
import type { InvocationRecord } from '../invocations.js';

/**
 * The SQL of the SQLite invocation records, shared by the adapter (in-memory stores, reads) and the
 * records writer thread (file stores): one row per record, its searchable fields as columns (each
 * lookup answered from an index that starts with the tenant key) and the record as JSON.
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
CREATE INDEX IF NOT EXISTS invocations_by_event ON invocations (tenant_key, event_id, record_id);
CREATE INDEX IF NOT EXISTS invocations_by_correlation ON invocations (tenant_key, correlation_id, record_id);
CREATE INDEX IF NOT EXISTS invocations_by_entity ON invocations (tenant_key, entity_id, record_id) WHERE entity_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS invocations_by_plugin ON invocations (tenant_key, plugin_name, record_id);
CREATE INDEX IF NOT EXISTS invocations_by_experiment ON invocations (tenant_key, experiment_id, record_id) WHERE experiment_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS invocations_by_at ON invocations (at);
`;

/** Deletes at most `limit` records older than `before`, oldest first (see `InvocationRecordStore.purgeBefore`). */
export const PURGE_SQL = 'DELETE FROM invocations WHERE rowid IN (SELECT rowid FROM invocations WHERE at < ? ORDER BY at LIMIT ?)';

const INSERT_HEAD = `INSERT OR IGNORE INTO invocations
  (tenant_key, record_id, at, event_id, correlation_id, entity_id, plugin_name, plugin_id, outcome, experiment_id, doc)
  VALUES `;
const ROW = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
/** Rows per multi-row INSERT (11 parameters each, far below SQLite's limit): one statement call for many records. */
const ROWS_PER_INSERT = 32;
const INSERT_ONE_SQL = INSERT_HEAD + ROW;
const INSERT_MANY_SQL = INSERT_HEAD + Array.from({ length: ROWS_PER_INSERT }, () => ROW).join(', ');

/** Appends one record's column values (the order of {@link ROW}) to `out`. */
function pushRow(out: unknown[], r: InvocationRecord): void {
  out.push(r.tenantId ?? '', r.recordId, r.at, r.event.eventId, r.event.correlationId, r.event.entityId ?? null, r.plugin.name, r.plugin.id, r.outcome, r.experiment?.id ?? null, JSON.stringify(r));
}

/** A function inserting prepared records into `db`'s `invocations` table in one transaction (idempotent by record id). */
export function recordInserter(db: Database): (records: InvocationRecord[]) => void {
  const many = db.prepare(INSERT_MANY_SQL);
  const one = db.prepare(INSERT_ONE_SQL);
  return db.transaction((records: InvocationRecord[]) => {
    let i = 0;
    const params: unknown[] = [];
    for (; i + ROWS_PER_INSERT <= records.length; i += ROWS_PER_INSERT) {
      params.length = 0;
      for (let j = i; j < i + ROWS_PER_INSERT; j++) pushRow(params, records[j]!);
      many.run(params);
    }
    for (; i < records.length; i++) {
      params.length = 0;
      pushRow(params, records[i]!);
      one.run(params);
    }
  });
}
