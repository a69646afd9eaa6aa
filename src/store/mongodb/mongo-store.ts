import { randomUUID } from 'node:crypto';
import { mongoInvocations } from './invocations.js';
import { appendJournal, mongoJournal } from './journal.js';
import { MongoClient, MongoError, type ClientSession, type Document } from 'mongodb';
import { UeeError, silentLogger, type EntityVersion, type Logger, type TenantContext } from '../../core/index.js';
import type { CommitBatch, CommitResult, EntityHead, EntityQuery, EntityStore, ScopedDoc, StoreLimitsInput } from '../port.js';
import { decodeCursor } from '../cursor.js';
import { commitContext, namedEntityIds, planCommit, type CurrentVersion } from '../commit-plan.js';
import { normaliseEntityQuery, normaliseHistory, toPage } from '../query.js';
import {
  AppendSignal,
  entityNotFound,
  throwError,
  normaliseLimits,
  prepareBatch,
  prepareEntityId,
  readIdempotentResult,
  GLOBAL_TENANT_KEY,
  crossTenantRead,
  pageSize,
  tenantIdOfKey,
  purgeBatch,
  readVersion,
  visibleTenantKeys,
  type PreparedBatch,
} from '../shared.js';
import { checkFence } from './fence.js';
import { DUPLICATE_KEY, MongoCore, TIMER_DUE_FILTER, collectionsOf, ensureIndexes, mongoError, type Collections, type VersionDoc } from './core.js';
import { afterFilter, keyValue, sortDocument, withTieBreakers, type MongoKey } from './keyset.js';
import { applyReadModelOps, mongoConfig, mongoOutbox, mongoBlobs, mongoReadModels, mongoTenants, reserveSeqs } from './side-stores.js';

/** Options for {@link openMongoStore}. */
export interface MongoStoreOptions {
  /** A `mongodb://` or `mongodb+srv://` URL of a replica set (transactions need one). */
  url: string;
  /** @default the database named in the URL, else "uee" */
  database?: string;
  /** @default DEFAULT_STORE_LIMITS */
  limits?: StoreLimitsInput;
  /** @default silentLogger */
  logger?: Logger;
}

/**
 * The entity store on MongoDB. Every commit is one multi-document transaction, so the server must
 * be a replica set or a sharded cluster; a single-node replica set is enough for development.
 */
class MongoStore implements EntityStore {
  readonly kind = 'mongodb';
  readonly tenants;
  readonly readModels;
  readonly config;
  readonly outbox;
  readonly blobs;
  readonly invocations;
  readonly journal;
  readonly #core: MongoCore;

  readonly #appended = new AppendSignal();

  constructor(core: MongoCore) {
    this.#core = core;
    this.tenants = mongoTenants(core);
    this.readModels = mongoReadModels(core);
    this.config = mongoConfig(core);
    this.outbox = { ...mongoOutbox(core), onAppended: (listener: () => void) => this.#appended.on(listener) };
    this.blobs = mongoBlobs(core);
    this.invocations = mongoInvocations(core);
    this.journal = mongoJournal(core);
  }

  async #owner(tk: string, entityId: string): Promise<{ key: string; latest: EntityVersion }> {
    return (await this.#find(tk, entityId)) ?? throwError(entityNotFound(entityId));
  }

  /** The tenant key an entity visible to `tk` lives under, with its latest version; undefined when none. */
  async #find(tk: string, entityId: string): Promise<{ key: string; latest: EntityVersion } | undefined> {
    const found = await this.#core.c.versions.find({ tk: { $in: visibleTenantKeys(tk) }, entityId, latest: true }).toArray();
    for (const key of visibleTenantKeys(tk)) {
      const doc = found.find((d) => d.tk === key);
      if (doc !== undefined) return { key, latest: this.#read(doc) };
    }
    return undefined;
  }

  #read(doc: Document): EntityVersion {
    const { _id: _ignored, tk: _tk, latest: _latest, ...version } = doc;
    return readVersion(version, { entityId: doc.entityId as unknown });
  }

  async #commitInTx(session: ClientSession, tk: string, ctx: TenantContext, batch: PreparedBatch): Promise<CommitResult> {
    const { c } = this.#core;
    await checkFence(c.fences, batch.fence, session);
    if (batch.idempotencyKey !== undefined) {
      const prior = await c.idempotency.findOne({ _id: { tk, key: batch.idempotencyKey } }, { session });
      if (prior !== null) return readIdempotentResult(prior.result, { idempotencyKey: batch.idempotencyKey });
    }
    const ids = namedEntityIds(batch);
    const current = new Map<string, CurrentVersion>();
    if (ids.length > 0) {
      const docs = await c.versions.find({ tk: { $in: visibleTenantKeys(tk) }, entityId: { $in: ids }, latest: true }, { session }).toArray();
      for (const d of docs) current.set(`${d.tk}/${d.entityId}`, this.#read(d));
    }
    const cc = commitContext(ctx, tk, batch);
    const plan = planCommit(cc, (key, id) => current.get(`${key}/${id}`) ?? null);
    if (plan.supersede.length > 0) {
      await c.versions.updateMany({ tk, entityId: { $in: plan.supersede }, latest: true }, { $set: { latest: false } }, { session });
    }
    if (plan.versions.length > 0) {
      const docs = plan.versions.map(({ version: v, latest }): VersionDoc => ({ _id: `${tk}/${v.entityId}/${v.version}`, tk, latest, ...v }));
      await c.versions.insertMany(docs, { session });
    }
    await applyReadModelOps(this.#core, tk, batch.readModelOps, cc.createdAt, session);
    if (plan.events.length > 0) {
      const first = await reserveSeqs(this.#core, plan.events.length, session);
      await c.outbox.insertMany(plan.events.map((event, i) => ({ _id: first + i, event })), { session });
      await appendJournal(this.#core, tk, plan.events, first, session);
    }
    if (batch.idempotencyKey !== undefined) {
      await c.idempotency.insertOne({ _id: { tk, key: batch.idempotencyKey }, result: plan.result, createdAt: cc.createdAt }, { session });
    }
    return plan.result;
  }

  commit(ctx: TenantContext, batch: CommitBatch): Promise<CommitResult> {
    return this.#core.run(async () => {
      const tk = await this.#core.scope(ctx);
      const prepared = prepareBatch(batch, this.#core.limits);
      try {
        const result = await this.#core.transaction((session) => this.#commitInTx(session, tk, ctx, prepared));
        if (result.applied && result.events.length > 0) this.#appended.notify();
        return result;
      } catch (err) {
        // Two commits raced on one idempotency key: the loser answers the winner's result.
        if (prepared.idempotencyKey !== undefined && err instanceof MongoError && err.code === DUPLICATE_KEY) {
          const prior = await this.#core.c.idempotency.findOne({ _id: { tk, key: prepared.idempotencyKey } });
          if (prior !== null) return readIdempotentResult(prior.result, { idempotencyKey: prepared.idempotencyKey });
        }
        throw err;
      }
    });
  }

  purgeIdempotency(before: string, limit: number): Promise<number> {
    return this.#core.run(async () => {
      const old = await this.#core.c.idempotency.find({ createdAt: { $lt: before } }, { projection: { _id: 1 } }).hint('by_created').sort({ createdAt: 1 }).limit(purgeBatch(limit)).toArray();
      if (old.length === 0) return 0;
      return (await this.#core.c.idempotency.deleteMany({ _id: { $in: old.map((d) => d._id) } })).deletedCount;
    });
  }

  committed(ctx: TenantContext, idempotencyKey: string): Promise<boolean> {
    return this.#core.run(async () => {
      const tk = await this.#core.scope(ctx);
      return (await this.#core.c.idempotency.countDocuments({ _id: { tk, key: idempotencyKey } }, { limit: 1 })) > 0;
    });
  }

  async put(...[ctx, write, options]: Parameters<EntityStore['put']>): Promise<EntityVersion> {
    const result = await this.commit(ctx, { writes: [write], ...options });
    return result.versions[0]!;
  }

  get(...[ctx, entityId, options]: Parameters<EntityStore['get']>): Promise<EntityVersion> {
    return this.#core.run(async () => (await this.#get(ctx, entityId, options)) ?? throwError(entityNotFound(entityId, options?.version)));
  }

  find(...[ctx, entityId, options]: Parameters<EntityStore['find']>): Promise<EntityVersion | null> {
    return this.#core.run(() => this.#get(ctx, entityId, options));
  }

  /** {@link get} answering null where it answers NOT_FOUND: one path for both, no error built on a miss. */
  async #get(...[ctx, entityId, options]: Parameters<EntityStore['get']>): Promise<EntityVersion | null> {
    const tk = await this.#core.scope(ctx);
    const id = prepareEntityId(entityId);
    const found = await this.#find(tk, id);
    if (found === undefined) return null;
    const version = options?.version;
    if (version === undefined || version === found.latest.version) return found.latest;
    const doc = Number.isInteger(version) ? await this.#core.c.versions.findOne({ tk: found.key, entityId: id, version }) : null;
    return doc === null ? null : this.#read(doc);
  }

  history(...[ctx, entityId, options]: Parameters<EntityStore['history']>): ReturnType<EntityStore['history']> {
    return this.#core.run(async () => {
      const tk = await this.#core.scope(ctx);
      const id = prepareEntityId(entityId);
      const { key } = await this.#owner(tk, id);
      const h = normaliseHistory(id, options);
      const keys: MongoKey[] = [{ field: 'version', dir: -1 }];
      const parts: Document[] = [{ tk: key, entityId: id }];
      if (h.cursor !== undefined) parts.push(afterFilter(keys, decodeCursor(h.cursor, h.hash, keys.length)));
      const docs = await this.#core.c.versions.find({ $and: parts }).sort(sortDocument(keys)).limit(h.limit + 1).toArray();
      return toPage(docs, h.limit, h.hash, (d) => [d.version], (d) => this.#read(d));
    });
  }

  query(ctx: TenantContext, query: EntityQuery): ReturnType<EntityStore['query']> {
    return this.#core.run(async () => {
      const tk = await this.#core.scope(ctx);
      const q = normaliseEntityQuery(query, this.#core.limits.filter);
      const keys = withTieBreakers(q.sort, [{ field: 'entityId', dir: 1 }, { field: 'tk', dir: 1 }]);
      const base: Document = { tk: { $in: visibleTenantKeys(tk) }, entityTypeId: q.entityTypeId, latest: true };
      if (!q.includeDeleted) base.deleted = false;
      const parts: Document[] = [base, q.filter];
      if (q.cursor !== undefined) parts.push(afterFilter(keys, decodeCursor(q.cursor, q.hash, keys.length)));
      const docs = await this.#core.c.versions.find({ $and: parts }).sort(sortDocument(keys)).limit(q.limit + 1).maxTimeMS(this.#core.limits.filter.maxQueryMs).toArray();
      return toPage(docs, q.limit, q.hash, (d) => keys.map((k) => keyValue(d, k.field)), (d) => this.#read(d));
    });
  }

  dueTimers(now: string, limit: number): Promise<EntityVersion[]> {
    return this.#core.run(async () => {
      const n = pageSize(limit);
      const docs = await this.#core.c.versions
        .find({ ...TIMER_DUE_FILTER, deleted: false, 'attributes.fireAt': { $lte: now } })
        .hint('timer_due')
        .sort({ 'attributes.fireAt': 1, entityId: 1 })
        .limit(n)
        .toArray();
      return docs.map((d) => this.#read(d));
    });
  }

  latestOfType(entityTypeId: string, limit: number, after?: { entityId: string; tenantId: string | null }): Promise<EntityVersion[]> {
    return this.#core.run(async () => {
      const n = pageSize(limit);
      const from = after === undefined ? {} : { $or: [{ entityId: { $gt: after.entityId } }, { entityId: after.entityId, tk: { $gt: after.tenantId ?? GLOBAL_TENANT_KEY } }] };
      const docs = await this.#core.c.versions.find({ entityTypeId, latest: true, deleted: false, ...from }).hint('latest_by_type').sort({ entityId: 1, tk: 1 }).limit(n).toArray();
      return docs.map((d) => this.#read(d));
    });
  }

  headsOfType(entityTypeId: string, limit: number, after?: { entityId: string; tenantId: string | null }): Promise<EntityHead[]> {
    return this.#core.run(async () => {
      const n = pageSize(limit);
      const from = after === undefined ? {} : { $or: [{ entityId: { $gt: after.entityId } }, { entityId: after.entityId, tk: { $gt: after.tenantId ?? GLOBAL_TENANT_KEY } }] };
      const docs = await this.#core.c.versions
        .find({ entityTypeId, latest: true, deleted: false, ...from }, { projection: { _id: 0, entityId: 1, tk: 1, version: 1 } })
        .hint('latest_by_type')
        .sort({ entityId: 1, tk: 1 })
        .limit(n)
        .toArray();
      return docs.map((d) => ({ entityId: d.entityId, tenantId: tenantIdOfKey(d.tk), version: d.version }));
    });
  }

  viewAcrossTenants(view: string, limit: number, after?: { tenantId: string | null; id: string }): Promise<ScopedDoc[]> {
    return this.#core.run(async () => {
      const n = crossTenantRead(view, limit);
      const tk = after === undefined ? '' : (after.tenantId ?? GLOBAL_TENANT_KEY);
      const from = after === undefined ? {} : { $or: [{ tk: { $gt: tk } }, { tk, id: { $gt: after.id } }] };
      const docs = await this.#core.c.readModels.find({ view, ...from }).hint('cross_tenant').sort({ tk: 1, id: 1 }).limit(n).toArray();
      return docs.map((d) => ({ tenantId: tenantIdOfKey(d.tk), id: d.id, doc: d.doc }));
    });
  }

  identity(): Promise<string> {
    return this.#core.run(async () => {
      const doc = await this.#core.c.identity.findOne({ _id: 'store' });
      return `mongodb:${doc!.uid}`;
    });
  }

  async close(): Promise<void> {
    if (this.#core.closed) return;
    this.#core.closed = true;
    try {
      await this.#core.client.close();
    } catch (err) {
      this.#core.logger.warn('closing the MongoDB client failed', { error: mongoError(err, false).message });
    }
  }
}

const URL_SETTING = 'store URL (--store / UEE_STORE)';

async function connect(options: MongoStoreOptions): Promise<MongoClient> {
  let client: MongoClient;
  try {
    client = new MongoClient(options.url, { serverSelectionTimeoutMS: 5000, appName: 'uee' });
  } catch (cause) {
    throw new UeeError('CONFIG_INVALID', `the MongoDB URL is invalid: ${cause instanceof Error ? cause.message : String(cause)}`, {
      details: { setting: URL_SETTING },
      hint: 'use a URL like mongodb://host:27017/uee?replicaSet=rs0',
      cause,
    });
  }
  try {
    await client.connect();
  } catch (cause) {
    await client.close().catch(() => undefined);
    throw new UeeError('BACKEND_UNAVAILABLE', `cannot reach MongoDB at the ${URL_SETTING}`, {
      details: { setting: URL_SETTING },
      hint: 'start MongoDB or fix the store URL',
      retryable: true,
      cause,
    });
  }
  return client;
}

/** Commits need multi-document transactions: refuse a standalone server at start-up, naming why. */
async function requireTransactions(client: MongoClient): Promise<void> {
  const hello = (await client.db('admin').command({ hello: 1 })) as { setName?: unknown; msg?: unknown };
  if (typeof hello.setName === 'string' || hello.msg === 'isdbgrid') return;
  throw new UeeError('CONFIG_INVALID', 'MongoDB is a standalone server; the entity store needs transactions, which need a replica set', {
    details: { setting: URL_SETTING },
    hint: 'run mongod with --replSet rs0 and rs.initiate() once (a single-node replica set is enough), then add ?replicaSet=rs0 to the URL',
  });
}

/**
 * Connects to MongoDB and opens the entity store. `CONFIG_INVALID` for a bad URL or a server without
 * transactions (not a replica set); `BACKEND_UNAVAILABLE` when nothing answers within 5 s.
 */
export async function openMongoStore(options: MongoStoreOptions): Promise<EntityStore> {
  const limits = normaliseLimits(options.limits);
  const logger = options.logger ?? silentLogger;
  const client = await connect(options);
  try {
    await requireTransactions(client);
    const db = client.db(options.database);
    const collections = collectionsOf(db);
    await ensureIndexes(collections);
    await writeIdentity(collections);
    logger.debug('mongodb store open', { database: db.databaseName });
    return new MongoStore(new MongoCore(client, collections, limits, logger));
  } catch (err) {
    await client.close().catch(() => undefined);
    throw mongoError(err, false);
  }
}

/** Writes the database's identity document unless an earlier open did (see EntityStore.identity). */
async function writeIdentity(c: Collections): Promise<void> {
  try {
    await c.identity.updateOne({ _id: 'store' }, { $setOnInsert: { uid: randomUUID() } }, { upsert: true });
  } catch (err) {
    // Two first opens at once: one upsert inserts, the other may fail on the key; the document is there.
    if ((err as { code?: unknown }).code !== DUPLICATE_KEY) throw err;
  }
}
