import type { EventEnvelope } from '../../core/index.js';
import { JOURNAL_SCAN_SPAN, journalPage, normaliseJournalQuery, purgeCutoff, purgeLimit, type EventJournal, type JournalEntry } from '../journal.js';
import { readEvent, tenantKeyOf } from '../shared.js';
import type { SqliteCore } from './core.js';

/**
 * The event journal of the SQLite adapter (see journal.ts). `seq` is the rowid. SQLite has one
 * writer and a commit runs in an IMMEDIATE transaction, so a commit numbers its events from the
 * tenant's head read in that transaction, and commit order is position order. The head is the
 * highest position the tenant's live entries hold, or the `journal_heads` row if higher: purges
 * record there the highest position they delete (older files also hold the heads earlier versions
 * bumped per commit; a re-committed event id, ignored, raises it to the position it took), so
 * positions are never reused, and a commit writes no head row (one B-tree page fewer in its WAL
 * frames). The unique (tenant, event id) index makes a re-committed event id a no-op.
 */
export const JOURNAL_DDL = `
CREATE TABLE IF NOT EXISTS event_journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_key TEXT NOT NULL,
  position INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  occurred_at TEXT NOT NULL,
  event TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS event_journal_by_position ON event_journal (tenant_key, position);
CREATE UNIQUE INDEX IF NOT EXISTS event_journal_by_event ON event_journal (tenant_key, event_id);
CREATE TABLE IF NOT EXISTS journal_heads (
  tenant_key TEXT PRIMARY KEY,
  position INTEGER NOT NULL
);
`;

/** The tenant's head (see above); both probes are one index seek. */
const HEAD_SQL =
  'SELECT max(coalesce((SELECT position FROM journal_heads WHERE tenant_key = ?), 0), coalesce((SELECT max(position) FROM event_journal WHERE tenant_key = ?), 0)) AS position';
const INSERT_SQL = 'INSERT OR IGNORE INTO event_journal (tenant_key, position, event_id, type, occurred_at, event) VALUES (?, ?, ?, ?, ?, ?)';
const RAISE_HEAD_SQL = 'INSERT INTO journal_heads (tenant_key, position) VALUES (?, ?) ON CONFLICT (tenant_key) DO UPDATE SET position = max(position, excluded.position)';
/** Keeps, per tenant, the highest position a purge is about to delete. */
const KEEP_HEADS_SQL =
  'INSERT INTO journal_heads (tenant_key, position) SELECT tenant_key, max(position) FROM event_journal WHERE seq <= ? GROUP BY tenant_key ' +
  'ON CONFLICT (tenant_key) DO UPDATE SET position = max(position, excluded.position)';

function headOf(core: SqliteCore, tenantKey: string): number {
  return (core.cache.get(HEAD_SQL).get(tenantKey, tenantKey) as { position: number }).position;
}

/** Appends a commit's events (already serialised for the outbox) inside the caller's IMMEDIATE transaction. */
export function appendJournal(core: SqliteCore, tenantKey: string, events: EventEnvelope[], json: string[]): void {
  if (events.length === 0) return;
  const insert = core.cache.get(INSERT_SQL);
  let position = headOf(core, tenantKey);
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    // A re-committed event id is ignored but still takes its position (as on the other stores); only
    // then is the head row written, since no live entry holds that position.
    if (insert.run(tenantKey, ++position, e.eventId, e.type, e.occurredAt, json[i]!).changes === 0) core.cache.get(RAISE_HEAD_SQL).run(tenantKey, position);
  }
}

/** The journal port on SQLite. */
export function sqliteJournal(core: SqliteCore): EventJournal {
  const scope = (ctx: Parameters<EventJournal['read']>[0]): string => {
    const tk = tenantKeyOf(ctx);
    core.requireTenant(tk);
    return tk;
  };
  const head = (tk: string): number => headOf(core, tk);
  return {
    read: (ctx, query) =>
      core.run(() => {
        const tk = scope(ctx);
        const q = normaliseJournalQuery(query);
        const h = head(tk);
        const spanEnd = Math.min(q.after + JOURNAL_SCAN_SPAN, h);
        const types = q.types === undefined ? '' : ` AND type IN (${q.types.map(() => '?').join(', ')})`;
        const rows = core.cache
          .get(`SELECT position, seq, event FROM event_journal WHERE tenant_key = ? AND position > ? AND position <= ?${types} ORDER BY position LIMIT +?`)
          .all(tk, q.after, spanEnd, ...(q.types ?? []), q.limit + 1) as Array<{ position: number; seq: number; event: string }>;
        const entries: JournalEntry[] = rows.map((r) => ({ position: r.position, seq: r.seq, event: readEvent(r.event, { table: 'event_journal', seq: r.seq }) }));
        return journalPage(q, entries, h);
      }),
    info: (ctx) =>
      core.run(() => {
        const tk = scope(ctx);
        const oldest = core.cache.get('SELECT min(position) AS p FROM event_journal WHERE tenant_key = ?').get(tk) as { p: number | null };
        return { head: head(tk), oldest: oldest.p };
      }),
    purgeBefore: (before, limit) =>
      core.run(() => {
        const cutoff = purgeCutoff(before);
        // Oldest seq first, stopping at the first entry inside the retention: no index on time needed,
        // and the walk is bounded by the batch whatever the journal holds.
        const rows = core.cache.get('SELECT seq, occurred_at FROM event_journal ORDER BY seq LIMIT +?').all(purgeLimit(limit)) as Array<{ seq: number; occurred_at: string }>;
        let upTo = -1;
        for (const r of rows) {
          if (r.occurred_at >= cutoff) break;
          upTo = r.seq;
        }
        if (upTo < 0) return 0;
        return core.db
          .transaction(() => {
            core.cache.get(KEEP_HEADS_SQL).run(upTo);
            return core.cache.get('DELETE FROM event_journal WHERE seq <= ?').run(upTo).changes;
          })
          .immediate();
      }),
  };
}
