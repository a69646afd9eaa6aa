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

/** Records per INSERT of an append (a longer append is several, in one transaction). */
const ROWS_PER_INSERT = 1000;

/** The searchable columns (every column but `doc`), in {@link INVOCATION_COLUMNS} order. */
const KEY_COLUMNS = INVOCATION_COLUMNS.split(', ').slice(0, INVOCATION_COLUMN_COUNT - 1);

/**
 * ONE statement for any number of records, prepared once per connection: the searchable columns
 * as ten text arrays, the documents as one JSON array (the records' own JSON joined with commas —
 * nothing escaped again), paired by position. It replaced a multi-row `VALUES` list with 11
 * parameters a row, a statement text of its own for each batch size: the server parsed and planned
 * each batch anew and the client encoded every parameter. `npm run bench -- records-postgres` (that
 * insert as the baseline in the same run): the server's CPU per record 1.46–1.75× less (e.g. appends
 * of 100 of one tenant 49.0 → 28.0 µs), the client's within noise to 1.4× less; records/s
 * 1.36–1.60×. With a process's deliveries recorded here, the server's share is what each costs most.
 */
const INSERT_RECORDS = {
  name: 'uee-invocations-insert',
  text: `INSERT INTO invocations (${INVOCATION_COLUMNS})
    SELECT ${KEY_COLUMNS.map((c) => `k.${c}`).join(', ')}, d.doc
      FROM unnest(${KEY_COLUMNS.map((_, i) => `$${i + 1}::text[]`).join(', ')}) WITH ORDINALITY AS k(${KEY_COLUMNS.join(', ')}, i)
      JOIN json_array_elements($${INVOCATION_COLUMN_COUNT}::json) WITH ORDINALITY AS d(doc, i) ON d.i = k.i
    ON CONFLICT (tenant_key, record_id) DO NOTHING`,
};

/** One insert of `records` (idempotent by record id; a record id twice in `records` is stored once). */
async function insertRecords(db: Pick<PoolClient, 'query'>, records: readonly InvocationRecord[]): Promise<void> {
  const columns: unknown[][] = KEY_COLUMNS.map(() => new Array<unknown>(records.length));
  const docs = new Array<string>(records.length);
  const row: unknown[] = [];
  for (let r = 0; r < records.length; r++) {
    row.length = 0;
    pushInvocationRow(row, records[r]!);
    for (let c = 0; c < KEY_COLUMNS.length; c++) columns[c]![r] = row[c];
    docs[r] = row[INVOCATION_COLUMN_COUNT - 1] as string;
  }
  await db.query({ ...INSERT_RECORDS, values: [...columns, `[${docs.join(',')}]`] });
}

/** Invocation records on PostgreSQL: one insert per append of up to {@link ROWS_PER_INSERT} records. */
export function pgInvocations(core: PgCore): InvocationRecordStore {
  return {
    append: (records) =>
      core.run(async () => {
        if (records.length === 0) return;
        // A flush can hand over a whole buffer: a longer append is several statements in one transaction.
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
