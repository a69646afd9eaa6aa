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
 * lets ranges stay within one type. Probes force the index (`INDEXED BY`). An equality probe read
 * in the index's order is streamed (rows come in query order, the metered evaluator stops the
 * query past `maxDocumentsExamined`); any other probe is counted before it is read, so its work is
 * bounded by `maxDocumentsExamined` candidates.
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
  /** Extra WHERE condition restricting the query to the probe's counted candidates, if an index is used that way. */
  where: { sql: string; params: unknown[] } | null;
  /**
   * A derived table to read from instead of the table, if the probe is streamed: one arm per probe
   * value over the index, merged by SQLite in the index's id order (no sorter), so rows arrive in
   * the query's order and the metered evaluator bounds the work; nothing is counted first.
   */
  from: { sql: string; params: unknown[] } | null;
}

/** Probe values (sentinels included) up to which an equality probe is streamed rather than counted. */
const MAX_STREAM_ARMS = 8;

/**
 * The streamed form of an equality probe, or undefined when it has too many values: `SELECT *` of
 * the index for each value, `UNION ALL`. Each arm reads the index in (value, id) order, so SQLite
 * merges the arms in id order and pushes the keyset condition into each of them.
 */
function streamSql(s: QueryScope, name: string, p: Probe, texts: Map<string, string>): { sql: string; params: unknown[] } | undefined {
  if (p.kind !== 'eq') return undefined;
  const bound = new Map<string, string | number>();
  for (const v of p.values) if (v !== null) bound.set(`${typeof bind(v)}:${String(bind(v))}`, bind(v));
  const marks = [...bound.values()].map(() => '?');
  marks.push(`X'00'`);
  if (p.values.includes(null)) marks.push(`X'01'`);
  if (marks.length > MAX_STREAM_ARMS) return undefined;
  // The text depends only on the index and the marks: built once (index names are per tenant, scope and field).
  const key = `${name}\u0000${marks.join(',')}`;
  let sql = texts.get(key);
  if (sql === undefined) {
    const e = probeExpr(p.field);
    const arm = (m: string): string => `SELECT * FROM ${TABLES[s.target].table} INDEXED BY "${name}" WHERE ${scopeCondition(s)} AND ${e} = ${m}`;
    if (texts.size >= 1024) texts.clear();
    texts.set(key, (sql = `(${marks.map(arm).join(' UNION ALL ')})`));
  }
  return { sql, params: [...bound.values()] };
}

/** Indexes, probes, use counts and the slow-query log of one SQLite store. */
export class SqliteIndexes {
  readonly slow: SlowQueryLog;
  readonly uses: IndexUses;
  /** Index rows per (tenant, target, scope), valid while the file's schema version is {@link #schemaVersion}. */
  readonly #scopes = new Map<string, IndexRow[]>();
  /** SQL text of streamed probes, by index and probe marks. */
  readonly #streamTexts = new Map<string, string>();
  #schemaVersion = -1;

  constructor(readonly core: SqliteCore) {
    const sink = sqliteStatsSink(core);
    this.slow = new SlowQueryLog(core.limits.slowQueryMs, sink);
    this.uses = new IndexUses(sink);
  }

  /** The tenant's stored slow queries by shape, most total time first. */
  slowQueries(tenantKey: string, limit?: number): SlowQueryShape[] {
    const rows = this.core.cache.get('SELECT entry FROM slow_queries WHERE tenant_key = ? ORDER BY id DESC LIMIT +?').all(tenantKey, SLOW_PER_TENANT) as Array<{ entry: string }>;
    return slowestShapes(rows.map((r) => JSON.parse(r.entry) as SlowQuery), limit);
  }

  #rows(tenantKey: string, target?: IndexTarget, scope?: string): IndexRow[] {
    if (target === undefined) return this.core.cache.get('SELECT * FROM query_indexes WHERE tenant_key = ? ORDER BY created_at, name').all(tenantKey) as IndexRow[];
    return this.core.cache.get('SELECT * FROM query_indexes WHERE tenant_key = ? AND target = ? AND scope = ?').all(tenantKey, target, scope) as IndexRow[];
  }

  #info(r: IndexRow): IndexInfo {
    const size = this.core.cache.get('SELECT sum(pgsize) AS n FROM dbstat WHERE name = ?').get(r.name) as { n: number | null } | undefined;
    return { name: r.name, target: r.target, scope: r.scope, field: r.field, createdAt: r.created_at, sizeBytes: size?.n ?? null, uses: (r.uses ?? 0) + this.uses.of(r.name) };
  }

  /**
   * The scope's indexes, cached. Every index is created and dropped together with its row in one
   * transaction, which changes the schema version: a change by any connection (another process
   * too) empties the cache, so a query never names an index that is gone.
   */
  #scopeRows(s: QueryScope): IndexRow[] {
    const version = this.core.cache.get('PRAGMA schema_version').pluck().get() as number;
    if (version !== this.#schemaVersion) {
      this.#scopes.clear();
      this.#schemaVersion = version;
    }
    const key = `${s.tenantKey}\u0000${s.target}\u0000${s.scope}`;
    let rows = this.#scopes.get(key);
    if (rows === undefined) {
      if (this.#scopes.size >= 4096) this.#scopes.clear();
      this.#scopes.set(key, (rows = this.#rows(s.tenantKey, s.target, s.scope)));
    }
    return rows;
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
    this.#scopes.clear();
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
    this.#scopes.clear();
    return true;
  }

  /**
   * Picks the access path of a query and notes it in `plan`. With an indexable conjunct on an
   * indexed field: when the caller reads in the index's order (`ordered`, the default id order) and
   * the probe is an equality on a few values, the probe is streamed (see {@link Access.from}) and
   * bounded like a scan by the metered evaluator; otherwise its candidates are counted first and
   * read only when there are at most `maxDocumentsExamined` of them, else the query scans.
   */
  access(s: QueryScope, filter: JsonObject, plan: QueryPlan, ordered = false): Access {
    const probes = probesOf(filter);
    if (probes.length === 0) return { where: null, from: null };
    const indexes = this.#scopeRows(s);
    const probe = chooseProbe(probes, (f) => indexes.some((r) => r.field === f));
    if (probe === undefined) {
      plan.suggestedIndex = suggestIndex(s.target, s.scope, filter);
      return { where: null, from: null };
    }
    const index = indexes.find((r) => r.field === probe.field)!;
    const stream = ordered ? streamSql(s, index.name, probe, this.#streamTexts) : undefined;
    let where: Access['where'] = null;
    if (stream === undefined) {
      const candidates = probeSql(s, index.name, probe);
      const cap = this.core.limits.filter.maxDocumentsExamined;
      const counted = this.core.cache.get(`SELECT count(*) AS n FROM (${candidates.sql} LIMIT +?)`).get(...candidates.params, cap + 1) as { n: number };
      if (counted.n > cap) {
        plan.fallback = `the probe ${describeProbe(probe)} matches more than ${cap} documents (maxDocumentsExamined): scanned instead`;
        return { where: null, from: null };
      }
      where = { sql: `rowid IN (${candidates.sql})`, params: candidates.params };
    }
    this.uses.hit(index.name);
    plan.access = 'index';
    plan.index = index.name;
    plan.probe = describeProbe(probe);
    return { where, from: stream ?? null };
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
    ordered = false,
  ): T {
    const plan = capture ?? emptyPlan(s.target, s.scope, filter);
    const started = performance.now();
    let sql: { sql: string; params: unknown[] } | undefined;
    try {
      const out = body(this.access(s, filter, plan, ordered), (text, params) => (sql = { sql: text, params }));
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
