import { UeeError } from '../core/index.js';
import type { AckedAndRead, Delivery, EventBus, QueueOutcome } from '../bus/port.js';

/** Most queues one coalesced bus call covers (bounds how long one embedded transaction holds the write lock). */
const MAX_QUEUES_PER_CALL = 256;

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

interface ReadRequest extends Waiter<Delivery[]> {
  group: string;
  count: number;
  /** Read only while this process holds this bus lease (`ReadOptions.lease`). */
  lease: string | undefined;
}

interface AckRequest {
  ids: string[];
  waiters: Array<Waiter<void>>;
}

/**
 * The bus reads and acks of every queue worker of one process, coalesced: what the workers ask for
 * in one turn of the event loop goes to the bus in one call ({@link EventBus.readQueues} /
 * {@link EventBus.ackQueues}: one SQLite transaction, one Redis pipeline) instead of one per queue.
 * With 1,000 tenants × 1 plugin a dispatched batch wakes hundreds of queues holding a few events
 * each, and the per-queue transaction / round trip was the cost of the run.
 *
 * Only the unit of I/O changes. Each queue still asks for its own read (at most its `batchSize`,
 * when its worker has room), keeps its own order, pending list, lease, retries and backoff, and is
 * served in every call it asked in — so a hot queue never takes another's turn, and a stuck one
 * (its window full, or its lease elsewhere) simply asks for nothing. Outcomes are per queue: one
 * queue's failure (e.g. deleted meanwhile) fails only its own read. Buses without the multi-queue
 * calls get the same coalescing per queue (one `ack` call per queue per turn).
 *
 * A turn's acks and reads go as ONE step where the bus has it ({@link EventBus.ackAndReadQueues}:
 * embedded, one transaction instead of two) when there are both and more than two of them together
 * (queues acked plus queues read). A lone ack and a lone read keep their own calls — one queue's, the
 * one-plugin case: its read then takes no write lock when nothing is unread, and in
 * `bench/routing`'s one-plugin run the shared step measured ~8% fewer events/s (9 of 10 pairs).
 */
export class QueueIo {
  #reads: ReadRequest[] = [];
  /** Shared idle timers by the time they end (see {@link tick}). */
  readonly #ticks = new Map<number, { done: Promise<void>; timer: NodeJS.Timeout; waiters: number }>();
  #acks = new Map<string, AckRequest>();
  #scheduled = false;
  /** Bus calls made and queues served by them, since start (bench and tests read the ratio). */
  readCalls = 0;
  queueReads = 0;
  /** Shared idle timers started, since start (tests read how many queues' waits one timer serves). */
  ticksStarted = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly consumer: string,
  ) {}

  /** `bus.read(group, consumer, { count, lease })`, sent with the other reads asked for this turn. */
  read(group: string, count: number, lease?: string): Promise<Delivery[]> {
    return new Promise((resolve, reject) => {
      this.#reads.push({ group, count, lease, resolve, reject });
      this.#schedule();
    });
  }

  /** Acks `id` in `group` with the other acks of this turn; resolves once the bus has it. */
  ack(group: string, id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let req = this.#acks.get(group);
      if (req === undefined) this.#acks.set(group, (req = { ids: [], waiters: [] }));
      req.ids.push(id);
      req.waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  /**
   * A wait until `at` (ms since the epoch) shared with every other queue waiting until then: one
   * timer, and the polls that follow go in the same turn, so they are read in one bus call. Idle
   * queues poll at the same instants (multiples of their longest wait), so with 1,000 idle queues
   * the safety-net polls are a handful of calls, not one per queue. `release` when done waiting
   * (also when woken early): the timer is cleared once nobody waits for it.
   */
  tick(at: number): { done: Promise<void>; release: () => void } {
    let tick = this.#ticks.get(at);
    if (tick === undefined) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const timer = setTimeout(() => {
        this.#ticks.delete(at);
        resolve();
      }, Math.max(0, at - Date.now()));
      this.ticksStarted++;
      this.#ticks.set(at, (tick = { done, timer, waiters: 0 }));
    }
    const mine = tick;
    mine.waiters++;
    let released = false;
    return {
      done: mine.done,
      release: () => {
        if (released) return;
        released = true;
        if (--mine.waiters > 0 || this.#ticks.get(at) !== mine) return;
        clearTimeout(mine.timer);
        this.#ticks.delete(at);
      },
    };
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const reads = this.#reads;
      const acks = this.#acks;
      this.#reads = [];
      this.#acks = new Map();
      const groups = [...acks];
      // Acks and reads in the same turn share a step when the bus has one (one commit, not two), unless one ack and one read are all.
      const shared = reads.length + groups.length > 2 && reads.length > 0 && groups.length > 0 && this.bus.ackAndReadQueues !== undefined ? MAX_QUEUES_PER_CALL : 0;
      if (shared > 0) void this.#ackAndRead(groups.slice(0, shared), reads.slice(0, shared));
      for (let i = shared; i < reads.length; i += MAX_QUEUES_PER_CALL) void this.#read(reads.slice(i, i + MAX_QUEUES_PER_CALL));
      for (let i = shared; i < groups.length; i += MAX_QUEUES_PER_CALL) void this.#ack(groups.slice(i, i + MAX_QUEUES_PER_CALL));
    });
  }

  async #read(reads: ReadRequest[]): Promise<void> {
    this.readCalls++;
    this.queueReads += reads.length;
    const { bus } = this;
    if (reads.length === 1 || bus.readQueues === undefined) {
      await Promise.all(reads.map((r) => bus.read(r.group, this.consumer, { count: r.count, lease: r.lease }).then(r.resolve, r.reject)));
      return;
    }
    let outcomes: Array<QueueOutcome<Delivery[]>>;
    try {
      outcomes = await bus.readQueues(
        this.consumer,
        reads.map((r) => ({ group: r.group, count: r.count, lease: r.lease })),
      );
    } catch (err) {
      for (const r of reads) r.reject(err);
      return;
    }
    reads.forEach((r, i) => settle(r, outcomes[i]));
  }

  async #ackAndRead(groups: Array<[string, AckRequest]>, reads: ReadRequest[]): Promise<void> {
    this.readCalls++;
    this.queueReads += reads.length;
    let outcomes: AckedAndRead;
    try {
      outcomes = await this.bus.ackAndReadQueues!(
        this.consumer,
        groups.map(([group, req]) => ({ group, ids: req.ids })),
        reads.map((r) => ({ group: r.group, count: r.count, lease: r.lease })),
      );
    } catch (err) {
      for (const [, req] of groups) for (const w of req.waiters) w.reject(err);
      for (const r of reads) r.reject(err);
      return;
    }
    settleAcks(groups, outcomes.acks);
    reads.forEach((r, i) => settle(r, outcomes.reads[i]));
  }

  async #ack(groups: Array<[string, AckRequest]>): Promise<void> {
    const { bus } = this;
    const each = async ([group, req]: [string, AckRequest]): Promise<void> => {
      try {
        await bus.ack(group, req.ids);
        for (const w of req.waiters) w.resolve();
      } catch (err) {
        for (const w of req.waiters) w.reject(err);
      }
    };
    if (groups.length === 1 || bus.ackQueues === undefined) {
      await Promise.all(groups.map(each));
      return;
    }
    let outcomes: Array<QueueOutcome<number>>;
    try {
      outcomes = await bus.ackQueues(groups.map(([group, req]) => ({ group, ids: req.ids })));
    } catch (err) {
      for (const [, req] of groups) for (const w of req.waiters) w.reject(err);
      return;
    }
    settleAcks(groups, outcomes);
  }
}

function settleAcks(groups: Array<[string, AckRequest]>, outcomes: Array<QueueOutcome<number>>): void {
  groups.forEach(([, req], i) => {
    const outcome = outcomes[i];
    for (const w of req.waiters) settle(w, outcome === undefined ? undefined : outcome.ok ? { ok: true, value: undefined } : outcome);
  });
}

function settle<T>(waiter: Waiter<T>, outcome: QueueOutcome<T> | undefined): void {
  if (outcome === undefined) waiter.reject(new UeeError('INTERNAL', 'the bus returned no outcome for a queue of a multi-queue call'));
  else if (outcome.ok) waiter.resolve(outcome.value);
  else waiter.reject(outcome.error);
}
