import type { ClientSession, Collection } from 'mongodb';
import type { EventEnvelope, JsonObject } from '../../core/index.js';
import { JOURNAL_SCAN_SPAN, journalPage, normaliseJournalQuery, purgeCutoff, purgeLimit, type EventJournal, type JournalEntry } from '../journal.js';
import { readEvent } from '../shared.js';
import type { MongoCore } from './core.js';

/** One journaled event. `_id` is the global seq (the event's outbox seq, reserved in the same commit). */
export interface JournalDoc {
  _id: number;
  tk: string;
  position: number;
  eventId: string;
  type: string;
  occurredAt: string;
  event: JsonObject;
}

/** Indexes of the journal collection. */
export async function ensureJournalIndexes(c: Collection<JournalDoc>): Promise<void> {
  await c.createIndex({ tk: 1, position: 1 }, { unique: true, name: 'by_position' });
  await c.createIndex({ tk: 1, eventId: 1 }, { unique: true, name: 'by_event' });
}

/**
 * Appends a commit's events inside its snapshot transaction. The tenant's head is a counter
 * document (`journal:<tenant>`): two commits of one tenant conflict on it and the driver retries the
 * later one, so positions follow commit order. Event ids already journaled are skipped (a unique
 * index violation would abort the whole transaction).
 */
export async function appendJournal(core: MongoCore, tk: string, events: EventEnvelope[], firstSeq: number, session: ClientSession): Promise<void> {
  if (events.length === 0) return;
  const { c } = core;
  const head = await c.counters.findOneAndUpdate({ _id: `journal:${tk}` }, { $inc: { seq: events.length } }, { upsert: true, returnDocument: 'after', session });
  const first = head!.seq - events.length + 1;
  const known = new Set((await c.journal.find({ tk, eventId: { $in: events.map((e) => e.eventId) } }, { session, projection: { eventId: 1 } }).toArray()).map((d) => d.eventId));
  const docs: JournalDoc[] = [];
  events.forEach((e, i) => {
    if (known.has(e.eventId)) return;
    known.add(e.eventId);
    docs.push({ _id: firstSeq + i, tk, position: first + i, eventId: e.eventId, type: e.type, occurredAt: e.occurredAt, event: e });
  });
  if (docs.length > 0) await c.journal.insertMany(docs, { session });
}

/** The journal port on MongoDB. */
export function mongoJournal(core: MongoCore): EventJournal {
  const head = async (tk: string): Promise<number> => (await core.c.counters.findOne({ _id: `journal:${tk}` }))?.seq ?? 0;
  const entry = (d: JournalDoc): JournalEntry => ({ position: d.position, seq: d._id, event: readEvent(d.event, { collection: 'journal', seq: d._id }) });
  return {
    read: (ctx, query) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const q = normaliseJournalQuery(query);
        const h = await head(tk);
        const spanEnd = Math.min(q.after + JOURNAL_SCAN_SPAN, h);
        const filter = { tk, position: { $gt: q.after, $lte: spanEnd }, ...(q.types === undefined ? {} : { type: { $in: q.types } }) };
        const rows = await core.c.journal.find(filter).sort({ position: 1 }).limit(q.limit + 1).toArray();
        return journalPage(q, rows.map(entry), h);
      }),
    info: (ctx) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const oldest = await core.c.journal.find({ tk }).sort({ position: 1 }).limit(1).project<{ position: number }>({ position: 1 }).toArray();
        return { head: await head(tk), oldest: oldest[0]?.position ?? null };
      }),
    purgeBefore: (before, limit) =>
      core.run(async () => {
        const cutoff = purgeCutoff(before);
        const rows = await core.c.journal.find({}).sort({ _id: 1 }).limit(purgeLimit(limit)).project<{ _id: number; occurredAt: string }>({ occurredAt: 1 }).toArray();
        let upTo: number | null = null;
        for (const r of rows) {
          if (r.occurredAt >= cutoff) break;
          upTo = r._id;
        }
        if (upTo === null) return 0;
        return (await core.c.journal.deleteMany({ _id: { $lte: upTo } })).deletedCount;
      }),
  };
}
