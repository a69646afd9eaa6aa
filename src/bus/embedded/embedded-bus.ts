import type { Database, Transaction } from 'better-sqlite3';
import { UeeError, isDecodedEnvelope, toUeeError, type EventEnvelope, type Logger } from '../../core/index.js';
import type { WalHold } from '../../core/wal-checkpointer.js';
import { queueLeaseName } from '../port.js';
import type {
  AckedAndRead,
  BusOptions,
  ClaimOptions,
  DeadLetter,
  DeadLetterQuery,
  Delivery,
  EventBus,
  GroupInfo,
  QueueBacklog,
  GroupOptions,
  GroupStart,
  PendingEntry,
  PruneOptions,
  PublishOptions,
  PublishResult,
  QueueAck,
  QueueOutcome,
  QueueRead,
  ReadOptions,
  RouteItem,
  StreamEntry,
} from '../port.js';
import { checkPublishBatch, corruptLetter, decodeDeadRecord, decodeEntry, encodeDeadRecord, isCorrupt, type CorruptEntry } from '../shared/codec.js';
import { BusLifecycle, screenEntries, type CorruptSink } from '../shared/lifecycle.js';
import { InsertionOrder } from '../shared/insertion-order.js';
import { checkClaimOptions, checkCounterAdd, checkCount, checkEntryIds, checkEventIds, checkName, checkPruneOptions, checkReadOptions, deadLetterTenant, entrySeq, notHolder, publishDeadline, stalePublish } from '../shared/options.js';
import { isCertainlyGone, thisProcess, type ProcessIdentity } from './liveness.js';
import { notifyPublished, waitForPublish } from './notifier.js';
import { ackQueued, ackRuns, claimRuns, handBackRuns, renewRuns, runHolder, sortedPositions } from './runs.js';
import { prepareBusStatements, type BusStatements, type EntryRow, type GroupRow, type QueuedRow } from './schema.js';

/**
 * Polling backoff of blocked reads (for publishes from other processes: this process's own wake the
 * readers at once), first and last step. The step reached is kept for the group's next blocked read
 * while they come back empty, so an idle reader that blocks again and again (the dispatcher, every
 * 100 ms) polls every {@link POLL_MAX_MS} instead of restarting at 2 ms each time.
 */
const POLL_MIN_MS = 2;
const POLL_MAX_MS = 100;
/** Purge expired de-duplication keys at least this often (and every {@link PURGE_EVERY} appends). */
const PURGE_INTERVAL_MS = 60_000;
const PURGE_EVERY = 5_000;
/** Lapsed settles (batches of ids, ~500 from the relay) forgotten per publish or settle at most. */
const FORGET_PAGE = 8;
/** Bounds of the hand-off of decoded envelopes from plain-group reads to queue reads (entries, stored characters). */
const HANDOFF_MAX_ENTRIES = 16_384;
const HANDOFF_MAX_CHARS = 8_000_000;
/** A handed-off envelope no queue read has taken for this long gives its place to a new one (see `#keep`). */
const HANDOFF_MAX_AGE_MS = 2_000;
/**
 * A reading consumer's `seen_at` is written at most this often: its idle time (groupInfo, and
 * pruneConsumers, whose threshold the router sets at 10 minutes) is at most this much late. Written
 * on every read it was one write per queue per round: with 1,000 tenants' queues of an event or two
 * each, about one per event.
 */
const TOUCH_EVERY_MS = 1_000;
/**
 * A claim that finds nothing held in its group writes its consumer's `seen_at` at most this often
 * (else it takes no lock at all): the router claims every `claimIdleMs / 2` in every queue, so 1,000
 * idle queues made ~67 write transactions a second for nothing. The idle time a claim-only consumer
 * shows is at most this late — far below the router's `consumerIdleMs` (10 minutes), so its own
 * consumers are never pruned for it.
 */
const IDLE_CLAIM_TOUCH_EVERY_MS = 60_000;

/** The error code of an entry dead-lettered because its queue held more than `maxQueueLength` undelivered entries. */
const QUEUE_OVERFLOW = 'QUEUE_OVERFLOW';

/**
 * What one bus instance knows of a queue's backlog (its undelivered entries: queued, not read yet),
 * so that `route` looks at the queue only when it could be over `maxQueueLength` (see
 * `EmbeddedBus.#overflow`). Kept in memory per instance and changed in place by the transaction that
 * learns something; a transaction that fails after changing any forgets them all (`#immediate`): a
 * queue not known is looked at by the next route into it.
 */
interface Backlog {
  /**
   * How many more entries this instance may route into the queue before it could hold more than
   * `maxQueueLength` undelivered: the cap, less a bound of what the queue held when last looked at,
   * less what this instance routed into it since (plus what this instance read from it, when the
   * bound is a count kept exact). Other instances' routes are not counted here: each counts its own.
   * Below zero within a route: the queue is looked at before it commits.
   */
  room: number;
  /** The route that found it below zero (numbered by the instance), so a route looks at it once. */
  route: number;
  /**
   * The bound is an exact count of the queue's rows above its cursor, taken with the queue not late
   * and showing `cursor` and `overflowed`: while its `bus_groups` row still shows both (and not late),
   * no read and no overflow took any of those rows (see `#overflow`), so `maxQueueLength - room` of
   * them are still there, unread — at least, as other instances' routes only add.
   */
  counted: boolean;
  cursor: number;
  overflowed: number;
}

/** An envelope in the hand-off from a plain-group read or a publish to the queue reads (see `EmbeddedBus.#handoff`). */
interface HandedOff {
  /** Its log position. */
  n: number;
  event: EventEnvelope;
  chars: number;
  takes: number;
  at: number;
}

/**
 * The embedded event bus: a durable log in SQLite with Redis Streams consumer-group semantics.
 * Every operation is one SQLite transaction (`BEGIN IMMEDIATE`, so several processes sharing the
 * file serialise instead of failing); blocked reads are woken in-process by publishes and poll
 * for publishes from other processes.
 */
export class EmbeddedBus implements EventBus {
  readonly kind = 'embedded';
  readonly #db: Database;
  /**
   * `fn` in one immediate / deferred transaction. better-sqlite3's `db.transaction(fn)` builds four
   * wrapper functions and defines five properties on each every time it is called (2026-12-03, an
   * in-memory table, one upsert per transaction: ~7 µs per transaction against ~2 µs through a
   * wrapper built once); this one is built once and takes the function to run as its argument.
   */
  readonly #transaction: Transaction<(fn: () => unknown) => unknown>;
  /** The file's place in the WAL checkpoint thread (see core/wal-checkpointer.ts). */
  readonly #wal: WalHold | undefined;
  readonly #st: BusStatements;
  readonly #opts: BusOptions;
  readonly #log: Logger;
  readonly #key: string;
  /** Per group: the polling step its last blocked read ended at, empty (see {@link POLL_MIN_MS}). */
  readonly #pollStep = new Map<string, number>();
  readonly #life = new BusLifecycle('embedded');
  readonly #abort = new AbortController();
  /** This process, and the consumer/owner names it has registered as its own in `bus_processes`. */
  readonly #me: ProcessIdentity = thisProcess();
  readonly #registered = new Set<string>();
  /**
   * Per group and consumer (`group\0consumer`) whose row this process has written: when it last wrote
   * its `seen_at` (see {@link TOUCH_EVERY_MS}). A consumer found here with nothing to read skips the
   * write lock.
   */
  readonly #touched = new Map<string, number>();
  /**
   * Names registered and consumers touched by the transaction running now: they join
   * {@link #registered} and {@link #touched} only when it commits (see {@link #immediate}), so a
   * rolled-back write is written again by the next transaction instead of being taken as done.
   */
  readonly #registering = new Set<string>();
  readonly #touching = new Map<string, number>();
  readonly #trimEvery: number;
  /** Appends between two trims: {@link #trimEvery}, or the number of groups when more (see `#trim`). */
  #trimInterval: number;
  #sinceTrim: number;
  #sincePurge = 0;
  #lastPurge = 0;
  #lastHeldWarning = 0;
  #lastDeadTrimWarning = 0;
  /** Dead letters trimmed by their bounds since this bus opened. */
  #deadTrimmed = 0;
  #lastOverflowWarning = 0;
  /** Entries dead-lettered by this bus for `maxQueueLength` since it opened. */
  #overflowDead = 0;
  /** Per queue, what this instance knows of its backlog (see {@link Backlog}, `#overflow`). */
  readonly #backlogs = new Map<string, Backlog>();
  /** The transaction running now changed {@link #backlogs}: if it fails, they are forgotten (see {@link #immediate}). */
  #backlogsChanged = false;
  /** Routes run by this instance (see {@link Backlog.route}). */
  #routes = 0;
  /**
   * Queues known to exist, so `route` checks each target once. `deleteQueue` forgets its queue here; one
   * another process deleted is found missing inside `route`'s transaction, with the same NOT_FOUND.
   */
  readonly #queues = new Set<string>();
  /**
   * Envelopes a plain-group read (the dispatcher's) decoded and checked, by log position, oldest
   * first: the queue reads that take the entry get the same object instead of parsing the stored
   * text again (the log is append-only, so the text is the one decoded; nothing downstream changes
   * an envelope). A publish puts here too the envelopes the store decoded and checked from the
   * very text appended (`isDecodedEnvelope`: the outbox relay's), and the plain-group read takes
   * those instead of parsing them. `route` counts the queues it put an entry into (`takes`) and drops those it put
   * into none; each queue read takes one, the last drops it. Bounded by {@link HANDOFF_MAX_ENTRIES}
   * and {@link HANDOFF_MAX_CHARS}: when full, the oldest gives its place only once it is older than
   * {@link HANDOFF_MAX_AGE_MS} (an entry no local queue read will take: another process's queue),
   * else the new envelope is not kept — in a backlog the dispatcher runs thousands of entries ahead
   * of the queue reads, which take in log order, and dropping the oldest first dropped each entry
   * just before its read (2026-12-03, bench/routing's 20,000-event burst: 24% of queue reads found
   * their envelope, 75% of those kept were dropped unread). With 4,096 entries the same burst still
   * found 20% (the dispatcher ran ~16,000 entries ahead); 16,384: 82% (2026-12-05; the one-plugin
   * run's heap peak 127 → 144 MB in 4 paired runs — the characters bound holds it for large
   * envelopes).
   */
  readonly #handoff = new Map<number, HandedOff>();
  /** The hand-off's entries oldest first (see {@link InsertionOrder}); by identity, so an entry kept again later is not taken for the old one. */
  readonly #handoffOrder = new InsertionOrder<HandedOff>((kept) => this.#handoff.get(kept.n) === kept);
  #handoffChars = 0;

  constructor(
    db: Database,
    key: string,
    options: BusOptions,
    logger: Logger,
    wal?: WalHold,
  ) {
    this.#db = db;
    this.#transaction = db.transaction((fn: () => unknown): unknown => fn());
    this.#wal = wal;
    this.#st = prepareBusStatements(db);
    this.#opts = options;
    this.#log = logger;
    this.#key = key;
    // Trim in steps of ~10% of the cap (at most 1,000 entries), so retention costs O(1) amortised.
    this.#trimEvery = Math.min(1_000, Math.max(1, Math.ceil(options.maxLength / 10)));
    this.#trimInterval = this.#trimEvery;
    this.#sinceTrim = this.#trimEvery;
  }

  publish(events: EventEnvelope[], options?: PublishOptions): Promise<PublishResult> {
    return this.#run(() => {
      const encoded = checkPublishBatch(events);
      const deadline = publishDeadline(options, this.#opts.settledDedupeMs);
      if (encoded.length === 0) return { ids: [] };
      const decoded: number[] = [];
      const ids = this.#immediate(() => {
        // Inside the write lock: a settle by another instance cannot slip in between check and append.
        const now = Date.now();
        if (deadline !== undefined && now > deadline) throw stalePublish(deadline, now);
        this.#forgetLapsed(now);
        return this.#append(events, encoded, decoded);
      });
      // Committed: their positions are theirs for good (a rolled-back append's could be given again).
      for (let k = 0; k < decoded.length; k += 2) this.#keep(decoded[k]!, events[decoded[k + 1]!]!, encoded[decoded[k + 1]!]!.length);
      if (ids.some((id) => id !== null)) notifyPublished(this.#key);
      return { ids };
    });
  }

  settle(eventIds: string[]): Promise<void> {
    return this.#run(() => {
      checkEventIds(eventIds);
      if (eventIds.length === 0) return;
      const now = Date.now();
      // One row for the batch, not an update per id (an update moved each row in the `at` index: ~1.9 µs
      // per id, 20% of the relay's throughput); its ids go once it lapses, as the purge would delete them.
      this.#immediate(() => {
        this.#forgetLapsed(now);
        this.#st.addSettling.run(now + this.#opts.settledDedupeMs, now, JSON.stringify(eventIds));
      });
    });
  }

  /**
   * Deletes the de-duplication rows of settles lapsed by `now` (in the caller's write transaction),
   * up to {@link FORGET_PAGE} settles a call so no publish holds the write lock long; each publish and
   * settle calls it, so settled ids are forgotten at the first of those after they lapse.
   */
  #forgetLapsed(now: number): void {
    const st = this.#st;
    for (const row of st.lapsedSettling.all(now, FORGET_PAGE)) {
      st.forgetSettled.run(row.ids, row.settledAt);
      st.deleteSettling.run(row.n);
    }
  }

  /**
   * Appends the batch; fills `decoded` with the position and index of each appended event that is the
   * decoding of its text as read by the store (`isDecodedEnvelope`: the outbox relay's), which the
   * publish keeps in the hand-off once committed — this process's dispatcher then reads the object
   * instead of parsing its text again.
   */
  #append(events: EventEnvelope[], encoded: string[], decoded: number[]): Array<string | null> {
    const st = this.#st;
    const now = Date.now();
    const ms = Math.max(now, st.lastEntry.get()?.ms ?? 0);
    const cutoff = now - this.#opts.dedupeWindowMs;
    const ids = new Array<string | null>(events.length);
    let appended = 0;
    let last = 0;
    for (let i = 0; i < events.length; i++) {
      if (st.dedupe.run(events[i]!.eventId, now, cutoff).changes === 0) {
        ids[i] = null;
        continue;
      }
      last = Number(st.insertEntry.run(ms, encoded[i]!).lastInsertRowid);
      ids[i] = `${ms}-${last}`;
      if (isDecodedEnvelope(events[i]!)) decoded.push(last, i);
      appended++;
    }
    this.#sinceTrim += appended;
    if (this.#sinceTrim >= this.#trimInterval && last > 0) {
      this.#sinceTrim = 0;
      this.#trim(last);
    }
    this.#sincePurge += appended;
    if (this.#sincePurge >= PURGE_EVERY || now - this.#lastPurge >= PURGE_INTERVAL_MS) {
      this.#sincePurge = 0;
      this.#lastPurge = now;
      st.purgeDedupe.run(cutoff);
    }
    return ids;
  }

  /**
   * Trims the oldest entries beyond `maxLength`, but never one a group still needs: the cut stops
   * before the oldest entry any group has pending, queued or unread. A stream held over its cap is
   * reported (a warning naming the group, at most once a minute), never silently shortened.
   *
   * Finding the oldest entry a group needs reads every group (a look-up per queue): it is skipped
   * while the log has never held more than its cap (it ran every 1,000 appends there, ~0.5 ms each
   * with 1,000 tenants' queues: ~0.6 µs of the main thread per event in bench/routing), and runs at
   * most once per as many appends as there are groups, so its cost per event stays about one look-up
   * however many plugins are deployed. The log may go that many entries more over its cap between
   * two trims.
   */
  #trim(last: number): void {
    const st = this.#st;
    const wanted = last - this.#opts.maxLength;
    if (wanted <= 0) return;
    const needed = st.oldestNeeded.get();
    const cut = needed?.n == null ? wanted : Math.min(wanted, needed.n - 1);
    if (cut > 0) st.trimEntries.run(cut);
    this.#trimInterval = Math.max(this.#trimEvery, st.countGroups.get()!.n);
    if (cut < wanted && Date.now() - this.#lastHeldWarning >= PURGE_INTERVAL_MS) {
      this.#lastHeldWarning = Date.now();
      this.#log.warn('retention held back: a group still needs entries beyond maxLength', {
        group: needed?.grp ?? null,
        keptOverCap: wanted - Math.max(cut, 0),
        maxLength: this.#opts.maxLength,
      });
    }
  }

  ensureQueue(group: string): Promise<void> {
    return this.#run(() => {
      checkName(group, 'group');
      this.#immediate(() => {
        const st = this.#st;
        const existing = st.group.get(group);
        // The route mark stays above every queue's cursor (see route): a new queue's cursor is the
        // log's end; a group turned into a queue keeps its own, and its unread tail is queued.
        if (existing === undefined) {
          const last = st.lastEntry.get();
          st.createQueue.run(group, last?.ms ?? 0, last?.n ?? 0);
          st.raiseRouteMark.run(last?.n ?? 0);
        } else if (existing.routed === 0) {
          st.queueUnread.run(group, existing.last_n);
          st.runsToQueued.run(group);
          st.markRouted.run(group);
          st.raiseRouteMark.run(st.lastEntry.get()?.n ?? existing.last_n);
        }
      });
      this.#queues.add(group);
      this.#backlogs.delete(group);
    });
  }

  deleteQueue(group: string): Promise<void> {
    return this.#run(() => {
      checkName(group, 'group');
      const st = this.#st;
      this.#immediate(() => {
        const existing = st.group.get(group);
        if (existing === undefined || existing.routed === 0) return;
        st.deleteGroupQueued.run(group);
        st.deleteGroupRuns.run(group);
        st.deleteGroupConsumers.run(group);
        st.deleteGroup.run(group);
        st.deleteLease.run(queueLeaseName(group));
      });
      this.#queues.delete(group);
      this.#backlogs.delete(group);
    });
  }

  queues(): Promise<string[]> {
    return this.#run(() => this.#st.queueNames.all().map((r) => r.grp));
  }

  lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.#run(() => {
      checkName(name, 'lease');
      checkName(owner, 'owner');
      const now = Date.now();
      const until = now + Math.max(1, Math.floor(ttlMs));
      // Cheap unlocked check first: held by another owner that is alive, the lease cannot be taken,
      // and no write lock is needed to say so. A process sharing the file with the one that holds
      // its queues asks for each queue's lease every ttl / 3: one write transaction per queue before.
      const holder = this.#st.leaseOwner.get(name, now);
      if (holder !== undefined && holder.owner !== owner && !this.#isGone(holder.owner)) return false;
      return this.#immediate(() => {
        this.#register(owner, now);
        if (this.#st.lease.run(name, owner, until, now).changes > 0) return true;
        // Held by a process that crashed (its pid is gone): taken over now, not when its TTL lapses.
        const held = this.#st.leaseOwner.get(name, now);
        return held !== undefined && this.#isGone(held.owner) && this.#st.takeLeaseFrom.run(owner, until, name, held.owner).changes > 0;
      });
    });
  }

  renewLeases(owner: string, ttlMs: number, names: readonly string[]): Promise<string[]> {
    return this.#run(() => {
      checkName(owner, 'owner');
      for (const name of names) checkName(name, 'lease');
      if (names.length === 0) return [];
      const now = Date.now();
      const until = now + Math.max(1, Math.floor(ttlMs));
      // One transaction for all: a lease row is found by its key, so each renewal is one cheap update.
      return this.#immediate(() => {
        this.#register(owner, now);
        return names.filter((name) => this.#st.renewLease.run(until, name, owner).changes > 0);
      });
    });
  }

  counter(name: string, add = 0): Promise<number> {
    return this.#run(() => {
      checkName(name, 'counter');
      const by = checkCounterAdd(add);
      if (by === 0) return this.#st.readCounter.get(name)?.n ?? 0;
      return this.#st.addCounter.get(name, by)!.n;
    });
  }

  releaseLease(name: string, owner: string): Promise<void> {
    return this.#run(() => {
      checkName(name, 'lease');
      checkName(owner, 'owner');
      this.#st.releaseLease.run(name, owner);
    });
  }

  route(fromGroup: string, items: readonly RouteItem[]): Promise<number> {
    return this.#run(() => {
      checkName(fromGroup, 'group');
      checkEntryIds(items.map((i) => i.id));
      for (const item of items) for (const g of item.groups) this.#assertQueue(g);
      if (items.length === 0) return 0;
      const st = this.#st;
      // Queues past maxQueueLength once this route is in, with the entries dead-lettered from each.
      const overflowed: Array<[string, number]> = [];
      const routed = this.#immediate(() => {
        let handed = 0;
        // Each entry put into a queue takes one of its room (see #overflow); the queues past theirs.
        const backlogs = this.#backlogs;
        let crossed: Array<[string, Backlog]> | undefined;
        const route = ++this.#routes;
        this.#backlogsChanged = true;
        // Which entries were still pending in fromGroup (each is handed over once).
        const still = new Set(this.#ackIn(fromGroup, this.#groupRow(fromGroup), sortedPositions(items.map((i) => entrySeq(i.id)))));
        // Each target queue's cursor: a row routed at or below it is read late (see schema.ts). A
        // cursor moves only to a row routed into its queue, or is set where a queue is created, and
        // the route mark is kept at or above every such position: an entry above the mark (the
        // dispatcher routes in log order: nearly all) is above every cursor, and no cursor is looked
        // up for it — with 1,000 tenants' queues that was a SELECT per event.
        const mark = st.routeMark.get()?.n ?? Number.MAX_SAFE_INTEGER;
        let highest = mark;
        const cursors = new Map<string, number>();
        for (const item of items) {
          const n = entrySeq(item.id);
          if (!still.delete(n)) continue;
          const ms = Number(item.id.slice(0, item.id.indexOf('-')));
          let takes = 0;
          for (const g of item.groups) {
            if (st.enqueue.run(g, n, ms).changes === 0) continue;
            takes++;
            let known = backlogs.get(g);
            if (known === undefined) backlogs.set(g, (known = { room: 0, route: 0, counted: false, cursor: 0, overflowed: 0 }));
            if (--known.room < 0 && known.route !== route) {
              known.route = route;
              (crossed ??= []).push([g, known]);
            }
            if (n > mark) continue;
            let cursor = cursors.get(g);
            if (cursor === undefined) cursors.set(g, (cursor = this.#groupRow(g).last_n));
            if (n <= cursor) {
              ackRuns(st, g, [n]); // the position is no run's: the row is unread
              st.markLate.run(g);
              // A late read may take the row without moving the cursor: a count is no longer kept.
              known.counted = false;
            }
          }
          if (takes > 0 && n > highest) highest = n;
          this.#routedTo(n, takes);
          handed++;
        }
        if (highest > mark) st.raiseRouteMark.run(highest);
        if (crossed !== undefined) {
          let logEnd = -1;
          const end = (): number => (logEnd >= 0 ? logEnd : (logEnd = st.lastEntry.get()?.n ?? 0));
          for (const [g, known] of crossed) {
            const dead = this.#overflow(g, known, end);
            if (dead > 0) overflowed.push([g, dead]);
          }
        }
        return handed;
      });
      if (overflowed.length > 0) this.#warnOverflow(overflowed);
      if (routed > 0) notifyPublished(this.#key);
      return routed;
    });
  }

  /** Acks `sorted` positions in a group (in the caller's transaction); returns those that were pending. */
  #ackIn(group: string, row: { routed: number }, sorted: readonly number[]): number[] {
    return row.routed === 1 ? ackQueued(this.#st, group, sorted) : ackRuns(this.#st, group, sorted);
  }

  #assertQueue(group: string): void {
    if (this.#queues.has(group)) return;
    checkName(group, 'group');
    if (this.#st.group.get(group)?.routed !== 1) {
      throw new UeeError('NOT_FOUND', `no queue "${group}"`, { details: { group }, hint: 'create it with ensureQueue first' });
    }
    this.#queues.add(group);
  }

  /**
   * Keeps `group` within `maxQueueLength` undelivered entries once a route put more into it than the
   * room this instance knew it had (`known`, updated here), inside the route's transaction: past the
   * cap, its oldest undelivered entries become `QUEUE_OVERFLOW` dead letters under their event's
   * tenant (bounded like every dead letter); returns how many. Retention stops at the oldest entry any
   * queue still holds (`#trim`), so a stalled plugin's queue kept every later event of every tenant in
   * the log, without bound; its dead-lettered rows are gone from the queue, and the log's trim moves
   * past them. Delivered entries (pending: rows a run covers) are never touched: a queue's undelivered
   * rows are those above its cursor, or, when it is late (see schema.ts), the rows no run covers.
   *
   * The route path is hot (bench/routing: 30–45k events/s into up to 1,000 tenants' queues), so the
   * backlog is not counted on every route. What this instance knows of it ({@link Backlog}) gives the
   * room left under the cap; a route within it looks at nothing (a map look-up per entry routed).
   * Past it, the queue's row is read: not late, its undelivered rows have distinct log positions in
   * (cursor, end of the log], so while those are at most the cap it cannot be over — one look-up, and
   * the room is that far from the cap (a queue whose reader keeps up is looked at about once per
   * `maxQueueLength` entries routed to it). Only past that are its rows counted (an index range over
   * them: ~3 ms for 100,000 rows, 2026-12-07), the excess dead-lettered, and the count kept exact from
   * then on by this instance's own routes and reads: a stalled queue then costs a route of k entries
   * into it one look-up of its row and the k rows it dead-letters, not a count. (A late queue's unread
   * rows are counted each time it is looked at: rare, see schema.ts.)
   *
   * Several bus instances on one file: what each knows decides only when it looks; what it
   * dead-letters is decided from the rows, under the write lock. A kept count is used only while the
   * queue's row shows the cursor and `overflowed` count it was made with and is not late: a read of
   * unread rows above the cursor moves it, every overflow raises `overflowed`, nothing else takes an
   * unread row, and a route of this instance's below the cursor (a late read may take that row without
   * moving it) stops the count being kept — so the rows counted are all still there and unread;
   * entries other instances routed since only add to them. A count is therefore never above the queue's backlog and
   * no more than its excess goes — never an entry under the cap. With several instances routing into
   * one queue, it may go past its cap by what the others routed until one of them looks. Each row
   * dead-lettered is deleted in the transaction that records its letter: an entry is either still
   * queued, pending, or exactly one dead letter.
   */
  #overflow(group: string, known: Backlog, logEnd: () => number): number {
    const st = this.#st;
    const cap = this.#opts.maxQueueLength;
    const g = this.#groupRow(group);
    let held: number;
    let counted = g.late === 0;
    // Counted, and the routes since are this instance's: what it counted, plus what it routed since.
    if (counted && known.counted && known.cursor === g.last_n && known.overflowed === g.overflowed) held = cap - known.room;
    else if (counted && logEnd() - g.last_n <= cap) {
      known.room = cap - Math.max(0, logEnd() - g.last_n);
      known.counted = false;
      return 0;
    } else held = counted ? st.countQueuedAfter.get(group, g.last_n)!.c : st.countUnread.get(group)!.c;
    let dead = 0;
    if (held > cap) {
      const rows = counted ? st.queuedAfter.all(group, g.last_n, held - cap) : st.queuedUncovered.all(group, held - cap);
      const now = new Date();
      const message = `queue "${group}" held more than maxQueueLength (${cap}) undelivered entries: its oldest went`;
      for (const row of rows) {
        const entry = row.data === null ? decodeEntry(`${row.ms}-${row.n}`, undefined, 1) : this.#taken(row.n, row.ms, row.data);
        // An entry whose stored text is no event goes with the stand-in event a corrupt entry is read as.
        const delivery = isCorrupt(entry) ? corruptLetter(entry, now).delivery : entry;
        const why = isCorrupt(entry) ? `${message} (this one is not a readable event: ${entry.reason})` : message;
        const tenant = delivery.event.tenantId ?? '';
        st.dequeueOne.run(group, row.n);
        st.insertDead.run(now.getTime(), group, tenant, encodeDeadRecord(group, delivery, { code: QUEUE_OVERFLOW, message: why }, [], now));
        this.#trimDead(tenant);
      }
      dead = rows.length;
      st.addOverflowed.run(dead, group);
      // Fewer rows than counted (never expected): the next route into the queue counts afresh.
      if (dead < held - cap) counted = false;
      held -= dead;
    }
    known.room = Math.max(0, cap - held);
    known.counted = counted;
    known.cursor = g.last_n;
    known.overflowed = g.overflowed + dead;
    return dead;
  }

  /** Logs, at most once a minute, that queues went past maxQueueLength (after the route committed). */
  #warnOverflow(queues: ReadonlyArray<[string, number]>): void {
    let most = queues[0]!;
    for (const q of queues) {
      this.#overflowDead += q[1];
      if (q[1] > most[1]) most = q;
    }
    if (Date.now() - this.#lastOverflowWarning < PURGE_INTERVAL_MS) return;
    this.#lastOverflowWarning = Date.now();
    this.#log.warn('queue over maxQueueLength: its oldest undelivered entries were dead-lettered (QUEUE_OVERFLOW)', {
      group: most[0],
      deadLettered: most[1],
      queuesOverflowed: queues.length,
      deadLetteredSinceOpen: this.#overflowDead,
      maxQueueLength: this.#opts.maxQueueLength,
    });
  }

  pruneConsumers(group: string, options: PruneOptions): Promise<number> {
    return this.#run(() => {
      checkName(group, 'group');
      const { idleMs, consumer } = checkPruneOptions(options);
      const st = this.#st;
      // Cheap unlocked check first (every queue prunes every `claimIdleMs / 2`): no lock when none is idle.
      if (st.idleConsumers.all(group, Date.now() - idleMs, consumer ?? '').length === 0) return 0;
      return this.#immediate(() => {
        const idle = st.idleConsumers.all(group, Date.now() - idleMs, consumer ?? '');
        for (const c of idle) {
          st.deleteConsumer.run(group, c.consumer);
          this.#touched.delete(`${group}\u0000${c.consumer}`);
        }
        return idle.length;
      });
    });
  }

  ensureGroup(group: string, start: GroupStart = 'latest', options?: GroupOptions): Promise<void> {
    return this.#run(() => {
      checkName(group, 'group');
      this.#immediate(() => {
        const last = start === 'latest' ? this.#st.lastEntry.get() : undefined;
        this.#st.createGroup.run(group, last?.ms ?? 0, last?.n ?? 0, options?.retention === 'advisory' ? 1 : 0);
      });
    });
  }

  async read(group: string, consumer: string, options?: ReadOptions): Promise<Delivery[]> {
    this.#life.assertOpen();
    checkName(group, 'group');
    checkName(consumer, 'consumer');
    const { count, blockMs, lease } = checkReadOptions(options);
    const deadline = Date.now() + blockMs;
    let delay = this.#pollStep.get(group) ?? POLL_MIN_MS;
    for (;;) {
      if (this.#life.closed) return [];
      const entries = this.#guard(() => this.#readOnce(group, consumer, count, lease));
      if (entries.length > 0) {
        this.#pollStep.delete(group);
        const valid = await screenEntries(entries, group, this.#corruptSink(group), this.#log);
        if (valid.length > 0 || blockMs === 0) return valid;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        if (blockMs > 0) this.#pollStep.set(group, delay);
        return [];
      }
      // Woken early by a publish in this process: the next wait starts short again.
      if (await waitForPublish(this.#key, Math.min(delay, left), this.#abort.signal)) delay = POLL_MIN_MS;
      else delay = Math.min(delay * 2, POLL_MAX_MS);
    }
  }

  #readOnce(group: string, consumer: string, count: number, lease: string | undefined): Array<Delivery | CorruptEntry> {
    const st = this.#st;
    const before = this.#groupRow(group);
    const consumerKey = `${group}\u0000${consumer}`;
    if (before.routed === 1) return this.#readQueued(group, consumer, consumerKey, count, before, lease);
    // Cheap unlocked check first, so idle polling never takes the write lock.
    if (st.hasAfter.get(before.last_n) === undefined && this.#touched.has(consumerKey)) return [];
    const rows = this.#immediate(() => {
      const g = this.#groupRow(group);
      const now = Date.now();
      this.#assertHolder(lease, consumer, now);
      const found = st.entriesAfter.all(g.last_n, count);
      const tail = found[found.length - 1];
      if (tail) {
        // One pending run for the whole batch: its positions are consecutive in the log.
        st.insertRun.run(group, found[0]!.n, tail.n, consumer, now, 1);
        st.advanceGroup.run(tail.ms, tail.n, group);
      }
      this.#touch(group, consumer, consumerKey, now);
      this.#register(consumer, now);
      return found;
    });
    const out = new Array<Delivery | CorruptEntry>(rows.length);
    const handoff = this.#handoff;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      // Kept already — published by this process as the decoding of this very text (see #append), or
      // decoded by another plain group's read: taken, not parsed.
      const published = handoff.get(row.n);
      if (published !== undefined) {
        out[i] = { id: `${row.ms}-${row.n}`, event: published.event, deliveryCount: 1, text: row.data };
        continue;
      }
      const entry = decodeEntry(`${row.ms}-${row.n}`, row.data, 1);
      // Only an envelope its text gives back exactly: a queue read hands that text on with it (Delivery.text).
      if (!isCorrupt(entry) && entry.text !== undefined) this.#keep(row.n, entry.event, row.data.length);
      out[i] = entry;
    }
    return out;
  }

  /** Keeps a decoded envelope for the queue reads of its entry (see {@link #handoff}); not when full of entries younger than {@link HANDOFF_MAX_AGE_MS}. */
  #keep(n: number, event: EventEnvelope, chars: number): void {
    const handoff = this.#handoff;
    if (chars > HANDOFF_MAX_CHARS / 4 || handoff.has(n)) return;
    const now = Date.now();
    while (handoff.size >= HANDOFF_MAX_ENTRIES || this.#handoffChars + chars > HANDOFF_MAX_CHARS) {
      // Not empty here: a text of at most a quarter of the characters bound fits an empty hand-off.
      const oldest = this.#handoffOrder.oldest()!;
      if (now - oldest.at < HANDOFF_MAX_AGE_MS) return;
      this.#drop(oldest.n, oldest.chars);
      this.#handoffOrder.shift();
    }
    // takes: the queues the entry is routed to, counted by `route`; until then, one.
    const kept: HandedOff = { n, event, chars, takes: 1, at: now };
    handoff.set(n, kept);
    this.#handoffOrder.push(kept, handoff.size);
    this.#handoffChars += chars;
  }

  /** `route` put entry `n` into `takes` queues: that many queue reads take its envelope; none, it goes. */
  #routedTo(n: number, takes: number): void {
    const kept = this.#handoff.get(n);
    if (kept === undefined) return;
    if (takes > 0) kept.takes = takes;
    else this.#drop(n, kept.chars);
  }

  #drop(n: number, chars: number): void {
    this.#handoff.delete(n);
    this.#handoffChars -= chars;
  }

  /** The entry a queue read takes: the envelope handed off by the plain-group read that decoded it, else decoded now. */
  #taken(n: number, ms: number, data: string): Delivery | CorruptEntry {
    const kept = this.#handoff.get(n);
    if (kept === undefined) return decodeEntry(`${ms}-${n}`, data, 1);
    if (--kept.takes <= 0) this.#drop(n, kept.chars);
    // The row's text is the one the envelope was decoded from (the log is append-only).
    return { id: `${ms}-${n}`, event: kept.event, deliveryCount: 1, text: data };
  }

  /**
   * A queue's read: its oldest unread rows become pending for `consumer` — one run over them (the
   * rows stay until acked). Unread rows are those above the cursor, unless some were routed late.
   */
  #readQueued(group: string, consumer: string, consumerKey: string, count: number, before: GroupRow, lease: string | undefined, inTransaction = false): Array<Delivery | CorruptEntry> {
    const st = this.#st;
    if (before.late === 0 && st.hasQueuedAfter.get(group, before.last_n) === undefined && this.#touched.has(consumerKey)) return [];
    const read = (): QueuedRow[] => {
      const now = Date.now();
      // Before anything is written: inside readQueues' transaction the throw fails this queue's part alone.
      this.#assertHolder(lease, consumer, now);
      // Inside readQueues' transaction `before` was read in it just now; alone, read again under the lock.
      const g = inTransaction ? before : this.#groupRow(group);
      let found: QueuedRow[];
      if (g.late === 0) {
        found = st.queuedAfter.all(group, g.last_n, count);
        if (found.length > 0) {
          st.insertRun.run(group, found[0]!.n, found[found.length - 1]!.n, consumer, now, 1);
          // A backlog counted at this cursor stays counted: these rows were its oldest (see #overflow).
          const known = this.#backlogs.get(group);
          if (known?.counted === true && known.cursor === g.last_n && known.overflowed === g.overflowed) {
            known.room = Math.min(this.#opts.maxQueueLength, known.room + found.length);
            known.cursor = found[found.length - 1]!.n;
            this.#backlogsChanged = true;
          }
        }
      } else {
        // Rows routed below the cursor: every row no run covers, one run each (rare).
        found = st.queuedUncovered.all(group, count);
        for (const row of found) st.insertRun.run(group, row.n, row.n, consumer, now, 1);
        if (found.length < count) st.clearLate.run(group);
      }
      const tail = found[found.length - 1];
      if (tail && tail.n > g.last_n) st.advanceGroup.run(tail.ms, tail.n, group);
      this.#touch(group, consumer, consumerKey, now);
      this.#register(consumer, now);
      return found;
    };
    // Inside readQueues' transaction, no savepoint of its own: nothing here throws a UeeError after a
    // write, and a driver error rolls back the whole read (a savepoint a queue cost ~2–3 µs).
    const rows = inTransaction ? read() : this.#immediate(read);
    return rows.map((row) => (row.data === null ? decodeEntry(`${row.ms}-${row.n}`, undefined, 1) : this.#taken(row.n, row.ms, row.data)));
  }

  ack(group: string, ids: string[]): Promise<number> {
    return this.#run(() => {
      checkName(group, 'group');
      checkEntryIds(ids);
      if (ids.length === 0) return 0;
      const st = this.#st;
      return this.#immediate(() => {
        const g = st.group.get(group);
        return g === undefined ? 0 : this.#ackIn(group, g, sortedPositions(ids.map(entrySeq))).length;
      });
    });
  }

  /**
   * Reads many queues for one consumer in ONE transaction (see {@link EventBus.readQueues}): each
   * queue is read exactly as {@link read} reads it ({@link #readQueued}: its unlocked "anything
   * unread?" check, then its read inside the outer transaction), so a round over hundreds
   * of small queues takes the write lock and commits once. An unknown queue fails only its own part.
   */
  async readQueues(consumer: string, reads: readonly QueueRead[]): Promise<Array<QueueOutcome<Delivery[]>>> {
    return (await this.ackAndReadQueues(consumer, [], reads)).reads;
  }

  /** Acks of many queues in ONE transaction (see {@link EventBus.ackQueues}), each as {@link ack} acks it. */
  async ackQueues(acks: readonly QueueAck[]): Promise<Array<QueueOutcome<number>>> {
    this.#life.assertOpen();
    return (await this.#ackAndRead(null, acks, [])).acks;
  }

  /**
   * {@link ackQueues} then {@link readQueues} in ONE transaction (see {@link EventBus.ackAndReadQueues}):
   * each ack and read exactly as those calls make it, the acks first.
   */
  async ackAndReadQueues(consumer: string, acks: readonly QueueAck[], reads: readonly QueueRead[]): Promise<AckedAndRead> {
    this.#life.assertOpen();
    checkName(consumer, 'consumer');
    return this.#ackAndRead(consumer, acks, reads);
  }

  async #ackAndRead(consumer: string | null, acks: readonly QueueAck[], reads: readonly QueueRead[]): Promise<AckedAndRead> {
    const ackOut = new Array<QueueOutcome<number>>(acks.length);
    const ackTodo: Array<{ i: number; group: string; ids: string[] }> = [];
    for (let i = 0; i < acks.length; i++) {
      const { group, ids } = acks[i]!;
      try {
        checkName(group, 'group');
        checkEntryIds(ids);
        if (ids.length === 0) ackOut[i] = { ok: true, value: 0 };
        else ackTodo.push({ i, group, ids });
      } catch (err) {
        ackOut[i] = { ok: false, error: toUeeError(err) };
      }
    }
    const out = new Array<QueueOutcome<Delivery[]>>(reads.length);
    const todo: Array<{ i: number; group: string; count: number; lease: string | undefined }> = [];
    for (let i = 0; i < reads.length; i++) {
      const { group, count, lease } = reads[i]!;
      try {
        checkName(group, 'group');
        const checked = checkReadOptions({ count, lease });
        todo.push({ i, group, count: checked.count, lease: checked.lease });
      } catch (err) {
        out[i] = { ok: false, error: toUeeError(err) };
      }
    }
    if (ackTodo.length === 0 && todo.length === 0) return { acks: ackOut, reads: out };
    const st = this.#st;
    const found = this.#guard(() =>
      this.#immediate(() => {
        for (const { i, group, ids } of ackTodo) {
          const g = st.group.get(group);
          ackOut[i] = { ok: true, value: g === undefined ? 0 : this.#ackIn(group, g, sortedPositions(ids.map(entrySeq))).length };
        }
        return todo.map(({ group, count, lease }): Array<Delivery | CorruptEntry> | UeeError => {
          try {
            const g = this.#groupRow(group);
            if (g.routed !== 1) return new UeeError('NOT_FOUND', `no queue "${group}"`, { details: { group }, hint: 'create it with ensureQueue first' });
            return this.#readQueued(group, consumer!, `${group}\u0000${consumer}`, count, g, lease, true);
          } catch (err) {
            if (err instanceof UeeError) return err;
            throw err;
          }
        });
      }),
    );
    for (let k = 0; k < todo.length; k++) {
      const { i, group } = todo[k]!;
      const entries = found[k]!;
      if (entries instanceof UeeError) out[i] = { ok: false, error: entries };
      else if (entries.length === 0) out[i] = { ok: true, value: [] };
      else {
        try {
          out[i] = { ok: true, value: await screenEntries(entries, group, this.#corruptSink(group), this.#log) };
        } catch (err) {
          out[i] = { ok: false, error: toUeeError(err) };
        }
      }
    }
    return { acks: ackOut, reads: out };
  }

  renew(group: string, consumer: string, ids: string[]): Promise<number> {
    return this.#run(() => {
      checkName(group, 'group');
      checkName(consumer, 'consumer');
      checkEntryIds(ids);
      if (ids.length === 0) return 0;
      const st = this.#st;
      return this.#immediate(() => {
        const g = st.group.get(group);
        return g === undefined ? 0 : renewRuns(st, g.routed === 1 ? 'queue' : 'log', group, consumer, sortedPositions(ids.map(entrySeq)), Date.now());
      });
    });
  }

  handBack(group: string, consumer: string, deliveries: ReadonlyArray<Pick<Delivery, 'id' | 'deliveryCount'>>): Promise<number> {
    return this.#run(() => {
      checkName(group, 'group');
      checkName(consumer, 'consumer');
      checkEntryIds(deliveries.map((d) => d.id));
      if (deliveries.length === 0) return 0;
      const seen = new Map(deliveries.map((d) => [entrySeq(d.id), d.deliveryCount]));
      const st = this.#st;
      return this.#immediate(() => {
        const g = st.group.get(group);
        return g === undefined ? 0 : handBackRuns(st, g.routed === 1 ? 'queue' : 'log', group, consumer, seen);
      });
    });
  }

  pending(group: string, options?: { consumer?: string; count?: number }): Promise<PendingEntry[]> {
    return this.#run(() => {
      checkName(group, 'group');
      const count = checkCount(options?.count, 'pending');
      const st = this.#st;
      const queue = this.#groupRow(group).routed === 1;
      const rows =
        options?.consumer === undefined
          ? (queue ? st.queueRunPending : st.runPending).all(group, count)
          : (queue ? st.queueRunPendingOf : st.runPendingOf).all(group, checkName(options.consumer, 'consumer'), count);
      const now = Date.now();
      return rows.map((r) => ({ id: `${r.ms}-${r.n}`, consumer: r.consumer, idleMs: Math.max(0, now - r.delivered_at), deliveryCount: r.deliveries }));
    });
  }

  /** Records (once per name, once committed) that `name` is this process's, inside a {@link #immediate} transaction. */
  #register(name: string, now: number): void {
    if (this.#registered.has(name) || this.#registering.has(name)) return;
    const me = this.#me;
    this.#st.registerProcess.run(name, me.host, me.boot, me.pidns, me.pid, now);
    this.#registering.add(name);
  }

  /** Runs `fn` in an immediate transaction; what it registered or touched is remembered only if it commits, what it changed of backlogs is forgotten if not. */
  #immediate<T>(fn: () => T): T {
    try {
      const out = this.#transaction.immediate(fn) as T;
      for (const name of this.#registering) this.#registered.add(name);
      for (const [key, at] of this.#touching) this.#touched.set(key, at);
      return out;
    } catch (err) {
      // What it changed of the backlogs may not have been so: forget them all (each is looked at again).
      if (this.#backlogsChanged) this.#backlogs.clear();
      throw err;
    } finally {
      this.#registering.clear();
      this.#touching.clear();
      this.#backlogsChanged = false;
    }
  }

  #deferred<T>(fn: () => T): T {
    return this.#transaction(fn) as T;
  }

  /**
   * Writes a consumer's `seen_at` (inside an {@link #immediate} transaction); a read's, not when this
   * process wrote it less than {@link TOUCH_EVERY_MS} ago.
   */
  #touch(group: string, consumer: string, consumerKey: string, now: number, always = false): void {
    const last = this.#touched.get(consumerKey);
    if (!always && last !== undefined && now - last < TOUCH_EVERY_MS) return;
    this.#st.touchConsumer.run(group, consumer, now);
    this.#touching.set(consumerKey, now);
  }

  /** A read or claim under `lease` ({@link ReadOptions.lease}): `FENCED` unless `consumer` holds it now. Inside the step's transaction, before it writes. */
  #assertHolder(lease: string | undefined, consumer: string, now: number): void {
    if (lease !== undefined && this.#st.leaseOwner.get(lease, now)?.owner !== consumer) throw notHolder(lease, consumer);
  }

  /**
   * Whether the process behind a consumer or owner name certainly crashed (see {@link isCertainlyGone}).
   * Checked afresh each time: a fixed consumer name (`consumerName`) is registered again by the
   * process that reuses it.
   */
  #isGone(name: string): boolean {
    if (this.#registered.has(name)) return false;
    const who = this.#st.processOf.get(name);
    return who !== undefined && isCertainlyGone(who, this.#me);
  }

  async claimStale(group: string, consumer: string, options: ClaimOptions): Promise<Delivery[]> {
    this.#life.assertOpen();
    checkName(group, 'group');
    checkName(consumer, 'consumer');
    const { minIdleMs, count, lease } = checkClaimOptions(options);
    const consumerKey = `${group}\u0000${consumer}`;
    // Cheap unlocked check first: nothing held in the group, nothing to claim (nor any crashed holder's).
    const touched = this.#touched.get(consumerKey);
    const idle = this.#guard(() => {
      this.#groupRow(group);
      return touched !== undefined && Date.now() - touched < IDLE_CLAIM_TOUCH_EVERY_MS && this.#st.anyRun.get(group) === undefined;
    });
    if (idle) return [];
    const entries = this.#guard(() =>
      this.#immediate(() => {
        const queue = this.#groupRow(group).routed === 1;
        const st = this.#st;
        const now = Date.now();
        this.#assertHolder(lease, consumer, now);
        const claimed: Array<Delivery | CorruptEntry> = [];
        this.#register(consumer, now);
        // What a crashed process held is stale now: nobody is working on it.
        for (const { consumer: holder } of st.runHolders.all(group)) if (holder !== consumer && this.#isGone(holder)) st.expireRunsOf.run(group, holder);
        for (const row of claimRuns(st, queue ? 'queue' : 'log', group, consumer, now - minIdleMs, count, now)) claimed.push(decodeEntry(`${row.ms}-${row.n}`, row.data, row.deliveries));
        this.#touch(group, consumer, consumerKey, now, true);
        return claimed;
      }),
    );
    return screenEntries(entries, group, this.#corruptSink(group), this.#log);
  }

  deadLetter(group: string, delivery: Delivery, error: { code: string; message: string }, attempts?: DeadLetter['attempts'], holder?: string): Promise<boolean> {
    return this.#run(() => {
      checkName(group, 'group');
      checkEntryIds([delivery.id]);
      if (holder !== undefined) checkName(holder, 'consumer');
      const data = encodeDeadRecord(group, delivery, error, attempts, new Date());
      return this.#immediate(() => this.#deadLetterOne(group, delivery.id, delivery.event.tenantId, data, holder));
    });
  }

  /**
   * Acks the entry and, if it was still pending (and held by `holder`, when given), records the dead
   * letter (so a race records it once); returns whether it did.
   */
  #deadLetterOne(group: string, id: string, tenantId: string | null, data: string, holder?: string): boolean {
    const st = this.#st;
    const n = entrySeq(id);
    const g = st.group.get(group);
    if (g === undefined || (holder !== undefined && runHolder(st, group, n) !== holder) || this.#ackIn(group, g, [n]).length === 0) return false;
    const tenant = tenantId ?? '';
    st.insertDead.run(Date.now(), group, tenant, data);
    this.#trimDead(tenant);
    return true;
  }

  /**
   * Keeps the dead letters within their bounds after one of `tenant`'s was recorded: that tenant's
   * oldest beyond `maxDeadLettersPerTenant`; then, past `maxDeadLetters` in all, the oldest of
   * whichever tenant holds the most — a
   * tenant's flood of failures never pushes out the letters of a tenant holding fewer. Each trim is
   * logged (at most once a minute).
   */
  #trimDead(tenant: string): void {
    const st = this.#st;
    const mine = st.deadCount.get(tenant)?.n ?? 0;
    if (mine > this.#opts.maxDeadLettersPerTenant) this.#trimDeadOf(tenant, mine - this.#opts.maxDeadLettersPerTenant, 'maxDeadLettersPerTenant');
    let over = (st.deadTotal.get()?.n ?? 0) - this.#opts.maxDeadLetters;
    while (over > 0) {
      const most = st.deadMost.get();
      if (most === undefined) return;
      const cut = Math.min(over, most.n);
      this.#trimDeadOf(most.tenant, cut, 'maxDeadLetters');
      over -= cut;
    }
  }

  #trimDeadOf(tenant: string, count: number, bound: 'maxDeadLetters' | 'maxDeadLettersPerTenant'): void {
    this.#st.trimDeadOf.run(tenant, count);
    this.#deadTrimmed += count;
    if (Date.now() - this.#lastDeadTrimWarning < PURGE_INTERVAL_MS) return;
    this.#lastDeadTrimWarning = Date.now();
    this.#log.warn(bound === 'maxDeadLettersPerTenant' ? 'dead letters trimmed: the oldest of a tenant over its bound went' : 'dead letters trimmed: the oldest of the tenant holding the most went', {
      tenantId: tenant === '' ? null : tenant,
      trimmed: this.#deadTrimmed,
      bound,
      limit: this.#opts[bound],
    });
  }

  #corruptSink(group: string): CorruptSink {
    return (letters) =>
      this.#run(() => {
        const now = new Date();
        this.#immediate(() => {
          for (const { delivery, error } of letters) this.#deadLetterOne(group, delivery.id, delivery.event.tenantId, encodeDeadRecord(group, delivery, error, undefined, now));
        });
      });
  }

  deadLetters(options?: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.#run(() => {
      const count = checkCount(options?.count, 'dead letters');
      const group = options?.group === undefined ? undefined : checkName(options.group, 'group');
      return this.#decodeLetters(this.#st.deadList(deadLetterTenant(options?.tenantId), group, options?.newestFirst === true, count));
    });
  }

  deadLettersById(ids: readonly string[]): Promise<DeadLetter[]> {
    return this.#run(() => {
      checkEntryIds([...ids]);
      checkCount(Math.max(1, ids.length), 'dead letter ids');
      const wanted = new Set(ids);
      const rows: EntryRow[] = [];
      for (const n of [...new Set(ids.map(entrySeq))].sort((a, b) => a - b)) {
        const row = this.#st.deadAt.get(n);
        // The id names its time too: the same position with another time is not this letter.
        if (row !== undefined && wanted.has(`${row.ms}-${row.n}`)) rows.push(row);
      }
      return this.#decodeLetters(rows);
    });
  }

  /** The letters of dead-letter rows, in order; an unreadable one is logged and skipped. */
  #decodeLetters(rows: readonly EntryRow[]): DeadLetter[] {
    const letters: DeadLetter[] = [];
    for (const row of rows) {
      const id = `${row.ms}-${row.n}`;
      const letter = decodeDeadRecord(id, row.data);
      if (letter) letters.push(letter);
      else this.#log.warn('skipping unreadable dead letter', { id });
    }
    return letters;
  }

  deleteDeadLetters(ids: readonly string[]): Promise<number> {
    return this.#run(() => {
      checkEntryIds([...ids]);
      const del = this.#st.deleteDead;
      let n = 0;
      this.#deferred(() => {
        for (const id of ids) n += del.run(entrySeq(id), Number(id.slice(0, id.indexOf('-')))).changes;
      });
      return n;
    });
  }

  range(startId: string, count: number): Promise<StreamEntry[]> {
    return this.#run(() => {
      if (startId !== '-') checkEntryIds([startId]);
      const rows = this.#st.entriesFrom.all(startId === '-' ? 0 : entrySeq(startId), checkCount(count, 'range'));
      const out: StreamEntry[] = [];
      for (const row of rows) {
        const entry = decodeEntry(`${row.ms}-${row.n}`, row.data, 1);
        if (!isCorrupt(entry)) out.push({ id: entry.id, event: entry.event });
      }
      return out;
    });
  }

  groupInfo(group: string): Promise<GroupInfo> {
    return this.#run(() => {
      checkName(group, 'group');
      return this.#deferred(() => {
        const g = this.#groupRow(group);
        const st = this.#st;
        const pendingBy = new Map((g.routed === 1 ? st.queueRunPendingByConsumer : st.runPendingByConsumer).all(group).map((r) => [r.consumer, r.c]));
        const now = Date.now();
        const consumers = st.consumers.all(group).map((c) => ({ name: c.consumer, pending: pendingBy.get(c.consumer) ?? 0, idleMs: Math.max(0, now - c.seen_at) }));
        let pending = 0;
        for (const c of pendingBy.values()) pending += c;
        const lag = g.routed === 1 ? (st.countUnread.get(group)?.c ?? 0) : (st.countAfter.get(g.last_n)?.c ?? 0);
        return { group, pending, lag, consumers, lastDeliveredId: `${g.last_ms}-${g.last_n}` };
      });
    });
  }

  queueBacklogs(groups: readonly string[], cap: number): Promise<Array<QueueBacklog | null>> {
    return this.#run(() => {
      for (const group of groups) checkName(group, 'group');
      const upTo = checkCount(cap, 'backlog');
      const st = this.#st;
      return this.#deferred(() =>
        groups.map((group): QueueBacklog | null => {
          const g = st.group.get(group);
          if (g === undefined || g.routed !== 1) return null;
          // Above the cursor every row is unread; at or below it only a late queue has unread rows.
          let waiting = st.countQueuedAfterUpTo.get(group, g.last_n, upTo)?.c ?? 0;
          if (g.late !== 0 && waiting < upTo) waiting += st.countUncoveredUpToCursor.get(group, g.last_n, upTo, group)?.c ?? 0;
          return { waiting: Math.min(waiting, upTo), inFlight: st.countPendingUpTo.get(group, upTo)?.c ?? 0 };
        }),
      );
    });
  }

  length(): Promise<number> {
    return this.#run(() => {
      const last = this.#st.lastEntry.get();
      const first = this.#st.firstEntry.get();
      return last && first ? last.n - first.n + 1 : 0;
    });
  }

  close(): Promise<void> {
    return this.#life.close(() => {
      this.#abort.abort();
      // Settles once the checkpoint thread has let go of the file too.
      const released = this.#wal?.release() ?? Promise.resolve();
      try {
        this.#db.close();
      } catch (err) {
        this.#log.warn('closing the embedded bus database failed', { error: err });
      }
      return released;
    });
  }

  #groupRow(group: string): GroupRow {
    const row = this.#st.group.get(group);
    if (!row) throw new UeeError('NOT_FOUND', `no consumer group "${group}"`, { details: { group }, hint: 'create it with ensureGroup first' });
    return row;
  }

  /** Runs a synchronous operation as a promise: `CLOSED` after close, driver errors typed. */
  #run<T>(fn: () => T): Promise<T> {
    try {
      this.#life.assertOpen();
      return Promise.resolve(this.#guard(fn));
    } catch (err) {
      return Promise.reject(toUeeError(err));
    }
  }

  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof UeeError) throw err;
      const code = (err as { code?: unknown }).code;
      const busy = code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
      throw new UeeError(busy ? 'BACKEND_UNAVAILABLE' : 'INTERNAL', `embedded bus: ${err instanceof Error ? err.message : String(err)}`, {
        retryable: busy,
        cause: err,
        details: { sqliteCode: typeof code === 'string' ? code : null },
      });
    }
  }
}
