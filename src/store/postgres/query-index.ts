import { UeeError, type JsonObject } from '../../core/index.js';
import {
  IndexUses,
  SLOW_PER_TENANT,
  SlowQueryLog,
  slowestShapes,
  type QueryStatsSink,
  type SlowQuery,
  type SlowQueryShape,
  checkIndexSpec,
  chooseProbe,
  describeProbe,
  emptyPlan,
  indexName,
  probesOf,
  suggestIndex,
  tooManyIndexes,
  type IndexInfo,
  type IndexSpec,
  type IndexTarget,
  type Probe,
  type QueryPlan,
} from '../query-index.js';
import { visibleTenantKeys } from '../shared.js';
import type { PgCore } from './core.js';
import { Params } from './keyset.js';

/**
 * Per-tenant expression indexes on PostgreSQL, the counterpart of sqlite/query-index.ts. The probe
 * expression is jsonb:
 *
 *   CASE WHEN <a prefix of the path is an array> THEN '[]' ELSE coalesce(doc #> path, 'null') END
 *
 * so arrays share a sentinel every probe reads and missing equals null; jsonb orders Null < String
 * < Number < Boolean, which keeps numeric ranges within numbers. String ranges are not pushed down
 * here: jsonb compares strings with the database collation, which need not be code-point order.
 * Indexes are built with `CREATE INDEX CONCURRENTLY`, so writers are not blocked.
 */

/** Where a query reads: its table, tenant and view or type. */
export interface QueryScope {
  target: IndexTarget;
  scope: string;
  tenantKey: string;
}

const TABLES: Record<IndexTarget, { table: string; id: string }> = {
  readModel: { table: 'read_models', id: 'id' },
  entities: { table: 'entity_versions', id: 'entity_id' },
};

const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const pathLit = (segments: string[]): string => lit(`{${segments.map((s) => `"${s}"`).join(',')}}`);
/** Below every number JavaScript can write, above every string (jsonb order). */
const MIN_NUMBER = `'-1.7976931348623157e308'::jsonb`;

/** The probe expression of an (indexable) field over column `doc`. */
export function probeExpr(field: string): string {
  const segs = field.split('.');
  const arrays = segs.map((_, i) => `jsonb_typeof(doc #> ${pathLit(segs.slice(0, i + 1))}) = 'array'`).join(' OR ');
  return `(CASE WHEN ${arrays} THEN '[]'::jsonb ELSE coalesce(doc #> ${pathLit(segs)}, 'null'::jsonb) END)`;
}

/** The partial-index condition of a scope, as literals. */
export function scopeCondition(s: QueryScope): string {
  if (s.target === 'readModel') return `tenant_key = ${lit(s.tenantKey)} AND view = ${lit(s.scope)}`;
  const keys = visibleTenantKeys(s.tenantKey);
  return `is_latest AND entity_type_id = ${lit(s.scope)} AND tenant_key IN (${keys.map(lit).join(', ')})`;
}

/** Whether PostgreSQL can answer a probe through the index exactly as a superset. */
const pushable = (p: Probe): boolean => p.kind === 'eq' || typeof p.value === 'number';

/** How long a scope's index list is reused by queries (explain always reads it afresh). */
const SCOPE_CACHE_MS = 1000;

function probeCondition(p: Probe, params: Params): string {
  const e = probeExpr(p.field);
  if (p.kind === 'eq') {
    return `${e} IN ('[]'::jsonb, ${p.values.map((v) => params.add(JSON.stringify(v), 'jsonb')).join(', ')})`;
  }
  const sym = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[p.op];
  const bound = p.op === '$gt' || p.op === '$gte' ? `${e} < 'false'::jsonb` : `${e} >= ${MIN_NUMBER}`;
  return `((${e} ${sym} ${params.add(JSON.stringify(p.value), 'jsonb')} AND ${bound}) OR ${e} = '[]'::jsonb)`;
}

interface IndexRow {
  name: string;
  tenant_key: string;
  target: IndexTarget;
  scope: string;
  field: string;
  created_at: string;
  uses?: string | number;
}

/** Slow queries kept across restarts and the stored use counts of indexes (no version bump: older UEEs ignore both). */
export const QUERY_STATS_DDL = `
CREATE TABLE IF NOT EXISTS slow_queries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_key text COLLATE "C" NOT NULL,
  entry json NOT NULL
);
CREATE INDEX IF NOT EXISTS slow_queries_by_tenant ON slow_queries (tenant_key, id);
ALTER TABLE query_indexes ADD COLUMN IF NOT EXISTS uses bigint NOT NULL DEFAULT 0;
`;

/** Writes are queued off the query path (one at a time, in order); `settled` waits for them. */
class PgStatsSink implements QueryStatsSink {
  #chain: Promise<void> = Promise.resolve();
  constructor(readonly core: PgCore) {}
  #enqueue(what: string, fn: () => Promise<unknown>): void {
    this.#chain = this.#chain.then(async () => {
      if (this.core.closed) return;
      try {
        await fn();
      } catch (err) {
        this.core.logger.warn(`saving ${what} failed`, { error: err instanceof Error ? err.message : String(err) });
      }
    });
  }
  saveSlow(tenantKey: string, entry: SlowQuery): void {
    this.#enqueue('a slow query', async () => {
      await this.core.pool.query('INSERT INTO slow_queries (tenant_key, entry) VALUES ($1, $2)', [tenantKey, JSON.stringify(entry)]);
      await this.core.pool.query('DELETE FROM slow_queries WHERE tenant_key = $1 AND id <= (SELECT id FROM slow_queries WHERE tenant_key = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)', [tenantKey, SLOW_PER_TENANT]);
    });
  }
  addUses(deltas: ReadonlyMap<string, number>): void {
    this.#enqueue('index use counts', () =>
      this.core.pool.query('UPDATE query_indexes q SET uses = q.uses + d.n FROM unnest($1::text[], $2::bigint[]) AS d(name, n) WHERE q.name = d.name', [[...deltas.keys()], [...deltas.values()]]),
    );
  }
  /** Resolves when every queued write has been tried. */
  settled(): Promise<void> {
    return this.#chain;
  }
}

/** Indexes, probes, use counts and the slow-query log of one PostgreSQL store. */
export class PgIndexes {
  readonly slow: SlowQueryLog;
  readonly uses: IndexUses;
  readonly #sink: PgStatsSink;
  /** Index rows per (tenant, target, scope) and when they were read (see {@link #scopeRows}). */
  readonly #scopes = new Map<string, { rows: IndexRow[]; at: number }>();

  constructor(readonly core: PgCore) {
    this.#sink = new PgStatsSink(core);
    this.slow = new SlowQueryLog(core.limits.slowQueryMs, this.#sink);
    this.uses = new IndexUses(this.#sink);
  }

  /** The tenant's stored slow queries by shape, most total time first (after the queued writes of this process). */
  async slowQueries(tenantKey: string, limit?: number): Promise<SlowQueryShape[]> {
    await this.#sink.settled();
    const { rows } = await this.core.pool.query<{ entry: SlowQuery }>('SELECT entry FROM slow_queries WHERE tenant_key = $1 ORDER BY id DESC LIMIT $2', [tenantKey, SLOW_PER_TENANT]);
    return slowestShapes(rows.map((r) => r.entry), limit);
  }

  /** Flushes pending use counts and waits for every queued write (before the pool closes). */
  async flush(): Promise<void> {
    this.uses.flush();
    await this.#sink.settled();
  }

  async #rows(tenantKey: string, target?: IndexTarget, scope?: string): Promise<IndexRow[]> {
    const { rows } =
      target === undefined
        ? await this.core.pool.query<IndexRow>('SELECT * FROM query_indexes WHERE tenant_key = $1 ORDER BY created_at, name', [tenantKey])
        : await this.core.pool.query<IndexRow>('SELECT * FROM query_indexes WHERE tenant_key = $1 AND target = $2 AND scope = $3', [tenantKey, target, scope]);
    return rows;
  }

  async #info(r: IndexRow): Promise<IndexInfo> {
    const { rows } = await this.core.pool.query<{ n: string | null }>('SELECT pg_relation_size(to_regclass(quote_ident($1)))::text AS n', [r.name]);
    const n = rows[0]?.n;
    return { name: r.name, target: r.target, scope: r.scope, field: r.field, createdAt: r.created_at, sizeBytes: n == null ? null : Number(n), uses: Number(r.uses ?? 0) + this.uses.of(r.name) };
  }

  /**
   * The scope's indexes, reused for {@link SCOPE_CACHE_MS}: an add or drop in this process empties
   * the cache at once; one in another process is seen within that time. PostgreSQL is never forced
   * onto an index (the probe is a plain condition), so a stale list changes a plan, never a result;
   * explain reads the list afresh.
   */
  async #scopeRows(s: QueryScope, fresh: boolean): Promise<IndexRow[]> {
    const key = `${s.tenantKey}\u0000${s.target}\u0000${s.scope}`;
    const hit = this.#scopes.get(key);
    const now = Date.now();
    if (!fresh && hit !== undefined && now - hit.at < SCOPE_CACHE_MS) return hit.rows;
    const rows = await this.#rows(s.tenantKey, s.target, s.scope);
    if (this.#scopes.size >= 4096) this.#scopes.clear();
    this.#scopes.set(key, { rows, at: now });
    return rows;
  }

  async list(tenantKey: string): Promise<IndexInfo[]> {
    return Promise.all((await this.#rows(tenantKey)).map((r) => this.#info(r)));
  }

  /** Creates the index online (`CONCURRENTLY`: writers carry on while it builds). Idempotent. */
  async add(tenantKey: string, spec: IndexSpec): Promise<IndexInfo> {
    checkIndexSpec(spec);
    const name = indexName(tenantKey, spec);
    const all = await this.#rows(tenantKey);
    const existing = all.find((r) => r.name === name);
    if (existing !== undefined) return this.#info(existing);
    if (all.length >= this.core.limits.maxIndexesPerTenant) throw tooManyIndexes(this.core.limits.maxIndexesPerTenant);
    const { table, id } = TABLES[spec.target];
    const s: QueryScope = { target: spec.target, scope: spec.scope, tenantKey };
    try {
      await this.core.pool.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS "${name}" ON ${table} (${probeExpr(spec.field)}, ${id}) WHERE ${scopeCondition(s)}`);
    } catch (err) {
      // A failed concurrent build leaves an invalid index behind.
      await this.core.pool.query(`DROP INDEX IF EXISTS "${name}"`).catch(() => undefined);
      throw err;
    }
    const row: IndexRow = { name, tenant_key: tenantKey, target: spec.target, scope: spec.scope, field: spec.field, created_at: new Date().toISOString() };
    this.#scopes.clear();
    await this.core.pool.query('INSERT INTO query_indexes (name, tenant_key, target, scope, field, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING', [
      row.name,
      row.tenant_key,
      row.target,
      row.scope,
      row.field,
      row.created_at,
    ]);
    return this.#info(row);
  }

  async drop(tenantKey: string, name: string): Promise<boolean> {
    const row = (await this.#rows(tenantKey)).find((r) => r.name === name);
    if (row === undefined) return false;
    await this.core.pool.query(`DROP INDEX CONCURRENTLY IF EXISTS "${row.name}"`);
    await this.core.pool.query('DELETE FROM query_indexes WHERE name = $1', [row.name]);
    this.#scopes.clear();
    return true;
  }

  /**
   * Picks the access path (as the SQLite adapter does) and returns the extra WHERE condition of a
   * probe, its placeholders taken from `params`, or null for a scan.
   */
  async access(s: QueryScope, filter: JsonObject, plan: QueryPlan, params: Params, fresh = false): Promise<string | null> {
    const probes = probesOf(filter).filter(pushable);
    if (probes.length === 0) return null;
    const indexes = await this.#scopeRows(s, fresh);
    const probe = chooseProbe(probes, (f) => indexes.some((r) => r.field === f));
    if (probe === undefined) {
      plan.suggestedIndex = suggestIndex(s.target, s.scope, filter);
      return null;
    }
    const index = indexes.find((r) => r.field === probe.field)!;
    const cap = this.core.limits.filter.maxDocumentsExamined;
    const counting = new Params();
    const cond = probeCondition(probe, counting);
    const { rows } = await this.core.pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM (SELECT 1 FROM ${TABLES[s.target].table} WHERE ${scopeCondition(s)} AND ${cond} LIMIT ${cap + 1}) c`,
      counting.values,
    );
    if (Number(rows[0]?.n ?? 0) > cap) {
      plan.fallback = `the probe ${describeProbe(probe)} matches more than ${cap} documents (maxDocumentsExamined): scanned instead`;
      return null;
    }
    this.uses.hit(index.name);
    plan.access = 'index';
    plan.index = index.name;
    plan.probe = describeProbe(probe);
    return `${scopeCondition(s)} AND ${probeCondition(probe, params)}`;
  }

  /** Runs one query under a plan (see SqliteIndexes.run). */
  async run<T>(
    s: QueryScope,
    filter: JsonObject,
    capture: QueryPlan | undefined,
    params: Params,
    body: (where: string | null, onSql: (sql: string, params: unknown[]) => void) => Promise<{ result: T; examined: number; returned: number }>,
  ): Promise<T> {
    const plan = capture ?? emptyPlan(s.target, s.scope, filter);
    const started = performance.now();
    let sql: { sql: string; params: unknown[] } | undefined;
    try {
      const out = await body(await this.access(s, filter, plan, params, capture !== undefined), (text, values) => (sql = { sql: text, params: values }));
      plan.rowsExamined = out.examined;
      plan.rowsReturned = out.returned;
      return out.result;
    } catch (err) {
      plan.error = err instanceof UeeError ? err.code : 'INTERNAL';
      throw err;
    } finally {
      plan.ms = Math.round((performance.now() - started) * 1000) / 1000;
      if (capture !== undefined && sql !== undefined) {
        const { rows } = await this.core.pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql.sql}`, sql.params);
        capture.backendPlan = rows.map((r) => r['QUERY PLAN']);
      }
      this.slow.record(s.tenantKey, plan, filter);
    }
  }
}
