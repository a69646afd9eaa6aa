import { ensureInvocationIndexes, type InvocationDoc } from './invocations.js';
import { ensureJournalIndexes, type JournalDoc } from './journal.js';
import type { FenceDoc } from './fence.js';
import { MongoError, type Binary, type ClientSession, type Collection, type Db, type MongoClient } from 'mongodb';
import { UeeError, toUeeError, type JsonObject, type Logger, type TenantContext } from '../../core/index.js';
import type { CommitResult, StoreLimits } from '../port.js';
import { GLOBAL_TENANT_KEY, assertOpen, isValidTenantId, tenantKeyOf, unknownTenant } from '../shared.js';

/** A stored entity version: the {@link EntityVersion} fields plus the tenant key and latest flag. */
export interface VersionDoc extends JsonObject {
  _id: string;
  tk: string;
  latest: boolean;
  entityId: string;
  version: number;
}
/** A read-model document inside its envelope. */
export interface ReadModelDocument {
  _id: { tk: string; view: string; id: string };
  tk: string;
  view: string;
  id: string;
  doc: JsonObject;
  updatedAt: string;
}
interface TenantDoc {
  _id: string;
  name: string;
  createdAt: string;
}
interface SettingsDoc {
  _id: string | { tk: string; plugin: string };
  settings: JsonObject;
}
interface OutboxDoc {
  _id: number;
  event: JsonObject;
}
/** The store's identity (EntityStore.identity): one document, written by the first open of the database. */
export interface IdentityDoc {
  _id: 'store';
  uid: string;
}

interface CounterDoc {
  _id: string;
  seq: number;
}
/** A settings write's tenant, by the revision it made (see TenantConfigStore.changesSince). */
interface ConfigChangeDoc {
  _id: number;
  tk: string;
}
interface BlobDoc {
  _id: string;
  bytes: Binary;
  createdAt: string;
}
interface IdempotencyDoc {
  _id: { tk: string; key: string };
  result: CommitResult;
  createdAt: string;
}

/** The collections of one store database. */
export interface Collections {
  tenants: Collection<TenantDoc>;
  versions: Collection<VersionDoc>;
  readModels: Collection<ReadModelDocument>;
  tenantConfig: Collection<SettingsDoc>;
  pluginConfig: Collection<SettingsDoc>;
  outbox: Collection<OutboxDoc>;
  counters: Collection<CounterDoc>;
  configChanges: Collection<ConfigChangeDoc>;
  idempotency: Collection<IdempotencyDoc>;
  blobs: Collection<BlobDoc>;
  invocations: Collection<InvocationDoc>;
  journal: Collection<JournalDoc>;
  /** Commit fences (see CommitFence). */
  fences: Collection<FenceDoc>;
  identity: Collection<IdentityDoc>;
}

/** Collections of a database, by their fixed names. */
export function collectionsOf(db: Db): Collections {
  return {
    tenants: db.collection<TenantDoc>('tenants'),
    versions: db.collection<VersionDoc>('entity_versions'),
    readModels: db.collection<ReadModelDocument>('read_models'),
    tenantConfig: db.collection<SettingsDoc>('tenant_config'),
    pluginConfig: db.collection<SettingsDoc>('plugin_config'),
    outbox: db.collection<OutboxDoc>('outbox'),
    counters: db.collection<CounterDoc>('counters'),
    configChanges: db.collection<ConfigChangeDoc>('config_changes'),
    idempotency: db.collection<IdempotencyDoc>('idempotency'),
    blobs: db.collection<BlobDoc>('blobs'),
    invocations: db.collection<InvocationDoc>('invocations'),
    journal: db.collection<JournalDoc>('event_journal'),
    fences: db.collection<FenceDoc>('commit_fences'),
    identity: db.collection<IdentityDoc>('store_identity'),
  };
}

/** Creates the indexes the adapter relies on (idempotent). */
export async function ensureIndexes(c: Collections): Promise<void> {
  await c.versions.createIndex({ tk: 1, entityId: 1, version: -1 }, { unique: true, name: 'by_entity_version' });
  await c.versions.createIndex({ tk: 1, entityId: 1 }, { unique: true, partialFilterExpression: { latest: true }, name: 'latest_by_entity' });
  await c.versions.createIndex({ entityTypeId: 1, latest: 1, entityId: 1, tk: 1 }, { name: 'latest_by_type' });
  await c.readModels.createIndex({ tk: 1, view: 1, id: 1 }, { unique: true, name: 'by_view_id' });
  // Keys by age, for their retention (EntityStore.purgeIdempotency).
  await c.idempotency.createIndex({ createdAt: 1 }, { name: 'by_created' });
  // The views the platform reads across tenants (EntityStore.viewAcrossTenants), by view. Not partial
  // like the SQL stores' (an `$in` in a partial filter needs MongoDB 6.0): every view's documents are in it.
  await c.readModels.createIndex({ view: 1, tk: 1, id: 1 }, { name: 'cross_tenant' });
  // Scheduled timers by due time (EntityStore.dueTimers): a timer leaves this partial index as soon as
  // a newer version supersedes it or it stops being 'scheduled', so retired timers cost the poll nothing.
  await c.versions.createIndex({ 'attributes.fireAt': 1, entityId: 1 }, { name: 'timer_due', partialFilterExpression: { ...TIMER_DUE_FILTER } });
  await ensureInvocationIndexes(c.invocations);
  await ensureJournalIndexes(c.journal);
}

/** The partial-index filter of `timer_due`; {@link EntityStore.dueTimers} queries must include it. */
export const TIMER_DUE_FILTER = { entityTypeId: 'uee.timer', latest: true, 'attributes.status': 'scheduled' } as const;

/** Duplicate-key error code of MongoDB. */
export const DUPLICATE_KEY = 11000;

/** MongoDB's error code for an operation stopped by `maxTimeMS`. */
const MAX_TIME_EXPIRED = 50;

/** Maps a driver error to a `UeeError` (`CLOSED` once the store is closed). */
export function mongoError(err: unknown, closed: boolean): UeeError {
  if (err instanceof UeeError) return err;
  if (closed) return new UeeError('CLOSED', 'the mongodb store is closed', { hint: 'open a new store', cause: err });
  if (err instanceof MongoError) {
    const name = err.name;
    if (name === 'MongoServerSelectionError' || name === 'MongoNetworkError' || name === 'MongoNetworkTimeoutError' || err.hasErrorLabel('TransientTransactionError')) {
      return new UeeError('BACKEND_UNAVAILABLE', `MongoDB is unavailable: ${err.message}`, { retryable: true, hint: 'check that MongoDB is running and reachable, then retry', cause: err });
    }
    if (err.code === MAX_TIME_EXPIRED) {
      return new UeeError('QUERY_TOO_COSTLY', `the query ran longer than its time limit on MongoDB`, {
        details: { limit: 'maxQueryMs' },
        hint: 'simplify the filter (fewer or anchored $regex, fewer $or branches) or narrow the query',
        cause: err,
      });
    }
    if (err.code === DUPLICATE_KEY) {
      return new UeeError('VERSION_CONFLICT', 'a concurrent write created the same entity version', { retryable: true, hint: 'read the latest version and retry', cause: err });
    }
  }
  return toUeeError(err);
}

/** Connection, collections, limits and the tenant check shared by the MongoDB adapter's parts. */
export class MongoCore {
  closed = false;
  readonly #known = new Set<string>();

  constructor(
    readonly client: MongoClient,
    readonly c: Collections,
    readonly limits: StoreLimits,
    readonly logger: Logger,
  ) {}

  /** Runs an operation: `CLOSED` after close, driver errors mapped to `UeeError`s. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      assertOpen(this.closed, 'mongodb');
      return await fn();
    } catch (err) {
      throw mongoError(err, this.closed);
    }
  }

  /** The context's tenant key after checking the tenant is registered (`UNKNOWN_TENANT`). */
  async scope(ctx: TenantContext): Promise<string> {
    const tk = tenantKeyOf(ctx);
    if (tk === GLOBAL_TENANT_KEY || this.#known.has(tk)) return tk;
    const found = isValidTenantId(tk) ? await this.c.tenants.findOne({ _id: tk }, { projection: { _id: 1 } }) : null;
    if (found === null) throw unknownTenant(tk);
    this.#known.add(tk);
    return tk;
  }

  /** Remembers a tenant just registered. */
  rememberTenant(tenantId: string): void {
    this.#known.add(tenantId);
  }

  /** Runs `fn` in a transaction (retried by the driver on transient errors). */
  async transaction<T>(fn: (session: ClientSession) => Promise<T>): Promise<T> {
    const session = this.client.startSession();
    try {
      return await session.withTransaction(fn, { readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } });
    } finally {
      await session.endSession();
    }
  }
}
