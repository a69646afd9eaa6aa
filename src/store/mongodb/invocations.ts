import type { Collection, Filter } from 'mongodb';
import type { InvocationRecord, InvocationRecordStore } from '../invocations.js';
import { PURGE_BATCH, invocationPage, normaliseInvocationQuery, prepareInvocationRecord, readInvocationRecord } from '../invocations.js';
import type { MongoCore } from './core.js';

/** One stored invocation record: the searchable fields beside the record itself. */
export interface InvocationDoc {
  _id: { tk: string; id: string };
  tk: string;
  recordId: string;
  at: string;
  eventId: string;
  correlationId: string;
  entityId: string | null;
  plugin: string;
  pluginId: string;
  outcome: string;
  experimentId: string | null;
  doc: InvocationRecord;
}

/** Indexes of the invocations collection (each lookup leads with the tenant key, like the SQL adapters). */
export async function ensureInvocationIndexes(c: Collection<InvocationDoc>): Promise<void> {
  for (const field of ['eventId', 'correlationId', 'entityId', 'plugin', 'experimentId'] as const) {
    await c.createIndex({ tk: 1, [field]: 1, recordId: -1 }, { name: `by_${field}` });
  }
  await c.createIndex({ tk: 1, recordId: -1 }, { name: 'by_tenant' });
  await c.createIndex({ at: 1 }, { name: 'by_at' });
}

const FIELDS = ['eventId', 'correlationId', 'entityId', 'plugin', 'pluginId', 'outcome', 'experimentId'] as const;

/** Invocation records on MongoDB. */
export function mongoInvocations(core: MongoCore): InvocationRecordStore {
  const c = core.c.invocations;
  return {
    append: (records) =>
      core.run(async () => {
        if (records.length === 0) return;
        await c.bulkWrite(
          records.map((draft) => {
            const r = prepareInvocationRecord(draft);
            const tk = r.tenantId ?? '';
            const doc: InvocationDoc = {
              _id: { tk, id: r.recordId },
              tk,
              recordId: r.recordId,
              at: r.at,
              eventId: r.event.eventId,
              correlationId: r.event.correlationId,
              entityId: r.event.entityId ?? null,
              plugin: r.plugin.name,
              pluginId: r.plugin.id,
              outcome: r.outcome,
              experimentId: r.experiment?.id ?? null,
              doc: r,
            };
            return { updateOne: { filter: { _id: doc._id }, update: { $setOnInsert: doc }, upsert: true } };
          }),
          { ordered: false },
        );
      }),
    query: (ctx, query) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const q = normaliseInvocationQuery(query);
        const filter: Filter<InvocationDoc> = { tk };
        for (const field of FIELDS) {
          const v = q[field];
          if (v !== undefined) filter[field] = v;
        }
        if (q.from !== undefined || q.to !== undefined) filter.at = { ...(q.from === undefined ? {} : { $gte: q.from }), ...(q.to === undefined ? {} : { $lt: q.to }) };
        if (q.after !== undefined) filter.recordId = { $lt: q.after };
        const docs = await c.find(filter).sort({ recordId: -1 }).limit(q.limit + 1).toArray();
        return invocationPage(docs.map((d) => readInvocationRecord(d.doc)), q);
      }),
    purgeBefore: (before, limit = PURGE_BATCH) =>
      core.run(async () => {
        const cutoff = new Date(before).toISOString();
        const ids = await c.find({ at: { $lt: cutoff } }, { projection: { _id: 1 } }).sort({ at: 1 }).limit(Math.min(Math.max(1, limit), PURGE_BATCH)).toArray();
        if (ids.length === 0) return 0;
        return (await c.deleteMany({ _id: { $in: ids.map((d) => d._id) } })).deletedCount;
      }),
  };
}
