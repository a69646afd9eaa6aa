import type { InvocationRecord, InvocationRecordStore } from '../invocations.js';
import { PURGE_BATCH, invocationPage, normaliseInvocationQuery, prepareInvocationRecord, readInvocationRecord } from '../invocations.js';
import { tenantKeyOf } from '../shared.js';
import type { SqliteCore } from './core.js';

/**
 * Invocation records of the SQLite adapter: one row per record, its searchable fields as columns
 * (each lookup answered from an index that starts with the tenant key) and the record as JSON.
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

const COLUMNS = [
  ['eventId', 'event_id'],
  ['correlationId', 'correlation_id'],
  ['entityId', 'entity_id'],
  ['plugin', 'plugin_name'],
  ['pluginId', 'plugin_id'],
  ['outcome', 'outcome'],
  ['experimentId', 'experiment_id'],
] as const;

/** Invocation records on SQLite. */
export function sqliteInvocations(core: SqliteCore): InvocationRecordStore {
  const insertMany = core.db.transaction((records: InvocationRecord[]) => {
    let i = 0;
    if (records.length >= ROWS_PER_INSERT) {
      const many = core.cache.get(INSERT_MANY_SQL);
      const params: unknown[] = [];
      for (; i + ROWS_PER_INSERT <= records.length; i += ROWS_PER_INSERT) {
        params.length = 0;
        for (let j = i; j < i + ROWS_PER_INSERT; j++) pushRow(params, records[j]!);
        many.run(params);
      }
    }
    const one = core.cache.get(INSERT_ONE_SQL);
    const params: unknown[] = [];
    for (; i < records.length; i++) {
      params.length = 0;
      pushRow(params, records[i]!);
      one.run(params);
    }
  });
  return {
    append: (records) =>
      core.run(() => {
        if (records.length > 0) insertMany(records.map(prepareInvocationRecord));
      }),
    query: (ctx, query) =>
      core.run(() => {
        const tk = tenantKeyOf(ctx);
        core.requireTenant(tk);
        const q = normaliseInvocationQuery(query);
        const where = ['tenant_key = ?'];
        const params: unknown[] = [tk];
        const add = (sql: string, v: unknown): void => {
          where.push(sql);
          params.push(v);
        };
        for (const [key, column] of COLUMNS) {
          const v = q[key];
          if (v !== undefined) add(`${column} = ?`, v);
        }
        if (q.from !== undefined) add('at >= ?', q.from);
        if (q.to !== undefined) add('at < ?', q.to);
        if (q.after !== undefined) add('record_id < ?', q.after);
        const sql = `SELECT doc FROM invocations WHERE ${where.join(' AND ')} ORDER BY record_id DESC LIMIT ?`;
        const rows = core.cache.get(sql).all(...params, q.limit + 1) as Array<{ doc: string }>;
        return invocationPage(rows.map((r) => readInvocationRecord(r.doc)), q);
      }),
    purgeBefore: (before, limit = PURGE_BATCH) =>
      core.run(
        () =>
          core.cache
            .get('DELETE FROM invocations WHERE rowid IN (SELECT rowid FROM invocations WHERE at < ? ORDER BY at LIMIT ?)')
            .run(new Date(before).toISOString(), Math.min(Math.max(1, limit), PURGE_BATCH)).changes,
      ),
  };
}
