import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EntityTypeIdSchema, JsonObjectSchema, SortSchema, UeeError, parseOrThrow, type JsonObject, type TenantContext } from '../core/index.js';
import { checkFieldPath, isFieldOperatorValue } from './filter.js';

/**
 * Indexes, plans and the slow-query log that both SQL adapters share. A query is pushed into the
 * store through an index as a *probe*: one conjunct of the filter (`field = v`, `field IN (…)`,
 * `field > v`, …) that the index answers as a superset of the documents the whole filter matches.
 * The candidates it returns are then evaluated by the metered reference evaluator
 * (filter-compile.ts), so a translated query returns exactly what the evaluator returns, and the
 * work is bounded by the candidates, which are capped by `maxDocumentsExamined`.
 *
 * Superset, not equality, is the contract of a probe: MongoDB semantics (arrays matched by
 * element, `null` matching a missing field, comparisons only within one type) are reproduced by
 * the evaluator; the index expression only has to never lose a match. It maps every document
 * whose path crosses an array to a sentinel every probe also reads, and missing/null to another.
 */

/** What an index covers: entity documents of one type, or documents of one read-model view. */
export type IndexTarget = 'entities' | 'readModel';

/** An index as declared: a tenant's index on one field of one entity type or view. */
export interface IndexSpec {
  target: IndexTarget;
  /** Entity type id (`target: 'entities'`) or view name (`target: 'readModel'`). */
  scope: string;
  /** Dotted path in the document (`attributes.status` for entities, `status` for a view). */
  field: string;
}

/** A created index with its size and use count. */
export interface IndexInfo extends IndexSpec {
  name: string;
  createdAt: string;
  /** Bytes on disk, when the backend reports it. */
  sizeBytes: number | null;
  /** Queries that read it since this process opened the store. */
  uses: number;
}

/** How a query was (or would be) answered. */
export interface QueryPlan {
  target: IndexTarget;
  scope: string;
  /** The filter with literals replaced by their type, e.g. `{"status":"<string>"}`. */
  shape: JsonObject;
  /** `index`: candidates from an index probe; `scan`: every document of the type or view read and evaluated. */
  access: 'index' | 'scan';
  index: string | null;
  /** The probe the index answers, e.g. `status IN ("open")`. */
  probe: string | null;
  /** Why an available index was not used. */
  fallback: string | null;
  /** Documents read and evaluated. */
  rowsExamined: number;
  rowsReturned: number;
  ms: number;
  /** The backend's own plan (SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN`). */
  backendPlan: string[];
  /** The index that would turn this scan into a probe, when there is one. */
  suggestedIndex: IndexSpec | null;
  /** Error code when the query failed (e.g. `QUERY_TOO_COSTLY`). */
  error: string | null;
}

/** A query recorded in the slow-query log: its plan and, for the tenant that ran it, the filter itself. */
export interface SlowQuery extends Omit<QueryPlan, 'backendPlan'> {
  at: string;
  filter: JsonObject;
}

/**
 * One query shape of the slow-query log (target, view or type, filter shape, plan): the slowest of
 * its recorded runs (its plan, `ms`, `filter`), how many runs were recorded and their total time, and
 * when the last one ran. Ranked by total time, as pg_stat_statements is: one run's wall time on a
 * busy machine is noise, what a shape costs over its runs is what an index saves.
 */
export interface SlowQueryShape extends SlowQuery {
  count: number;
  totalMs: number;
  lastAt: string;
}

/** A query to explain: the same shape as an entity or read-model query. */
export interface ExplainRequest {
  target: IndexTarget;
  scope: string;
  filter?: JsonObject;
  sort?: Record<string, 1 | -1>;
  limit?: number;
}

const ScopeSchema = z.union([EntityTypeIdSchema, z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,127}$/)]);

/** Validates an {@link IndexSpec} (field checked by {@link checkIndexSpec}). */
export function parseIndexSpec(spec: unknown): IndexSpec {
  const s = parseOrThrow(z.strictObject({ target: z.enum(['entities', 'readModel']), scope: ScopeSchema, field: z.string().min(1).max(256) }), spec, 'index');
  checkIndexSpec(s);
  return s;
}

/** Validates an {@link ExplainRequest}. */
export function parseExplainRequest(req: unknown): ExplainRequest {
  const r = parseOrThrow(
    z.strictObject({ target: z.enum(['entities', 'readModel']), scope: ScopeSchema, filter: JsonObjectSchema.optional(), sort: SortSchema.optional(), limit: z.number().int().min(1).max(1000).optional() }),
    req,
    'explain request',
  );
  return {
    target: r.target,
    scope: r.scope,
    ...(r.filter === undefined ? {} : { filter: r.filter }),
    ...(r.sort === undefined ? {} : { sort: r.sort }),
    ...(r.limit === undefined ? {} : { limit: r.limit }),
  };
}

/** Index management, explain and the slow-query log of a store, all per tenant. */
export interface QueryIndexStore {
  list(ctx: TenantContext): Promise<IndexInfo[]>;
  /** Creates the index (idempotent); `LIMIT_EXCEEDED` past `maxIndexesPerTenant`. */
  add(ctx: TenantContext, spec: IndexSpec): Promise<IndexInfo>;
  /** Returns whether an index was dropped. */
  drop(ctx: TenantContext, name: string): Promise<boolean>;
  /** Runs the query and returns its plan (the rows are discarded). */
  explain(ctx: TenantContext, q: ExplainRequest): Promise<QueryPlan>;
  /** The recorded slow queries by shape, most total time first ({@link SlowQueryShape}). */
  slowQueries(ctx: TenantContext, limit?: number): Promise<SlowQueryShape[]>;
}

/** A scalar a probe can compare with. */
export type ProbeValue = string | number | boolean | null;

/** One indexable conjunct of a filter. */
export type Probe =
  | { field: string; kind: 'eq'; values: ProbeValue[] }
  | { field: string; kind: 'range'; op: '$gt' | '$gte' | '$lt' | '$lte'; value: string | number };

const DIGITS = /^\d+$/;

/** Whether a field path can be indexed: plain segments, no array positions, nothing to quote. */
export function indexableField(field: string): boolean {
  try {
    checkFieldPath(field);
  } catch {
    return false;
  }
  // eslint-disable-next-line no-control-regex
  return field.split('.').every((s) => !DIGITS.test(s) && !/["'\\\u0000-\u001f]/.test(s));
}

const isScalar = (v: unknown): v is ProbeValue => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/**
 * String ranges are pushed down only for literals below U+D800: there, code-unit order
 * (JavaScript) and code-point order (SQL BINARY/"C") agree on every comparison with the literal.
 */
const orderSafe = (s: string): boolean => !/[\ud800-\uffff]/.test(s);

function fieldProbes(field: string, value: unknown): Probe[] {
  if (!isFieldOperatorValue(value)) return isScalar(value) ? [{ field, kind: 'eq', values: [value] }] : [];
  const out: Probe[] = [];
  for (const [op, operand] of Object.entries(value)) {
    if (op === '$eq' && isScalar(operand)) out.push({ field, kind: 'eq', values: [operand] });
    else if (op === '$in' && Array.isArray(operand) && operand.length > 0 && operand.every(isScalar)) out.push({ field, kind: 'eq', values: operand });
    else if ((op === '$gte' || op === '$lte') && operand === null) out.push({ field, kind: 'eq', values: [null] });
    else if (op === '$gt' || op === '$gte' || op === '$lt' || op === '$lte') {
      if ((typeof operand === 'number' && Number.isFinite(operand)) || (typeof operand === 'string' && orderSafe(operand))) {
        out.push({ field, kind: 'range', op, value: operand });
      }
    }
  }
  return out;
}

/**
 * The indexable conjuncts of a validated filter: top-level fields and `$and` parts. `$or`, `$nor`,
 * negations, regular expressions and array operators give none (the evaluator decides them).
 */
export function probesOf(filter: JsonObject): Probe[] {
  const out: Probe[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and') for (const part of value as JsonObject[]) out.push(...probesOf(part));
    else if (!key.startsWith('$') && indexableField(key)) out.push(...fieldProbes(key, value));
  }
  return out;
}

/** The probe to use given the indexed fields: equality first (most selective), then a range. */
export function chooseProbe(probes: Probe[], indexed: (field: string) => boolean): Probe | undefined {
  return probes.find((p) => p.kind === 'eq' && indexed(p.field)) ?? probes.find((p) => indexed(p.field));
}

/** A probe as text for plans, e.g. `status IN ("open", null)` or `n > 5`. */
export function describeProbe(p: Probe): string {
  if (p.kind === 'eq') return `${p.field} IN (${p.values.map((v) => JSON.stringify(v)).join(', ')})`;
  const sym = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[p.op];
  return `${p.field} ${sym} ${JSON.stringify(p.value)}`;
}

/** The filter with every literal replaced by its type: what the slow-query log keeps. */
export function filterShape(filter: unknown): JsonObject {
  const shapeOf = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length === 0 ? [] : [shapeOf(v[0])];
    if (v !== null && typeof v === 'object' && !(v instanceof RegExp)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === '$options' ? x : shapeOf(x)]));
    }
    return v === null ? null : v instanceof RegExp ? '<regex>' : `<${typeof v}>`;
  };
  return (filter === undefined ? {} : shapeOf(filter)) as JsonObject;
}

/** The index worth adding for a scan: on the field of its first equality probe, else of a range. */
export function suggestIndex(target: IndexTarget, scope: string, filter: JsonObject): IndexSpec | null {
  const probe = chooseProbe(probesOf(filter), () => true);
  return probe === undefined ? null : { target, scope, field: probe.field };
}

/** Stable backend name of an index: `uee_ix_` and a hash of what it covers. */
export function indexName(tenantKey: string, spec: IndexSpec): string {
  return `uee_ix_${createHash('sha256').update(JSON.stringify([tenantKey, spec.target, spec.scope, spec.field])).digest('hex').slice(0, 20)}`;
}

/** Throws `VALIDATION_FAILED` unless the spec names an indexable field. */
export function checkIndexSpec(spec: IndexSpec): void {
  if (!indexableField(spec.field)) {
    throw new UeeError('VALIDATION_FAILED', `cannot index "${spec.field}"`, {
      details: { field: spec.field },
      hint: 'index a plain dotted field path without array positions or quotes, e.g. "status" or "attributes.status"',
    });
  }
  if (spec.target === 'entities' && spec.field.split('.')[0] !== 'attributes' && spec.field.split('.')[0] !== 'metadata' && spec.field !== 'ownerId') {
    throw new UeeError('VALIDATION_FAILED', `cannot index entity field "${spec.field}"`, {
      details: { field: spec.field },
      hint: 'entity indexes cover attributes.*, metadata.* or ownerId (entityId and the type are indexed already)',
    });
  }
}

/** `LIMIT_EXCEEDED` for one index too many. */
export function tooManyIndexes(max: number): UeeError {
  return new UeeError('LIMIT_EXCEEDED', `a tenant may have at most ${max} indexes`, {
    details: { limit: 'maxIndexesPerTenant', max },
    hint: 'drop an unused index first (query_index with action "list" shows use counts)',
  });
}

/** `NOT_FOUND` for a name that is not one of the tenant's indexes. */
export function indexNotFound(name: string): UeeError {
  return new UeeError('NOT_FOUND', `no index ${name} in this tenant`, { details: { name }, hint: 'list the indexes to see their names' });
}

/** Slow queries kept per tenant. */
export const SLOW_PER_TENANT = 50;

/**
 * Where an adapter keeps the slow-query log and index use counts so they survive a restart. Writes
 * are rare by construction: a slow (or refused) query is already slow, and use counts are flushed in
 * batches ({@link IndexUses}).
 */
export interface QueryStatsSink {
  /** Stores one slow query of a tenant, keeping only its last {@link SLOW_PER_TENANT}. */
  saveSlow(tenantKey: string, entry: SlowQuery): void;
  /** Adds counted uses to stored indexes (names that no longer exist are ignored). */
  addUses(deltas: ReadonlyMap<string, number>): void;
}

/**
 * Slow and refused queries per tenant: the last {@link SLOW_PER_TENANT} of each tenant, in memory
 * and, with a sink, in the store (then `list` is the adapter's read of it). A tenant reads only its own.
 */
export class SlowQueryLog {
  readonly #byTenant = new Map<string, SlowQuery[]>();
  constructor(
    readonly thresholdMs: number,
    readonly sink?: QueryStatsSink,
  ) {}

  /** Records the plan when it was slow or failed. */
  record(tenantKey: string, plan: QueryPlan, filter: JsonObject): void {
    if (plan.ms < this.thresholdMs && plan.error === null) return;
    const { backendPlan: _b, ...rest } = plan;
    const entry: SlowQuery = { ...rest, at: new Date().toISOString(), filter };
    let list = this.#byTenant.get(tenantKey);
    if (list === undefined) this.#byTenant.set(tenantKey, (list = []));
    list.push(entry);
    if (list.length > SLOW_PER_TENANT) list.shift();
    this.sink?.saveSlow(tenantKey, entry);
  }

  /** By shape, most total time first (of what this process recorded). */
  list(tenantKey: string, limit = 20): SlowQueryShape[] {
    return slowestShapes(this.#byTenant.get(tenantKey) ?? [], limit);
  }
}

/** Slow queries grouped by shape ({@link SlowQueryShape}), most total time first, at most `limit` shapes. */
export function slowestShapes(entries: readonly SlowQuery[], limit = 20): SlowQueryShape[] {
  const byShape = new Map<string, SlowQueryShape>();
  for (const e of entries) {
    const key = JSON.stringify([e.target, e.scope, e.shape, e.access, e.index, e.error]);
    const seen = byShape.get(key);
    if (seen === undefined) {
      byShape.set(key, { ...e, count: 1, totalMs: e.ms, lastAt: e.at });
      continue;
    }
    const sums = { count: seen.count + 1, totalMs: seen.totalMs + e.ms, lastAt: e.at > seen.lastAt ? e.at : seen.lastAt };
    byShape.set(key, e.ms > seen.ms ? { ...e, ...sums } : { ...seen, ...sums });
  }
  for (const s of byShape.values()) s.totalMs = Math.round(s.totalMs * 1000) / 1000;
  return [...byShape.values()].sort((a, b) => b.totalMs - a.totalMs || b.ms - a.ms).slice(0, Math.max(1, Math.min(SLOW_PER_TENANT, Math.floor(limit))));
}

/** Uses counted before a flush to the sink. */
const USES_FLUSH_EVERY = 32;

/** Counts index uses; with a sink, flushed to the store every {@link USES_FLUSH_EVERY} uses of an index and on `flush()`. */
export class IndexUses {
  readonly #pending = new Map<string, number>();
  constructor(readonly sink?: QueryStatsSink) {}
  hit(name: string): void {
    const n = (this.#pending.get(name) ?? 0) + 1;
    this.#pending.set(name, n);
    if (this.sink !== undefined && n >= USES_FLUSH_EVERY) this.flush();
  }
  /** Uses not yet flushed (all uses without a sink). */
  of(name: string): number {
    return this.#pending.get(name) ?? 0;
  }
  /** Hands pending counts to the sink. */
  flush(): void {
    if (this.sink === undefined || this.#pending.size === 0) return;
    const deltas = new Map(this.#pending);
    this.#pending.clear();
    this.sink.addUses(deltas);
  }
}

/** A plan with nothing measured yet. */
export function emptyPlan(target: IndexTarget, scope: string, filter: unknown): QueryPlan {
  return {
    target,
    scope,
    shape: filterShape(filter),
    access: 'scan',
    index: null,
    probe: null,
    fallback: null,
    rowsExamined: 0,
    rowsReturned: 0,
    ms: 0,
    backendPlan: [],
    suggestedIndex: null,
    error: null,
  };
}
