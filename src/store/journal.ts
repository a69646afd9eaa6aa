import { z } from 'zod';
import { UeeError, parseOrThrow, type EventEnvelope, type TenantContext } from '../core/index.js';

/**
 * The event journal: every event a commit emits, kept per tenant after the outbox has published
 * (and deleted) it, so read models can be rebuilt from history.
 *
 * Guarantees every adapter gives (the conformance suite checks them):
 * - an event is appended in the same transaction as the commit that emits it — never one without
 *   the other; an idempotent replay of a commit appends nothing;
 * - `position` is per tenant (the global scope is tenant `''`), strictly increasing in commit order:
 *   a reader that has seen position p never later finds a new event at a position ≤ p (positions
 *   are taken from a per-tenant head row locked until the commit ends, so tenants never wait on
 *   each other). Positions may have gaps (a duplicate event id is journaled once; retention);
 * - `seq` is global and unique (the order across tenants, for operators);
 * - an event id is journaled at most once per tenant: re-committing an event with the same
 *   (preset) id adds nothing, so a projection reading the journal sees each event exactly once;
 * - retention deletes the oldest entries by `occurredAt` ({@link EventJournal.purgeBefore}); the
 *   head position is never reset, so positions are never reused.
 */

/** One journaled event. */
export interface JournalEntry {
  /** Per-tenant position, strictly increasing in commit order. */
  position: number;
  /** Global sequence number. */
  seq: number;
  event: EventEnvelope;
}

/** A read of one tenant's journal. */
export interface JournalQuery {
  /** Entries after this position. @default 0 (from the start) */
  after?: number;
  /** Only these event types (1..32). @default every type */
  types?: string[];
  /** Entries returned at most, 1..1000. @default 100 */
  limit?: number;
}

/** A page of the journal. Continue with `after: next` until `end`. */
export interface JournalPage {
  entries: JournalEntry[];
  /**
   * Where the next read starts: the last position this read covered. A read examines at most
   * {@link JOURNAL_SCAN_SPAN} positions, so with a selective `types` a page can be empty and still
   * advance `next`: the cost of one call is bounded whatever the journal holds.
   */
  next: number;
  /** True when nothing was journaled after `next` when the read ran. */
  end: boolean;
  /** The tenant's head (last position assigned) when the read ran. */
  head: number;
}

/** The tenant's journal bounds. */
export interface JournalInfo {
  /** Last position assigned (0 when nothing was journaled). */
  head: number;
  /** Oldest retained position, null when the journal is empty (all purged or never written). */
  oldest: number | null;
}

/** The event journal port (see the module comment for its guarantees). */
export interface EventJournal {
  /** The context's tenant's entries after a position, in position order. */
  read(ctx: TenantContext, query?: JournalQuery): Promise<JournalPage>;
  /** The context's tenant's head and oldest retained position. */
  info(ctx: TenantContext): Promise<JournalInfo>;
  /**
   * Retention, across tenants (never expose it to a tenant): deletes up to `limit` of the oldest
   * entries whose `occurredAt` is before `before` (ISO-8601), oldest `seq` first; returns how many.
   */
  purgeBefore(before: string, limit?: number): Promise<number>;
}

/** Positions one read covers at most. */
export const JOURNAL_SCAN_SPAN = 10_000;
/** Entries one purge call deletes at most. */
export const JOURNAL_PURGE_BATCH = 5000;

const QuerySchema = z
  .object({
    after: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    types: z.array(z.string().min(1).max(128)).min(1).max(32).optional(),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** A validated journal query. */
export type NormalisedJournalQuery = z.output<typeof QuerySchema>;

/** Validates a journal query (`VALIDATION_FAILED` names the bad field). */
export function normaliseJournalQuery(query: JournalQuery = {}): NormalisedJournalQuery {
  return parseOrThrow(QuerySchema, query, 'journal query');
}

/** Bounded purge size. */
export function purgeLimit(limit: number | undefined): number {
  return Math.min(Math.max(1, Math.floor(limit ?? JOURNAL_PURGE_BATCH)), JOURNAL_PURGE_BATCH);
}

/** Checks a retention cut-off. */
export function purgeCutoff(before: string): string {
  const t = Date.parse(before);
  if (!Number.isFinite(t)) throw new UeeError('VALIDATION_FAILED', `"${String(before).slice(0, 64)}" is not an ISO-8601 time`, { hint: 'pass new Date(...).toISOString()' });
  return new Date(t).toISOString();
}

/**
 * Builds the page from the rows a read returned (matching entries up to `limit + 1`, within the span
 * `(after, after + JOURNAL_SCAN_SPAN]`) and the tenant's head.
 */
export function journalPage(q: NormalisedJournalQuery, entries: JournalEntry[], head: number): JournalPage {
  const spanEnd = Math.min(q.after + JOURNAL_SCAN_SPAN, head);
  if (entries.length > q.limit) {
    const page = entries.slice(0, q.limit);
    const next = page[page.length - 1]!.position;
    return { entries: page, next, end: false, head };
  }
  const next = Math.max(q.after, spanEnd);
  return { entries, next, end: next >= head, head };
}

/** One span of a backwards read ({@link journalNewestFirst}). */
export interface JournalSpan {
  /** The span's entries, newest first. */
  entries: JournalEntry[];
  /** Positions covered so far, this span's included. */
  scanned: number;
  /** The oldest retained position was reached: nothing older is left. */
  exhausted: boolean;
}

/**
 * A tenant's journal read backwards from its head as the read begins (entries appended later are
 * left out), one span of at most {@link JOURNAL_SCAN_SPAN} positions at a time, each read in pages
 * of 1,000: what the newest entries of a tenant are found by, whatever its history holds. Stops after
 * `maxPositions` positions, at the oldest retained one, or when `signal` aborts.
 */
export async function* journalNewestFirst(journal: EventJournal, ctx: TenantContext, options: { types?: string[]; maxPositions: number; signal?: AbortSignal }): AsyncGenerator<JournalSpan> {
  const { head, oldest } = await journal.info(ctx);
  if (oldest === null) return;
  let scanned = 0;
  for (let to = head; to >= oldest && scanned < options.maxPositions && options.signal?.aborted !== true; ) {
    const from = Math.max(oldest - 1, to - Math.min(JOURNAL_SCAN_SPAN, options.maxPositions - scanned));
    const entries: JournalEntry[] = [];
    for (let after = from; after < to; ) {
      const page = await journal.read(ctx, { after, limit: 1000, ...(options.types === undefined ? {} : { types: options.types }) });
      for (const entry of page.entries) if (entry.position <= to) entries.push(entry);
      if (page.end || page.next <= after) break;
      after = page.next;
    }
    scanned += to - from;
    yield { entries: entries.reverse(), scanned, exhausted: from < oldest };
    to = from;
  }
}
