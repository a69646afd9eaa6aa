import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  EntityIdSchema,
  EntityVersionSchema,
  EntityWriteSchema,
  EventDraftSchema,
  EventEnvelopeSchema,
  EventSourceSchema,
  ExperimentTagSchema,
  JsonObjectSchema,
  isEntityVersion,
  isEventEnvelope,
  isJsonObject,
  ReadModelOpSchema,
  TenantIdSchema,
  UeeError,
  assertMayWriteReserved,
  jsonBytes,
  parseOrThrow,
  rememberEnvelopeText,
  type EntityVersion,
  type EventEnvelope,
  type JsonObject,
  type ReadModelOp,
  type TenantContext,
} from '../core/index.js';
import { DEFAULT_STORE_LIMITS, type CommitBatch, type CommitResult, type ConfigChanges, type StoreLimits, type StoreLimitsInput } from './port.js';
import { filterLimits } from './filter.js';

/**
 * Rules both store adapters share, so SQLite and MongoDB cannot drift apart: input validation,
 * size caps, tenant visibility, version checks, event envelopes and read-back validation.
 * Adapters only move data; every decision is made here.
 */

/** Tenant key used in storage for global data (`tenantId: null`). */
export const GLOBAL_TENANT_KEY = '';

/** The tenant id a stored tenant key stands for (`null`: the global scope). */
export function tenantIdOfKey(tenantKey: string): string | null {
  return tenantKey === GLOBAL_TENANT_KEY ? null : tenantKey;
}

/** A page of a cross-scope read (`latestOfType`, `headsOfType`, `dueTimers`, `viewAcrossTenants`): within 1..1000. */
export function pageSize(limit: number): number {
  return Math.min(1000, Math.max(1, Math.floor(limit)));
}

/**
 * The read-model views the platform reads across tenants ({@link EntityStore.viewAcrossTenants}):
 * the tenants' plugin version pins and experiments. The SQL stores index only their rows by view (a
 * partial index), so that read costs what these views hold — not one query per tenant — and no other
 * view's writes pay for the index; their index and queries name them literally (kept in step by the
 * store conformance suite, T06f). MongoDB's index holds every view's documents (see its `ensureIndexes`).
 */
export const CROSS_TENANT_VIEWS: readonly string[] = ['uee.plugin-pins', 'uee.experiments'];

/**
 * Idempotency keys deleted per purge call by the platform's retention: their primary key is random
 * (tenant, key), so each delete touches a page of its own — ~10–50 µs a key on SQLite (a scratch run,
 * 2026-12-08: 500 in 5–28 ms, 5,000 in ~100 ms) — and a batch holds an embedded store's main thread.
 */
export const IDEMPOTENCY_PURGE_BATCH = 500;

/** A purge's batch (`EntityStore.purgeIdempotency`): within 1..10000. */
export function purgeBatch(limit: number): number {
  return Math.min(10_000, Math.max(1, Math.floor(limit)));
}

/** `VALIDATION_FAILED` unless `view` is one of {@link CROSS_TENANT_VIEWS}; the page size within 1..1000. */
export function crossTenantRead(view: string, limit: number): number {
  if (!CROSS_TENANT_VIEWS.includes(view)) {
    throw new UeeError('VALIDATION_FAILED', `view "${view}" is not read across tenants`, { details: { view }, hint: `one of ${CROSS_TENANT_VIEWS.join(', ')}` });
  }
  return pageSize(limit);
}

/** Completes partial limits with defaults; `CONFIG_INVALID` names the bad setting. */
export function normaliseLimits(limits: StoreLimitsInput = {}): StoreLimits {
  const { filter, ...sizes } = limits;
  const out: StoreLimits = { ...DEFAULT_STORE_LIMITS, ...sizes, filter: filterLimits(filter) };
  const flat: Array<[string, unknown]> = [
    ...Object.entries(out).filter(([name]) => name !== 'filter'),
    ...Object.entries(out.filter).map(([name, value]): [string, unknown] => [`filter.${name}`, value]),
  ];
  for (const [name, value] of flat) {
    if (!Number.isInteger(value) || (value as number) <= 0) {
      throw new UeeError('CONFIG_INVALID', `store limit ${name} must be a positive integer, got ${String(value)}`, {
        details: { setting: `limits.${name}`, value },
        hint: `set limits.${name} to a positive integer or leave it out for the default`,
      });
    }
  }
  return out;
}

/** Throws `CLOSED` when the store has been closed. */
export function assertOpen(closed: boolean, kind: string): void {
  if (closed) throw new UeeError('CLOSED', `the ${kind} store is closed`, { hint: 'open a new store' });
}

const TenantContextSchema = z.object({ tenantId: z.string().nullable(), actor: z.string().min(1).max(256) });

/**
 * The storage key of the context's tenant ('' for global). Validates the context's shape; whether
 * the tenant is registered is the adapter's lookup, reported by {@link unknownTenant}.
 */
export function tenantKeyOf(ctx: TenantContext): string {
  // Hot path: every call checks its context, so the common well-formed case skips zod.
  const ok =
    ctx !== null &&
    typeof ctx === 'object' &&
    (ctx.tenantId === null || typeof ctx.tenantId === 'string') &&
    typeof ctx.actor === 'string' &&
    ctx.actor.length > 0 &&
    ctx.actor.length <= 256;
  if (!ok) parseOrThrow(TenantContextSchema, ctx, 'tenant context');
  return ctx.tenantId ?? GLOBAL_TENANT_KEY;
}

/** The `UNKNOWN_TENANT` error for an unregistered (or malformed) tenant id. */
export function unknownTenant(tenantId: string): UeeError {
  return new UeeError('UNKNOWN_TENANT', `tenant "${tenantId}" is not registered`, {
    details: { tenantId },
    hint: 'register the tenant first (tenants.create) or use an existing tenant id',
  });
}

/** True when `tenantId` is well-formed; malformed ids are simply never registered. */
export function isValidTenantId(tenantId: string): boolean {
  return TenantIdSchema.safeParse(tenantId).success;
}

/** Tenant keys a context may read, own first: a tenant sees its own and global data. */
export function visibleTenantKeys(tenantKey: string): string[] {
  return tenantKey === GLOBAL_TENANT_KEY ? [GLOBAL_TENANT_KEY] : [tenantKey, GLOBAL_TENANT_KEY];
}

/** The one `NOT_FOUND` for entities: the same whether absent or another tenant's. */
export function entityNotFound(entityId: string, version?: number): UeeError {
  return new UeeError('NOT_FOUND', `entity "${entityId}"${version === undefined ? '' : ` version ${version}`} not found`, {
    details: version === undefined ? { entityId } : { entityId, version },
    hint: 'check the entity id (and version), and that it belongs to your tenant',
  });
}

/** Throws `err`: for `??` chains (`found ?? throwError(entityNotFound(id))`). */
export function throwError(err: Error): never {
  throw err;
}

/** The one `NOT_FOUND` for read-model documents. */
export function readModelNotFound(view: string, id: string): UeeError {
  return new UeeError('NOT_FOUND', `read-model document "${view}/${id}" not found`, {
    details: { view, id },
    hint: 'check the view and document id',
  });
}

function checkSize(value: unknown, limit: number, what: string, details: Record<string, unknown>): void {
  const actual = jsonBytes(value);
  if (actual > limit) {
    throw new UeeError('PAYLOAD_TOO_LARGE', `${what} is ${actual} bytes, over the ${limit}-byte limit`, {
      details: { ...details, limit, actual },
      hint: `keep ${what} under ${limit} bytes (limits.maxAttributeBytes), e.g. store large content elsewhere and reference it`,
    });
  }
}

/** A validated entity write. */
export type ParsedWrite = z.output<typeof EntityWriteSchema>;
/** A validated event draft. */
export type ParsedDraft = z.output<typeof EventDraftSchema>;

const CausationSchema = z.object({
  eventId: z.string().min(1).max(128),
  correlationId: z.string().min(1).max(128),
  hop: z.number().int().nonnegative(),
  experiment: ExperimentTagSchema.optional(),
});

const BatchSchema = z
  .object({
    idempotencyKey: z.string().min(1).max(256).optional(),
    writes: z.array(EntityWriteSchema).default([]),
    events: z.array(EventDraftSchema).default([]),
    readModelOps: z.array(ReadModelOpSchema).default([]),
    causation: CausationSchema.optional(),
    source: EventSourceSchema.optional(),
    fence: z.object({ key: z.string().min(1).max(512), token: z.number().int().positive() }).strict().optional(),
  })
  .strict();

/** A commit batch after validation: every field present, sizes checked. */
export type PreparedBatch = z.output<typeof BatchSchema>;

/**
 * zod's record parsing silently drops an own `__proto__` key at the top level of a JSON object (the
 * nested ones are caught by JsonObjectSchema), so the raw input is checked first: a poisoned key is
 * refused, never quietly discarded.
 */
function rejectProtoKey(raw: unknown, what: string, path: string): void {
  if (raw !== null && typeof raw === 'object' && Object.prototype.hasOwnProperty.call(raw, '__proto__')) {
    throw new UeeError('VALIDATION_FAILED', `invalid ${what}: ${path}: forbidden key "__proto__"`, {
      details: { issues: [{ path, message: 'forbidden key "__proto__"' }] },
      hint: `remove the "__proto__" key from the ${what}`,
    });
  }
}

function rejectProtoKeys(batch: unknown): void {
  if (batch === null || typeof batch !== 'object') return;
  const { writes, events, readModelOps } = batch as Record<string, unknown>;
  const each = (list: unknown, name: string, fields: string[]): void => {
    if (!Array.isArray(list)) return;
    list.forEach((item: unknown, i) => {
      if (item === null || typeof item !== 'object') return;
      for (const f of fields) rejectProtoKey((item as Record<string, unknown>)[f], 'commit batch', `${name}.${i}.${f}`);
    });
  };
  each(writes, 'writes', ['attributes', 'metadata']);
  each(events, 'events', ['payload']);
  each(readModelOps, 'readModelOps', ['doc']);
}

/** Validates a whole batch before any storage is touched, so bad input never half-writes. */
export function prepareBatch(batch: CommitBatch, limits: StoreLimits): PreparedBatch {
  rejectProtoKeys(batch);
  const parsed = parseOrThrow(BatchSchema, batch, 'commit batch');
  const count = parsed.writes.length + parsed.events.length + parsed.readModelOps.length;
  if (count > limits.maxBatchSize) {
    throw new UeeError('PAYLOAD_TOO_LARGE', `commit has ${count} items, over the limit of ${limits.maxBatchSize}`, {
      details: { limit: limits.maxBatchSize, actual: count },
      hint: 'split the change into several commits (limits.maxBatchSize)',
    });
  }
  // The platform's namespace (uee.*, lifecycle events) is written only by platform sources, whatever
  // path the batch came by (MCP tools, plugin effects, anything added later).
  assertMayWriteReserved(parsed);
  // Everything a commit stores is bounded here, whichever front door it came through (MCP arguments,
  // a plugin's effects, the CLI, code added later): attributes and metadata, events' payloads,
  // read-model documents.
  parsed.writes.forEach((w, index) => {
    const details = { index, ...(w.entityId ? { entityId: w.entityId } : {}) };
    checkSize(w.attributes, limits.maxAttributeBytes, 'entity attributes', details);
    if (w.metadata !== undefined) checkSize(w.metadata, limits.maxAttributeBytes, 'entity metadata', details);
  });
  parsed.events.forEach((e, index) => checkSize(e.payload, limits.maxAttributeBytes, 'event payload', { index, type: e.type }));
  parsed.readModelOps.forEach((op, index) => {
    if (op.op === 'upsert') checkSize(op.doc, limits.maxAttributeBytes, 'read-model document', { index, view: op.view, id: op.id });
  });
  return parsed;
}

/** Validates one read-model operation outside a commit. */
export function prepareReadModelOp(op: ReadModelOp, limits: StoreLimits): ReadModelOp {
  // Direct read-model calls are the platform's own (pins, the event catalogue, sandbox seeding); the
  // reserved-view rule applies to commits, where tenants' and plugins' changes arrive.
  return prepareBatch({ readModelOps: [op], source: { kind: 'system', id: 'read-models' } }, limits).readModelOps[0]!;
}

/** Validates settings for tenant or plugin config. */
export function prepareSettings(settings: unknown, limits: StoreLimits): JsonObject {
  rejectProtoKey(settings, 'settings', '(root)');
  const parsed = parseOrThrow(JsonObjectSchema, settings, 'settings');
  checkSize(parsed, limits.maxAttributeBytes, 'settings', {});
  return parsed;
}

/**
 * {@link TenantConfigStore.changesSince}'s answer from the revision now and the recorded writes read
 * with it: `changes` the writes after `since` (a revision and the tenant key written), in revision
 * order — at most `limit + 1` of them are needed. Every revision after `since` must have its write,
 * else one was not recorded (an older UEE's) or is no longer kept, and anything may have changed.
 */
export function configChanges(revision: number, since: number, limit: number, changes: ReadonlyArray<{ rev: number; tk: string }>): ConfigChanges {
  const written = revision - since;
  if (written === 0) return { revision, tenants: [] };
  if (written < 0 || written > limit || changes.length !== written) return { revision, tenants: null };
  const tenants = new Set<string | null>();
  for (let i = 0; i < changes.length; i++) {
    if (changes[i]!.rev !== since + 1 + i) return { revision, tenants: null };
    const tk = changes[i]!.tk;
    tenants.add(tenantIdOfKey(tk));
  }
  return { revision, tenants: [...tenants] };
}

/** A plugin name as a config key. Built once: a zod schema costs ~100 µs to build, and the router reads a plugin's config per queue batch. */
const ConfigPluginNameSchema = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.@:-]{0,127}$/);

/** Validates a plugin name used as a config key. */
export function preparePluginName(name: string): string {
  return parseOrThrow(ConfigPluginNameSchema, name, 'plugin name');
}

/** Validates a read-model view name and id outside a commit. */
export function prepareViewKey(view: string, id?: string): void {
  parseOrThrow(ReadModelOpSchema, { op: 'delete', view, id: id ?? 'x' }, 'read-model key');
}

function corrupt(what: string, where: Record<string, unknown>, cause: unknown): UeeError {
  return new UeeError('CORRUPT_DATA', `stored ${what} failed validation`, {
    details: where,
    hint: 'the stored data was changed outside UEE; restore it from a backup or remove the row',
    cause,
  });
}

/**
 * `raw` (JSON text or a driver's fresh object) checked against `schema`; `CORRUPT_DATA` when invalid.
 * `accepts`, when given, is a fast check that answers true only for values the schema returns
 * unchanged (see `isEntityVersion`): what it accepts skips zod's copy, the rest is settled by zod.
 */
function parseStored<S extends z.ZodType>(schema: S, raw: unknown, what: string, where: Record<string, unknown>, accepts?: (value: unknown) => value is z.output<S>): z.output<S> {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (cause) {
      throw corrupt(what, where, cause);
    }
  }
  if (accepts?.(value) === true) return value;
  const result = schema.safeParse(value);
  if (!result.success) throw corrupt(what, { ...where, issues: result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, result.error);
  return result.data;
}

/** An entity version read back from storage (JSON text or object); `CORRUPT_DATA` when invalid. */
export function readVersion(raw: unknown, where: Record<string, unknown>): EntityVersion {
  return parseStored(EntityVersionSchema, raw, 'entity version', where, isEntityVersion);
}

/**
 * An event read back from storage; `CORRUPT_DATA` when invalid. Text the store wrote with
 * JSON.stringify (SQLite's TEXT columns; PostgreSQL's json columns and MongoDB's documents arrive as
 * objects) that the fast check accepts as it is is remembered: a publish of the event (the outbox
 * relay) and a plugin's input reuse it instead of stringifying the event again.
 */
export function readEvent(raw: unknown, where: Record<string, unknown>): EventEnvelope {
  const accepts = (value: unknown): value is EventEnvelope => {
    if (!isEventEnvelope(value)) return false;
    if (typeof raw === 'string') rememberEnvelopeText(value, raw);
    return true;
  };
  return parseStored(EventEnvelopeSchema, raw, 'event', where, accepts);
}

/** A JSON object (read-model doc, settings) read back from storage; `CORRUPT_DATA` when invalid. */
export function readJsonObject(raw: unknown, where: Record<string, unknown>): JsonObject {
  // Hot path (every document a query returns): the schema's checks without zod's copy; zod reports the failures.
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
  }
  if (isJsonObject(value)) return value;
  return parseStored(JsonObjectSchema, raw, 'document', where);
}

const CommitResultSchema = z.object({
  applied: z.boolean(),
  versions: z.array(EntityVersionSchema),
  events: z.array(EventEnvelopeSchema),
});

/** A stored idempotency record, answered as not applied. */
export function readIdempotentResult(raw: unknown, where: Record<string, unknown>): CommitResult {
  return { ...parseStored(CommitResultSchema, raw, 'idempotency record', where), applied: false };
}

/** Validates an entity id argument (bad ids cannot exist: `NOT_FOUND` would hide a typo's cause). */
export function prepareEntityId(entityId: string): string {
  return parseOrThrow(EntityIdSchema, entityId, 'entity id');
}

/** sha256 hex of bytes: the address of a blob. */
export function blobAddress(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Checks a blob address argument and bytes read back against it. */
export function checkBlob(sha256: string, bytes?: Uint8Array): void {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new UeeError('VALIDATION_FAILED', `"${sha256.slice(0, 80)}" is not a sha256 address`, { hint: 'use the 64-hex-digit sha256 of the binary' });
  if (bytes !== undefined && blobAddress(bytes) !== sha256) throw new UeeError('CORRUPT_DATA', `blob ${sha256} does not match its content`, { hint: 'redeploy the plugin binary' });
}

/** `NOT_FOUND` for a missing blob. */
export function blobNotFound(sha256: string): UeeError {
  return new UeeError('NOT_FOUND', `no binary with sha256 ${sha256}`, { hint: 'deploy the module again' });
}

/** Parsed JSON of a stored document, or the text itself when it is not JSON (the reader then reports it corrupt). */
export function parseJsonOrText(text: unknown): unknown {
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The bounded batch of {@link ReadModelStore.deleteView}. */
export function deleteViewLimit(limit: number | undefined): number {
  return Number.isFinite(limit) ? Math.min(10_000, Math.max(1, Math.floor(limit!))) : 5000;
}

/** The listeners of `Outbox.onAppended`: told after a commit through this store object put events in its outbox. */
export class AppendSignal {
  readonly #listeners = new Set<() => void>();

  on(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  notify(): void {
    for (const l of this.#listeners) l();
  }
}
