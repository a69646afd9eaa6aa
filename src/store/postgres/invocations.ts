import type { PoolClient } from 'pg';
import type { InvocationRecord, InvocationRecordStore } from '../invocations.js';
import { INVOCATION_COLUMNS, INVOCATION_COLUMN_COUNT, PURGE_BATCH, invocationPage, invocationQuerySql, normaliseInvocationQuery, prepareInvocationRecord, pushInvocationRow, readInvocationRecord } from '../invocations.js';
import type { PgCore } from './core.js';

/**
 * Invocation records of the PostgreSQL adapter: the SQLite table's columns, every index led by the
 * tenant key (SQLite's event, correlation and entity indexes lead with their id instead; the same
 * change measured here showed no difference, see the README).
 */
export const INVOCATIONS_DDL = `
CREATE TABLE IF NOT EXISTS invocations (
  tenant_key text COLLATE "C" NOT NULL,
  record_id text COLLATE "C" NOT NULL,
  at text COLLATE "C" NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  correlation_id text COLLATE "C" NOT NULL,
  entity_id text COLLATE "C",
  plugin_name text COLLATE "C" NOT NULL,
  plugin_id text COLLATE "C" NOT NULL,
  outcome text NOT NULL,
  experiment_id text COLLATE "C",
  doc json NOT NULL,
  PRIMARY KEY (tenant_key, record_id)
);
CREATE INDEX IF NOT EXISTS invocations_by_event ON invocations (tenant_key, event_id, record_id);
CREATE INDEX IF NOT EXISTS invocations_by_correlation ON invocations (tenant_key, correlation_id, record_id);
CREATE INDEX IF NOT EXISTS invocations_by_entity ON invocations (tenant_key, entity_id, record_id) WHERE entity_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS invocations_by_plugin ON invocations (tenant_key, plugin_name, record_id);
CREATE INDEX IF NOT EXISTS invocations_by_experiment ON invocations (tenant_key, experiment_id, record_id) WHERE experiment_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS invocations_by_at ON invocations (at);
`;

/** Rows per multi-row INSERT of an append (11 parameters each). */
const ROWS_PER_INSERT = 2048;

/** One multi-row insert of `records` (idempotent by record id). */
async function insertRecords(db: Pick<PoolClient, 'query'>, records: readonly InvocationRecord[]): Promise<void> {
  const values: unknown[] = [];
  const rows: string[] = [];
  for (const r of records) {
    const base = values.length;
    pushInvocationRow(values, r);
    rows.push(`(${Array.from({ length: INVOCATION_COLUMN_COUNT }, (_, i) => `$${base + i + 1}`).join(', ')})`);
  }
  await db.query(`INSERT INTO invocations (${INVOCATION_COLUMNS}) VALUES ${rows.join(', ')} ON CONFLICT (tenant_key, record_id) DO NOTHING`, values);
}

/** Invocation records on PostgreSQL: one multi-row insert per append of up to {@link ROWS_PER_INSERT} records. */
export function pgInvocations(core: PgCore): InvocationRecordStore {
  return {
    append: (records) =>
      core.run(async () => {
        if (records.length === 0) return;
        // A statement takes at most 65,535 parameters (11 a row) and a flush can hand over a whole
        // buffer: a longer append is several statements in one transaction.
        const prepared = records.map(prepareInvocationRecord);
        if (prepared.length <= ROWS_PER_INSERT) {
          await insertRecords(core.pool, prepared);
        } else {
          await core.transaction(async (client) => {
            for (let from = 0; from < prepared.length; from += ROWS_PER_INSERT) await insertRecords(client, prepared.slice(from, from + ROWS_PER_INSERT));
          });
        }
      }),
    query: (ctx, query) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const q = normaliseInvocationQuery(query);
        const { sql, params } = invocationQuerySql(tk, q, (n) => `$${n}`);
        const { rows } = await core.pool.query<{ doc: unknown }>(sql, params);
        return invocationPage(rows.map((r) => readInvocationRecord(r.doc)), q);
      }),
    purgeBefore: (before, limit = PURGE_BATCH) =>
      core.run(async () => {
        const result = await core.pool.query(
          'DELETE FROM invocations WHERE ctid IN (SELECT ctid FROM invocations WHERE at < $1 ORDER BY at LIMIT $2)',
          [new Date(before).toISOString(), Math.min(Math.max(1, limit), PURGE_BATCH)],
        );
        return result.rowCount ?? 0;
      }),
  };
}
