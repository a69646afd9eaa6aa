import { Binary, type AnyBulkWriteOperation, type ClientSession } from 'mongodb';
import { TenantIdSchema, parseOrThrow, type ReadModelOp } from '../../core/index.js';
import { CONFIG_CHANGES_KEPT, type BlobStore, type Outbox, type ReadModelDoc, type ReadModelStore, type TenantConfigStore, type TenantRecord, type TenantRegistry } from '../port.js';
import { decodeCursor } from '../cursor.js';
import { prefixFilter } from '../filter.js';
import { normaliseReadModelQuery, toPage } from '../query.js';
import {
  blobAddress,
  deleteViewLimit,
  blobNotFound,
  checkBlob,
  configChanges,
  prepareReadModelOp,
  preparePluginName,
  prepareSettings,
  prepareViewKey,
  readEvent,
  readJsonObject,
  readModelNotFound,
  unknownTenant,
} from '../shared.js';
import type { MongoCore, ReadModelDocument } from './core.js';
import { afterFilter, keyValue, sortDocument, withTieBreakers, type MongoKey } from './keyset.js';

/** The tenant registry, read models, config and outbox of the MongoDB adapter. */

/** The tenants collection. */
export function mongoTenants(core: MongoCore): TenantRegistry {
  const toRecord = (d: { _id: string; name: string; createdAt: string }): TenantRecord => ({ tenantId: d._id, name: d.name, createdAt: d.createdAt });
  return {
    create: (tenantId, name) =>
      core.run(async () => {
        const id = parseOrThrow(TenantIdSchema, tenantId, 'tenant id');
        const doc = await core.c.tenants.findOneAndUpdate(
          { _id: id },
          { $setOnInsert: { name: name ?? id, createdAt: new Date().toISOString() } },
          { upsert: true, returnDocument: 'after' },
        );
        core.rememberTenant(id);
        return toRecord(doc!);
      }),
    get: (tenantId) =>
      core.run(async () => {
        const doc = typeof tenantId === 'string' ? await core.c.tenants.findOne({ _id: tenantId }) : null;
        if (doc === null) throw unknownTenant(String(tenantId));
        return toRecord(doc);
      }),
    list: () => core.run(async () => (await core.c.tenants.find({}).sort({ _id: 1 }).toArray()).map(toRecord)),
  };
}

/** Applies validated read-model ops for `tk`, in `session` when given. */
export async function applyReadModelOps(core: MongoCore, tk: string, ops: ReadModelOp[], now: string, session?: ClientSession): Promise<number> {
  if (ops.length === 0) return 0;
  const bulk: Array<AnyBulkWriteOperation<ReadModelDocument>> = ops.map((op) => {
    const _id = { tk, view: op.view, id: op.id };
    return op.op === 'upsert'
      ? { replaceOne: { filter: { _id }, replacement: { _id, tk, view: op.view, id: op.id, doc: op.doc, updatedAt: now }, upsert: true } }
      : { deleteOne: { filter: { _id } } };
  });
  const result = await core.c.readModels.bulkWrite(bulk, { ordered: true, ...(session ? { session } : {}) });
  return result.deletedCount;
}

/** Read models, strictly per tenant key. */
export function mongoReadModels(core: MongoCore): ReadModelStore {
  const toDoc = (d: ReadModelDocument): ReadModelDoc => ({ view: d.view, id: d.id, doc: readJsonObject(d.doc, { view: d.view, id: d.id }), updatedAt: d.updatedAt });
  return {
    upsert: (ctx, view, id, doc) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const op = prepareReadModelOp({ op: 'upsert', view, id, doc }, core.limits);
        const now = new Date().toISOString();
        await applyReadModelOps(core, tk, [op], now);
        return { view, id, doc: op.op === 'upsert' ? op.doc : {}, updatedAt: now };
      }),
    delete: (ctx, view, id) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const op = prepareReadModelOp({ op: 'delete', view, id }, core.limits);
        return (await applyReadModelOps(core, tk, [op], '')) > 0;
      }),
    deleteView: (ctx, view, limit) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        prepareViewKey(view);
        const ids = (await core.c.readModels.find({ tk, view }).limit(deleteViewLimit(limit)).project<{ _id: ReadModelDocument['_id'] }>({ _id: 1 }).toArray()).map((d) => d._id);
        return ids.length === 0 ? 0 : (await core.c.readModels.deleteMany({ _id: { $in: ids } })).deletedCount;
      }),
    get: (ctx, view, id) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        prepareViewKey(view, id);
        const d = await core.c.readModels.findOne({ _id: { tk, view, id } });
        if (d === null) throw readModelNotFound(view, id);
        return toDoc(d);
      }),
    query: (ctx, view, q) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        prepareViewKey(view);
        const nq = normaliseReadModelQuery(view, q, core.limits.filter);
        const keys = withTieBreakers(nq.sort.map((k): MongoKey => ({ field: `doc.${k.field}`, dir: k.dir })), [{ field: 'id', dir: 1 }]);
        const parts = [{ tk, view }, prefixFilter(nq.filter, 'doc.')];
        if (nq.cursor !== undefined) parts.push(afterFilter(keys, decodeCursor(nq.cursor, nq.hash, keys.length)));
        const rows = await core.c.readModels.find({ $and: parts }).sort(sortDocument(keys)).limit(nq.limit + 1).maxTimeMS(core.limits.filter.maxQueryMs).toArray();
        return toPage(rows, nq.limit, () => nq.hash, (r) => keys.map((k) => keyValue(r, k.field)), toDoc);
      }),
  };
}

/** Tenant and per-plugin settings. */
export function mongoConfig(core: MongoCore): TenantConfigStore {
  return {
    getTenant: (ctx) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const d = await core.c.tenantConfig.findOne({ _id: tk });
        return d === null ? {} : readJsonObject(d.settings, { collection: 'tenant_config' });
      }),
    setTenant: (ctx, settings) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const s = prepareSettings(settings, core.limits);
        await core.transaction(async (session) => {
          await core.c.tenantConfig.replaceOne({ _id: tk }, { settings: s }, { upsert: true, session });
          await bumpRevision(core, tk, session);
        });
      }),
    getPlugin: (ctx, pluginName) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const plugin = preparePluginName(pluginName);
        const d = await core.c.pluginConfig.findOne({ _id: { tk, plugin } });
        return d === null ? {} : readJsonObject(d.settings, { collection: 'plugin_config', pluginName: plugin });
      }),
    setPlugin: (ctx, pluginName, settings) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const plugin = preparePluginName(pluginName);
        const s = prepareSettings(settings, core.limits);
        await core.transaction(async (session) => {
          await core.c.pluginConfig.replaceOne({ _id: { tk, plugin } }, { settings: s }, { upsert: true, session });
          await bumpRevision(core, tk, session);
        });
      }),
    revision: () => core.run(async () => (await core.c.counters.findOne({ _id: CONFIG_REVISION }))?.seq ?? 0),
    changesSince: (since, limit) =>
      core.run(async () => {
        // The revision first: a write it counts committed its change with it (one transaction), so the
        // changes read next hold every write up to it; later ones are left out by the bound.
        const revision = (await core.c.counters.findOne({ _id: CONFIG_REVISION }))?.seq ?? 0;
        const written = revision - since;
        const changes =
          written <= 0 || written > limit
            ? []
            : (await core.c.configChanges.find({ _id: { $gt: since, $lte: revision } }).sort({ _id: 1 }).limit(limit + 1).toArray()).map((d) => ({ rev: d._id, tk: d.tk }));
        return configChanges(revision, since, limit, changes);
      }),
  };
}

/** The counter of settings writes (see {@link TenantConfigStore.revision}). */
const CONFIG_REVISION = 'config';

/** Counts a settings write and records its tenant under the new revision (forgetting the one CONFIG_CHANGES_KEPT back), in the write's transaction. */
async function bumpRevision(core: MongoCore, tk: string, session: ClientSession): Promise<void> {
  const bumped = await core.c.counters.findOneAndUpdate({ _id: CONFIG_REVISION }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: 'after', session });
  const rev = bumped!.seq;
  await core.c.configChanges.insertOne({ _id: rev, tk }, { session });
  await core.c.configChanges.deleteMany({ _id: { $lte: rev - CONFIG_CHANGES_KEPT } }, { session });
}

/** The outbox collection; sequence numbers come from the `counters` collection. */
export function mongoOutbox(core: MongoCore): Outbox {
  return {
    peek: (limit) =>
      core.run(async () => {
        const n = Number.isFinite(limit) ? Math.max(1, Math.min(10_000, Math.floor(limit))) : 100;
        const rows = await core.c.outbox.find({}).sort({ _id: 1 }).limit(n).toArray();
        return rows.map((r) => ({ seq: r._id, event: readEvent(r.event, { collection: 'outbox', seq: r._id }) }));
      }),
    markPublished: (seqs) =>
      core.run(async () => {
        const ids = seqs.filter((s) => Number.isInteger(s));
        if (ids.length > 0) await core.c.outbox.deleteMany({ _id: { $in: ids } });
      }),
    size: () => core.run(() => core.c.outbox.countDocuments({})),
  };
}

/** Reserves `count` consecutive outbox sequence numbers inside `session`; returns the first. */
export async function reserveSeqs(core: MongoCore, count: number, session: ClientSession): Promise<number> {
  const counter = await core.c.counters.findOneAndUpdate({ _id: 'outbox' }, { $inc: { seq: count } }, { upsert: true, returnDocument: 'after', session });
  return counter!.seq - count + 1;
}

/** Content-addressed blobs in the `blobs` collection (plugin modules stay well under the 16 MB document limit). */
export function mongoBlobs(core: MongoCore): BlobStore {
  return {
    put: (bytes) =>
      core.run(async () => {
        const sha256 = blobAddress(bytes);
        await core.c.blobs.updateOne(
          { _id: sha256 },
          { $setOnInsert: { bytes: new Binary(Buffer.from(bytes)), createdAt: new Date().toISOString() } },
          { upsert: true },
        );
        return { sha256, size: bytes.byteLength };
      }),
    get: (sha256) =>
      core.run(async () => {
        checkBlob(sha256);
        const doc = await core.c.blobs.findOne({ _id: sha256 });
        if (doc === null) throw blobNotFound(sha256);
        const bytes = new Uint8Array(doc.bytes.buffer);
        checkBlob(sha256, bytes);
        return bytes;
      }),
    has: (sha256) =>
      core.run(async () => {
        checkBlob(sha256);
        return (await core.c.blobs.countDocuments({ _id: sha256 }, { limit: 1 })) > 0;
      }),
  };
}
