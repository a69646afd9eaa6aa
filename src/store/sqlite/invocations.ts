import type { Database } from 'better-sqlite3';
import type { InvocationRecordStore } from '../invocations.js';
import { PURGE_BATCH, invocationPage, normaliseInvocationQuery, prepareInvocationRecord, readInvocationRecord } from '../invocations.js';
import { tenantKeyOf } from '../shared.js';
import { sqliteError, type SqliteCore } from './core.js';
import { PURGE_SQL, recordInserter, sqliteInvocationQuery } from './invocations-sql.js';
import { StatementCache } from './keyset.js';
import type { RecordsThread } from './records-thread.js';

export { INVOCATIONS_DDL } from './invocations-sql.js';

/** Where a file-backed store keeps its records: the records file (read here) and the thread writing it. */
export interface SqliteRecordsFile {
  db: Database;
  thread: RecordsThread;
}

/**
 * Invocation records on SQLite. A file-backed store keeps them in its records file (see
 * `recordsPathOf`), written by the records thread — appends and retention cost the main thread one
 * `postMessage` per batch, and an append settles once the thread has taken it (it writes in groups;
 * `flush` waits for them) — and read here on a connection of their own; an in-memory store keeps
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
    ...(file === undefined ? {} : { flush: () => closed() ?? file.thread.flush(), taken: () => file.thread.taken }),
    query: (ctx, query) =>
      core.run(() => {
        const tk = tenantKeyOf(ctx);
        core.requireTenant(tk);
        const q = normaliseInvocationQuery(query);
        const { sql, params } = sqliteInvocationQuery(tk, q);
        const rows = reads.get(sql).all(...params) as Array<{ doc: string }>;
        return invocationPage(rows.map((r) => readInvocationRecord(r.doc)), q);
      }),
    purgeBefore: (before, limit = PURGE_BATCH) => {
      const args = (): [string, number] => [new Date(before).toISOString(), Math.min(Math.max(1, limit), PURGE_BATCH)];
      if (file === undefined) return core.run(() => core.cache.get(PURGE_SQL).run(...args()).changes);
      return core.run(args).then(([at, n]) => file.thread.purge(at, n));
    },
  };
}
