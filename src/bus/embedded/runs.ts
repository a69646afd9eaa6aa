import type { BusStatements, RunRow } from './schema.js';

/**
 * The pending entries list (PEL) of a group, kept as runs (`bus_leased`): a read delivers the next
 * entries to one consumer at one time, so it is stored as ONE row `lo..hi` with the consumer,
 * delivery time and delivery count they share, instead of one row per entry. What touches only part
 * of a run (a renew or a claim of some of its entries; on a plain group also an ack) splits it, so
 * every entry keeps exactly the state a per-entry row would have had. Runs of a group never overlap.
 *
 * - `log` (a plain group): a run's positions are log positions, read consecutively; an ack removes
 *   them from the run. A position whose entry was trimmed (advisory groups only) is not pending.
 * - `queue`: a run's positions are those of the queue's `bus_queued` rows read together; the rows
 *   stay until acked, so an entry is pending while its row exists under a run, and an ack deletes
 *   the row (and the run once it covers no row).
 *
 * Every function runs inside the caller's transaction.
 */

/** What the positions of a group's runs are (see above). */
export type RunKind = 'log' | 'queue';

/** Metadata shared by the positions of one run. */
type RunMeta = Pick<RunRow, 'consumer' | 'delivered_at' | 'deliveries'>;

/** Writes `lo..hi` as a run (nothing when empty). */
function put(st: BusStatements, group: string, lo: number, hi: number, meta: RunMeta): void {
  if (lo <= hi) st.insertRun.run(group, lo, hi, meta.consumer, meta.delivered_at, meta.deliveries);
}

/**
 * Rewrites `run` with the positions `hits` (ascending, distinct, within the run) given `patch`, or
 * removed when `patch` is null; the other positions keep the run's own state.
 */
function split(st: BusStatements, group: string, run: RunRow, hits: readonly number[], patch: RunMeta | null): void {
  st.deleteRun.run(group, run.lo);
  let from = run.lo;
  let i = 0;
  while (i < hits.length) {
    const first = hits[i]!;
    let last = first;
    while (i + 1 < hits.length && hits[i + 1] === last + 1) last = hits[++i]!;
    i++;
    put(st, group, from, first - 1, run);
    if (patch !== null) put(st, group, first, last, patch);
    from = last + 1;
  }
  put(st, group, from, run.hi, run);
}

/**
 * The runs of `group` holding some of the positions `sorted` (ascending, distinct), each with those
 * positions (ascending), in run order; runs holding none are skipped.
 */
function* runsHolding(st: BusStatements, group: string, sorted: readonly number[]): Generator<[RunRow, number[]]> {
  if (sorted.length === 0) return;
  let i = 0;
  for (const run of st.runsOverlapping.all(group, sorted[sorted.length - 1]!, sorted[0]!)) {
    while (i < sorted.length && sorted[i]! < run.lo) i++;
    const hits: number[] = [];
    while (i < sorted.length && sorted[i]! <= run.hi) hits.push(sorted[i++]!);
    if (hits.length > 0) yield [run, hits];
  }
}

/** Ascending, distinct. */
export function sortedPositions(ns: Iterable<number>): number[] {
  return [...new Set(ns)].sort((a, b) => a - b);
}

/** Acks the positions `sorted` (ascending, distinct) of a plain group; returns those that were pending. */
export function ackRuns(st: BusStatements, group: string, sorted: readonly number[]): number[] {
  const removed: number[] = [];
  for (const [run, hits] of runsHolding(st, group, sorted)) {
    if (hits.length === run.hi - run.lo + 1) st.deleteRun.run(group, run.lo);
    else split(st, group, run, hits, null);
    for (const n of hits) removed.push(n);
  }
  return removed;
}

/** Acks the positions `sorted` (ascending, distinct) of a queue: deletes their rows; returns those that were pending. */
export function ackQueued(st: BusStatements, group: string, sorted: readonly number[]): number[] {
  const removed: number[] = [];
  for (const [run, hits] of runsHolding(st, group, sorted)) {
    for (const n of hits) if (st.dequeueOne.run(group, n).changes > 0) removed.push(n);
    if (st.anyQueuedBetween.get(group, run.lo, run.hi) === undefined) st.deleteRun.run(group, run.lo);
  }
  return removed;
}

/** The consumer whose run holds position `n` (pending or not: an ack decides that), or undefined. */
export function runHolder(st: BusStatements, group: string, n: number): string | undefined {
  for (const [run] of runsHolding(st, group, [n])) return run.consumer;
  return undefined;
}

/** Restarts the idle time of the positions `sorted` that `consumer` holds; returns how many. */
export function renewRuns(st: BusStatements, kind: RunKind, group: string, consumer: string, sorted: readonly number[], now: number): number {
  let renewed = 0;
  for (const [run, all] of runsHolding(st, group, sorted)) {
    if (run.consumer !== consumer) continue;
    const hits = kind === 'log' ? all : all.filter((n) => st.isQueued.get(group, n) !== undefined);
    if (hits.length === 0) continue;
    if (hits.length === run.hi - run.lo + 1) st.touchRun.run(now, group, run.lo);
    else split(st, group, run, hits, { consumer, delivered_at: now, deliveries: run.deliveries });
    renewed += hits.length;
  }
  return renewed;
}

/**
 * Hands back positions `consumer` leaves unfinished, each given with the delivery count it was
 * delivered with (see `EventBus.handBack`): held by `consumer` at that count, its count is lowered
 * by one and it is made stale; claimed by another since (a greater count), its count alone is
 * lowered. Returns how many.
 */
export function handBackRuns(st: BusStatements, kind: RunKind, group: string, consumer: string, seen: ReadonlyMap<number, number>): number {
  let handed = 0;
  for (const [run, all] of runsHolding(st, group, sortedPositions(seen.keys()))) {
    const mine = run.consumer === consumer;
    const hits = all.filter((n) => (kind === 'log' || st.isQueued.get(group, n) !== undefined) && (mine ? run.deliveries === seen.get(n) : run.deliveries > seen.get(n)!));
    if (hits.length === 0) continue;
    split(st, group, run, hits, { consumer: run.consumer, delivered_at: mine ? 0 : run.delivered_at, deliveries: run.deliveries - 1 });
    handed += hits.length;
  }
  return handed;
}

/** One entry taken over by {@link claimRuns}. */
export interface ClaimedRow {
  n: number;
  ms: number;
  data: string;
  /** The delivery count, this claim included. */
  deliveries: number;
}

/**
 * Moves up to `count` entries idle since `staleBefore` or earlier to `consumer`, oldest first
 * (delivery count + 1), up to the first entry still held (not idle that long) by anyone: nothing is
 * claimed past an entry still in someone's hands (see `EventBus.claimStale`). Positions whose entries
 * were trimmed are dropped from the list, as XAUTOCLAIM drops deleted entries.
 */
export function claimRuns(st: BusStatements, kind: RunKind, group: string, consumer: string, staleBefore: number, count: number, now: number): ClaimedRow[] {
  const claimed: ClaimedRow[] = [];
  let left = count;
  for (const run of st.runs.all(group)) {
    if (left <= 0) break;
    if (run.delivered_at > staleBefore) {
      // Still in someone's hands: the claim ends here, unless nothing of the run is left.
      const held = kind === 'log' ? st.entriesBetween.all(run.lo, run.hi, 1)[0] : st.anyQueuedBetween.get(group, run.lo, run.hi);
      if (held !== undefined) break;
      continue;
    }
    const rows = kind === 'log' ? st.entriesBetween.all(run.lo, run.hi, left) : st.queuedBetween.all(group, run.lo, run.hi, left);
    st.deleteRun.run(group, run.lo);
    const first = rows[0];
    const last = rows[rows.length - 1];
    if (first === undefined || last === undefined) continue; // nothing of the run is left
    put(st, group, first.n, last.n, { consumer, delivered_at: now, deliveries: run.deliveries + 1 });
    // Fewer rows than asked: the run held no more entries.
    if (rows.length === left) put(st, group, last.n + 1, run.hi, run);
    left -= rows.length;
    for (const row of rows) {
      if (row.data === null) st.dequeueOne.run(group, row.n); // its entry is gone from the log: dropped, as XAUTOCLAIM does
      else claimed.push({ n: row.n, ms: row.ms, data: row.data, deliveries: run.deliveries + 1 });
    }
  }
  return claimed;
}
