import type { Database } from 'better-sqlite3';
import { UeeError, toUeeError, type Logger } from '../../core/index.js';
import { GLOBAL_TENANT_KEY, assertOpen, isValidTenantId, unknownTenant } from '../shared.js';
import type { StoreLimits } from '../port.js';
import { StatementCache } from './keyset.js';
import { CommitGroup } from './commit-group.js';

/**
 * What every part of the SQLite adapter shares: the connection, the statement cache, limits and
 * the tenant check. One instance per open store.
 */
export class SqliteCore {
  closed = false;
  readonly cache: StatementCache;
  /** Entity commits waiting to be written together (see {@link CommitGroup}). */
  readonly commits: CommitGroup;
  /** Registered tenants seen so far; tenants are never removed, so a hit needs no query. */
  readonly #known = new Set<string>();

  constructor(
    readonly db: Database,
    readonly limits: StoreLimits,
    readonly logger: Logger,
  ) {
    this.cache = new StatementCache(db);
    this.commits = new CommitGroup(db, sqliteError);
  }

  /** Throws `CLOSED` after close. */
  assertOpen(): void {
    assertOpen(this.closed, 'sqlite');
  }

  /**
   * Runs a synchronous store operation as a promise: `CLOSED` after close, and driver errors
   * turned into `UeeError`s (a busy database is retryable `BACKEND_UNAVAILABLE`). The waiting
   * commits are written first, so every call sees the commits called before it.
   */
  run<T>(fn: () => T): Promise<T> {
    try {
      this.assertOpen();
      this.commits.flush();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(sqliteError(err));
    }
  }

  /** Throws `UNKNOWN_TENANT` unless `tenantKey` is global or a registered tenant. */
  requireTenant(tenantKey: string): void {
    if (tenantKey === GLOBAL_TENANT_KEY || this.#known.has(tenantKey)) return;
    const row = isValidTenantId(tenantKey) ? this.cache.get('SELECT 1 AS ok FROM tenants WHERE tenant_id = ?').get(tenantKey) : undefined;
    if (row === undefined) throw unknownTenant(tenantKey);
    this.#known.add(tenantKey);
  }

  /** Remembers a tenant just registered. */
  rememberTenant(tenantId: string): void {
    this.#known.add(tenantId);
  }
}

/** Maps a better-sqlite3 error to a `UeeError`; `UeeError`s pass through. */
export function sqliteError(err: unknown): UeeError {
  if (err instanceof UeeError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new UeeError('BACKEND_UNAVAILABLE', 'the SQLite store is busy (locked by another connection)', { retryable: true, hint: 'retry shortly', cause: err });
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') {
    return new UeeError('CORRUPT_DATA', 'the SQLite store file is corrupt', { hint: 'restore the store file from a backup', cause: err });
  }
  return toUeeError(err);
}
