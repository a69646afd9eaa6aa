import type { Logger } from '../core/index.js';
import { Doorbell, toUeeError } from '../core/index.js';
import { queueLeaseName, type Delivery, type EventBus } from '../bus/port.js';
import { Lease, type HeldFence } from './lease.js';
import { QueueIo } from './queue-io.js';
import type { ProcessLiveness } from './liveness.js';
import type { DeliveryHandler } from './handling.js';
import type { SettingsSource } from './settings.js';
import type { Prepaid } from './chain-budget.js';
import type { RouteEntry } from './subscriptions.js';
import { inHandGroup, type Acquisition, type InHandBudget } from './in-hand.js';

/** Tuning of one queue worker. */
export interface DeliveryOptions {
  /** Deliveries read per round. */
  batchSize: number;
  /**
   * Deliveries of one logical plugin in flight at once (same entity/chain still in order), across
   * the batches read: above `batchSize`, the next batch is read and prepared while one runs.
   */
  concurrency: number;
  /** Entries idle this long in another consumer are reclaimed. */
  claimIdleMs: number;
  /** Consumers of the queue idle this long with nothing pending are removed. */
  consumerIdleMs: number;
  /** First wait when the queue is empty; doubles up to `pollMs`. */
  idleMs: number;
  /** Longest wait on an empty queue (routes queued by other processes are seen this late). */
  pollMs: number;
  /**
   * Whether every delivery queued for this worker wakes it now: this process dispatches the event
   * stream (its dispatcher wakes the worker at once), or it hears the dispatching process's
   * signals (the router's `QUEUED_SIGNAL`). Then an empty queue is polled only every
   * {@link WOKEN_POLL_FACTOR} × `pollMs` (at most `claimIdleMs / 2`, the pace of the worker's claims
   * of stale entries), as a safety net: 1,000 idle queues polled every 500 ms cost 2,000 bus reads a
   * second. Whoever turns it off wakes the workers (the dispatcher when it stops dispatching, the
   * router when its signal subscription is lost), so they poll every `pollMs` again. @default never
   */
  woken?: (() => boolean) | undefined;
  /** This process's heartbeat (Redis): the queue lease is bound to it, and a dead process's entries move at once. */
  liveness?: ProcessLiveness | undefined;
  /**
   * The process's shared queue I/O: this worker's reads and acks go to the bus together with other
   * queues' in one call per turn. @default one of its own (coalesced per queue only)
   */
  io?: QueueIo | undefined;
  /**
   * Whether the split of the queues among the live processes (see `QueueShare`) gives this queue to
   * this process now. A queue another live process should read is handed over: the deliveries in
   * flight finish, the rest stays pending, the lease is released, and the other process's catch-up
   * takes it from there. Such a queue is not asked for again before {@link FOREIGN_QUEUE_TTLS}
   * heartbeat TTLs have passed without its owner taking it (a safety net for views of the roster that differ for a beat, an owner that cannot read the queue); then this process reads
   * one batch and hands it over again.
   * @default always this process's (one process on the bus)
   */
  owns?: (() => boolean) | undefined;
  /**
   * The process's bound on deliveries in hand across every queue ({@link InHandBudget}): room is
   * asked for before each read and given back per delivery finished or left. @default unbounded
   * across queues (each still holds at most `concurrency` plus one batch)
   */
  budget?: InHandBudget | undefined;
  /**
   * A worker that may stop itself when idle (a global plugin's lane, of which a process may know
   * thousands): once its queue has held nothing for it for `afterMs`, with nothing in hand, while
   * `woken` says every delivery queued for it wakes it, it asks `stop` — which, when it agrees, has
   * already removed the worker from where wakes find it, so a delivery queued after that starts a
   * new worker — and stops as on {@link QueueWorker.stop}. @default never
   */
  idleStop?: { readonly afterMs: number; stop(): boolean } | undefined;
}

/** How long a queue the split gives to another process is left to it before this process reads a batch of it anyway, in heartbeat TTLs. */
export const FOREIGN_QUEUE_TTLS = 2;

/** How much longer an empty queue waits between polls while every delivery queued for it wakes it (see {@link DeliveryOptions.woken}). */
export const WOKEN_POLL_FACTOR = 10;

/**
 * Reads one logical plugin's queue and hands each delivery to the {@link DeliveryHandler}: the
 * plugin progresses at its own pace, so a slow or failing plugin holds back nobody else. Deliveries
 * that share an ordering key (the entity, else the correlation chain) run one after another in
 * queue order; each is acked as soon as it is done — never after the whole batch — and the rest of
 * the batch's lease is renewed while it waits, so another process reclaiming stale entries never
 * takes one already handled or still in hand. When a delivery is left pending
 * (stopping) or fails unexpectedly, the deliveries behind it on the same key are not started.
 *
 * Only the process holding the queue's bus lease reads it, so across processes too a queue is
 * handled in its order; a process taking the lease over handles what the previous owner left
 * pending before reading anything new.
 */
export class QueueWorker {
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** Rung when something was queued, when the split changes and on stop. */
  readonly #bell = new Doorbell();
  /** One process at a time reads the queue, so the queue's order is the handling order. */
  readonly #lease: Lease;
  /** The bus name of {@link #lease}: every read and claim of the queue is made under it (see `ReadOptions.lease`). */
  readonly #leaseName: string;
  /** Just took the queue over: what the previous owner left pending is handled before anything new. */
  #catchingUp = false;
  /** The last delivery started per ordering key (entity, else correlation chain), across batches. */
  readonly #chains = new Map<string, Promise<boolean>>();
  /** Deliveries in flight. */
  readonly #inflight = new Set<Promise<void>>();
  /** Ids of the deliveries read and not yet done or left: their entries are renewed. */
  readonly #held = new Set<string>();
  /**
   * Deliveries left unfinished on purpose (stopping, the queue lost, the entity's earlier delivery
   * left): handed back to the bus uncounted ({@link EventBus.handBack}) before the next read, so the
   * crash quarantine never counts them as deliveries the process died during.
   */
  #left: Delivery[] = [];
  /** The first unexpected failure of a delivery in flight. */
  #failure: unknown;
  #renewer: NodeJS.Timeout | undefined;
  /** Wakes `#submit` waiting for room in the window. */
  #slotFreed: (() => void) | undefined;
  /** Reads and acks, coalesced with other queues' (see {@link QueueIo}). */
  readonly #io: QueueIo;
  /** Since when the split has given this queue to another process without this one asking for it (undefined: it is this process's). */
  #foreignSince: number | undefined;
  /** Handed over since the split last gave this queue away (or since this process last asked for it anyway). */
  #handedOver = false;
  /** The wait for room in the process's budget, while there is one (a stop cancels it). */
  #waitingRoom: Acquisition | undefined;
  /** The budget's group this queue counts towards: its tenant (a global plugin's lane: the lane's tenant; its own queue: the global scope). */
  readonly #tenantGroup: string;
  /** The bus queue read: the route's own, or its lane ({@link RouteEntry.queue}). */
  readonly #queue: string;
  /** When a read last found something (or the worker started): see {@link DeliveryOptions.idleStop}. */
  #busyAt = Date.now();

  constructor(
    readonly route: RouteEntry,
    private readonly bus: EventBus,
    private readonly consumer: string,
    private readonly handler: DeliveryHandler,
    private readonly options: DeliveryOptions,
    private readonly log: Logger,
  ) {
    // Fenced: every commit made under the queue carries the lease's token, so a holder that was paused
    // past its lease cannot commit after another process took the queue over.
    this.#queue = route.queue ?? route.group;
    this.#leaseName = queueLeaseName(this.#queue);
    this.#lease = new Lease(bus, this.#leaseName, consumer, options.claimIdleMs, options.liveness, true);
    this.#io = options.io ?? new QueueIo(bus, consumer);
    this.#tenantGroup = inHandGroup(route.laneTenant ?? route.tenantId);
  }

  /** Starts the loop (once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Something was queued: stop waiting. */
  wake(): void {
    this.#bell.ring();
  }

  /** Stops after the deliveries in flight; leaves the rest pending. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.wake();
    this.#waitingRoom?.cancel();
    await this.#loop;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  async #run(): Promise<void> {
    const { bus, consumer, options } = this;
    // The lease of what is in hand: entries still held here are renewed well before they look stale,
    // so another process's claimStale never takes one that is only waiting behind others (it would
    // run twice, out of order, and count towards the crash quarantine).
    this.#renewer = setInterval(() => {
      // The queue's lease too: long work must not let another process start reading behind it. Taken
      // back here after a lapse (the loop is waiting for room), it is a takeover like the loop's own:
      // the lease records the catch-up owed and the loop takes it, so what the other holder left
      // pending comes before anything read later — also before what the loop had read under the
      // lapsed holding and not started yet: that is left pending too (see #deliver).
      // (A queue handed over is not taken back here: only while it is this process's or work is in hand.)
      if (this.#held.size > 0 || this.#mine()) this.#lease.keep().catch((err: unknown) => this.log.warn('renewing a queue lease failed', { error: toUeeError(err).message }));
      if (this.#held.size === 0) return;
      this.bus.renew(this.#queue, this.consumer, [...this.#held]).catch((err: unknown) => this.log.warn('renewing a queue lease failed', { error: toUeeError(err).message }));
    }, Math.max(20, Math.floor(this.options.claimIdleMs / 3)));
    let lastClaim = 0;
    let idle = options.idleMs;
    while (!this.#stopped) {
      try {
        if (this.#left.length > 0) await this.#handBackLeft();
        if (!this.#mine()) {
          // Handed over once each time the queue becomes another's — also when the lease does not look
          // held here: a holding whose local view lapsed (a late heartbeat) may still name this
          // process on the bus, and nobody else could take it.
          if (!this.#handedOver || this.#lease.held || this.#inflight.size > 0) {
            await this.#handOver();
            continue;
          }
          const wait = this.#foreignSince! + this.#foreignMs() - Date.now();
          if (this.#stopIfIdle()) break;
          if (wait > 0) {
            // The owner reads it; a change of the split wakes this loop.
            this.#bell.clear();
            await this.#idle(wait);
            continue;
          }
          // Left alone that long: asked for (and, if taken, one batch read and handed over again).
          this.#foreignSince = Date.now();
          this.#handedOver = false;
        }
        if (!(await this.#lease.keep())) {
          // Another process reads this queue: wait for its lease to lapse (it died) or be released.
          await this.#pause(this.#lease.retryMs);
          continue;
        }
        if (this.#lease.takeCatchUp()) this.#catchingUp = true;
        // What is read now runs under this holding only (see #deliver).
        const holding = this.#lease.fence;
        let deliveries: Delivery[] = [];
        const now = Date.now();
        if (this.#catchingUp || now - lastClaim >= options.claimIdleMs / 2) {
          lastClaim = now;
          deliveries = await bus.claimStale(this.#queue, consumer, { minIdleMs: options.claimIdleMs, count: options.batchSize, deadOwners: options.liveness !== undefined, lease: this.#leaseName });
          // Not asked for: held past the budget if need be (rare: a takeover, a stale entry).
          options.budget?.take(this, deliveries.length, this.#tenantGroup);
          await bus.pruneConsumers(this.#queue, { idleMs: options.consumerIdleMs });
        }
        if (this.#catchingUp && deliveries.length === 0) {
          // Entries the previous owner still holds (renewed while it finishes its batch) or left
          // (it died) come before anything newer: nothing new is read until none is pending.
          const left = await bus.pending(this.#queue, { count: 1 });
          if (left.length > 0) {
            await this.#pause(Math.max(10, Math.min(options.claimIdleMs - left[0]!.idleMs, options.pollMs)));
            continue;
          }
          this.#catchingUp = false;
        }
        this.#bell.clear();
        if (deliveries.length === 0) deliveries = await this.#read();
        if (deliveries.length === 0) {
          if (this.#stopIfIdle()) break;
          // Never past the next periodic claim of stale entries, whose pace stays what it was.
          const longest = options.woken?.() === true ? Math.min(WOKEN_POLL_FACTOR * options.pollMs, Math.max(options.pollMs, options.claimIdleMs / 2)) : options.pollMs;
          // At its slowest pace an idle queue polls at the next multiple of that pace (at most that
          // long from now), on a timer shared with the other queues of the process: their polls go
          // to the bus in one call (see QueueIo.tick).
          if (idle >= longest) await this.#idleUntil(Math.floor(Date.now() / longest + 1) * longest);
          else await this.#idle(idle);
          idle = Math.min(idle * 2, longest);
          continue;
        }
        idle = options.idleMs;
        this.#busyAt = Date.now();
        // Submitted, not finished: the next batch is read and prepared while this one runs.
        await this.#submit(deliveries, holding);
        // Embedded backends answer synchronously: yield a macrotask so I/O is never starved.
        await new Promise((resolve) => setImmediate(resolve));
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'CLOSED') {
          await this.#drain().catch(() => undefined);
          clearInterval(this.#renewer);
          return;
        }
        if (error.code === 'FENCED') {
          // A read or claim the bus refused: another process holds the queue now (this one was paused
          // past its lease). Nothing was taken; what is in hand stops with the holding (see #deliver).
          this.#lease.forfeit();
          this.log.info('the queue had moved to another process; nothing read', { queue: this.#queue });
          continue;
        }
        this.log.error('queue worker failed; backing off', { code: error.code, error: error.message });
        await this.#idle(500);
      }
    }
    await this.#drain().catch(() => undefined);
    clearInterval(this.#renewer);
    await this.#handBackLeft();
    // A clean stop removes this process's consumer when it holds nothing, and hands the queue over.
    await bus.pruneConsumers(this.#queue, { idleMs: Number.MAX_SAFE_INTEGER, consumer }).catch(() => undefined);
    if (this.#lease.held) await this.#lease.release().catch(() => undefined);
  }

  /**
   * Reads up to a batch, as much as the process's budget has room for: waits its turn for room,
   * gives back what the read did not fill. Nothing when stopped meanwhile.
   */
  async #read(): Promise<Delivery[]> {
    const { budget, batchSize } = this.options;
    if (budget === undefined) return this.#io.read(this.#queue, batchSize, this.#leaseName);
    const wait = budget.acquire(this, batchSize, this.#tenantGroup);
    this.#waitingRoom = wait;
    let room: number;
    try {
      room = await wait.granted;
    } finally {
      this.#waitingRoom = undefined;
    }
    if (room === 0 || this.#stopped) {
      budget.release(this, room);
      return [];
    }
    let read: Delivery[] = [];
    try {
      read = await this.#io.read(this.#queue, room, this.#leaseName);
    } finally {
      budget.release(this, room - read.length);
    }
    return read;
  }

  /**
   * Stops this worker when it is an idle lane ({@link DeliveryOptions.idleStop}): nothing in hand or
   * left, no wake since its last read, every delivery for it wakes it, and nothing found for long
   * enough. Decided and removed in one synchronous step, so no wake falls between.
   */
  #stopIfIdle(): boolean {
    const idleStop = this.options.idleStop;
    if (idleStop === undefined || this.#bell.rung || this.#inflight.size > 0 || this.#held.size > 0 || this.#left.length > 0 || this.#catchingUp) return false;
    if (this.options.woken?.() !== true || Date.now() - this.#busyAt < idleStop.afterMs) return false;
    if (!idleStop.stop()) return false;
    this.#stopped = true;
    return true;
  }

  /** Sleeps `ms` (a wake does not end it: only a stop does). */
  #pause(ms: number): Promise<void> {
    return this.#bell.waitOut(ms, () => this.#stopped);
  }

  /** Sleeps `ms`, less when woken (also by a wake since the last read) or stopped. */
  async #idle(ms: number): Promise<void> {
    if (!this.#stopped) await this.#bell.wait(ms);
  }

  /** Sleeps until `at` (ms since the epoch) on the process's shared timer for that instant, less when woken or stopped. */
  async #idleUntil(at: number): Promise<void> {
    if (this.#stopped) return;
    const tick = this.#io.tick(at);
    try {
      await this.#bell.waitFor(tick.done);
    } finally {
      tick.release();
    }
  }

  /**
   * Starts a batch's deliveries, chained per ordering key behind every earlier delivery of that key
   * (also of earlier batches still in flight), with at most `concurrency` in flight; resolves once
   * all are started, so the caller reads the next batch while these run. A delivery that failed
   * unexpectedly stops the submitting: what is in flight finishes, then the failure is thrown.
   */
  async #submit(deliveries: Delivery[], holding: HeldFence | undefined): Promise<void> {
    const settings = this.handler.settings.batch();
    // The batch's chain invocations, spent on the shared counter in one round trip.
    let prepaid: Prepaid;
    try {
      prepaid = await this.handler.prepay(deliveries.map((d) => d.event));
    } catch (err) {
      // Left pending as read (claimed again later): out of hand.
      this.options.budget?.release(this, deliveries.length);
      throw err;
    }
    for (const d of deliveries) this.#held.add(d.id);
    for (const delivery of deliveries) {
      // One waiter, woken when a delivery finishes: a Promise.race over everything in flight would
      // attach `concurrency` reactions per delivery.
      while (this.#inflight.size >= this.options.concurrency && this.#failure === undefined) await new Promise<void>((resolve) => (this.#slotFreed = resolve));
      if (this.#stopped || this.#failure !== undefined) {
        // Not started: left pending (no longer renewed), for this process or another to take up.
        this.#held.delete(delivery.id);
        this.#left.push(delivery);
        this.options.budget?.release(this, 1);
        continue;
      }
      const key = delivery.event.entityId !== undefined ? `e:${delivery.event.entityId}` : `c:${delivery.event.correlationId}`;
      const previous = this.#chains.get(key);
      // Nothing earlier of its key in flight: started now, without a hop through a resolved promise.
      const run = previous === undefined ? this.#deliver(delivery, settings, prepaid, holding) : previous.then((previousDone) => (previousDone ? this.#deliver(delivery, settings, prepaid, holding) : false));
      this.#chains.set(key, run);
      const tracked: Promise<void> = run.then(
        (done) => this.#settled(delivery, key, run, tracked, !done),
        (err: unknown) => {
          this.#failure ??= err;
          this.#settled(delivery, key, run, tracked, false);
        },
      );
      this.#inflight.add(tracked);
    }
    if (this.#failure !== undefined) {
      await this.#drain();
      const failure = this.#failure;
      this.#failure = undefined;
      this.#chains.clear();
      throw toUeeError(failure);
    }
  }

  /** A delivery finished or was left pending: no longer renewed (another process may take a pending one over), its slot freed. */
  #settled(delivery: Delivery, key: string, run: Promise<boolean>, tracked: Promise<void>, left: boolean): void {
    this.#held.delete(delivery.id);
    if (left) this.#left.push(delivery);
    this.options.budget?.release(this, 1);
    this.#inflight.delete(tracked);
    if (this.#chains.get(key) === run) this.#chains.delete(key);
    const wake = this.#slotFreed;
    this.#slotFreed = undefined;
    wake?.();
  }

  /**
   * Handles one delivery whose predecessors of its key are done, under the holding of the queue's
   * lease it was read under; acks it when done. Resolves whether the deliveries behind it on its key
   * may start (false: it was left pending, keep the order).
   */
  async #deliver(delivery: Delivery, settings: SettingsSource, prepaid: Prepaid, readUnder: HeldFence | undefined): Promise<boolean> {
    // The queue may have moved to another process (this one's heartbeat lapsed): start nothing more.
    // A beat that only came late is waited out instead: leaving this delivery pending while the
    // holding goes on would let the deliveries read after it run first.
    const fence = this.#lease.fence ?? (await this.#lease.regained(() => this.#stopped));
    // A later holding (the renewal timer took the lease back while this batch waited for room) owes a
    // catch-up first: an earlier delivery of this entity may have been left pending in the gap, or
    // claimed by the holder in between and left — running this one now would overtake it.
    if (fence === undefined || fence !== readUnder) return false;
    const result = await this.handler.handle(this.route, delivery, this.log, settings, () => this.#stopped, prepaid, fence);
    if (result === 'done') await this.#ack(delivery.id);
    return result !== 'left';
  }

  /** Hands the deliveries left unfinished back to the bus (see {@link #left}); one bus call. */
  async #handBackLeft(): Promise<void> {
    const left = this.#left;
    if (left.length === 0) return;
    this.#left = [];
    // Not handed back: they stay pending and count as unfinished at their next claim, as before.
    await this.bus.handBack(this.#queue, this.consumer, left).catch((err: unknown) => this.log.warn('handing back deliveries left unfinished failed', { error: toUeeError(err).message }));
  }

  /** Whether the split gives this queue to this process; keeps {@link #foreignSince}. */
  #mine(): boolean {
    if (this.options.owns === undefined || this.options.owns()) {
      this.#foreignSince = undefined;
      this.#handedOver = false;
      return true;
    }
    this.#foreignSince ??= Date.now();
    return false;
  }

  #foreignMs(): number {
    return FOREIGN_QUEUE_TTLS * (this.options.liveness?.ttlMs ?? this.options.claimIdleMs);
  }

  /**
   * Hands the queue to the process the split gives it to: what is in flight finishes (and is acked),
   * what was left goes back to the bus, then the lease is released — the new owner's catch-up takes
   * whatever is still pending before reading anything new, so per-entity order holds across the move.
   */
  async #handOver(): Promise<void> {
    await this.#drain();
    if (this.#failure !== undefined) {
      this.log.error('a delivery failed unexpectedly before the queue was handed over', { error: toUeeError(this.#failure).message });
      this.#failure = undefined;
      this.#chains.clear();
    }
    await this.#handBackLeft();
    this.#catchingUp = false;
    await this.#lease.release();
    this.#handedOver = true;
    this.#foreignSince = Date.now();
    this.log.debug('queue handed over to the process the split gives it to', { queue: this.#queue });
  }

  /** Waits for every delivery in flight. */
  async #drain(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
  }

  /**
   * Acks one delivery as soon as it is done. The acks of deliveries finishing in the same turn of
   * the event loop (a batch's results arrive together), of this queue and of every other queue of
   * the process, go to the bus in one call ({@link QueueIo}): one transaction / round trip instead
   * of one each, and still never after the whole batch.
   */
  #ack(id: string): Promise<void> {
    return this.#io.ack(this.#queue, id);
  }
}
