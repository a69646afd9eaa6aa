import type { ChainableCommander, Redis } from 'ioredis';
import type { EventEnvelope, Logger } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import { queueLeaseName } from '../port.js';
import type {
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
  LeaseOptions,
  PendingEntry,
  PruneOptions,
  PublishOptions,
  PublishResult,
  QueueAck,
  QueueOutcome,
  QueueRead,
  ReadOptions,
  RouteItem,
  SignalHandlers,
  StreamEntry,
} from '../port.js';
import { checkPublishBatch, decodeDeadRecord, encodeDeadRecord, isCorrupt, rawExcerpt, type CorruptEntry } from '../shared/codec.js';
import { BusLifecycle, screenEntries, type CorruptSink } from '../shared/lifecycle.js';
import { checkClaimOptions, checkCounterAdd, checkCount, checkEntryIds, checkEventIds, checkName, checkPruneOptions, checkReadOptions, compareIds, deadLetterTenant, notHolder, publishDeadline, stalePublish } from '../shared/options.js';
import { BlockingPool, replyError, toBusError } from './connection.js';
import { FencedReads, type FencedRead, type RawEntry } from './fenced-reads.js';
import { SignalListeners } from './signals.js';
import { ACK_QUEUES_LUA, CLAIM_LUA, DEAD_LETTER_LUA, DELETE_DEAD_LUA, ENSURE_QUEUE_LUA, FENCED_REPLY, HAND_BACK_LUA, INDEX_DEAD_LUA, HEARTBEAT_LUA, LEASE_LIVE_LUA, LEASE_LUA, OVERFLOW_LUA, PRUNE_LUA, PUBLISH_LUA, QUEUE_PAGE_LUA, READ_QUEUES_LUA, RELEASE_LUA, RENEW_LUA, ROSTER_LUA, ROUTE_LUA, SETTLE_LUA, STALE_REPLY, TRIM_LUA, TRIM_QUEUE_LUA } from './scripts.js';
import { countAfter, fieldsToRecord, parseEntries } from './replies.js';

/** Events per publish script call; larger batches are pipelined in chunks (each chunk atomic). */
const PUBLISH_CHUNK = 1_000;
/** How long close() waits for QUIT before dropping the connection. */
const QUIT_TIMEOUT_MS = 1_000;
/** How long "this group is not a queue" is believed before asking Redis again. */
const PLAIN_GROUP_TTL_MS = 5_000;
/** A queue is trimmed after this many acks on it (in this process). */
const QUEUE_TRIM_EVERY = 500;
/** Queue names per page of the queue index (one QUEUE_PAGE_LUA call). */
const QUEUE_PAGE = 1_000;
/** A "retention held back" warning is logged at most this often (so is a queue's overflow warning, per queue). */
const HELD_WARNING_EVERY_MS = 60_000;

/**
 * Entries of one queue dead-lettered for maxQueueLength per script, beyond what the route itself put
 * into the queue (so a route's own overflow is always lettered in its own atomic step; see ROUTE_LUA).
 */
const OVERFLOW_BATCH = 500;

/** The consumer an upgrade reads a legacy plain group's entries as, to dead-letter them. */
const LEGACY_UPGRADER = 'uee-upgrade';
/** Entries of a legacy plain group dead-lettered per call. */
const LEGACY_BATCH = 500;

/** The ids a publish script answered, or its stale refusal ({@link STALE_REPLY}) as `FENCED`. */
function published(reply: Array<string | null> | string, deadline: number): Array<string | null> {
  if (typeof reply !== 'string') return reply;
  if (!reply.startsWith(`${STALE_REPLY}:`)) throw new UeeError('INTERNAL', `redis bus: unexpected publish reply ${JSON.stringify(reply.slice(0, 100))}`);
  throw stalePublish(deadline, Number(reply.slice(STALE_REPLY.length + 1)));
}

interface BusCommands {
  ueePublish(numKeys: number, ...args: Array<string | number>): Promise<Array<string | null> | string>;
  ueeSettle(numKeys: number, ...args: Array<string | number>): Promise<number>;
  ueeClaim(stream: string, group: string, consumer: string, minIdleMs: number, count: number, alivePrefix: string, leaseKey: string): Promise<[RawEntry[], number[], number, number?]>;
  ueeDeadLetter(stream: string, dead: string, index: string, sizes: string, group: string, holder: string, tenant: string, maxPerTenant: number, maxDead: number, indexPrefix: string, ...pairs: string[]): Promise<[number, number]>;
  ueeDeleteDead(dead: string, sizes: string, indexPrefix: string, ...ids: string[]): Promise<number>;
  ueeIndexDead(sizes: string, indexPrefix: string, ...idTenants: string[]): Promise<number>;
  ueeRenew(stream: string, group: string, consumer: string, ...ids: string[]): Promise<number>;
  ueeHandBack(stream: string, group: string, consumer: string, ...idCounts: string[]): Promise<number>;
  ueeTrim(stream: string, advisory: string, maxLength: number): Promise<[number, string]>;
  ueeTrimQueue(queue: string, none: string): Promise<number>;
  ueeRoute(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
  ueeOverflow(queue: string, dead: string, sizes: string, advisory: string, cap: number, limit: number, indexPrefix: string, maxPerTenant: number, maxDead: number, deadAt: string): Promise<[number, number, number, number]>;
  ueePrune(stream: string, group: string, minIdleMs: number, consumer: string): Promise<number>;
  ueeLease(key: string, owner: string, ttlMs: number): Promise<number>;
  ueeRelease(key: string, owner: string): Promise<number>;
  ueeLeaseLive(key: string, aliveKey: string, owner: string, alivePrefix: string): Promise<number>;
  ueeHeartbeat(key: string, ttlMs: number): Promise<number>;
  ueeRoster(key: string, owner: string, ttlMs: number, alivePrefix: string): Promise<string[]>;
  ueeReadQueues(numKeys: number, ...args: Array<string | number>): Promise<Array<RawEntry[] | string>>;
  ueeAckQueues(numKeys: number, ...args: Array<string | number>): Promise<Array<number | string>>;
  ueeEnsureQueue(queue: string, index: string, group: string): Promise<number>;
  ueeQueuePage(index: string, queuePrefix: string, cursor: string, count: number): Promise<[string, string[]]>;
}

/** Key names of one bus. */
export interface RedisBusKeys {
  stream: string;
  dead: string;
  /** Prefix of each tenant's index of its dead letters (`<deadIndexPrefix><tenant key>`, a list of ids in order). */
  deadIndexPrefix: string;
  /** Sorted set of the tenants' index lengths (tenant key → letters held). */
  deadSizes: string;
  /** The id up to which the dead-letter stream was checked for letters without an index entry (see {@link RedisBus.indexDeadLetters}). */
  deadIndexedUpTo: string;
  dedupePrefix: string;
  /** Set of the advisory groups (retention ignores them). */
  advisory: string;
  /** Prefix of queue streams: queue `g` is the stream `<queuePrefix>g` with one group `g`. */
  queuePrefix: string;
  /**
   * The queue index: a set of every queue's name, kept with the queues (see {@link RedisBus.queues}),
   * so listing them costs O(queues), not a walk of every key in Redis.
   */
  queueIndex: string;
  /** Prefix of lease keys (strings holding the owner, with a TTL). */
  leasePrefix: string;
  /** Prefix of counter keys (integers). */
  counterPrefix: string;
  /** Prefix of process heartbeat keys (`<alivePrefix><owner>`, with a TTL). */
  alivePrefix: string;
  /** Prefix of rosters (`<rosterPrefix><name>`, a sorted set of members by expiry). */
  rosterPrefix: string;
  /** Prefix of the pub/sub channels of {@link RedisBus.signal} (`<signalPrefix><channel>`). */
  signalPrefix: string;
}

/**
 * The Redis Streams event bus. One stream holds the events; consumer groups, the PEL and delivery
 * counts are Redis's own. Publishing, claiming and dead-lettering are Lua scripts (one round
 * trip, atomic); blocking reads use dedicated connections that `close()` disconnects.
 *
 * Stream entries are validated with the envelope schema when read back. An entry that is not a
 * valid event (e.g. XADDed by another tool) is never delivered: `read` and `claimStale` dead-letter
 * it with `CORRUPT_DATA` (acking it), log a warning, and return the valid deliveries only.
 *
 * Retention: the event stream is trimmed to about `maxLength`, never past what a group still needs
 * (TRIM_LUA, a `retention held back` warning when that keeps it over); a queue stream is trimmed up
 * to its first pending or unread entry every 500 acks (TRIM_QUEUE_LUA) and after an overflow; and a
 * queue holds at most `maxQueueLength` undelivered entries: `route` dead-letters the oldest beyond
 * that (`QUEUE_OVERFLOW`, see {@link RedisBus.route}) before it answers. Dead letters are bounded per
 * tenant and in all (DEAD_LETTER_LUA).
 */
export class RedisBus implements EventBus {
  readonly kind = 'redis';
  readonly #redis: Redis & BusCommands;
  readonly #keys: RedisBusKeys;
  readonly #opts: BusOptions;
  readonly #log: Logger;
  readonly #safeUrl: string;
  readonly #life = new BusLifecycle('redis');
  readonly #blocking: BlockingPool;
  /** Reads under a lease, fenced by Redis (see {@link FencedReads}). */
  readonly #fenced: FencedReads;
  readonly #signals: SignalListeners;
  /** Groups known to be queues (never un-made), and plain groups with when that was checked. */
  readonly #queues = new Set<string>();
  readonly #plain = new Map<string, number>();
  readonly #acksSinceTrim = new Map<string, number>();
  readonly #trimEvery: number;
  #sinceTrim = 0;
  #lastHeldWarning = 0;
  #lastDeadTrimWarning = 0;
  /** Per overflowing queue: when its overflow was last logged, and entries dead-lettered since. */
  readonly #overflowWarned = new Map<string, { at: number; since: number }>();
  /** Dead letters trimmed by their bounds since this bus opened. */
  #deadTrimmedCount = 0;

  constructor(redis: Redis, keys: RedisBusKeys, options: BusOptions, logger: Logger, safeUrl: string) {
    redis.defineCommand('ueePublish', { lua: PUBLISH_LUA });
    redis.defineCommand('ueeSettle', { lua: SETTLE_LUA });
    redis.defineCommand('ueeClaim', { lua: CLAIM_LUA, numberOfKeys: 1 });
    redis.defineCommand('ueeRenew', { lua: RENEW_LUA, numberOfKeys: 1 });
    redis.defineCommand('ueeHandBack', { lua: HAND_BACK_LUA, numberOfKeys: 1 });
    redis.defineCommand('ueeDeadLetter', { lua: DEAD_LETTER_LUA, numberOfKeys: 4 });
    redis.defineCommand('ueeDeleteDead', { lua: DELETE_DEAD_LUA, numberOfKeys: 2 });
    redis.defineCommand('ueeIndexDead', { lua: INDEX_DEAD_LUA, numberOfKeys: 1 });
    redis.defineCommand('ueeTrim', { lua: TRIM_LUA, numberOfKeys: 2 });
    redis.defineCommand('ueeTrimQueue', { lua: TRIM_QUEUE_LUA, numberOfKeys: 2 });
    redis.defineCommand('ueeRoute', { lua: ROUTE_LUA });
    redis.defineCommand('ueeOverflow', { lua: OVERFLOW_LUA, numberOfKeys: 4 });
    redis.defineCommand('ueePrune', { lua: PRUNE_LUA, numberOfKeys: 1 });
    redis.defineCommand('ueeLease', { lua: LEASE_LUA, numberOfKeys: 1 });
    redis.defineCommand('ueeRelease', { lua: RELEASE_LUA, numberOfKeys: 1 });
    redis.defineCommand('ueeLeaseLive', { lua: LEASE_LIVE_LUA, numberOfKeys: 2 });
    redis.defineCommand('ueeHeartbeat', { lua: HEARTBEAT_LUA, numberOfKeys: 1 });
    redis.defineCommand('ueeRoster', { lua: ROSTER_LUA, numberOfKeys: 1 });
    redis.defineCommand('ueeReadQueues', { lua: READ_QUEUES_LUA });
    redis.defineCommand('ueeAckQueues', { lua: ACK_QUEUES_LUA });
    redis.defineCommand('ueeEnsureQueue', { lua: ENSURE_QUEUE_LUA, numberOfKeys: 2 });
    redis.defineCommand('ueeQueuePage', { lua: QUEUE_PAGE_LUA, numberOfKeys: 1 });
    this.#redis = redis as Redis & BusCommands;
    this.#keys = keys;
    this.#opts = options;
    this.#log = logger;
    this.#safeUrl = safeUrl;
    this.#blocking = new BlockingPool(redis);
    this.#fenced = new FencedReads(this.#blocking);
    this.#signals = new SignalListeners(redis, logger, `uee-signals:${keys.signalPrefix}`.replace(/\s/g, '_'));
    // Retention runs every ~10% of the cap (at most every 1,000 appends), as in the embedded bus.
    this.#trimEvery = Math.min(1_000, Math.max(1, Math.ceil(options.maxLength / 10)));
  }

  /** The queue stream of a group already known to be a queue, without a round trip (or an await). */
  #knownQueue(group: string): string | undefined {
    return this.#queues.has(group) ? this.#keys.queuePrefix + group : undefined;
  }

  /** The stream a group reads: its queue stream for a queue, else the event stream. */
  async #streamOf(group: string): Promise<string> {
    const known = this.#knownQueue(group);
    if (known !== undefined) return known;
    const checked = this.#plain.get(group);
    if (checked !== undefined && Date.now() - checked < PLAIN_GROUP_TTL_MS) return this.#keys.stream;
    if ((await this.#redis.exists(this.#keys.queuePrefix + group)) === 1) {
      this.#queues.add(group);
      this.#plain.delete(group);
      return this.#keys.queuePrefix + group;
    }
    this.#plain.set(group, Date.now());
    return this.#keys.stream;
  }

  /** Trims the event stream when due, never past what a group still needs (see TRIM_LUA). */
  async #maybeTrim(appended: number): Promise<void> {
    this.#sinceTrim += appended;
    if (this.#sinceTrim < this.#trimEvery) return;
    this.#sinceTrim = 0;
    const [kept, holder] = await this.#redis.ueeTrim(this.#keys.stream, this.#keys.advisory, this.#opts.maxLength);
    if (Number(kept) > 0 && Date.now() - this.#lastHeldWarning >= HELD_WARNING_EVERY_MS) {
      this.#lastHeldWarning = Date.now();
      this.#log.warn('retention held back: a group still needs entries beyond maxLength', { group: holder, keptOverCap: Number(kept), maxLength: this.#opts.maxLength });
    }
  }

  publish(events: EventEnvelope[], options?: PublishOptions): Promise<PublishResult> {
    return this.#run(async () => {
      const encoded = checkPublishBatch(events);
      // Checked by the script against Redis's clock, as it appends: no pause of this process in between.
      const deadline = publishDeadline(options, this.#opts.settledDedupeMs) ?? 0;
      if (encoded.length === 0) return { ids: [] };
      if (encoded.length <= PUBLISH_CHUNK) {
        const ids = published(await this.#redis.ueePublish(...this.#publishArgs(events, encoded, 0, encoded.length, deadline)), deadline);
        await this.#maybeTrim(ids.length);
        return { ids };
      }
      const pipe = this.#redis.pipeline() as ChainableCommander & BusCommands;
      for (let start = 0; start < encoded.length; start += PUBLISH_CHUNK) {
        void pipe.ueePublish(...this.#publishArgs(events, encoded, start, Math.min(encoded.length, start + PUBLISH_CHUNK), deadline));
      }
      // Chunks before a stale one are appended (their ids then remembered): a publish read again is not doubled.
      const ids: Array<string | null> = [];
      for (const [err, result] of (await pipe.exec()) ?? []) {
        if (err) throw err;
        ids.push(...published(result as Array<string | null> | string, deadline));
      }
      await this.#maybeTrim(ids.length);
      return { ids };
    });
  }

  #publishArgs(events: EventEnvelope[], encoded: string[], start: number, end: number, deadline: number): [number, ...Array<string | number>] {
    const size = end - start;
    const args = new Array<string | number>(2 * size + 3);
    args[0] = this.#keys.stream;
    for (let i = 0; i < size; i++) {
      args[1 + i] = this.#keys.dedupePrefix + events[start + i]!.eventId;
      args[size + 3 + i] = encoded[start + i]!;
    }
    args[size + 1] = this.#opts.dedupeWindowMs;
    args[size + 2] = deadline;
    return [size + 1, ...args];
  }

  settle(eventIds: string[]): Promise<void> {
    return this.#run(async () => {
      checkEventIds(eventIds);
      if (eventIds.length === 0) return;
      const keys = eventIds.map((id) => this.#keys.dedupePrefix + id);
      const pipe = this.#redis.pipeline() as ChainableCommander & BusCommands;
      for (let start = 0; start < keys.length; start += PUBLISH_CHUNK) {
        const chunk = keys.slice(start, start + PUBLISH_CHUNK);
        void pipe.ueeSettle(chunk.length, ...chunk, this.#opts.settledDedupeMs);
      }
      for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
    });
  }

  ensureGroup(group: string, start: GroupStart = 'latest', options?: GroupOptions): Promise<void> {
    return this.#run(async () => {
      checkName(group, 'group');
      if (options?.retention === 'advisory') await this.#redis.sadd(this.#keys.advisory, group);
      else await this.#redis.srem(this.#keys.advisory, group);
      try {
        await this.#redis.xgroup('CREATE', this.#keys.stream, group, start === 'latest' ? '$' : '0', 'MKSTREAM');
      } catch (err) {
        if (!(err instanceof Error && err.message.startsWith('BUSYGROUP'))) throw err;
      }
    });
  }

  ensureQueue(group: string): Promise<void> {
    return this.#run(async () => {
      checkName(group, 'group');
      await this.#redis.ueeEnsureQueue(this.#keys.queuePrefix + group, this.#keys.queueIndex, group);
      // An older per-plugin group of this name on the event stream would hold retention back forever.
      const legacy = ((await this.#redis.xinfo('GROUPS', this.#keys.stream).catch(() => [])) as unknown[][])
        .map(fieldsToRecord)
        .find((g) => g.name === group);
      if (legacy) {
        const deadLettered = await this.#deadLetterLegacy(group);
        await this.#redis.xgroup('DESTROY', this.#keys.stream, group);
        if (deadLettered > 0) this.#log.error('a plain group became a queue; its unfinished entries were dead-lettered: redrive them to handle them', { group, deadLettered });
      }
      this.#queues.add(group);
      this.#plain.delete(group);
    });
  }

  /**
   * Dead-letters what an older plain group of this name on the event stream has not finished — its
   * pending entries, then those it never read — before the group is destroyed: they cannot move into
   * the queue atomically on Redis, and dropping them would lose them silently. Each letter is
   * recorded once even when two processes upgrade at once (the dead-letter script acks first).
   * Returns how many letters were recorded.
   */
  async #deadLetterLegacy(group: string): Promise<number> {
    const stream = this.#keys.stream;
    const error = { code: 'UPGRADED_TO_QUEUE', message: `delivered to the plain group ${group} before it became a queue; not handled there` };
    let recorded = 0;
    const letters = async (raw: RawEntry[]): Promise<number> => {
      const valid = await screenEntries(parseEntries(raw, () => 1), group, this.#corruptSink(group), this.#log);
      const now = new Date();
      if (valid.length === 0) return raw.length;
      recorded += await this.#deadLetterPairs(stream, group, '', valid.map((d) => ({ tenantId: d.event.tenantId, id: d.id, record: encodeDeadRecord(group, d, error, undefined, now) })));
      return raw.length;
    };
    for (;;) {
      const [, pending] = (await this.#redis.call('XAUTOCLAIM', stream, group, LEGACY_UPGRADER, 0, '0-0', 'COUNT', LEGACY_BATCH)) as [string, RawEntry[]];
      if ((await letters(pending.filter((e) => e !== null))) === 0) break;
    }
    for (;;) {
      const reply = (await this.#redis.call('XREADGROUP', 'GROUP', group, LEGACY_UPGRADER, 'COUNT', LEGACY_BATCH, 'STREAMS', stream, '>')) as Array<[string, RawEntry[]]> | null;
      if ((await letters(reply?.[0]?.[1] ?? [])) === 0) break;
    }
    return recorded;
  }

  deleteQueue(group: string): Promise<void> {
    return this.#run(async () => {
      checkName(group, 'group');
      // Only a queue stream is removed: never the event stream a plain group of this name reads.
      await this.#redis.multi().del(this.#keys.queuePrefix + group, this.#keys.leasePrefix + queueLeaseName(group)).srem(this.#keys.queueIndex, group).exec();
      this.#queues.delete(group);
      this.#acksSinceTrim.delete(group);
      this.#overflowWarned.delete(group);
    });
  }

  /**
   * Every queue, from the queue index ({@link RedisBusKeys.queueIndex}) a page at a time: O(queues).
   * (Until 2026-12-07 this walked every key in Redis with SCAN: with the de-duplication keys of the
   * last minute's events, and whatever else shares the server, each housekeeping sweep cost
   * O(events published), every 15 s.)
   */
  queues(): Promise<string[]> {
    return this.#run(async () => {
      const out = new Set<string>();
      let cursor = '0';
      do {
        const [next, names] = await this.#redis.ueeQueuePage(this.#keys.queueIndex, this.#keys.queuePrefix, cursor, QUEUE_PAGE);
        cursor = String(next);
        for (const name of names) out.add(name);
      } while (cursor !== '0');
      return [...out];
    });
  }

  /**
   * Names in the queue index every queue stream made before the index existed (by a process of an
   * earlier version), with one walk of the keyspace: run once per open, before anything lists the
   * queues. Returns how many names it added.
   */
  async indexQueues(): Promise<number> {
    const prefix = this.#keys.queuePrefix;
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let added = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) added += await this.#redis.sadd(this.#keys.queueIndex, ...keys.map((k) => k.slice(prefix.length)));
    } while (cursor !== '0');
    return added;
  }

  lease(name: string, owner: string, ttlMs: number, options?: LeaseOptions): Promise<boolean> {
    return this.#run(async () => {
      checkName(name, 'lease');
      checkName(owner, 'owner');
      if (options?.liveness === true) {
        return Number(await this.#redis.ueeLeaseLive(this.#keys.leasePrefix + name, this.#keys.alivePrefix + owner, owner, this.#keys.alivePrefix)) === 1;
      }
      return Number(await this.#redis.ueeLease(this.#keys.leasePrefix + name, owner, Math.max(1, Math.floor(ttlMs)))) === 1;
    });
  }

  heartbeat(owner: string, ttlMs: number): Promise<boolean> {
    return this.#run(async () => {
      checkName(owner, 'owner');
      if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new UeeError('VALIDATION_FAILED', `heartbeat ttlMs must be a non-negative number, got ${String(ttlMs)}`, { details: { ttlMs } });
      return Number(await this.#redis.ueeHeartbeat(this.#keys.alivePrefix + owner, Math.floor(ttlMs))) === 1;
    });
  }

  roster(name: string, owner: string, ttlMs: number): Promise<string[]> {
    return this.#run(async () => {
      checkName(name, 'roster');
      checkName(owner, 'owner');
      if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new UeeError('VALIDATION_FAILED', `roster ttlMs must be a non-negative number, got ${String(ttlMs)}`, { details: { ttlMs } });
      return await this.#redis.ueeRoster(this.#keys.rosterPrefix + name, owner, Math.floor(ttlMs), this.#keys.alivePrefix);
    });
  }

  counter(name: string, add = 0): Promise<number> {
    return this.#run(async () => {
      checkName(name, 'counter');
      return Number(await this.#redis.incrby(this.#keys.counterPrefix + name, checkCounterAdd(add)));
    });
  }

  releaseLease(name: string, owner: string): Promise<void> {
    return this.#run(async () => {
      checkName(name, 'lease');
      checkName(owner, 'owner');
      await this.#redis.ueeRelease(this.#keys.leasePrefix + name, owner);
    });
  }

  /**
   * Hands entries over to queues and keeps each target queue within `maxQueueLength` undelivered, in
   * one script (ROUTE_LUA): a queue's oldest undelivered beyond the cap become `QUEUE_OVERFLOW` dead
   * letters in the same atomic step, so no reader of the bus sees the queue over its cap after the
   * hand-over. What the script leaves (a backlog beyond what this route added plus OVERFLOW_BATCH —
   * the cap lowered, an older UEE's queue — or a lag Redis < 7 cannot tell) is lettered by
   * {@link RedisBus.#overflow} before this answers. Should that fail, the error is thrown though the
   * hand-over is done: routing the same entries again hands nothing twice.
   */
  route(fromGroup: string, items: readonly RouteItem[]): Promise<number> {
    return this.#run(async () => {
      checkName(fromGroup, 'group');
      checkEntryIds(items.map((i) => i.id));
      if (items.length === 0) return 0;
      const k = this.#keys;
      const keyIndex = new Map<string, number>();
      const keys: string[] = [k.stream, k.dead, k.deadSizes, k.advisory];
      /** The target queues' groups, by their index in keys. */
      const targets: string[] = ['', '', '', ''];
      // The ids' range: the script reads the group's pending list and the stream over it once.
      let lo = items[0]!.id;
      let hi = lo;
      let pairs = 0;
      for (const item of items) {
        if (compareIds(item.id, lo) < 0) lo = item.id;
        if (compareIds(item.id, hi) > 0) hi = item.id;
        pairs += item.groups.length;
      }
      const o = this.#opts;
      const args: Array<string | number> = [fromGroup, lo, hi, items.length, o.maxQueueLength, pairs + OVERFLOW_BATCH, k.deadIndexPrefix, o.maxDeadLettersPerTenant, o.maxDeadLetters, new Date().toISOString()];
      for (const item of items) {
        args.push(item.id, item.groups.length);
        for (const g of item.groups) {
          let index = keyIndex.get(g);
          if (index === undefined) {
            checkName(g, 'group');
            keys.push(k.queuePrefix + g);
            targets.push(g);
            index = keys.length;
            keyIndex.set(g, index);
          }
          args.push(index);
        }
      }
      let reply: number[];
      try {
        reply = await this.#redis.ueeRoute(keys.length, ...keys, ...args);
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('NOQUEUE')) {
          const queue = err.message.slice('NOQUEUE '.length).trim().slice(k.queuePrefix.length);
          throw new UeeError('NOT_FOUND', `no queue "${queue}"`, { details: { group: queue }, hint: 'create it with ensureQueue first' });
        }
        throw err;
      }
      for (let r = 1; r + 4 < reply.length; r += 5) {
        const [index, lettered, corrupt, trimmed, left] = reply.slice(r, r + 5).map(Number) as [number, number, number, number, number];
        await this.#overflow(targets[index - 1]!, { lettered, corrupt, trimmed, left });
      }
      return Number(reply[0]);
    });
  }

  /**
   * Finishes a queue's overflow that ROUTE_LUA began (`done`: what it lettered, and `left`, the
   * undelivered still over the cap, -1 when unknown), a batch at a time with OVERFLOW_LUA (the same
   * atomic dead-lettering, see OVERFLOW_HELPERS in scripts.ts), and logs it: per queue at most once a
   * minute, with the entries dead-lettered since the last warning. Stops when the queue is within its
   * cap — or after the passes its first count called for and a few more, so a route never spins on
   * a queue others keep filling (their routes bound what they add).
   */
  async #overflow(group: string, done: { lettered: number; corrupt: number; trimmed: number; left: number }): Promise<void> {
    const k = this.#keys;
    const o = this.#opts;
    let { lettered, corrupt, left } = done;
    if (done.trimmed > 0) this.#deadTrimmed(done.trimmed);
    // Unknown (-1) until the first pass has counted.
    let passes = left < 0 ? undefined : Math.ceil(left / OVERFLOW_BATCH) + 4;
    for (let pass = 0; left !== 0 && (passes === undefined || pass < passes); pass++) {
      const [n, bad, trimmed, over] = (await this.#redis.ueeOverflow(k.queuePrefix + group, k.dead, k.deadSizes, k.advisory, o.maxQueueLength, OVERFLOW_BATCH, k.deadIndexPrefix, o.maxDeadLettersPerTenant, o.maxDeadLetters, new Date().toISOString())).map(Number) as [number, number, number, number];
      lettered += n;
      corrupt += bad;
      if (trimmed > 0) this.#deadTrimmed(trimmed);
      left = over;
      passes ??= pass + 1 + Math.ceil(over / OVERFLOW_BATCH) + 4;
    }
    if (lettered === 0) return;
    const warned = this.#overflowWarned.get(group) ?? { at: 0, since: 0 };
    warned.since += lettered;
    this.#overflowWarned.set(group, warned);
    if (Date.now() - warned.at < HELD_WARNING_EVERY_MS) return;
    this.#log.warn('queue overflow: a queue held more than maxQueueLength undelivered entries; its oldest were dead-lettered undelivered (QUEUE_OVERFLOW)', {
      queue: group,
      // Since the last warning of this queue, this route's included.
      deadLettered: warned.since,
      ...(corrupt > 0 ? { corruptData: corrupt } : {}),
      ...(left > 0 ? { stillOver: left } : {}),
      maxQueueLength: o.maxQueueLength,
    });
    warned.at = Date.now();
    warned.since = 0;
  }

  /** PUBLISH on `<prefix>signal:<channel>`: Redis's pub/sub, at most once, to the subscribers of the moment. */
  signal(channel: string, message: string): Promise<void> {
    return this.#run(async () => {
      checkName(channel, 'channel');
      await this.#redis.publish(this.#keys.signalPrefix + channel, message);
    });
  }

  listen(channel: string, handlers: SignalHandlers): Promise<() => void> {
    return this.#run(async () => {
      checkName(channel, 'channel');
      return this.#signals.listen(this.#keys.signalPrefix + channel, handlers);
    });
  }

  pruneConsumers(group: string, options: PruneOptions): Promise<number> {
    return this.#run(async () => {
      checkName(group, 'group');
      const { idleMs, consumer } = checkPruneOptions(options);
      return this.#redis.ueePrune(await this.#streamOf(group), group, idleMs, consumer ?? '');
    });
  }

  async read(group: string, consumer: string, options?: ReadOptions): Promise<Delivery[]> {
    this.#life.assertOpen();
    checkName(group, 'group');
    checkName(consumer, 'consumer');
    const { count, blockMs, lease } = checkReadOptions(options);
    const deadline = Date.now() + blockMs;
    for (;;) {
      const left = deadline - Date.now();
      if (blockMs > 0 && left <= 0) return [];
      const wait = blockMs > 0 ? Math.max(1, Math.ceil(left)) : 0;
      const entries = lease === undefined ? await this.#readGroup(group, consumer, count, wait) : await this.#readFenced(group, consumer, count, wait, lease);
      if (entries === undefined) continue; // something new after a fenced read's wait: read again under the lease
      if (entries.length === 0) return [];
      const valid = await screenEntries(entries, group, this.#corruptSink(group), this.#log);
      if (valid.length > 0 || blockMs === 0) return valid;
    }
  }

  /**
   * A read under a lease (see {@link ReadOptions.lease}): Redis runs it only while the lease key names
   * the consumer ({@link FencedReads}). A blocked XREADGROUP could not be fenced: it waits on the
   * server and takes what arrives even after the lease moved (the caller paused meanwhile). So when
   * nothing is new, the wait is a plain XREAD BLOCK after the stream's last entry (read in the same
   * step as the read), which takes nothing; undefined when it saw something (read again).
   */
  async #readFenced(group: string, consumer: string, count: number, blockMs: number, lease: string): Promise<Array<Delivery | CorruptEntry> | undefined> {
    const stream = await this.#guard(() => this.#streamOf(group));
    let read: FencedRead | 'not-holder';
    try {
      read = await this.#fenced.read(stream, group, consumer, count, this.#keys.leasePrefix + lease, blockMs > 0);
    } catch (err) {
      if (this.#life.closed) return []; // close() broke the read
      throw toBusError(err, this.#safeUrl, false);
    }
    if (read === 'not-holder') throw notHolder(lease, consumer);
    if (read.entries.length > 0) return parseEntries(read.entries, () => 1);
    if (blockMs === 0) return [];
    const seen = await this.#blockingCall('XREAD', ['COUNT', 1, 'BLOCK', blockMs, 'STREAMS', stream, read.last!]);
    return seen === null ? [] : undefined;
  }

  async #readGroup(group: string, consumer: string, count: number, blockMs: number): Promise<Array<Delivery | CorruptEntry>> {
    const stream = await this.#guard(() => this.#streamOf(group));
    const args = ['GROUP', group, consumer, 'COUNT', count, ...(blockMs > 0 ? ['BLOCK', blockMs] : []), 'STREAMS', stream, '>'];
    const reply = blockMs === 0 ? await this.#guard(() => this.#redis.call('XREADGROUP', ...args)) : await this.#blockingCall('XREADGROUP', args);
    const streams = reply as Array<[string, RawEntry[]]> | null;
    return parseEntries(streams?.[0]?.[1] ?? [], () => 1);
  }

  /**
   * A blocking command on a connection of its own, so it never holds up publishers or other groups'
   * reads on the shared one. Null, as a timed-out wait answers, when close() broke it.
   */
  async #blockingCall(name: string, args: Array<string | number>): Promise<unknown> {
    const conn = this.#blocking.acquire();
    try {
      return await conn.call(name, ...args);
    } catch (err) {
      if (this.#life.closed) return null;
      throw toBusError(err, this.#safeUrl, false);
    } finally {
      this.#blocking.release(conn);
    }
  }

  /**
   * Reads many queues for one consumer in ONE command (see {@link EventBus.readQueues}): a script
   * doing one non-blocking XREADGROUP per queue (each queue is its own stream and group); a queue
   * whose read fails (e.g. deleted: `NOT_FOUND`) fails only its own part.
   */
  async readQueues(consumer: string, reads: readonly QueueRead[]): Promise<Array<QueueOutcome<Delivery[]>>> {
    this.#life.assertOpen();
    checkName(consumer, 'consumer');
    const out = new Array<QueueOutcome<Delivery[]>>(reads.length);
    const todo: Array<{ i: number; group: string; lease: string | undefined }> = [];
    const keys: string[] = [];
    const args: Array<string | number> = [consumer];
    for (let i = 0; i < reads.length; i++) {
      const { group } = reads[i]!;
      try {
        checkName(group, 'group');
        const { count, lease } = checkReadOptions(reads[i]);
        const stream = this.#knownQueue(group) ?? (await this.#guard(() => this.#streamOf(group)));
        if (stream === this.#keys.stream) throw new UeeError('NOT_FOUND', `no queue "${group}"`, { details: { group }, hint: 'create it with ensureQueue first' });
        keys.push(stream);
        args.push(group, count, lease === undefined ? '' : this.#keys.leasePrefix + lease);
        todo.push({ i, group, lease });
      } catch (err) {
        out[i] = { ok: false, error: toBusError(err, this.#safeUrl, this.#life.closed) };
      }
    }
    if (todo.length === 0) return out;
    const replies = await this.#guard(() => this.#redis.ueeReadQueues(keys.length, ...keys, ...args));
    for (let k = 0; k < todo.length; k++) {
      const { i, group, lease } = todo[k]!;
      const reply = replies[k];
      if (reply === FENCED_REPLY && lease !== undefined) {
        out[i] = { ok: false, error: notHolder(lease, consumer) };
        continue;
      }
      if (typeof reply === 'string' || reply === undefined) {
        out[i] = { ok: false, error: replyError(reply ?? 'no reply for this queue', this.#safeUrl) };
        continue;
      }
      try {
        const entries = parseEntries(reply, () => 1);
        out[i] = { ok: true, value: entries.length === 0 ? [] : await screenEntries(entries, group, this.#corruptSink(group), this.#log) };
      } catch (e) {
        out[i] = { ok: false, error: toBusError(e, this.#safeUrl, this.#life.closed) };
      }
    }
    return out;
  }

  /** Acks of many queues in ONE command (see {@link EventBus.ackQueues}); queues due a trim are trimmed after. */
  ackQueues(acks: readonly QueueAck[]): Promise<Array<QueueOutcome<number>>> {
    return this.#run(async () => {
      const out = new Array<QueueOutcome<number>>(acks.length);
      const todo: Array<{ i: number; group: string; stream: string }> = [];
      const keys: string[] = [];
      const args: string[] = [];
      for (let i = 0; i < acks.length; i++) {
        const { group, ids } = acks[i]!;
        try {
          checkName(group, 'group');
          checkEntryIds(ids);
          if (ids.length === 0) {
            out[i] = { ok: true, value: 0 };
            continue;
          }
          const stream = this.#knownQueue(group) ?? (await this.#streamOf(group));
          keys.push(stream);
          args.push(group, String(ids.length), ...ids);
          todo.push({ i, group, stream });
        } catch (err) {
          out[i] = { ok: false, error: toBusError(err, this.#safeUrl, this.#life.closed) };
        }
      }
      if (todo.length === 0) return out;
      const replies = await this.#redis.ueeAckQueues(keys.length, ...keys, ...args);
      const trims: string[] = [];
      for (let k = 0; k < todo.length; k++) {
        const { i, group, stream } = todo[k]!;
        const reply = replies[k];
        if (typeof reply === 'string' || reply === undefined) {
          out[i] = { ok: false, error: replyError(reply ?? 'no reply for this queue', this.#safeUrl) };
          continue;
        }
        const acked = Number(reply);
        out[i] = { ok: true, value: acked };
        if (stream === this.#keys.stream) continue;
        const since = (this.#acksSinceTrim.get(group) ?? 0) + acked;
        this.#acksSinceTrim.set(group, since >= QUEUE_TRIM_EVERY ? 0 : since);
        if (since >= QUEUE_TRIM_EVERY) trims.push(stream);
      }
      for (const stream of trims) await this.#redis.ueeTrimQueue(stream, this.#keys.advisory);
      return out;
    });
  }

  renew(group: string, consumer: string, ids: string[]): Promise<number> {
    return this.#run(async () => {
      checkName(group, 'group');
      checkName(consumer, 'consumer');
      checkEntryIds(ids);
      if (ids.length === 0) return 0;
      return Number(await this.#redis.ueeRenew(await this.#streamOf(group), group, consumer, ...ids));
    });
  }

  handBack(group: string, consumer: string, deliveries: ReadonlyArray<Pick<Delivery, 'id' | 'deliveryCount'>>): Promise<number> {
    return this.#run(async () => {
      checkName(group, 'group');
      checkName(consumer, 'consumer');
      checkEntryIds(deliveries.map((d) => d.id));
      if (deliveries.length === 0) return 0;
      return Number(await this.#redis.ueeHandBack(await this.#streamOf(group), group, consumer, ...deliveries.flatMap((d) => [d.id, String(d.deliveryCount)])));
    });
  }

  ack(group: string, ids: string[]): Promise<number> {
    return this.#run(async () => {
      checkName(group, 'group');
      checkEntryIds(ids);
      if (ids.length === 0) return 0;
      const stream = await this.#streamOf(group);
      const acked = await this.#redis.xack(stream, group, ...ids);
      if (stream !== this.#keys.stream) {
        const since = (this.#acksSinceTrim.get(group) ?? 0) + acked;
        this.#acksSinceTrim.set(group, since >= QUEUE_TRIM_EVERY ? 0 : since);
        if (since >= QUEUE_TRIM_EVERY) await this.#redis.ueeTrimQueue(stream, this.#keys.advisory);
      }
      return acked;
    });
  }

  pending(group: string, options?: { consumer?: string; count?: number }): Promise<PendingEntry[]> {
    return this.#run(async () => {
      checkName(group, 'group');
      const count = checkCount(options?.count, 'pending');
      const consumer = options?.consumer === undefined ? [] : [checkName(options.consumer, 'consumer')];
      const rows = (await this.#redis.call('XPENDING', await this.#streamOf(group), group, '-', '+', count, ...consumer)) as Array<[string, string, number, number]>;
      return rows.map(([id, owner, idleMs, deliveryCount]) => ({ id, consumer: owner, idleMs: Number(idleMs), deliveryCount: Number(deliveryCount) }));
    });
  }

  claimStale(group: string, consumer: string, options: ClaimOptions): Promise<Delivery[]> {
    return this.#run(async () => {
      checkName(group, 'group');
      checkName(consumer, 'consumer');
      const { minIdleMs, count, lease } = checkClaimOptions(options);
      const alive = options.deadOwners === true ? this.#keys.alivePrefix : '';
      const [entries, counts, deleted, fenced] = await this.#redis.ueeClaim(await this.#streamOf(group), group, consumer, minIdleMs, count, alive, lease === undefined ? '' : this.#keys.leasePrefix + lease);
      if (fenced === 1) throw notHolder(lease!, consumer);
      if (deleted > 0) this.#log.info('claimed entries were trimmed from the stream; dropped from the PEL', { group, deleted });
      // One scan of the PEL in stream order (see CLAIM_LUA): already in order.
      const decoded = parseEntries(entries, (i) => Number(counts[i] ?? 1));
      return screenEntries(decoded, group, this.#corruptSink(group), this.#log);
    });
  }

  deadLetter(group: string, delivery: Delivery, error: { code: string; message: string }, attempts?: DeadLetter['attempts'], holder?: string): Promise<boolean> {
    return this.#run(async () => {
      checkName(group, 'group');
      checkEntryIds([delivery.id]);
      const record = encodeDeadRecord(group, delivery, error, attempts, new Date());
      const recorded = await this.#deadLetterPairs(await this.#streamOf(group), group, holder === undefined ? '' : checkName(holder, 'consumer'), [{ tenantId: delivery.event.tenantId, id: delivery.id, record }]);
      return recorded === 1;
    });
  }

  /** Dead-letters entries of `stream` (one script call per tenant, in order); returns how many were recorded. */
  async #deadLetterPairs(stream: string, group: string, holder: string, letters: ReadonlyArray<{ tenantId: string | null; id: string; record: string }>): Promise<number> {
    const byTenant = new Map<string, string[]>();
    for (const l of letters) {
      const t = l.tenantId ?? '';
      const pairs = byTenant.get(t);
      if (pairs === undefined) byTenant.set(t, [l.id, l.record]);
      else pairs.push(l.id, l.record);
    }
    let recorded = 0;
    const k = this.#keys;
    for (const [tenant, pairs] of byTenant) {
      const [n, trimmed] = await this.#redis.ueeDeadLetter(stream, k.dead, k.deadIndexPrefix + tenant, k.deadSizes, group, holder, tenant, this.#opts.maxDeadLettersPerTenant, this.#opts.maxDeadLetters, k.deadIndexPrefix, ...pairs);
      recorded += Number(n);
      if (Number(trimmed) > 0) this.#deadTrimmed(Number(trimmed));
    }
    return recorded;
  }

  #deadTrimmed(count: number): void {
    this.#deadTrimmedCount += count;
    if (Date.now() - this.#lastDeadTrimWarning < HELD_WARNING_EVERY_MS) return;
    this.#lastDeadTrimWarning = Date.now();
    this.#log.warn('dead letters trimmed: the oldest of a tenant over maxDeadLettersPerTenant, or of the tenant holding the most past maxDeadLetters, went', {
      trimmed: this.#deadTrimmedCount,
      maxDeadLettersPerTenant: this.#opts.maxDeadLettersPerTenant,
      maxDeadLetters: this.#opts.maxDeadLetters,
    });
  }

  #corruptSink(group: string): CorruptSink {
    return (letters) =>
      this.#run(async () => {
        const now = new Date();
        await this.#deadLetterPairs(
          await this.#streamOf(group),
          group,
          '',
          letters.map(({ delivery, error }) => ({ tenantId: delivery.event.tenantId, id: delivery.id, record: encodeDeadRecord(group, delivery, error, undefined, now) })),
        );
      });
  }

  deadLetters(options?: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.#run(async () => {
      const count = checkCount(options?.count, 'dead letters');
      const group = options?.group === undefined ? undefined : checkName(options.group, 'group');
      const tenant = deadLetterTenant(options?.tenantId);
      const newest = options?.newestFirst === true;
      const page = group === undefined ? count : Math.max(count, 500);
      const letters: DeadLetter[] = [];
      /** Adds the letters of `rows` (of `group`, when one is asked for); true once `count` are in. */
      const take = (rows: RawEntry[]): boolean => {
        for (const entry of rows) {
          const letter = this.#letterOf(entry, group);
          if (letter) letters.push(letter);
          if (letters.length >= count) return true;
        }
        return false;
      };
      if (tenant === undefined) {
        // Every tenant's: the stream itself, in id order.
        let from = newest ? '+' : '-';
        for (;;) {
          const rows = (newest ? await this.#redis.xrevrange(this.#keys.dead, from, '-', 'COUNT', page) : await this.#redis.xrange(this.#keys.dead, from, '+', 'COUNT', page)) as RawEntry[];
          if (take(rows)) return letters;
          const last = rows[rows.length - 1];
          if (!last || rows.length < page) return letters;
          from = `(${last[0]}`;
        }
      }
      // One tenant's: its index, a page of ids at a time, each letter read by id.
      const index = this.#keys.deadIndexPrefix + tenant;
      for (let at = 0; ; at += page) {
        const ids = newest ? (await this.#redis.lrange(index, -(at + page), -(at + 1))).reverse() : await this.#redis.lrange(index, at, at + page - 1);
        if (ids.length === 0) return letters;
        if (take(await this.#deadEntries(ids)) || ids.length < page) return letters;
      }
    });
  }

  /** The letter a dead-letter stream entry holds (when of `group`, if one is named); an unreadable one is logged, and undefined. */
  #letterOf([id, fields]: RawEntry, group?: string): DeadLetter | undefined {
    if (fields === null) return undefined;
    const record = fieldsToRecord(fields);
    if (group !== undefined && record.g !== group) return undefined;
    const letter = decodeDeadRecord(id, typeof record.d === 'string' ? record.d : undefined);
    if (letter === undefined) this.#log.warn('skipping unreadable dead letter', { id, raw: rawExcerpt(fields) });
    return letter;
  }

  /** The dead-letter stream's entries of `ids` (one pipelined round trip), in that order; an id whose letter is gone (an older UEE's trim of the whole stream, a delete) is skipped. */
  async #deadEntries(ids: readonly string[]): Promise<RawEntry[]> {
    const pipe = this.#redis.pipeline();
    for (const id of ids) pipe.xrange(this.#keys.dead, id, id);
    const entries: RawEntry[] = [];
    for (const [err, found] of (await pipe.exec()) ?? []) {
      if (err) throw err;
      const entry = (found as RawEntry[])[0];
      if (entry !== undefined) entries.push(entry);
    }
    return entries;
  }

  deadLettersById(ids: readonly string[]): Promise<DeadLetter[]> {
    return this.#run(async () => {
      checkEntryIds([...ids]);
      checkCount(Math.max(1, ids.length), 'dead letter ids');
      const letters: DeadLetter[] = [];
      for (const entry of await this.#deadEntries([...new Set(ids)].sort(compareIds))) {
        const letter = this.#letterOf(entry);
        if (letter) letters.push(letter);
      }
      return letters;
    });
  }

  deleteDeadLetters(ids: readonly string[]): Promise<number> {
    return this.#run(async () => {
      checkEntryIds([...ids]);
      return ids.length === 0 ? 0 : Number(await this.#redis.ueeDeleteDead(this.#keys.dead, this.#keys.deadSizes, this.#keys.deadIndexPrefix, ...ids));
    });
  }

  /**
   * Indexes the dead letters no tenant index holds: those of a stream written before the index, and
   * an older UEE's (no tenant field), from where the last such check ended. Run when the bus opens,
   * by one process at a time (a lock key); a letter an older UEE writes later is indexed at the next
   * open. Returns how many were indexed.
   */
  async indexDeadLetters(): Promise<number> {
    const lock = `${this.#keys.deadIndexedUpTo}:lock`;
    if ((await this.#redis.set(lock, '1', 'PX', 60_000, 'NX')) !== 'OK') return 0;
    let indexed = 0;
    try {
      let from = (await this.#redis.get(this.#keys.deadIndexedUpTo)) ?? '-';
      for (;;) {
        const rows = (await this.#redis.xrange(this.#keys.dead, from === '-' ? '-' : `(${from}`, '+', 'COUNT', 1000)) as RawEntry[];
        if (rows.length === 0) return indexed;
        const pairs: string[] = [];
        for (const [id, fields] of rows) {
          const record = fields === null ? {} : fieldsToRecord(fields);
          if (typeof record.t === 'string') continue;
          pairs.push(id, decodeDeadRecord(id, typeof record.d === 'string' ? record.d : undefined)?.event.tenantId ?? '');
        }
        if (pairs.length > 0) indexed += Number(await this.#redis.ueeIndexDead(this.#keys.deadSizes, this.#keys.deadIndexPrefix, ...pairs));
        from = rows[rows.length - 1]![0];
        await this.#redis.set(this.#keys.deadIndexedUpTo, from);
      }
    } finally {
      await this.#redis.del(lock);
    }
  }

  range(startId: string, count: number): Promise<StreamEntry[]> {
    return this.#run(async () => {
      if (startId !== '-') checkEntryIds([startId]);
      const rows = (await this.#redis.xrange(this.#keys.stream, startId, '+', 'COUNT', checkCount(count, 'range'))) as RawEntry[];
      const out: StreamEntry[] = [];
      for (const entry of parseEntries(rows, () => 1)) if (!isCorrupt(entry)) out.push({ id: entry.id, event: entry.event });
      return out;
    });
  }

  groupInfo(group: string): Promise<GroupInfo> {
    return this.#run(async () => {
      checkName(group, 'group');
      const stream = await this.#streamOf(group);
      const groups = (await this.#redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
      const info = groups.map(fieldsToRecord).find((g) => g.name === group);
      if (!info) throw new UeeError('NOT_FOUND', `no consumer group "${group}"`, { details: { group }, hint: 'create it with ensureGroup first' });
      const consumers = ((await this.#redis.xinfo('CONSUMERS', stream, group)) as unknown[][]).map(fieldsToRecord);
      const last = info['last-delivered-id'];
      const lastDeliveredId = typeof last === 'string' ? last : '0-0';
      const lag = info.lag === undefined || info.lag === null ? await countAfter(this.#redis, stream, lastDeliveredId) : Number(info.lag);
      return {
        group,
        pending: Number(info.pending ?? 0),
        lag,
        consumers: consumers.map((c) => ({ name: typeof c.name === 'string' ? c.name : '', pending: Number(c.pending ?? 0), idleMs: Number(c.idle ?? 0) })),
        lastDeliveredId,
      };
    });
  }

  queueBacklogs(groups: readonly string[], cap: number): Promise<Array<QueueBacklog | null>> {
    return this.#run(async () => {
      for (const group of groups) checkName(group, 'group');
      const upTo = checkCount(cap, 'backlog');
      if (groups.length === 0) return [];
      // One pipeline: each queue's group record (its pending count and, unless deleted entries hide it, its lag).
      const pipeline = this.#redis.pipeline();
      for (const group of groups) pipeline.xinfo('GROUPS', this.#keys.queuePrefix + group);
      const replies = (await pipeline.exec()) ?? [];
      return Promise.all(
        groups.map(async (group, i): Promise<QueueBacklog | null> => {
          const [err, reply] = replies[i] ?? [null, undefined];
          if (err !== null || !Array.isArray(reply)) return null; // no such stream: not a queue
          const info = (reply as unknown[][]).map(fieldsToRecord).find((g) => g.name === group);
          if (info === undefined) return null;
          const last = typeof info['last-delivered-id'] === 'string' ? info['last-delivered-id'] : '0-0';
          // No lag (entries deleted inside the range): count what follows the last delivered entry, at most `upTo`.
          const waiting =
            info.lag === undefined || info.lag === null
              ? ((await this.#redis.xrange(this.#keys.queuePrefix + group, last === '0-0' ? '-' : `(${last}`, '+', 'COUNT', upTo)) as unknown[]).length
              : Number(info.lag);
          return { waiting: Math.min(waiting, upTo), inFlight: Math.min(Number(info.pending ?? 0), upTo) };
        }),
      );
    });
  }

  length(): Promise<number> {
    return this.#run(() => this.#redis.xlen(this.#keys.stream));
  }

  close(): Promise<void> {
    return this.#life.close(async () => {
      this.#blocking.closeAll();
      this.#fenced.clear();
      this.#signals.close();
      // Graceful QUIT, but never wait long for a server that has gone away.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([this.#redis.quit(), new Promise((resolve) => (timer = setTimeout(resolve, QUIT_TIMEOUT_MS)))]);
      } catch (err) {
        this.#log.debug('redis quit failed', { error: err });
      } finally {
        clearTimeout(timer);
        this.#redis.disconnect();
      }
    });
  }

  /** Runs an operation: `CLOSED` after close, driver errors mapped by {@link toBusError}. */
  async #run<T>(fn: () => Promise<T>): Promise<T> {
    this.#life.assertOpen();
    return this.#guard(fn);
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toBusError(err, this.#safeUrl, this.#life.closed);
    }
  }
}
