import type {
  Causation,
  EntityVersion,
  EntityWrite,
  EventDraft,
  EventEnvelope,
  EventSource,
  JsonObject,
  Page,
  ReadModelOp,
  Sort,
  TenantContext,
} from '../core/index.js';
import { DEFAULT_FILTER_LIMITS, type FilterLimits } from './filter.js';
import type { QueryIndexStore } from './query-index.js';
import type { InvocationRecordStore } from './invocations.js';
import type { EventJournal } from './journal.js';
import type { CommitFence } from './fence.js';

/** Options for reading one entity. */
export interface GetOptions {
  /** A specific version; the latest when omitted. */
  version?: number;
}

/** A query over the latest versions of one entity type, visible to the context's tenant. */
export interface EntityQuery {
  entityTypeId: string;
  /**
   * MongoDB-style filter over the entity document (`entityId`, `version`, `ownerId`, `tenantId`,
   * `createdAt`, `attributes.*`, `metadata.*`). Only allow-listed operators are accepted; `$where`,
   * `$function`, `$accumulator` and unknown operators answer `INVALID_FILTER`.
   */
  filter?: JsonObject;
  /** @default { entityId: 1 } — entityId is always appended as the final tie-breaker. */
  sort?: Sort;
  /** Page size, 1..1000. @default 100 */
  limit?: number;
  /** Opaque cursor from a previous page of the same query. */
  cursor?: string;
  /** Include tombstoned entities. @default false */
  includeDeleted?: boolean;
}

/** Options for listing an entity's versions (newest first). */
export interface HistoryOptions {
  /** @default 100 */
  limit?: number;
  cursor?: string;
}

/**
 * An all-or-nothing unit of change: entity writes, extra events and read-model operations that
 * commit together or not at all. With an `idempotencyKey`, committing the same key again returns
 * the first result and applies nothing (`applied: false`).
 */
export interface CommitBatch {
  idempotencyKey?: string;
  writes?: EntityWrite[];
  /** Events besides the ones generated for each write (e.g. a plugin's emits). */
  events?: EventDraft[];
  readModelOps?: ReadModelOp[];
  /** The event this change responds to: generated events get its correlation, causation and hop + 1. */
  causation?: Causation;
  /** @default { kind: 'api', id: ctx.actor } */
  source?: EventSource;
  /**
   * The committer's lease fence (see {@link CommitFence}): checked and raised in the commit's own
   * transaction, before the idempotency key; a token smaller than one already committed under the
   * key answers `FENCED` and nothing is applied.
   */
  fence?: CommitFence;
}

/** What a commit produced. */
export interface CommitResult {
  /** False when the idempotency key had already been committed; the rest is the first commit's result. */
  applied: boolean;
  versions: EntityVersion[];
  events: EventEnvelope[];
}

/** An event waiting in the transactional outbox to be published on the bus. */
export interface OutboxEntry {
  seq: number;
  event: EventEnvelope;
}

/** A registered tenant. Calls naming an unregistered tenant answer `UNKNOWN_TENANT`. */
export interface TenantRecord {
  tenantId: string;
  name: string;
  createdAt: string;
}

/** A read-model document. */
export interface ReadModelDoc {
  view: string;
  id: string;
  doc: JsonObject;
  updatedAt: string;
}

/** Named per-tenant views, maintained by plugins and queried with the entity filter language. */
export interface ReadModelStore {
  upsert(ctx: TenantContext, view: string, id: string, doc: JsonObject): Promise<ReadModelDoc>;
  /** Returns whether a document was deleted. */
  delete(ctx: TenantContext, view: string, id: string): Promise<boolean>;
  /**
   * Deletes up to `limit` (1..10000, @default 5000) documents of a whole view, in one transaction;
   * returns how many (call again until it answers fewer than `limit`). Bounded so dropping a large
   * view never holds the store for long.
   */
  deleteView(ctx: TenantContext, view: string, limit?: number): Promise<number>;
  /** `NOT_FOUND` when absent (or another tenant's). */
  get(ctx: TenantContext, view: string, id: string): Promise<ReadModelDoc>;
  /** Filter and sort apply to the document itself; the id is the tie-breaker. */
  query(
    ctx: TenantContext,
    view: string,
    q?: { filter?: JsonObject; sort?: Sort; limit?: number; cursor?: string },
  ): Promise<Page<ReadModelDoc>>;
}

/** Per-tenant settings, and per-plugin settings within a tenant. */
export interface TenantConfigStore {
  /** `{}` when nothing was set. */
  getTenant(ctx: TenantContext): Promise<JsonObject>;
  setTenant(ctx: TenantContext, settings: JsonObject): Promise<void>;
  /** `{}` when nothing was set. */
  getPlugin(ctx: TenantContext, pluginName: string): Promise<JsonObject>;
  setPlugin(ctx: TenantContext, pluginName: string, settings: JsonObject): Promise<void>;
  /**
   * The configuration revision: a number that grows by one with every `setTenant` and `setPlugin` of any
   * tenant, through any process sharing the store, in the same transaction as the write. Settings
   * read after a revision was read are current for it until it changes, so a reader may keep them
   * that long (the router does, across batches). Not tenant-scoped: it says nothing but "changed".
   */
  revision(): Promise<number>;
  /**
   * What changed after revision `since`, read at once: the revision now and the tenants (`null`: the
   * platform's own settings) whose settings were written after `since` up to it — or `tenants: null`
   * when that cannot be told: more than `limit` writes, `since` older than the changes kept
   * ({@link CONFIG_CHANGES_KEPT} writes), or a write not attributed to its tenant (a process of an
   * older UEE sharing the store bumps the revision only). A reader keeping settings per tenant drops
   * those tenants' only — one tenant's writes never make every other tenant's settings be read again —
   * and everything on `null`.
   */
  changesSince(since: number, limit: number): Promise<ConfigChanges>;
}

/** The settings writes this many revisions back are remembered by tenant (see {@link TenantConfigStore.changesSince}). */
export const CONFIG_CHANGES_KEPT = 4096;

/** See {@link TenantConfigStore.changesSince}. */
export interface ConfigChanges {
  revision: number;
  /** Each tenant once, in the order of its first write after `since`; `null` for "anything may have changed". */
  tenants: Array<string | null> | null;
}

/** The transactional outbox: events committed with store changes, awaiting publication. */
export interface Outbox {
  /** Oldest unpublished entries first. */
  peek(limit: number): Promise<OutboxEntry[]>;
  /** Removes entries once the bus has them. Idempotent. */
  markPublished(seqs: number[]): Promise<void>;
  /** Number of unpublished entries. */
  size(): Promise<number>;
  /**
   * Optional: calls `listener` after each commit through this store object that put events in the
   * outbox (so a relay need not poll for them). Commits of other processes sharing the store are not
   * told: a relay still polls for those, less often. Returns a function that stops it.
   */
  onAppended?(listener: () => void): () => void;
}

/**
 * Content-addressed binaries (plugin modules): stored once per sha256, never changed. Not
 * tenant-scoped: the address is the content, and only the registry hands addresses out.
 */
export interface BlobStore {
  /** Stores bytes (idempotent) and returns their address. */
  put(bytes: Uint8Array): Promise<{ sha256: string; size: number }>;
  /** `NOT_FOUND` when absent. The bytes are verified against the address. */
  get(sha256: string): Promise<Uint8Array>;
  has(sha256: string): Promise<boolean>;
}

/** The tenant registry. */
export interface TenantRegistry {
  /** Idempotent: creating an existing tenant returns it unchanged. */
  create(tenantId: string, name?: string): Promise<TenantRecord>;
  /** `UNKNOWN_TENANT` when absent. */
  get(tenantId: string): Promise<TenantRecord>;
  list(): Promise<TenantRecord[]>;
}

/** A read-model document and the scope it is in (see {@link EntityStore.viewAcrossTenants}). */
export interface ScopedDoc {
  tenantId: string | null;
  id: string;
  doc: JsonObject;
}

/** An entity's latest version without its document (see {@link EntityStore.headsOfType}). */
export interface EntityHead {
  entityId: string;
  tenantId: string | null;
  version: number;
}

/**
 * The entity store port. Every method takes a {@link TenantContext}; tenant isolation is enforced
 * here, not by callers: a tenant sees its own and global entities, never another tenant's, and a
 * foreign id answers `NOT_FOUND` exactly like a missing one.
 *
 * Every change also lands its events in the {@link Outbox} in the same transaction.
 */
export interface EntityStore {
  /** Which adapter this is, e.g. `sqlite` or `mongodb`. */
  readonly kind: string;
  readonly tenants: TenantRegistry;
  readonly readModels: ReadModelStore;
  readonly config: TenantConfigStore;
  readonly outbox: Outbox;
  readonly blobs: BlobStore;
  /** Per-tenant indexes, explain and the slow-query log; absent on adapters that evaluate filters natively without them. */
  readonly indexes?: QueryIndexStore;
  /** What each plugin attempt did with each event (see {@link InvocationRecordStore}). */
  readonly invocations: InvocationRecordStore;
  /** Every committed event, per tenant, kept after publication (see {@link EventJournal}). */
  readonly journal: EventJournal;

  /** Writes one entity version (a one-write {@link commit}). */
  put(ctx: TenantContext, write: EntityWrite, options?: { causation?: Causation; source?: EventSource }): Promise<EntityVersion>;
  /** `NOT_FOUND` when absent, another tenant's, or the version does not exist. */
  get(ctx: TenantContext, entityId: string, options?: GetOptions): Promise<EntityVersion>;
  /**
   * {@link get} answering `null` instead of `NOT_FOUND`, with no error built (a `UeeError` captures a
   * stack); other failures (`UNKNOWN_TENANT`, `VALIDATION_FAILED`, `CLOSED`…) still reject. For
   * callers that expect absence — a plugin's `read_entity`, the router's input of an event naming an
   * id with no entity — where building and catching an error per miss costs more than the read.
   */
  find(ctx: TenantContext, entityId: string, options?: GetOptions): Promise<EntityVersion | null>;
  /** Versions of one entity, newest first. `NOT_FOUND` when the entity is not visible. */
  history(ctx: TenantContext, entityId: string, options?: HistoryOptions): Promise<Page<EntityVersion>>;
  /** Latest versions of one type matching a filter, with keyset pagination. */
  query(ctx: TenantContext, query: EntityQuery): Promise<Page<EntityVersion>>;
  /** All-or-nothing batch; see {@link CommitBatch}. */
  commit(ctx: TenantContext, batch: CommitBatch): Promise<CommitResult>;
  /**
   * Whether a commit under `idempotencyKey` has been made in the context's tenant: one primary-key
   * lookup. The router asks it before re-running a redelivered event, so a delivery whose effects
   * committed but whose ack was lost never runs the plugin again.
   */
  committed(ctx: TenantContext, idempotencyKey: string): Promise<boolean>;
  /**
   * Deletes at most `limit` (1..10000) idempotency keys of any tenant committed before `before` (an
   * ISO time), oldest first; returns how many (call again until it answers fewer than `limit`).
   * Every delivery whose effects commit writes one key, so without this the table grows with every
   * delivery ever made; a key is needed only while its delivery can come again (a commit whose ack
   * was lost, a crash before the ack): the platform keeps keys `idempotencyRetentionHours`.
   * Optional so an adapter can land without it: keys are then kept forever.
   */
  purgeIdempotency?(before: string, limit: number): Promise<number>;
  /**
   * Due timers, for the timer service only (it crosses tenants: never expose it to a tenant).
   *
   * Contract: the latest, non-deleted versions of entity type {@link TIMER_INDEX_TYPE} whose
   * `attributes.status` is `'scheduled'` and whose `attributes.fireAt` (ISO-8601 UTC string, so string
   * order is time order) is ≤ `now`, in every scope (global and every tenant), oldest `fireAt` first
   * (entity id as tie-breaker), at most `limit` (1..1000). It must be answered from an index that holds
   * only scheduled timers (a partial index, or an index table kept in the commit transaction), so a
   * round costs O(log n + due) whatever the number of fired, cancelled, dead or future timers.
   *
   * Optional so an adapter can land without it: the timer service then falls back to one
   * {@link query} per tenant, whose cost grows with the stored timers.
   */
  dueTimers?(now: string, limit: number): Promise<EntityVersion[]>;
  /**
   * Every scope's latest, not deleted versions of one entity type — the platform's own cross-tenant
   * read (the plugin registry's routing table) — at most `limit` (1..1000), in (entity id, tenant)
   * order after `after` (the previous page's last). One indexed scan whatever the number of tenants:
   * a query per tenant walked every scope's entities of the type once per tenant (O(tenants ×
   * entities): 118 ms for 1,000 tenants' plugins on SQLite, a router's whole table reload).
   * Optional so an adapter can land without it: callers then query tenant by tenant.
   */
  latestOfType?(entityTypeId: string, limit: number, after?: { entityId: string; tenantId: string | null }): Promise<EntityVersion[]>;
  /**
   * {@link latestOfType}'s entities — the same ones, in the same order, paged the same way — as their
   * heads only (id, scope, version), without their documents: a caller that keeps what it read
   * before reads again only the entities whose version moved (the router's periodic reload of every
   * plugin version ever deployed, sources and all, read every document each time).
   */
  headsOfType?(entityTypeId: string, limit: number, after?: { entityId: string; tenantId: string | null }): Promise<EntityHead[]>;
  /**
   * Every scope's documents of one of the views the platform reads across tenants (`CROSS_TENANT_VIEWS`:
   * the routing table's version pins and experiments), at most `limit` (1..1000), in (tenant, id)
   * order after `after` (the previous page's last); the global scope's first. One indexed scan of the
   * view whatever the number of tenants: read tenant by tenant, a full reload of the routing table
   * made two queries per tenant (~50 ms of the main thread with 1,000 tenants on SQLite, 2,000 round
   * trips on PostgreSQL). `VALIDATION_FAILED` for any other view. Optional so an adapter can land
   * without it: callers then query tenant by tenant.
   */
  viewAcrossTenants?(view: string, limit: number, after?: { tenantId: string | null; id: string }): Promise<ScopedDoc[]>;
  /**
   * What this store's data is, whatever address or path reached it: a random id written into the
   * database the first time any UEE opened it (SQLite: the file; PostgreSQL: the schema; MongoDB: the
   * database), the same for every process sharing it and different for every other store (an
   * in-memory store gets its own). Names that processes sharing the store must agree on (the outbox
   * relay's lease) are made from it, not from the configured address.
   */
  identity(): Promise<string>;
  /** Idempotent. Pending calls fail with `CLOSED`. */
  close(): Promise<void>;
}

/** The entity type {@link EntityStore.dueTimers} indexes (the runtime's `uee.timer`). */
export const TIMER_INDEX_TYPE = 'uee.timer';

/** Limits every adapter enforces. */
export interface StoreLimits {
  /** Max JSON bytes of one entity's attributes (and of one read-model document). @default 1 MiB */
  maxAttributeBytes: number;
  /** Max writes + events + read-model ops in one commit. @default 1000 */
  maxBatchSize: number;
  /** Bounds on query filters and on the work of evaluating them. @default DEFAULT_FILTER_LIMITS */
  filter: FilterLimits;
  /** Max query indexes one tenant may declare (each covers only that tenant's rows). @default 8 */
  maxIndexesPerTenant: number;
  /** Queries slower than this many milliseconds go to the tenant's slow-query log. @default 25 */
  slowQueryMs: number;
}

/** Store limits as callers give them: any subset, the filter limits partial too. */
export type StoreLimitsInput = Partial<Omit<StoreLimits, 'filter'>> & { filter?: Partial<FilterLimits> };

/** Defaults for {@link StoreLimits}. */
export const DEFAULT_STORE_LIMITS: StoreLimits = {
  maxAttributeBytes: 1024 * 1024,
  maxBatchSize: 1000,
  filter: DEFAULT_FILTER_LIMITS,
  maxIndexesPerTenant: 8,
  slowQueryMs: 25,
};
