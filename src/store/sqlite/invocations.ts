import type { Database } from 'better-sqlite3';
import type { InvocationRecordStore } from '../invocations.js';
import { PURGE_BATCH, invocationPage, normaliseInvocationQuery, prepareInvocationRecord, readInvocationRecord } from '../invocations.js';
import { tenantKeyOf } from '../shared.js';
import { sqliteError, type SqliteCore } from './core.js';
import { PURGE_SQL, recordInserter } from './invocations-sql.js';
import { StatementCache } from './keyset.js';
import type { RecordsThread } from './records-thread.js';

export { INVOCATIONS_DDL } from './invocations-sql.js';

/** Where a file-backed store keeps its records: the records file (read here) and the thread writing it. */
export interface SqliteRecordsFile {
  db: Database;
  thread: RecordsThread;
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

/**
 * Invocation records on SQLite. A file-backed store keeps them in its records file (see
 * `recordsPathOf`), written by the records thread — appends and retention cost the main thread one
 * `postMessage` per batch — and read here on a connection of their own; an in-memory store keeps
 * them in its own database, written in-thread.
 */
export function sqliteInvocations(core: SqliteCore, file?: SqliteRecordsFile): InvocationRecordStore {
  const reads = file === undefined ? core.cache : new StatementCache(file.db);
  const insert = file === undefined ? recordInserter(core.db) : undefined;
  const closed = (): Promise<never> | undefined => {
    try {
      core.assertOpen();
      return undefined;
    } catch (err) {
      return Promise.reject(sqliteError(err));
    }
  };
  return {
    append: (records) => {
      if (file === undefined) return core.run(() => void (records.length > 0 && insert!(records.map(prepareInvocationRecord))));
      return closed() ?? (records.length === 0 ? Promise.resolve() : file.thread.append(records));
    },
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
        const rows = reads.get(sql).all(...params, q.limit + 1) as Array<{ doc: string }>;
        return invocationPage(rows.map((r) => readInvocationRecord(r.doc)), q);
      }),
    purgeBefore: (before, limit = PURGE_BATCH) => {
      const args = (): [string, number] => [new Date(before).toISOString(), Math.min(Math.max(1, limit), PURGE_BATCH)];
      if (file === undefined) return core.run(() => core.cache.get(PURGE_SQL).run(...args()).changes);
      return core.run(args).then(([at, n]) => file.thread.purge(at, n));
    },
  };
}
