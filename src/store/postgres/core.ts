import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { UeeError, toUeeError, type Logger, type TenantContext } from '../../core/index.js';
import type { StoreLimits } from '../port.js';
import { GLOBAL_TENANT_KEY, assertOpen, isValidTenantId, tenantKeyOf, unknownTenant } from '../shared.js';

/**
 * What every part of the PostgreSQL adapter shares: the pool, limits, the tenant check, error
 * mapping and the transaction runner. One instance per open store.
 */

/** Something that runs SQL: the pool, or a client inside a transaction. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** SQLSTATEs a transaction is retried on: serialization failure, deadlock, unique violation (a racing insert). */
const RETRY_CODES = new Set(['40001', '40P01', '23505']);
/** Attempts of one transaction before its error is answered. */
const MAX_ATTEMPTS = 8;

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps a `pg` error to a `UeeError`; `UeeError`s pass through. `CLOSED` once the store is closed. */
export function pgError(err: unknown, closed: boolean): UeeError {
  if (err instanceof UeeError) return err;
  if (closed) return new UeeError('CLOSED', 'the postgres store is closed', { hint: 'open a new store', cause: err });
  const code = sqlState(err) ?? '';
  if (code === '23505') {
    return new UeeError('VERSION_CONFLICT', 'a concurrent write created the same entity version', { retryable: true, hint: 'read the latest version and retry', cause: err });
  }
  if (code === '40001' || code === '40P01') {
    return new UeeError('BACKEND_UNAVAILABLE', 'PostgreSQL kept aborting the transaction under contention', { retryable: true, hint: 'retry shortly', cause: err });
  }
  if (code === '22P05' || code === '22021') {
    return new UeeError('VALIDATION_FAILED', 'PostgreSQL cannot store a string containing the character U+0000', {
      details: { issues: [{ path: '(string)', message: 'contains U+0000' }] },
      hint: 'remove NUL characters (\\u0000) from attributes, documents, settings and keys',
      cause: err,
    });
  }
  if (code === '53300' || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EPIPE)$/.test(code)) {
    return new UeeError('BACKEND_UNAVAILABLE', `PostgreSQL is unavailable: ${err instanceof Error ? err.message : String(err)}`, {
      retryable: true,
      hint: 'check that PostgreSQL is running and reachable, then retry',
      cause: err,
    });
  }
  return toUeeError(err);
}

/**
 * A 64-bit advisory-lock key for a string. Writers of one entity (or one idempotency key) take the
 * same key, so they queue instead of racing; unrelated writers almost never share one, and when
 * they do they only wait.
 */
export function lockKey(text: string): bigint {
  return createHash('sha256').update(text).digest().readBigInt64BE(0);
}

/** Connection pool, limits and the tenant check shared by the adapter's parts. */
export class PgCore {
  closed = false;
  readonly #known = new Set<string>();

  constructor(
    readonly pool: Pool,
    readonly limits: StoreLimits,
    readonly logger: Logger,
  ) {}

  /** Runs an operation: `CLOSED` after close, driver errors mapped to `UeeError`s. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      assertOpen(this.closed, 'postgres');
      return await fn();
    } catch (err) {
      throw pgError(err, this.closed);
    }
  }

  /** The context's tenant key after checking the tenant is registered (`UNKNOWN_TENANT`). */
  async scope(ctx: TenantContext): Promise<string> {
    const tk = tenantKeyOf(ctx);
    if (tk === GLOBAL_TENANT_KEY || this.#known.has(tk)) return tk;
    const found = isValidTenantId(tk) ? await this.pool.query('SELECT 1 FROM tenants WHERE tenant_id = $1', [tk]) : undefined;
    if (found === undefined || found.rows.length === 0) throw unknownTenant(tk);
    this.#known.add(tk);
    return tk;
  }

  /** Remembers a tenant just registered. */
  rememberTenant(tenantId: string): void {
    this.#known.add(tenantId);
  }

  /**
   * Runs `fn` in one READ COMMITTED transaction on one connection. `fn` takes the advisory locks of
   * what it will change before reading it, so its reads are current; a racing insert that still
   * slips through (unique violation), a deadlock or a serialization failure rolls back and re-runs
   * `fn` from the start, up to {@link MAX_ATTEMPTS} times. A `UeeError` thrown by `fn` rolls back
   * and is answered as is.
   */
  async transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await fn(client);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        const code = sqlState(err);
        if (code !== undefined && RETRY_CODES.has(code) && attempt < MAX_ATTEMPTS && !this.closed) {
          await new Promise((r) => setTimeout(r, Math.random() * 2 ** attempt));
          continue;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }
}
