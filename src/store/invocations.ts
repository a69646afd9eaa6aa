import { z } from 'zod';
import { UeeError, newId, type Page, type TenantContext } from '../core/index.js';
import { decodeCursor, encodeCursor, queryHash } from './cursor.js';

/**
 * Invocation records: what one plugin version did with one event, one record per attempt. The
 * router writes one after every attempt (and a redrive after its run); tools read them back
 * (`event_trace`, `invocation_list`), and experiments aggregate them per variant.
 *
 * The shape is a contract shared by every adapter and every reader — change it only additively:
 *
 * - `recordId` — time-ordered id (UUIDv7 of `at`), unique; newest-first order is `recordId` order.
 * - `tenantId` — the event's tenant (null: a global event). A tenant reads only its own records.
 * - `at` — when the attempt ended (ISO-8601 UTC); retention deletes by it.
 * - `event` — the envelope's identity: `eventId`, `type`, `correlationId`, `causationId`, `hop`,
 *   `entityId?`, `entityTypeId?`.
 * - `plugin` — the version that ran: `id` (version entity id), `name`, `version` (pluginVersion).
 * - `attempt` — 1 for the first delivery, counting earlier deliveries of the same entry.
 * - `trigger` — `router` (a live delivery) or `redrive` (a dead letter re-delivered by an agent).
 * - `outcome` — `ok` (handled; effects committed if any), `retry` (failed, will be tried again),
 *   `dead` (failed, dead-lettered), `left` (failed while stopping: stays pending). Success rate is
 *   the share of `ok` among records with outcome ≠ `retry`/`left`, or per attempt over all records.
 * - `error?` — `{ code, message }` of a failed attempt (message capped).
 * - `durationMs` — wall-clock time of the plugin call.
 * - `usage` — `{ hostCalls, modelCalls, emits, outputBytes }` as the host counted them.
 * - `effects` — what the attempt committed: `committed` (false when there was nothing to commit, or
 *   when the key had been committed before), `writes` (`entityId`, `entityTypeId`, `version`),
 *   `events` (`eventId`, `type`) emitted or generated, `readModelOps` and `timers` (counts), and
 *   `omitted` (entries dropped by the per-record cap).
 * - `models` — one entry per `call_model`: `model`, `ok`, `durationMs`, `code?` (capped).
 * - `experiment?` — the envelope's `{ id, variant }`, when the chain is in an experiment.
 * - `metrics?` — custom numeric metrics the plugin reported (name → number, capped).
 * - `deadLetterId?` — for `trigger: 'redrive'`, the dead letter that was re-delivered.
 */
export const InvocationRecordSchema = z.object({
  recordId: z.string(),
  tenantId: z.string().nullable(),
  at: z.string(),
  event: z.object({
    eventId: z.string(),
    type: z.string(),
    correlationId: z.string(),
    causationId: z.string().nullable(),
    hop: z.number().int(),
    entityId: z.string().optional(),
    entityTypeId: z.string().optional(),
  }),
  plugin: z.object({ id: z.string(), name: z.string(), version: z.number().int() }),
  attempt: z.number().int(),
  trigger: z.enum(['router', 'redrive']),
  outcome: z.enum(['ok', 'retry', 'dead', 'left']),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  durationMs: z.number(),
  usage: z.object({ hostCalls: z.number(), modelCalls: z.number(), emits: z.number(), outputBytes: z.number() }),
  effects: z.object({
    committed: z.boolean(),
    writes: z.array(z.object({ entityId: z.string(), entityTypeId: z.string(), version: z.number().int() })),
    events: z.array(z.object({ eventId: z.string(), type: z.string() })),
    readModelOps: z.number().int(),
    timers: z.number().int(),
    omitted: z.number().int(),
  }),
  models: z.array(z.object({ model: z.string(), ok: z.boolean(), durationMs: z.number(), code: z.string().optional() })),
  experiment: z.object({ id: z.string(), variant: z.string() }).optional(),
  metrics: z.record(z.string(), z.number()).optional(),
  deadLetterId: z.string().optional(),
});

/** One invocation record (see {@link InvocationRecordSchema} for every field's meaning). */
export type InvocationRecord = z.infer<typeof InvocationRecordSchema>;

/** A record as the writer hands it over: the store assigns nothing, {@link prepareInvocationRecord} caps it. */
export type InvocationRecordDraft = Omit<InvocationRecord, 'recordId'> & { recordId?: string };

/** Per-record caps, so one record stays small whatever the plugin did. */
export const RECORD_CAPS = {
  /** Characters of an error message. */
  errorMessage: 1000,
  /** Entity writes and events listed (the rest counted in `effects.omitted`). */
  effects: 50,
  /** Model calls listed. */
  models: 20,
  /** Custom metrics kept. */
  metrics: 20,
  /** Characters of a metric name. */
  metricName: 64,
} as const;

/** Filters of {@link InvocationRecordStore.query}; all optional, combined with AND. */
export interface InvocationQuery {
  eventId?: string;
  correlationId?: string;
  entityId?: string;
  /** Logical plugin name. */
  plugin?: string;
  /** One plugin version (its id). */
  pluginId?: string;
  outcome?: InvocationRecord['outcome'];
  /** Records of chains in this experiment. */
  experimentId?: string;
  /** `at` ≥ from (ISO-8601). */
  from?: string;
  /** `at` < to (ISO-8601). */
  to?: string;
  /** Page size, 1..1000. @default 100 */
  limit?: number;
  cursor?: string;
}

/** The equality filters of an {@link InvocationQuery} and the column each reads (the SQL adapters'). */
const QUERY_COLUMNS = [
  ['eventId', 'event_id'],
  ['correlationId', 'correlation_id'],
  ['entityId', 'entity_id'],
  ['plugin', 'plugin_name'],
  ['pluginId', 'plugin_id'],
  ['outcome', 'outcome'],
  ['experimentId', 'experiment_id'],
] as const;

/**
 * Stored invocation records, per tenant: a context sees exactly its own tenant's records (global
 * events' records only with a global context), never another tenant's.
 */
export interface InvocationRecordStore {
  /**
   * Stores records (idempotent by `recordId`), capped by {@link prepareInvocationRecord}. System use:
   * records carry their tenant. Settles once they are stored — or, for a store with {@link flush},
   * once it has taken them: such a store writes what it takes in fewer, bigger transactions of its
   * own, within a second, at once on `flush`, and before it closes; a group it then fails to write
   * it logs and counts as lost.
   */
  append(records: readonly InvocationRecordDraft[]): Promise<void>;
  /** For a store whose appends settle when taken (see {@link append}): settles once everything taken before it is stored. */
  flush?(): Promise<void>;
  /** For such a store: records it took and has not written yet, and records it took and then lost (a group it could not write). */
  taken?(): { unwritten: number; lost: number };
  /** The context tenant's records matching `query`, newest first, with keyset pagination. */
  query(ctx: TenantContext, query?: InvocationQuery): Promise<Page<InvocationRecord>>;
  /**
   * Deletes at most `limit` records (every tenant's) with `at` < `before`, oldest first, and returns
   * how many — retention calls it until it returns less than `limit`, so no call holds the store long.
   * System use only.
   */
  purgeBefore(before: string, limit?: number): Promise<number>;
}

function capped(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** Applies {@link RECORD_CAPS} and assigns a `recordId` when missing. Pure: every adapter calls it. */
export function prepareInvocationRecord(draft: InvocationRecordDraft): InvocationRecord {
  const e = draft.effects;
  // The common record (no error, nothing over a cap, no models or metrics) is stored as it is: no copies.
  if (draft.error === undefined && draft.metrics === undefined && draft.models.length === 0 && e.writes.length <= RECORD_CAPS.effects && e.events.length <= RECORD_CAPS.effects) {
    return draft.recordId === undefined ? { ...draft, recordId: newId(Date.parse(draft.at) || Date.now()) } : (draft as InvocationRecord);
  }
  const writes = e.writes.slice(0, RECORD_CAPS.effects);
  const events = e.events.slice(0, RECORD_CAPS.effects);
  const metrics = draft.metrics === undefined ? undefined : Object.entries(draft.metrics).filter(([, v]) => Number.isFinite(v)).slice(0, RECORD_CAPS.metrics);
  return {
    ...draft,
    recordId: draft.recordId ?? newId(Date.parse(draft.at) || Date.now()),
    ...(draft.error ? { error: { code: draft.error.code, message: capped(draft.error.message, RECORD_CAPS.errorMessage) } } : {}),
    effects: { ...e, writes, events, omitted: e.omitted + (e.writes.length - writes.length) + (e.events.length - events.length) },
    models: draft.models.slice(0, RECORD_CAPS.models).map((m) => ({ ...m, model: capped(m.model, 200) })),
    ...(metrics === undefined ? {} : { metrics: Object.fromEntries(metrics.map(([k, v]) => [capped(k, RECORD_CAPS.metricName), v])) }),
  };
}

/** The SQL adapters' columns of a record's row, in the order {@link pushInvocationRow} gives their values. */
export const INVOCATION_COLUMNS = 'tenant_key, record_id, at, event_id, correlation_id, entity_id, plugin_name, plugin_id, outcome, experiment_id, doc';
/** How many {@link INVOCATION_COLUMNS} there are (parameters per row of a multi-row insert). */
export const INVOCATION_COLUMN_COUNT = 11;

/** Appends a prepared record's row values (the order of {@link INVOCATION_COLUMNS}) to `out`. */
export function pushInvocationRow(out: unknown[], r: InvocationRecord): void {
  out.push(r.tenantId ?? '', r.recordId, r.at, r.event.eventId, r.event.correlationId, r.event.entityId ?? null, r.plugin.name, r.plugin.id, r.outcome, r.experiment?.id ?? null, JSON.stringify(r));
}

/** A query with its limit settled, its hash (for cursors) and the cursor's position (a recordId). */
export interface NormalisedInvocationQuery extends Omit<InvocationQuery, 'limit' | 'cursor'> {
  limit: number;
  hash: string;
  /** Only records with recordId < after. */
  after?: string;
}

/** Validates a query's limit, times and cursor once, for every adapter. */
/**
 * The SQL adapters' SELECT of one page of tenant `tk`'s records for `q`, newest first, one row more
 * than the page (is there a next one), and its parameters; `placeholder(n)` writes the n-th
 * parameter (from 1) in the adapter's dialect (`?` on SQLite, `$n` on PostgreSQL).
 */
export function invocationQuerySql(tk: string, q: NormalisedInvocationQuery, placeholder: (n: number) => string): { sql: string; params: unknown[] } {
  const params: unknown[] = [tk];
  const where = [`tenant_key = ${placeholder(1)}`];
  const add = (condition: string, v: unknown): void => {
    params.push(v);
    where.push(`${condition} ${placeholder(params.length)}`);
  };
  for (const [key, column] of QUERY_COLUMNS) {
    const v = q[key];
    if (v !== undefined) add(`${column} =`, v);
  }
  if (q.from !== undefined) add('at >=', q.from);
  if (q.to !== undefined) add('at <', q.to);
  if (q.after !== undefined) add('record_id <', q.after);
  params.push(q.limit + 1);
  return { sql: `SELECT doc FROM invocations WHERE ${where.join(' AND ')} ORDER BY record_id DESC LIMIT ${placeholder(params.length)}`, params };
}

export function normaliseInvocationQuery(q: InvocationQuery = {}): NormalisedInvocationQuery {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new UeeError('VALIDATION_FAILED', `limit must be an integer 1..1000, got ${String(limit)}`, { details: { issues: [{ path: 'limit', message: 'out of range' }] }, hint: 'pass a limit between 1 and 1000' });
  }
  for (const key of ['from', 'to'] as const) {
    const v = q[key];
    if (v !== undefined && Number.isNaN(Date.parse(v))) {
      throw new UeeError('VALIDATION_FAILED', `${key} must be an ISO-8601 time, got "${v}"`, { details: { issues: [{ path: key, message: 'not a time' }] }, hint: 'pass e.g. 2026-12-01T06:00:00Z' });
    }
  }
  const { limit: _l, cursor, ...shape } = q;
  const norm: NormalisedInvocationQuery = {
    ...shape,
    ...(shape.from === undefined ? {} : { from: new Date(shape.from).toISOString() }),
    ...(shape.to === undefined ? {} : { to: new Date(shape.to).toISOString() }),
    limit,
    hash: queryHash({ invocations: shape }),
  };
  if (cursor !== undefined) {
    const [after] = decodeCursor(cursor, norm.hash, 1);
    if (typeof after !== 'string') throw new UeeError('INVALID_CURSOR', 'invalid cursor: malformed position', { hint: 'omit the cursor to start over' });
    norm.after = after;
  }
  return norm;
}

/** The page of records read with one extra row (to know whether there is a next page). */
export function invocationPage(rows: InvocationRecord[], q: NormalisedInvocationQuery): Page<InvocationRecord> {
  const more = rows.length > q.limit;
  const items = more ? rows.slice(0, q.limit) : rows;
  const last = items[items.length - 1];
  return { items, nextCursor: more && last !== undefined ? encodeCursor(q.hash, [last.recordId]) : null };
}

/** Default and max rows one {@link InvocationRecordStore.purgeBefore} call deletes. */
export const PURGE_BATCH = 5000;

/** Reads a stored record back, validating it (a store row is a boundary). */
export function readInvocationRecord(doc: unknown): InvocationRecord {
  const raw = typeof doc === 'string' ? (JSON.parse(doc) as unknown) : doc;
  const parsed = InvocationRecordSchema.safeParse(raw);
  if (!parsed.success) throw new UeeError('CORRUPT_DATA', 'a stored invocation record does not match its schema', { details: { issues: parsed.error.issues.slice(0, 3).map((i) => ({ path: i.path.join('.'), message: i.message })) }, hint: 'purge old records (retention) or repair the row' });
  return parsed.data;
}
