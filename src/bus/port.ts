import type { EventEnvelope, UeeError } from '../core/index.js';

/** One delivery of one stream entry to one consumer of a group. */
export interface Delivery {
  /** The stream entry id (Redis style `ms-seq`; ordered). */
  id: string;
  event: EventEnvelope;
  /** How many times this entry has been delivered to this group, this one included. */
  deliveryCount: number;
  /**
   * The stored JSON text `event` was decoded from, when `JSON.stringify(event)` gives it back byte
   * for byte (an entry that passed the envelope check as it is): a plugin's input splices it in
   * instead of stringifying the envelope again. Absent when the schema had to change the value.
   */
  text?: string;
}

/** Where a new consumer group starts reading. */
export type GroupStart = 'earliest' | 'latest';

/** Options of {@link EventBus.ensureGroup}. */
export interface GroupOptions {
  /**
   * `hold` (default): retention never trims an entry this group has not delivered or acked.
   * `advisory`: the group is best-effort (e.g. a catalogue read on demand): retention ignores it,
   * and it silently skips entries trimmed before it read them.
   */
  retention?: 'hold' | 'advisory';
}

/** One entry pending (delivered, not acknowledged) in a group. */
export interface PendingEntry {
  id: string;
  consumer: string;
  idleMs: number;
  deliveryCount: number;
}

/** A group's progress. */
export interface GroupInfo {
  group: string;
  /** Entries delivered but not acknowledged. */
  pending: number;
  /** Entries in the stream not yet delivered to the group. */
  lag: number;
  consumers: Array<{ name: string; pending: number; idleMs: number }>;
  lastDeliveredId: string;
}

/** A queue's backlog (see {@link EventBus.queueBacklogs}). */
export interface QueueBacklog {
  waiting: number;
  inFlight: number;
}

/** What {@link EventBus.deadLetters} lists. */
export interface DeadLetterQuery {
  /** Only this tenant's letters (`null`: the platform's own). @default every tenant's */
  tenantId?: string | null;
  group?: string;
  /** 1..10,000. @default 100 */
  count?: number;
  /** Newest first. @default false (oldest first) */
  newestFirst?: boolean;
}

/** A dead-lettered entry: the event, which group gave up on it, and why. */
export interface DeadLetter {
  id: string;
  group: string;
  originalId: string;
  event: EventEnvelope;
  error: { code: string; message: string };
  attempts: Array<{ at: string; code: string; message: string }>;
  deadAt: string;
}

/** One retained stream entry as {@link EventBus.range} reads it back. */
export interface StreamEntry {
  /** The stream entry id (`ms-seq`). */
  id: string;
  event: EventEnvelope;
}

/** Result of a publish: how many events were new (duplicates by eventId are dropped). */
export interface PublishResult {
  /** Stream ids of the events appended, in input order; `null` for a duplicate. */
  ids: Array<string | null>;
}

/** Options of {@link EventBus.publish}. */
export interface PublishOptions {
  /**
   * When the publisher read these events from their source (ms since the epoch; the outbox relay:
   * just before its peek). Once `settledDedupeMs / 2` has passed since, the bus refuses the publish
   * (`FENCED`, `details.reason: 'stale'`, nothing appended): by then another publisher may have
   * published the same events, settled them ({@link EventBus.settle}) and had their ids forgotten,
   * so this late copy could not be recognised. Read them again. Without it nothing is fenced.
   */
  readAt?: number;
}

/** Options for reading new entries. */
export interface ReadOptions {
  /** Max entries. @default 100 */
  count?: number;
  /** Wait up to this long for entries when none are ready; 0 returns at once. @default 0 */
  blockMs?: number;
  /**
   * Takes entries only while `consumer` holds the bus lease of this name ({@link EventBus.lease}),
   * checked in the same atomic step as the read: a process that lost the lease while it believed it
   * still held it (paused past its heartbeat or TTL, its check made just before) takes nothing —
   * the holder would read past what it took, and its order would be lost. `FENCED` when it does not
   * hold it (nothing taken).
   */
  lease?: string;
}

/** One entry of a {@link EventBus.route} call: acked in the source group, queued into `groups`. */
export interface RouteItem {
  /** The entry id in the stream (as delivered to the source group). */
  id: string;
  /** Queues (created with {@link EventBus.ensureQueue}) that must receive the entry; may be empty. */
  groups: readonly string[];
}

/** One queue's part of an {@link EventBus.readQueues} call. */
export interface QueueRead {
  /** A queue created with {@link EventBus.ensureQueue}. */
  group: string;
  /** Max entries read from this queue (1-10000). */
  count: number;
  /** Read only while the consumer holds this bus lease (see {@link ReadOptions.lease}); else this queue's outcome is `FENCED`. */
  lease?: string;
}

/** One queue's part of an {@link EventBus.ackQueues} call. */
export interface QueueAck {
  group: string;
  ids: string[];
}

/**
 * One queue's outcome in a multi-queue call: each queue succeeds or fails on its own (an unknown
 * queue fails only its own part), so queues batched together never fail each other.
 */
export type QueueOutcome<T> = { ok: true; value: T } | { ok: false; error: UeeError };

/** Outcomes of an {@link EventBus.ackAndReadQueues} call: `acks[i]` of the `i`th ack, `reads[i]` of the `i`th read. */
export interface AckedAndRead {
  acks: Array<QueueOutcome<number>>;
  reads: Array<QueueOutcome<Delivery[]>>;
}

/** Options of {@link EventBus.pruneConsumers}. */
export interface PruneOptions {
  /** Consumers idle at least this long, with nothing pending, are removed. */
  idleMs: number;
  /** Also removes this consumer (e.g. the caller's own, at shutdown) when it has nothing pending. */
  consumer?: string;
}

/** Options for reclaiming a dead consumer's stale entries (XAUTOCLAIM semantics). */
export interface ClaimOptions {
  /** Only entries idle at least this long. */
  minIdleMs: number;
  /** @default 100 */
  count?: number;
  /**
   * Also claims, whatever their idle time, entries held by consumers whose process has no live
   * heartbeat (see {@link EventBus.heartbeat}; consumers are named like heartbeat owners), so a
   * crashed process's entries move in about a heartbeat TTL instead of `minIdleMs`. Ignored by
   * backends without heartbeats. @default false
   */
  deadOwners?: boolean;
  /** Claims only while `consumer` holds this bus lease (see {@link ReadOptions.lease}); `FENCED` otherwise, nothing claimed. */
  lease?: string;
}

/** Options of {@link EventBus.lease}. */
export interface LeaseOptions {
  /**
   * The lease is bound to the owner's process heartbeat ({@link EventBus.heartbeat}) instead of a
   * TTL of its own: it needs no renewing, is taken only by an owner whose own heartbeat lives, and
   * is taken over from an owner as soon as its heartbeat has lapsed. Backends without heartbeats use
   * `ttlMs`. @default false
   */
  liveness?: boolean;
}

/** What a {@link EventBus.listen} subscription calls. */
export interface SignalHandlers {
  message(message: string): void;
  /** The subscription is (again) in place: messages signalled while it was not are lost. */
  ready?(): void;
  /** The subscription's connection is lost: no message arrives until `ready` again. */
  lost?(): void;
}

/**
 * The event bus port: one append-only stream of events per bus, read by consumer groups with
 * at-least-once delivery. Publishing is idempotent by `eventId` (within the retention window), so a
 * relay that crashes after publishing and publishes again puts nothing on the bus twice.
 */
export interface EventBus {
  readonly kind: string;
  /**
   * Appends events in order; duplicates (an eventId published within the de-duplication window, see
   * {@link BusOptions.dedupeWindowMs} and {@link settle}) are skipped. `FENCED` for a stale
   * {@link PublishOptions.readAt}.
   */
  publish(events: EventEnvelope[], options?: PublishOptions): Promise<PublishResult>;
  /**
   * Tells the bus that whoever published these events will never publish them again (the outbox
   * relay: once their rows are marked published). Their ids are then remembered for
   * `settledDedupeMs` more (Redis: their keys' TTL; embedded: forgotten by the first publish or settle
   * after that) instead of the rest of `dedupeWindowMs`, which bounds the
   * de-duplication state by the publish rate × `settledDedupeMs` plus what was published and never
   * settled (a relay that died between publish and mark: those stay for the whole window, which is
   * what lets its republish be recognised). Unknown ids are ignored; settling never lengthens what
   * is remembered. A publish that read its events before they were settled is refused once it could
   * outlive their ids ({@link PublishOptions.readAt}).
   */
  settle(eventIds: string[]): Promise<void>;
  /** Creates a group if missing (idempotent). It reads the stream's entries from `start` on. */
  ensureGroup(group: string, start?: GroupStart, options?: GroupOptions): Promise<void>;
  /**
   * Creates a queue if missing (idempotent): a group that never reads the stream's tail and receives
   * only the entries {@link route} puts into it, in the order they are routed. `read`, `ack`,
   * `pending`, `claimStale`, `deadLetter`, `groupInfo` and `pruneConsumers` work on it as on any
   * group (`lag` = entries queued, not yet delivered). A plain group of the same name (an older
   * per-plugin group) is turned into a queue; its undelivered entries are queued where the backend
   * can do so atomically (embedded), else dead-lettered (`UPGRADED_TO_QUEUE`, logged as an error) for a
   * redrive (Redis) — never dropped.
   */
  ensureQueue(group: string): Promise<void>;
  /**
   * Hands entries over from `fromGroup` to queues, atomically: each entry is acked in `fromGroup`
   * and, only if it was still pending there, queued into each of its `groups` in the same step — so
   * an entry is never acked without being queued (a crash leaves it pending in `fromGroup`), and two
   * processes routing the same entry queue it once. Returns how many entries were handed over.
   * `NOT_FOUND` (nothing done) when a target queue does not exist.
   */
  route(fromGroup: string, items: readonly RouteItem[]): Promise<number>;
  /**
   * Removes consumers that hold no pending entries and are idle ≥ `idleMs` (or are named by
   * `consumer`), so restarts do not accumulate dead consumers. Atomic per consumer: one that holds
   * pending entries is never removed. Returns how many were removed.
   */
  pruneConsumers(group: string, options: PruneOptions): Promise<number>;
  /** Delivers never-delivered entries to `consumer`, making them pending until acked. */
  read(group: string, consumer: string, options?: ReadOptions): Promise<Delivery[]>;
  /** Acknowledges entries; returns how many were pending. */
  ack(group: string, ids: string[]): Promise<number>;
  /**
   * Optional: {@link read} of many queues for one consumer in one step (one SQLite transaction, one
   * Redis pipeline), never blocking: outcome `i` is what `read(reads[i].group, consumer, { count })`
   * would have returned, with the same guarantees (each entry delivered to one consumer, corrupt
   * entries dead-lettered). Lets a process serving many small queues pay one bus round trip per
   * round instead of one per queue; each queue keeps its own order, pending list and lease.
   */
  readQueues?(consumer: string, reads: readonly QueueRead[]): Promise<Array<QueueOutcome<Delivery[]>>>;
  /** Optional: {@link ack} of many queues in one step; outcome `i` is `ack(acks[i].group, acks[i].ids)`. */
  ackQueues?(acks: readonly QueueAck[]): Promise<Array<QueueOutcome<number>>>;
  /**
   * Optional: {@link ackQueues} then {@link readQueues} in one step (one SQLite transaction): the acks
   * and reads a process's queues ask for in the same turn, for one commit instead of two. Outcomes
   * are those the two calls would have returned; a failure of the step itself fails both parts.
   */
  ackAndReadQueues?(consumer: string, acks: readonly QueueAck[], reads: readonly QueueRead[]): Promise<AckedAndRead>;
  /** Pending entries of a group, oldest first. */
  pending(group: string, options?: { consumer?: string; count?: number }): Promise<PendingEntry[]>;
  /**
   * Renews `consumer`'s lease on entries it holds while it works on them: their idle time starts
   * again, so {@link claimStale} in another process does not take an entry that is merely waiting
   * behind others of its batch. The delivery count is unchanged; entries no longer held by `consumer`
   * (acked, or claimed by another) are skipped. Returns how many were renewed.
   */
  renew(group: string, consumer: string, ids: string[]): Promise<number>;
  /**
   * Hands back deliveries `consumer` leaves unfinished knowingly — it is stopping, or lost the queue
   * to another process (its commit was refused `FENCED`) — without counting them: the delivery count
   * tells how often an entry's delivery ended with its process dead, which the crash quarantine reads,
   * and these did not. Each is given with the delivery count it was delivered with. An entry
   * `consumer` still holds at that count gets its count lowered by one and is made stale at once, so
   * the next {@link claimStale} (by any consumer) takes it without waiting and restores the count; an
   * entry another consumer claimed from it since (its count is above the given one) gets its count
   * lowered by one and is otherwise left alone. Atomic per entry. Returns how many were handed back.
   */
  handBack(group: string, consumer: string, deliveries: ReadonlyArray<Pick<Delivery, 'id' | 'deliveryCount'>>): Promise<number>;
  /**
   * Moves entries idle ≥ minIdleMs (or held by a dead process, see {@link ClaimOptions.deadOwners})
   * to `consumer` and returns them in stream order (delivery count + 1). Only a prefix of the pending
   * entries is taken: the scan stops at the first entry still held — by another consumer or by
   * `consumer` itself — that is neither idle that long nor a dead process's, so an entry is never
   * claimed while an older one is in someone's hands. The previous holder of a queue may still be
   * finishing (or be about to hand back) an older delivery of the same entity: claiming past it would
   * let the newer run first.
   */
  claimStale(group: string, consumer: string, options: ClaimOptions): Promise<Delivery[]>;
  /**
   * Writes the entry to the dead-letter stream and acks it in the group, in one atomic step, once
   * (only if it was still pending). With `holder`, only while that consumer still holds the entry: a
   * process whose entry was claimed by another (it paused past its lease) never dead-letters what the
   * new holder is handling. Returns whether the letter was recorded.
   */
  deadLetter(group: string, delivery: Delivery, error: { code: string; message: string }, attempts?: DeadLetter['attempts'], holder?: string): Promise<boolean>;
  /**
   * Dead letters, oldest first (`newestFirst`: newest first), optionally of one tenant and of one
   * group. A letter's tenant is its event's (`null`: the platform's own events, and entries whose event
   * could not be read). With `tenantId` only that tenant's letters are looked at, however many other
   * tenants have: one tenant's thousands of dead letters never hide another's from a listing.
   */
  deadLetters(options?: DeadLetterQuery): Promise<DeadLetter[]>;
  /** The dead letters of these ids (at most 10,000), in id order; unknown ids are skipped. Whose they are is the caller's to check. */
  deadLettersById(ids: readonly string[]): Promise<DeadLetter[]>;
  /**
   * Removes dead letters by id (unknown ids are ignored) and returns how many were removed — a
   * letter removed by one caller is not counted by another. Used once a redrive succeeded.
   */
  deleteDeadLetters(ids: readonly string[]): Promise<number>;
  /**
   * Removes a queue (created with {@link ensureQueue}) with everything it holds: queued and pending
   * entries, consumers, its lease. Its dead letters stay (they are records). Idempotent; used when
   * the logical plugin it served is gone, so a deleted plugin leaves no keys or rows behind.
   */
  deleteQueue(group: string): Promise<void>;
  /**
   * Optional: the names of every queue on the bus (created with {@link ensureQueue}, not deleted), in
   * no particular order. Housekeeping compares them with the plugins that exist, to remove the queues
   * of plugins gone while no process that could remove them was running. O(queues); call it rarely.
   */
  queues?(): Promise<string[]>;
  /**
   * Takes or renews the lease `name` for `owner` for `ttlMs`: true when `owner` holds it afterwards
   * (it was free, had expired, or was already `owner`'s), false while another owner holds it. One
   * atomic step, shared by every process on the bus: the router makes one process at a time the
   * reader of a queue (and of the dispatch group), so events of one entity are handled in order
   * however many processes share the work.
   */
  lease(name: string, owner: string, ttlMs: number, options?: LeaseOptions): Promise<boolean>;
  /**
   * Optional: renews for another `ttlMs`, in one step, each lease of `names` still `owner`'s (as
   * {@link lease} renews one), and returns the names renewed; the others are not `owner`'s any more
   * (taken by another owner, or released). A process holding many TTL leases (the embedded bus: one
   * per queue) renews them together instead of one transaction each. Backends whose leases are bound
   * to heartbeats renew none and need not have it.
   */
  renewLeases?(owner: string, ttlMs: number, names: readonly string[]): Promise<string[]>;
  /**
   * Optional: a process heartbeat. Keeps `owner`'s liveness key for `ttlMs` (`0` ends it at once: a
   * clean stop). Leases taken with `liveness` and entries of consumers named `owner` stay `owner`'s
   * while the key lives and are taken over once it lapses. Returns whether the key still lived
   * before this call (false on the first beat, or after a lapse: what `owner` held may have moved).
   */
  heartbeat?(owner: string, ttlMs: number): Promise<boolean>;
  /**
   * Optional, with {@link heartbeat}: keeps `owner` on the roster `name` for `ttlMs` (`0` takes it off
   * at once) and returns the roster's members whose process heartbeat lives, sorted. The router's
   * roster of queue readers: every process computes the same split of the queues from it (see
   * `assignQueues`). A member whose heartbeat lapsed is left out at once, before its entry expires.
   */
  roster?(name: string, owner: string, ttlMs: number): Promise<string[]>;
  /**
   * Optional: sends `message` to the listeners of `channel` ({@link listen}) in every process on the
   * bus, this one's included. At most once, and only to listeners connected at that moment: for hints
   * that save a poll (the router's cross-process wake-up), never for anything that must arrive.
   */
  signal?(channel: string, message: string): Promise<void>;
  /**
   * Optional, with {@link signal}: calls `handlers.message` for each message signalled on `channel`
   * from now on, `handlers.ready` each time the subscription is in place (the first time and again
   * after a lost connection: what was signalled meanwhile is lost, so the listener re-checks what it
   * would have been told) and `handlers.lost` when it is not. Resolves once it is in place; the
   * function it answers stops listening.
   */
  listen?(channel: string, handlers: SignalHandlers): Promise<() => void>;
  /** Gives the lease up if `owner` holds it (a clean stop hands it over at once). Idempotent. */
  releaseLease(name: string, owner: string): Promise<void>;
  /**
   * Adds `add` (default 0: a read) to the counter `name` (0 when new) and returns its value, in one
   * atomic step shared by every process on the bus. A cheap watermark: the router bumps one when it
   * applies a routing-table change, and other processes reload their table only when it moved.
   */
  counter(name: string, add?: number): Promise<number>;
  /** Progress of a group (pending, lag, consumers). `NOT_FOUND` for an unknown group. */
  groupInfo(group: string): Promise<GroupInfo>;
  /**
   * How far behind each queue is, with bounded work per queue whatever its length (what tenant-facing
   * tools read, where {@link groupInfo} counts every entry of a long queue): `waiting` — entries
   * routed to it and not read; `inFlight` — read and not acknowledged; each counted up to `cap` (a
   * larger figure reads as `cap`). `null` for a name that is no queue (unknown, or a plain group).
   */
  queueBacklogs(groups: readonly string[], cap: number): Promise<Array<QueueBacklog | null>>;
  /** Number of entries currently retained in the stream. */
  length(): Promise<number>;
  /**
   * Reads retained entries in stream order from `startId` (inclusive; `'-'` = the oldest retained),
   * at most `count` (1-10000), without touching any group. Entries that are not valid envelopes are
   * skipped. Optional: tools that trace events (`event_trace`) degrade without it.
   */
  range?(startId: string, count: number): Promise<StreamEntry[]>;
  /** Idempotent; blocked reads return early. */
  close(): Promise<void>;
}

/** The lease that makes one process at a time the reader of queue `group` ({@link EventBus.deleteQueue} removes it too). */
export function queueLeaseName(group: string): string {
  return `q:${group}`;
}

/** Bus tuning every adapter honours. */
export interface BusOptions {
  /**
   * Approximate max entries kept in the stream. Older entries are trimmed, but never one a group or
   * queue still needs (undelivered or pending): a stream held over the cap by a lagging group stays
   * longer and the bus logs a `retention held back` warning naming the group, instead of dropping
   * the entries silently. @default 1_000_000
   */
  maxLength: number;
  /**
   * How long a published eventId is remembered for de-duplication until it is settled
   * ({@link EventBus.settle}): the horizon within which a relay that crashed after publishing and
   * before marking its batch can publish it again without doubling it. @default 24 h
   */
  dedupeWindowMs: number;
  /**
   * How long a settled eventId is still remembered (at most `dedupeWindowMs`): what covers another
   * publisher that read the same events before they were settled. A publish whose
   * {@link PublishOptions.readAt} is older than half of it is refused, so the other half covers the
   * clocks of the publisher and the bus disagreeing. The de-duplication state in steady use is about
   * the publish rate × this (Redis: ~150 bytes per id). @default 60 s
   */
  settledDedupeMs: number;
  /**
   * Max dead letters kept in all. Past it, the oldest letters of the tenant holding the most go (and
   * the bus logs it), never a letter of a tenant holding fewer: one tenant's flood of failures cannot
   * push out another's dead letters. @default 100_000
   */
  maxDeadLetters: number;
  /** Max dead letters kept per tenant (the platform's own counting as one); past it, that tenant's oldest go (logged). @default 10_000 */
  maxDeadLettersPerTenant: number;
  /**
   * Most entries one queue ({@link EventBus.ensureQueue}) holds queued and not yet delivered. Past it,
   * the queue's oldest undelivered entries are dead-lettered (`QUEUE_OVERFLOW`, under their event's
   * tenant, bounded like every dead letter, redrivable) and the bus logs a warning naming the queue —
   * by the time {@link EventBus.route} answers. Without it a tenant's stalled plugin grew its queue
   * without bound: on Redis a copy of every event in the server's memory, on the embedded bus every
   * later event of every tenant kept in the log (retention stops at what a queue needs). Delivered
   * entries (pending) are never touched. @default 100_000
   */
  maxQueueLength: number;
}

/** Defaults for {@link BusOptions}. */
export const DEFAULT_BUS_OPTIONS: BusOptions = {
  maxLength: 1_000_000,
  dedupeWindowMs: 24 * 60 * 60 * 1000,
  settledDedupeMs: 60_000,
  maxDeadLetters: 100_000,
  maxDeadLettersPerTenant: 10_000,
  maxQueueLength: 100_000,
};
