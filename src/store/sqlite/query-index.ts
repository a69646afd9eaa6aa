import { UeeError, type JsonObject } from '../../core/index.js';
import {
  IndexUses,
  SLOW_PER_TENANT,
  SlowQueryLog,
  slowestFirst,
  type QueryStatsSink,
  type SlowQuery,
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
import type { SqliteCore } from './core.js';

/**
 * Per-tenant expression indexes on SQLite. An index is a partial index over one tenant's rows of
 * one view (or of one entity type, with the global entities the tenant also sees), on the probe
 * expression of a field:
 *
 *   CASE WHEN <a prefix of the path is an array> THEN X'00' ELSE coalesce(json_extract(doc, path), X'01') END
 *
 * so a document whose path crosses an array is always a candidate (X'00' is read by every probe),
 * missing and null share X'01', and scalars keep SQLite's type order (numbers < text < blob), which
 * lets ranges stay within one type. Probes force the index (`INDEXED BY`) and are counted before
 * they are read, so their work is bounded by `maxDocumentsExamined` candidates.
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
const jsonPath = (segments: string[]): string => '$' + segments.map((s) => `."${s}"`).join('');

/** The probe expression of an (indexable) field over column `doc`. */
export function probeExpr(field: string): string {
  const segs = field.split('.');
  const arrays = segs.map((_, i) => `json_type(doc, ${lit(jsonPath(segs.slice(0, i + 1)))}) = 'array'`).join(' OR ');
  return `(CASE WHEN ${arrays} THEN X'00' ELSE coalesce(json_extract(doc, ${lit(jsonPath(segs))}), X'01') END)`;
}

/** The partial-index condition of a scope, as literals (a partial index needs them to match). */
export function scopeCondition(s: QueryScope): string {
  if (s.target === 'readModel') return `tenant_key = ${lit(s.tenantKey)} AND view = ${lit(s.scope)}`;
  const keys = visibleTenantKeys(s.tenantKey);
  return `is_latest = 1 AND entity_type_id = ${lit(s.scope)} AND tenant_key IN (${keys.map(lit).join(', ')})`;
}

const bind = (v: string | number | boolean): string | number => (typeof v === 'boolean' ? (v ? 1 : 0) : v);

/** `rowid IN (…)`: the rows the index returns for a probe, arrays' sentinel included. */
function probeSql(s: QueryScope, name: string, p: Probe): { sql: string; params: unknown[] } {
  const { table } = TABLES[s.target];
  const e = probeExpr(p.field);
  const head = `SELECT rowid FROM ${table} INDEXED BY "${name}" WHERE ${scopeCondition(s)} AND`;
  if (p.kind === 'eq') {
    const scalars = p.values.filter((v): v is string | number | boolean => v !== null);
    const marks = [`X'00'`, ...(p.values.includes(null) ? [`X'01'`] : []), ...scalars.map(() => '?')];
    return { sql: `${head} ${e} IN (${marks.join(', ')})`, params: scalars.map(bind) };
  }
  const sym = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[p.op];
  const upper = p.op === '$gt' || p.op === '$gte';
  // Stay inside the literal's type: numbers sort below text, text below blobs.
  const bound = typeof p.value === 'number' ? (upper ? ` AND ${e} < ''` : '') : upper ? ` AND ${e} < X''` : ` AND ${e} >= ''`;
  return { sql: `${head} ${e} ${sym} ?${bound} UNION ALL ${head} ${e} = X'00'`, params: [p.value] };
}

interface IndexRow {
  name: string;
  tenant_key: string;
  target: IndexTarget;
  scope: string;
  field: string;
  created_at: string;
  uses?: number;
}

/** Slow queries kept across restarts (the last SLOW_PER_TENANT per tenant); `uses` is added to query_indexes by {@link applyQueryStatsSchema}. */
export const QUERY_STATS_DDL = `
CREATE TABLE IF NOT EXISTS slow_queries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_key TEXT NOT NULL,
  entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS slow_queries_by_tenant ON slow_queries (tenant_key, id);
`;

/** Creates the stats table and adds `query_indexes.uses` to files from before it (no version bump: older UEEs ignore both). */
export function applyQueryStatsSchema(db: SqliteCore['db']): void {
  db.exec(QUERY_STATS_DDL);
  const columns = db.prepare('PRAGMA table_info(query_indexes)').all() as Array<{ name: string }>;
  if (!columns.some((c) => c.name === 'uses')) db.exec('ALTER TABLE query_indexes ADD COLUMN uses INTEGER NOT NULL DEFAULT 0');
}

function sqliteStatsSink(core: SqliteCore): QueryStatsSink {
  return {
    saveSlow: (tenantKey, entry) => {
      if (core.closed) return;
      core.cache.get('INSERT INTO slow_queries (tenant_key, entry) VALUES (?, ?)').run(tenantKey, JSON.stringify(entry));
      core.cache
        .get('DELETE FROM slow_queries WHERE tenant_key = ? AND id <= (SELECT id FROM slow_queries WHERE tenant_key = ? ORDER BY id DESC LIMIT 1 OFFSET ?)')
        .run(tenantKey, tenantKey, SLOW_PER_TENANT);
    },
    addUses: (deltas) => {
      if (core.closed) return;
      const add = core.cache.get('UPDATE query_indexes SET uses = uses + ? WHERE name = ?');
      core.db.transaction(() => {
        for (const [name, n] of deltas) add.run(n, name);
      })();
    },
  };
}

/** What {@link SqliteIndexes.access} decided for one query. */
export interface Access {
  /** Extra WHERE condition restricting the query to the probe's candidates, if an index is used. */
  where: { sql: string; params: unknown[] } | null;
}

/** Indexes, probes, use counts and the slow-query log of one SQLite store. */
export class SqliteIndexes {
  readonly slow: SlowQueryLog;
  readonly uses: IndexUses;

  constructor(readonly core: SqliteCore) {
    const sink = sqliteStatsSink(core);
    this.slow = new SlowQueryLog(core.limits.slowQueryMs, sink);
    this.uses = new IndexUses(sink);
  }

  /** The tenant's stored slow queries, slowest first. */
  slowQueries(tenantKey: string, limit?: number): SlowQuery[] {
    const rows = this.core.cache.get('SELECT entry FROM slow_queries WHERE tenant_key = ? ORDER BY id DESC LIMIT ?').all(tenantKey, SLOW_PER_TENANT) as Array<{ entry: string }>;
    return slowestFirst(rows.map((r) => JSON.parse(r.entry) as SlowQuery), limit);
  }

  #rows(tenantKey: string, target?: IndexTarget, scope?: string): IndexRow[] {
    if (target === undefined) return this.core.cache.get('SELECT * FROM query_indexes WHERE tenant_key = ? ORDER BY created_at, name').all(tenantKey) as IndexRow[];
    return this.core.cache.get('SELECT * FROM query_indexes WHERE tenant_key = ? AND target = ? AND scope = ?').all(tenantKey, target, scope) as IndexRow[];
  }

  #info(r: IndexRow): IndexInfo {
    const size = this.core.cache.get('SELECT sum(pgsize) AS n FROM dbstat WHERE name = ?').get(r.name) as { n: number | null } | undefined;
    return { name: r.name, target: r.target, scope: r.scope, field: r.field, createdAt: r.created_at, sizeBytes: size?.n ?? null, uses: (r.uses ?? 0) + this.uses.of(r.name) };
  }

  list(tenantKey: string): IndexInfo[] {
    return this.#rows(tenantKey).map((r) => this.#info(r));
  }

  /**
   * Creates the index (idempotent). SQLite builds it in one write transaction: readers carry on
   * (WAL), writers wait for the build, which reads the table once.
   */
  add(tenantKey: string, spec: IndexSpec): IndexInfo {
    checkIndexSpec(spec);
    const name = indexName(tenantKey, spec);
    const existing = this.#rows(tenantKey).find((r) => r.name === name);
    if (existing !== undefined) return this.#info(existing);
    if (this.#rows(tenantKey).length >= this.core.limits.maxIndexesPerTenant) throw tooManyIndexes(this.core.limits.maxIndexesPerTenant);
    const { table, id } = TABLES[spec.target];
    const s: QueryScope = { target: spec.target, scope: spec.scope, tenantKey };
    const row: IndexRow = { name, tenant_key: tenantKey, target: spec.target, scope: spec.scope, field: spec.field, created_at: new Date().toISOString() };
    this.core.db
      .transaction(() => {
        this.core.db.exec(`CREATE INDEX IF NOT EXISTS "${name}" ON ${table} (${probeExpr(spec.field)}, ${id}) WHERE ${scopeCondition(s)}`);
        this.core.cache
          .get('INSERT INTO query_indexes (name, tenant_key, target, scope, field, created_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(row.name, row.tenant_key, row.target, row.scope, row.field, row.created_at);
      })
      .immediate();
    return this.#info(row);
  }

  /** Drops one of the tenant's indexes; false when it has none of that name. */
  drop(tenantKey: string, name: string): boolean {
    const row = this.#rows(tenantKey).find((r) => r.name === name);
    if (row === undefined) return false;
    this.core.db
      .transaction(() => {
        this.core.db.exec(`DROP INDEX IF EXISTS "${row.name}"`);
        this.core.cache.get('DELETE FROM query_indexes WHERE name = ?').run(row.name);
      })
      .immediate();
    return true;
  }

  /**
   * Picks the access path of a query and notes it in `plan`: a probe through one of the scope's
   * indexes when the filter has an indexable conjunct on an indexed field and the probe returns at
   * most `maxDocumentsExamined` candidates, else a scan.
   */
  access(s: QueryScope, filter: JsonObject, plan: QueryPlan): Access {
    const probes = probesOf(filter);
    if (probes.length === 0) return { where: null };
    const indexes = this.#rows(s.tenantKey, s.target, s.scope);
    const probe = chooseProbe(probes, (f) => indexes.some((r) => r.field === f));
    if (probe === undefined) {
      plan.suggestedIndex = suggestIndex(s.target, s.scope, filter);
      return { where: null };
    }
    const index = indexes.find((r) => r.field === probe.field)!;
    const candidates = probeSql(s, index.name, probe);
    const cap = this.core.limits.filter.maxDocumentsExamined;
    const counted = this.core.cache.get(`SELECT count(*) AS n FROM (${candidates.sql} LIMIT ?)`).get(...candidates.params, cap + 1) as { n: number };
    if (counted.n > cap) {
      plan.fallback = `the probe ${describeProbe(probe)} matches more than ${cap} documents (maxDocumentsExamined): scanned instead`;
      return { where: null };
    }
    this.uses.hit(index.name);
    plan.access = 'index';
    plan.index = index.name;
    plan.probe = describeProbe(probe);
    return { where: { sql: `rowid IN (${candidates.sql})`, params: candidates.params } };
  }

  /**
   * Runs one query under a plan: chooses its access path, times it, fills `capture` (explain) with
   * the backend's plan, and records slow or refused queries in the tenant's log.
   */
  run<T>(
    s: QueryScope,
    filter: JsonObject,
    capture: QueryPlan | undefined,
    body: (access: Access, onSql: (sql: string, params: unknown[]) => void) => { result: T; examined: number; returned: number },
  ): T {
    const plan = capture ?? emptyPlan(s.target, s.scope, filter);
    const started = performance.now();
    let sql: { sql: string; params: unknown[] } | undefined;
    try {
      const out = body(this.access(s, filter, plan), (text, params) => (sql = { sql: text, params }));
      plan.rowsExamined = out.examined;
      plan.rowsReturned = out.returned;
      return out.result;
    } catch (err) {
      plan.error = err instanceof UeeError ? err.code : 'INTERNAL';
      throw err;
    } finally {
      plan.ms = Math.round((performance.now() - started) * 1000) / 1000;
      if (capture !== undefined && sql !== undefined) {
        const rows = this.core.cache.get(`EXPLAIN QUERY PLAN ${sql.sql}`).all(...sql.params) as Array<{ detail: string }>;
        capture.backendPlan = rows.map((r) => r.detail);
      }
      this.slow.record(s.tenantKey, plan, filter);
    }
  }
}
