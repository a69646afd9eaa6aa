import type { EventEnvelope } from '../core/index.js';

/** One delivery of one stream entry to one consumer of a group. */
export interface Delivery {
  /** The stream entry id (Redis style `ms-seq`; ordered). */
  id: string;
  event: EventEnvelope;
  /** How many times this entry has been delivered to this group, this one included. */
  deliveryCount: number;
}

/** Where a new consumer group starts reading. */
export type GroupStart = 'earliest' | 'latest';

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

/** Options for reading new entries. */
export interface ReadOptions {
  /** Max entries. @default 100 */
  count?: number;
  /** Wait up to this long for entries when none are ready; 0 returns at once. @default 0 */
  blockMs?: number;
}

/** Options for reclaiming a dead consumer's stale entries (XAUTOCLAIM semantics). */
export interface ClaimOptions {
  /** Only entries idle at least this long. */
  minIdleMs: number;
  /** @default 100 */
  count?: number;
}

/**
 * The event bus port: one append-only stream of events per bus, read by consumer groups with
 * at-least-once delivery. Publishing is idempotent by `eventId` (within the retention window), so a
 * relay that crashes after publishing and publishes again puts nothing on the bus twice.
 */
export interface EventBus {
  readonly kind: string;
  /** Appends events in order; duplicates (same eventId) are skipped. */
  publish(events: EventEnvelope[]): Promise<PublishResult>;
  /** Creates a group if missing (idempotent). */
  ensureGroup(group: string, start?: GroupStart): Promise<void>;
  /** Delivers never-delivered entries to `consumer`, making them pending until acked. */
  read(group: string, consumer: string, options?: ReadOptions): Promise<Delivery[]>;
  /** Acknowledges entries; returns how many were pending. */
  ack(group: string, ids: string[]): Promise<number>;
  /** Pending entries of a group, oldest first. */
  pending(group: string, options?: { consumer?: string; count?: number }): Promise<PendingEntry[]>;
  /** Moves entries idle ≥ minIdleMs to `consumer` and returns them (delivery count + 1). */
  claimStale(group: string, consumer: string, options: ClaimOptions): Promise<Delivery[]>;
  /** Writes the entry to the dead-letter stream and acks it in the group, atomically where the backend allows. */
  deadLetter(group: string, delivery: Delivery, error: { code: string; message: string }, attempts?: DeadLetter['attempts']): Promise<void>;
  /** Dead letters, oldest first, optionally of one group. */
  deadLetters(options?: { group?: string; count?: number }): Promise<DeadLetter[]>;
  /** Progress of a group (pending, lag, consumers). `NOT_FOUND` for an unknown group. */
  groupInfo(group: string): Promise<GroupInfo>;
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

/** Bus tuning every adapter honours. */
export interface BusOptions {
  /** Approximate max entries kept in the stream (older ones are trimmed). @default 1_000_000 */
  maxLength: number;
  /** How long an eventId is remembered for de-duplication. @default 24 h */
  dedupeWindowMs: number;
  /** Max entries kept in the dead-letter stream. @default 100_000 */
  maxDeadLetters: number;
}

/** Defaults for {@link BusOptions}. */
export const DEFAULT_BUS_OPTIONS: BusOptions = {
  maxLength: 1_000_000,
  dedupeWindowMs: 24 * 60 * 60 * 1000,
  maxDeadLetters: 100_000,
};
