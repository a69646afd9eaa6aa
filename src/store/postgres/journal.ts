import type { EventEnvelope } from '../../core/index.js';
import { JOURNAL_SCAN_SPAN, journalPage, normaliseJournalQuery, purgeCutoff, purgeLimit, type EventJournal, type JournalEntry } from '../journal.js';
import { readEvent } from '../shared.js';
import type { PgCore, Queryable } from './core.js';

/**
 * The event journal of the PostgreSQL adapter (see journal.ts). Positions come from the tenant's
 * `journal_heads` row, bumped as the last step of the commit's transaction: its row lock is held
 * until COMMIT, so a tenant's positions are assigned in commit order (a reader bounded by the head
 * it read never skips an in-flight commit), and only commits of the same tenant wait on it — and
 * only for the commit's last statements. `seq` is a global identity (unique, not commit-ordered).
 */
export const JOURNAL_DDL = `
CREATE TABLE IF NOT EXISTS event_journal (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_key text COLLATE "C" NOT NULL,
  position bigint NOT NULL,
  event_id text COLLATE "C" NOT NULL,
  type text COLLATE "C" NOT NULL,
  occurred_at text NOT NULL,
  event json NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS event_journal_by_position ON event_journal (tenant_key, position);
CREATE UNIQUE INDEX IF NOT EXISTS event_journal_by_event ON event_journal (tenant_key, event_id);
CREATE TABLE IF NOT EXISTS journal_heads (
  tenant_key text COLLATE "C" PRIMARY KEY,
  position bigint NOT NULL
);
`;

/**
 * A commit's events into the outbox and the journal in one statement: one round trip, and the
 * serialised events cross the wire once ($2) for both tables. The head bump's row lock is taken here,
 * so the caller runs this last, just before COMMIT. Data-modifying CTEs always run to completion, and
 * the outbox's identity is drawn in event order as before.
 */
const EVENTS_SQL =
  'WITH ob AS (INSERT INTO outbox (event) SELECT e FROM unnest($2::json[]) WITH ORDINALITY AS o(e, i) ORDER BY i), ' +
  'h AS (INSERT INTO journal_heads (tenant_key, position) VALUES ($1, $6::bigint) ON CONFLICT (tenant_key) DO UPDATE SET position = journal_heads.position + excluded.position RETURNING position) ' +
  'INSERT INTO event_journal (tenant_key, position, event_id, type, occurred_at, event) ' +
  'SELECT $1, h.position - $6::bigint + i, id, t, at, e FROM h, unnest($3::text[], $4::text[], $5::text[], $2::json[]) WITH ORDINALITY AS u(id, t, at, e, i) ORDER BY i ' +
  'ON CONFLICT (tenant_key, event_id) DO NOTHING';

/**
 * Writes a commit's events (serialised once, `json[i]` for `events[i]`) to the outbox and appends them
 * to the journal, inside the caller's transaction; call it last, just before COMMIT.
 */
export async function appendOutboxAndJournal(client: Queryable, tenantKey: string, events: EventEnvelope[], json: string[]): Promise<void> {
  if (events.length === 0) return;
  await client.query(EVENTS_SQL, [tenantKey, json, events.map((e) => e.eventId), events.map((e) => e.type), events.map((e) => e.occurredAt), events.length]);
}

/** The journal port on PostgreSQL. */
export function pgJournal(core: PgCore): EventJournal {
  const head = async (tk: string): Promise<number> => {
    const { rows } = await core.pool.query<{ position: string }>('SELECT position FROM journal_heads WHERE tenant_key = $1', [tk]);
    return rows[0] === undefined ? 0 : Number(rows[0].position);
  };
  return {
    read: (ctx, query) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const q = normaliseJournalQuery(query);
        // The head first: every position up to it is committed, so bounding the read by it never skips one.
        const h = await head(tk);
        const spanEnd = Math.min(q.after + JOURNAL_SCAN_SPAN, h);
        const types = q.types === undefined ? '' : ' AND type = ANY($5::text[])';
        const params: unknown[] = [tk, q.after, spanEnd, q.limit + 1, ...(q.types === undefined ? [] : [q.types])];
        const { rows } = await core.pool.query<{ position: string; seq: string; event: unknown }>(
          `SELECT position, seq, event FROM event_journal WHERE tenant_key = $1 AND position > $2 AND position <= $3${types} ORDER BY position LIMIT $4`,
          params,
        );
        const entries: JournalEntry[] = rows.map((r) => ({ position: Number(r.position), seq: Number(r.seq), event: readEvent(r.event, { table: 'event_journal', seq: r.seq }) }));
        return journalPage(q, entries, h);
      }),
    info: (ctx) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const { rows } = await core.pool.query<{ p: string | null }>('SELECT min(position) AS p FROM event_journal WHERE tenant_key = $1', [tk]);
        const p = rows[0]?.p ?? null;
        return { head: await head(tk), oldest: p === null ? null : Number(p) };
      }),
    purgeBefore: (before, limit) =>
      core.run(async () => {
        const cutoff = purgeCutoff(before);
        const { rows } = await core.pool.query<{ seq: string; occurred_at: string }>('SELECT seq, occurred_at FROM event_journal ORDER BY seq LIMIT $1', [purgeLimit(limit)]);
        let upTo: string | null = null;
        for (const r of rows) {
          if (r.occurred_at >= cutoff) break;
          upTo = r.seq;
        }
        if (upTo === null) return 0;
        return (await core.pool.query('DELETE FROM event_journal WHERE seq <= $1', [upTo])).rowCount ?? 0;
      }),
  };
}
