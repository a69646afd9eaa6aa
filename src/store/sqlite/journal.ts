import type { EventEnvelope } from '../../core/index.js';
import { JOURNAL_SCAN_SPAN, journalPage, normaliseJournalQuery, purgeCutoff, purgeLimit, type EventJournal, type JournalEntry } from '../journal.js';
import { readEvent, tenantKeyOf } from '../shared.js';
import type { SqliteCore } from './core.js';

/**
 * The event journal of the SQLite adapter (see journal.ts). `seq` is the rowid; positions come from
 * `journal_heads`, bumped in the commit's transaction (SQLite has one writer, so commit order is
 * position order). The unique (tenant, event id) index makes a re-committed event id a no-op.
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

const HEAD_BUMP_SQL =
  'INSERT INTO journal_heads (tenant_key, position) VALUES (?, ?) ON CONFLICT (tenant_key) DO UPDATE SET position = position + excluded.position RETURNING position';
const INSERT_SQL = 'INSERT OR IGNORE INTO event_journal (tenant_key, position, event_id, type, occurred_at, event) VALUES (?, ?, ?, ?, ?, ?)';

/** Appends a commit's events (already serialised for the outbox) inside the caller's transaction. */
export function appendJournal(core: SqliteCore, tenantKey: string, events: EventEnvelope[], json: string[]): void {
  if (events.length === 0) return;
  const { position: last } = core.cache.get(HEAD_BUMP_SQL).get(tenantKey, events.length) as { position: number };
  const insert = core.cache.get(INSERT_SQL);
  let position = last - events.length;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    insert.run(tenantKey, ++position, e.eventId, e.type, e.occurredAt, json[i]!);
  }
}

/** The journal port on SQLite. */
export function sqliteJournal(core: SqliteCore): EventJournal {
  const scope = (ctx: Parameters<EventJournal['read']>[0]): string => {
    const tk = tenantKeyOf(ctx);
    core.requireTenant(tk);
    return tk;
  };
  const head = (tk: string): number => (core.cache.get('SELECT position FROM journal_heads WHERE tenant_key = ?').get(tk) as { position: number } | undefined)?.position ?? 0;
  return {
    read: (ctx, query) =>
      core.run(() => {
        const tk = scope(ctx);
        const q = normaliseJournalQuery(query);
        const h = head(tk);
        const spanEnd = Math.min(q.after + JOURNAL_SCAN_SPAN, h);
        const types = q.types === undefined ? '' : ` AND type IN (${q.types.map(() => '?').join(', ')})`;
        const rows = core.cache
          .get(`SELECT position, seq, event FROM event_journal WHERE tenant_key = ? AND position > ? AND position <= ?${types} ORDER BY position LIMIT ?`)
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
        const rows = core.cache.get('SELECT seq, occurred_at FROM event_journal ORDER BY seq LIMIT ?').all(purgeLimit(limit)) as Array<{ seq: number; occurred_at: string }>;
        let upTo = -1;
        for (const r of rows) {
          if (r.occurred_at >= cutoff) break;
          upTo = r.seq;
        }
        if (upTo < 0) return 0;
        return core.cache.get('DELETE FROM event_journal WHERE seq <= ?').run(upTo).changes;
      }),
  };
}
