import { z } from 'zod';

/** A tenant id: short, URL- and key-safe. */
const TENANT_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/;
const ENTITY_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$/;
const ENTITY_TYPE_ID_RE = /^[a-zA-Z][a-zA-Z0-9_.-]{0,127}$/;
const EVENT_TYPE_RE = /^[a-zA-Z][a-zA-Z0-9_.:-]{0,127}$/;

export const TenantIdSchema = z
  .string()
  .regex(TENANT_ID_RE, 'tenant ids are 1-64 chars of letters, digits, "_" or "-", starting with a letter or digit');
export type TenantId = z.infer<typeof TenantIdSchema>;

/** An entity id: any short key-safe string (UUIDv7 when the store mints it). */
export const EntityIdSchema = z
  .string()
  .regex(ENTITY_ID_RE, 'entity ids are 1-128 chars of letters, digits, "_", ".", ":" or "-"');

/** An entity type id such as `Task` or `uee.plugin`. */
export const EntityTypeIdSchema = z
  .string()
  .regex(ENTITY_TYPE_ID_RE, 'entity type ids are 1-128 chars, starting with a letter');

/** An event type such as `TaskCreated`. */
export const EventTypeSchema = z
  .string()
  .regex(EVENT_TYPE_RE, 'event types are 1-128 chars, starting with a letter');

/** A JSON object whose keys cannot poison prototypes. */
export const JsonObjectSchema = z.preprocess((value, ctx) => {
  // Checked on the raw input: zod's record parsing silently drops a top-level "__proto__" key.
  const bad = findForbiddenKey(value, 0);
  if (bad !== undefined) ctx.addIssue({ code: 'custom', message: bad, input: value });
  return value;
}, z.record(z.string(), z.unknown()));
export type JsonObject = Record<string, unknown>;

/**
 * Whether `value` is a plain JSON object that {@link JsonObjectSchema} accepts unchanged: the same
 * checks without zod's copy, for hot paths that read back documents the store itself wrote.
 */
export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && findForbiddenKey(value, 0) === undefined;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 64;

function findForbiddenKey(value: unknown, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH} levels`;
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'non-finite number';
    if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') return `unsupported ${typeof value} value`;
    return undefined;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const bad = findForbiddenKey(item, depth + 1);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    if (FORBIDDEN_KEYS.has(key)) return `forbidden key "${key}"`;
    const bad = findForbiddenKey(item, depth + 1);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** Who acts: an administrator (any tenant, global data) or a tenant principal (its tenant only). */
export const PrincipalSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('admin'), id: z.string().min(1), reviewer: z.boolean().optional() }),
  z.object({
    kind: z.literal('tenant'),
    id: z.string().min(1),
    tenantId: TenantIdSchema,
    readOnly: z.boolean().default(false),
    /** A human reviewer: may approve or reject other principals' change proposals (never its own). */
    reviewer: z.boolean().optional(),
  }),
]);
export type Principal = z.infer<typeof PrincipalSchema>;

/**
 * The scope every store, bus and host call runs in. `tenantId: null` is the global scope: it sees and
 * writes only global data (plugins, shared reference entities). A tenant scope sees its own data plus
 * global data and writes only its own.
 */
export interface TenantContext {
  readonly tenantId: string | null;
  /** Recorded as `createdBy` on writes: a principal id or `plugin:<id>@<version>`. */
  readonly actor: string;
}

/** An immutable version of an entity. */
export const EntityVersionSchema = z.object({
  entityId: EntityIdSchema,
  entityTypeId: EntityTypeIdSchema,
  tenantId: TenantIdSchema.nullable(),
  ownerId: z.string().nullable(),
  version: z.number().int().positive(),
  attributes: JsonObjectSchema,
  metadata: JsonObjectSchema,
  createdAt: z.string(),
  createdBy: z.string(),
  causationId: z.string().nullable(),
  deleted: z.boolean().default(false),
});
export type EntityVersion = z.infer<typeof EntityVersionSchema>;

/** A request to write the next version of an entity (or its first). */
export const EntityWriteSchema = z
  .object({
    /** Omit to create a new entity with a minted UUIDv7. */
    entityId: EntityIdSchema.optional(),
    entityTypeId: EntityTypeIdSchema,
    /** The version the caller last saw; 0 means "must not exist yet". Omit for last-writer-wins. */
    expectedVersion: z.number().int().nonnegative().optional(),
    attributes: JsonObjectSchema,
    metadata: JsonObjectSchema.optional(),
    ownerId: z.string().max(256).nullable().optional(),
    /** Event type announced for this write. @default "EntityCreated" or "EntityUpdated" */
    eventType: EventTypeSchema.optional(),
    /** Marks the new version as a tombstone (the entity stays in history). */
    deleted: z.boolean().optional(),
  })
  .strict();
export type EntityWrite = z.input<typeof EntityWriteSchema>;

/** Where an event came from. */
const SOURCE_KINDS = ['api', 'plugin', 'timer', 'workflow', 'system'] as const;
export const EventSourceSchema = z.object({
  kind: z.enum(SOURCE_KINDS),
  id: z.string().max(256),
});
export type EventSource = z.infer<typeof EventSourceSchema>;

/** The experiment arm an event chain belongs to, fixed at the root and carried down the chain. */
export const ExperimentTagSchema = z.object({ id: z.string(), variant: z.string() });

/** An event as it travels on the bus. */
export const EventEnvelopeSchema = z.object({
  eventId: z.string().min(1).max(128),
  type: EventTypeSchema,
  tenantId: TenantIdSchema.nullable(),
  entityId: EntityIdSchema.optional(),
  entityTypeId: EntityTypeIdSchema.optional(),
  entityVersion: z.number().int().positive().optional(),
  payload: JsonObjectSchema,
  occurredAt: z.string(),
  correlationId: z.string().min(1).max(128),
  causationId: z.string().max(128).nullable(),
  hop: z.number().int().nonnegative(),
  source: EventSourceSchema,
  experiment: ExperimentTagSchema.optional(),
});
export type EventEnvelope = z.infer<typeof EventEnvelopeSchema>;

const ENVELOPE_KEYS = new Set(Object.keys(EventEnvelopeSchema.shape));
const SOURCE_KIND_SET = new Set<string>(SOURCE_KINDS);
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIdString = (v: unknown, min: number, max: number): boolean => typeof v === 'string' && v.length >= min && v.length <= max;
const hasOnlyKeys = (o: Record<string, unknown>, keys: ReadonlySet<string> | readonly string[]): boolean => {
  for (const k of Object.keys(o)) if (!(Array.isArray(keys) ? keys.includes(k) : (keys as ReadonlySet<string>).has(k))) return false;
  return true;
};

/**
 * A fast check that `value` (freshly parsed JSON) is an {@link EventEnvelope} exactly as
 * {@link EventEnvelopeSchema} would return it: the same patterns and bounds, and no key the schema
 * does not know (the schema would strip it). It only ever answers `true` for values the schema
 * accepts unchanged, so a `false` is settled by the schema itself (which also says what is wrong).
 * Bus readers decode every entry with it: about 10× cheaper per event than the zod parse.
 */
export function isEventEnvelope(value: unknown): value is EventEnvelope {
  if (!isPlainObject(value) || !hasOnlyKeys(value, ENVELOPE_KEYS)) return false;
  const e = value;
  if (!isIdString(e.eventId, 1, 128) || typeof e.type !== 'string' || !EVENT_TYPE_RE.test(e.type)) return false;
  if (e.tenantId !== null && (typeof e.tenantId !== 'string' || !TENANT_ID_RE.test(e.tenantId))) return false;
  if (e.entityId !== undefined && (typeof e.entityId !== 'string' || !ENTITY_ID_RE.test(e.entityId))) return false;
  if (e.entityTypeId !== undefined && (typeof e.entityTypeId !== 'string' || !ENTITY_TYPE_ID_RE.test(e.entityTypeId))) return false;
  if (e.entityVersion !== undefined && !(Number.isSafeInteger(e.entityVersion) && (e.entityVersion as number) > 0)) return false;
  if (!isPlainObject(e.payload) || findForbiddenKey(e.payload, 0) !== undefined) return false;
  if (typeof e.occurredAt !== 'string' || !isIdString(e.correlationId, 1, 128)) return false;
  if (e.causationId !== null && !isIdString(e.causationId, 0, 128)) return false;
  if (!Number.isSafeInteger(e.hop) || (e.hop as number) < 0) return false;
  const source = e.source;
  if (!isPlainObject(source) || !hasOnlyKeys(source, ['kind', 'id']) || typeof source.kind !== 'string' || !SOURCE_KIND_SET.has(source.kind) || !isIdString(source.id, 0, 256)) return false;
  const x = e.experiment;
  if (x !== undefined && (!isPlainObject(x) || !hasOnlyKeys(x, ['id', 'variant']) || typeof x.id !== 'string' || typeof x.variant !== 'string')) return false;
  return true;
}

const VERSION_KEYS = new Set(Object.keys(EntityVersionSchema.shape));

/**
 * A fast check that `value` (freshly parsed JSON, or a driver's fresh document) is an
 * {@link EntityVersion} exactly as {@link EntityVersionSchema} would return it: the same patterns,
 * the same required and nullable fields, `deleted` present (the schema would add it), and no key the
 * schema does not know (it would strip it). Like {@link isEventEnvelope} it answers `true` only for
 * values the schema accepts unchanged; a `false` is settled by the schema. The stores read every
 * entity version back with it (host calls' reads, a commit's current versions, query pages).
 */
export function isEntityVersion(value: unknown): value is EntityVersion {
  if (!isPlainObject(value) || !hasOnlyKeys(value, VERSION_KEYS)) return false;
  const v = value;
  if (typeof v.entityId !== 'string' || !ENTITY_ID_RE.test(v.entityId)) return false;
  if (typeof v.entityTypeId !== 'string' || !ENTITY_TYPE_ID_RE.test(v.entityTypeId)) return false;
  if (v.tenantId !== null && (typeof v.tenantId !== 'string' || !TENANT_ID_RE.test(v.tenantId))) return false;
  if (v.ownerId !== null && typeof v.ownerId !== 'string') return false;
  if (!Number.isSafeInteger(v.version) || (v.version as number) <= 0) return false;
  if (!isJsonObject(v.attributes) || !isJsonObject(v.metadata)) return false;
  if (typeof v.createdAt !== 'string' || typeof v.createdBy !== 'string') return false;
  if (v.causationId !== null && typeof v.causationId !== 'string') return false;
  return typeof v.deleted === 'boolean';
}

/** An event a caller asks to publish; the store or bus fills in ids, time and chain metadata. */
export const EventDraftSchema = z
  .object({
    /** Pre-minted UUIDv7 (the runtime tells a plugin its emitted event's id before commit). @default a new id */
    eventId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'eventId must be a lower-case UUIDv7').optional(),
    type: EventTypeSchema,
    entityId: EntityIdSchema.optional(),
    entityTypeId: EntityTypeIdSchema.optional(),
    payload: JsonObjectSchema.default({}),
  })
  .strict();
export type EventDraft = z.input<typeof EventDraftSchema>;

/** The event that caused a change: its chain metadata is propagated into the events the change emits. */
export interface Causation {
  eventId: string;
  correlationId: string;
  hop: number;
  experiment?: { id: string; variant: string } | undefined;
}

/** A read-model operation, buffered by plugins and applied with the rest of a commit. */
export const ReadModelOpSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('upsert'), view: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,127}$/), id: z.string().min(1).max(256), doc: JsonObjectSchema }).strict(),
  z.object({ op: z.literal('delete'), view: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,127}$/), id: z.string().min(1).max(256) }).strict(),
]);
export type ReadModelOp = z.infer<typeof ReadModelOpSchema>;

/** Sort spec: field → 1 (ascending) or -1 (descending). */
export const SortSchema = z.record(z.string(), z.union([z.literal(1), z.literal(-1)]));
export type Sort = z.infer<typeof SortSchema>;

/** A page of results and the cursor to the next, if any. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
