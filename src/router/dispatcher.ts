import type { EventEnvelope, Logger, UeeError } from '../core/index.js';
import type { PluginRecord } from '../registry/index.js';
import { Doorbell, toUeeError } from '../core/index.js';
import type { Delivery, EventBus, RouteItem } from '../bus/port.js';
import type { RouteEntry, SubscriptionIndex } from './subscriptions.js';
import { Lease } from './lease.js';
import type { ProcessLiveness } from './liveness.js';

/** The one consumer group that reads the event stream; every process's dispatcher shares it. */
export const DISPATCH_GROUP = 'uee.dispatch';

/** Tuning of the dispatcher. */
export interface DispatchOptions {
  /** Entries read per round. */
  batchSize: number;
  /** Entries idle this long in another process's dispatcher are reclaimed. */
  claimIdleMs: number;
  /** Dispatcher consumers idle this long with nothing pending are removed. */
  consumerIdleMs: number;
  /** How long one read waits for new entries (it wakes at once on a publish). */
  blockMs: number;
  /** This process's heartbeat (Redis): the dispatch lease is bound to it, and a dead dispatcher's entries move at once. */
  liveness?: ProcessLiveness | undefined;
  /**
   * Attempts of a failed route step's events before the dispatcher stops holding them and reads on
   * (see `Dispatcher.#unrouted`): a failure that does not pass (a fault no retry mends) must not stop
   * the routing of every later event. @default {@link ROUTE_ATTEMPTS}
   */
  routeAttempts?: number | undefined;
}

/** Default of {@link DispatchOptions.routeAttempts}: about 10 s of half-second back-offs. */
export const ROUTE_ATTEMPTS = 20;

/** Attempts of a held step that found a queue gone made at once, without the back-off (one per queue found gone, at most). */
const QUICK_RETRIES = 8;

/** Entry ids the dispatcher gave up holding that it remembers (then it starts again). */
const GAVE_UP_MAX = 10_000;

/** Queue appends (event × concerned queue) one `route` step carries at most (one event's fan-out is never split). */
export const MAX_FANOUT_PER_STEP = 4096;

/**
 * A queue of a platform service (the workflow service): every event of one of `types` is queued
 * there too, in the same atomic step as the plugins it concerns, so the service reads only the
 * events it handles instead of the whole stream through a group of its own.
 */
export interface ServiceQueue {
  /** The queue's name (created by the router with `ensureQueue` before anything is routed). */
  readonly group: string;
  /** The event types it receives. */
  readonly types: readonly string[];
  /** Called after this process queued something there: its consumer in this process reads at once instead of at its next poll. */
  readonly queued?: () => void;
}

/** A queue the dispatcher appends deliveries to. */
export interface QueueTarget {
  readonly group: string;
}

/**
 * Which queue of a route an event goes to: the route's own ({@link RouteEntry.group}), or one opened
 * on demand — a global plugin's lane for the event's tenant (the router's). Queues named by `of`
 * that are new are created by `ready` before the route step that appends to them.
 */
export interface QueueTargets<R extends RouteEntry, T extends QueueTarget> {
  /** The queue `event` goes to on `route` (synchronous: this runs for every event and route matched). */
  of(route: R, event: EventEnvelope): T;
  /** Creates the queues `of` returned since the last call that did not exist yet; throws if one cannot be. */
  ready(): Promise<void>;
  /**
   * The bus refused a step because queue `group` does not exist (removed behind this process's back):
   * the next `ready` creates it again, if it is still wanted. @default nothing (the step is retried as is)
   */
  lost?(group: string): void;
}

/** Every route's deliveries go to its own queue. */
function ownQueues<R extends RouteEntry>(): QueueTargets<R, R> {
  return { of: (route) => route, ready: () => Promise.resolve() };
}

/** Event types after which the routing table must be reloaded before anything later is routed. */
export const ROUTE_CHANGING_EVENTS: ReadonlySet<string> = new Set(['PluginInstalled', 'PluginEnabled', 'PluginDisabled']);

/**
 * Reads the event stream once (group {@link DISPATCH_GROUP}; one process at a time, the holder of
 * the bus lease of that name, so queues receive events in stream order), matches each event against the
 * subscription index, and hands it to the queues of the logical plugins it concerns with one atomic
 * bus step per batch (`route`: queued there and acked here together — an event is never acked
 * before it is queued for every plugin it concerns; a crash before the step leaves it pending here,
 * and it is routed again, once). Events that concern nobody are just acked.
 *
 * A plugin lifecycle event (deploy, enable, disable — from this process or any other) reloads the
 * routing table before any later entry is routed: an event published after a deploy in stream order
 * reaches the new version, and one published after a new plugin's deploy is never missed by it.
 */
export class Dispatcher<R extends RouteEntry, T extends QueueTarget = R> {
  #stopped = false;
  /** Rung by {@link stop}: ends a wait at once. */
  readonly #bell = new Doorbell();
  #loop: Promise<void> | undefined;

  constructor(
    private readonly bus: EventBus,
    private readonly consumer: string,
    private readonly index: () => SubscriptionIndex<R>,
    private readonly queued: (targets: ReadonlySet<T>) => void,
    private readonly options: DispatchOptions,
    private readonly log: Logger,
    private readonly reload: (changes: readonly EventEnvelope[]) => Promise<void> = () => Promise.resolve(),
    /** Called when this process becomes the dispatcher, before it routes anything (reload the table). */
    private readonly onLead: () => Promise<void> = () => Promise.resolve(),
    services: readonly ServiceQueue[] = [],
    /**
     * Every queue worker of the process looks at its queue now: called when this process stops being
     * the dispatcher, as what the next one routes here wakes no worker unless this process hears its signals (see `DeliveryOptions.woken`).
     */
    private readonly wakeAll: () => void = () => undefined,
    /** Which queue of a route each event goes to. @default the route's own */
    private readonly targets: QueueTargets<R, T> = ownQueues<R>() as unknown as QueueTargets<R, T>,
  ) {
    for (const s of services) {
      for (const type of s.types) this.#services.set(type, [...(this.#services.get(type) ?? []), s.group]);
      if (s.queued !== undefined) this.#serviceWakes.set(s.group, s.queued);
    }
  }

  /** Event type → service queues that receive it. */
  readonly #services = new Map<string, string[]>();
  /** Service queue → its consumer's wake-up. */
  readonly #serviceWakes = new Map<string, () => void>();

  #lease: Lease | undefined;

  /**
   * Deliveries read here whose route step failed (the bus failing a moment, a queue gone): routed
   * again, after the back-off, before anything newer is read or claimed — so queues still receive the
   * events in stream order, and these wait half a second instead of the stale-entry claim's
   * `claimIdleMs`. Steps of them that did go through are not repeated (`route` queues only what is
   * still pending). Forgotten when the dispatch lease goes (the next dispatcher takes them over with
   * the rest of this process's pending entries), and after {@link DispatchOptions.routeAttempts}
   * attempts: a fault no retry mends leaves them to the stale-entry claim and lets later events on.
   */
  #unrouted: Delivery[] = [];
  /** Attempts made of {@link #unrouted}'s events. */
  #attempts = 0;
  /**
   * Ids of events held {@link DispatchOptions.routeAttempts} times without getting through: a step
   * holding one of them again (claimed after `claimIdleMs`) is not held, so a fault no retry mends
   * costs the routing of later events one bounded wait, not one per claim.
   */
  readonly #gaveUp = new Set<string>();
  /** The last step failed on a queue gone, which the retry creates again: made again at once, without the back-off (at most {@link QUICK_RETRIES} times a held step). */
  #retryAtOnce = false;

  /** Whether this process is the dispatcher now (holds the lease): it alone removes queues. */
  get leading(): boolean {
    return this.#lease?.held ?? false;
  }

  /** Creates the group if needed and starts the loop. */
  async start(): Promise<void> {
    await this.bus.ensureGroup(DISPATCH_GROUP, 'latest');
    this.#loop ??= this.#run();
  }

  /** Stops after the batch in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#bell.ring();
    await this.#loop;
  }

  /**
   * Routes one batch now (the loop's step; also used by tests and benches). Returns how many were read.
   * Once the loop runs, the read is made under the dispatch lease: a process that lost it while it
   * believed it still held it (paused past its heartbeat) takes nothing — `FENCED` — so the new
   * dispatcher never routes later entries before ones taken here.
   */
  async dispatchOnce(blockMs = 0): Promise<number> {
    if (this.#unrouted.length > 0) {
      const again = this.#unrouted;
      await this.#route(again);
      this.#unrouted = [];
      return again.length;
    }
    const lease = this.#lease === undefined ? undefined : DISPATCH_GROUP;
    const deliveries = await this.bus.read(DISPATCH_GROUP, this.consumer, { count: this.options.batchSize, blockMs, lease });
    await this.#route(deliveries);
    return deliveries.length;
  }

  async #run(): Promise<void> {
    let lastClaim = 0;
    let catchingUp = false;
    const lease = new Lease(this.bus, DISPATCH_GROUP, this.consumer, this.options.claimIdleMs, this.options.liveness);
    this.#lease = lease;
    let leading = false;
    while (!this.#stopped) {
      try {
        if (!(await lease.keep())) {
          this.#unrouted = [];
          if (leading) {
            // Another process dispatches now: what it routes here wakes no worker, so they poll again.
            leading = false;
            this.wakeAll();
          }
          // Another process dispatches: one at a time, so queues receive events in stream order.
          await this.#sleep(lease.retryMs);
          continue;
        }
        leading = true;
        if (lease.takeCatchUp()) {
          // Another process dispatched until now: its table may be newer than this one's.
          catchingUp = true;
          await this.onLead();
        }
        const now = Date.now();
        if (this.#unrouted.length === 0 && (catchingUp || now - lastClaim >= this.options.claimIdleMs / 2)) {
          lastClaim = now;
          const stale = await this.bus.claimStale(DISPATCH_GROUP, this.consumer, { minIdleMs: this.options.claimIdleMs, count: this.options.batchSize, deadOwners: this.options.liveness !== undefined, lease: DISPATCH_GROUP });
          await this.#route(stale);
          await this.bus.pruneConsumers(DISPATCH_GROUP, { idleMs: this.options.consumerIdleMs });
          if (catchingUp) {
            if (stale.length > 0) continue;
            // What the previous dispatcher read and did not route is routed before anything newer.
            const left = await this.bus.pending(DISPATCH_GROUP, { count: 1 });
            if (left.length > 0) {
              await this.#sleep(Math.max(10, Math.min(this.options.claimIdleMs - left[0]!.idleMs, 500)));
              continue;
            }
            catchingUp = false;
          }
        }
        await this.dispatchOnce(Math.min(this.options.blockMs, lease.ttlMs / 4));
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'CLOSED') return;
        if (error.code === 'FENCED') {
          // The bus says another process dispatches now (this one was paused past its lease): the
          // next keep() asks the bus, and nothing was read here.
          lease.forfeit();
          this.#unrouted = [];
          this.log.info('the dispatch lease had moved to another process; nothing read', { consumer: this.consumer });
          continue;
        }
        if (this.#retryAtOnce) {
          // A queue was gone (its plugin disabled a moment ago, an operator's DEL): the retry creates it
          // again or routes past it, so no back-off — half a second of every tenant's routing.
          this.#retryAtOnce = false;
          this.log.info('a route step found a queue gone; made again at once', { error: error.message });
          continue;
        }
        this.log.error('dispatcher failed; backing off', { code: error.code, error: error.message });
        await this.#sleep(500);
      }
    }
    await this.bus.pruneConsumers(DISPATCH_GROUP, { idleMs: Number.MAX_SAFE_INTEGER, consumer: this.consumer }).catch(() => undefined);
    if (lease.held) await lease.release().catch(() => undefined);
  }

  /** Sleeps `ms`, less when stopped. */
  async #sleep(ms: number): Promise<void> {
    if (!this.#stopped) await this.#bell.wait(ms);
  }

  readonly #refused = (plugin: PluginRecord, err: UeeError): void =>
    this.log.warn('subscription filter refused', { plugin: plugin.id, code: err.code, error: err.message });

  /** Routes `deliveries` in stream order; when a step fails, they are all kept for the next attempt (see {@link #unrouted}). */
  async #route(deliveries: Delivery[]): Promise<void> {
    try {
      await this.#routeAll(deliveries);
    } catch (err) {
      const error = toUeeError(err);
      const group = error.details.group;
      // A queue gone that the retry creates again (or routes past): see #retryAtOnce.
      const lost = error.code === 'NOT_FOUND' && typeof group === 'string' && this.targets.lost !== undefined;
      if (lost) this.targets.lost!(group);
      this.#attempts = deliveries === this.#unrouted ? this.#attempts + 1 : 1;
      const max = this.options.routeAttempts ?? ROUTE_ATTEMPTS;
      if (this.#attempts >= max || deliveries.some((d) => this.#gaveUp.has(d.id))) {
        // Left pending here: the stale-entry claim tries them again later, and later events go on.
        if (this.#gaveUp.size + deliveries.length > GAVE_UP_MAX) this.#gaveUp.clear();
        for (const d of deliveries) this.#gaveUp.add(d.id);
        this.#unrouted = [];
        this.log.error('a route step kept failing: its events are left pending for the stale-entry claim, and later events routed before them', { attempts: this.#attempts, events: deliveries.length, code: error.code, error: error.message });
      } else {
        this.#unrouted = deliveries;
      }
      this.#retryAtOnce = lost && this.#unrouted === deliveries && this.#attempts <= QUICK_RETRIES;
      throw err;
    }
  }

  async #routeAll(deliveries: Delivery[]): Promise<void> {
    let start = 0;
    while (start < deliveries.length) {
      let end = start;
      while (end < deliveries.length && !ROUTE_CHANGING_EVENTS.has(deliveries[end]!.event.type)) end++;
      // The lifecycle event itself is routed with the table it was published under.
      const changes = end < deliveries.length;
      await this.#routeSlice(deliveries, start, changes ? end + 1 : end);
      if (changes) await this.reload([deliveries[end]!.event]);
      start = end + 1;
    }
  }

  async #routeSlice(deliveries: Delivery[], from: number, to: number): Promise<void> {
    if (to <= from) return;
    const index = this.index();
    const touched = new Set<T>();
    const targets = this.targets;
    let services: Set<string> | undefined;
    let items: RouteItem[] = [];
    let pairs = 0;
    for (let i = from; i < to; i++) {
      const d = deliveries[i]!;
      const routes = index.match(d.event, this.#refused);
      const groups: string[] = [];
      for (const r of routes) {
        const queue = targets.of(r, d.event);
        touched.add(queue);
        groups.push(queue.group);
      }
      const serviceGroups = this.#services.get(d.event.type);
      if (serviceGroups !== undefined) {
        groups.push(...serviceGroups);
        services ??= new Set();
        for (const g of serviceGroups) services.add(g);
      }
      // One atomic step holds at most MAX_FANOUT_PER_STEP appends (plus one event): a batch of events
      // with a wide fan-out goes in several steps, in order, with a macrotask between them, so it
      // never holds the bus (an embedded write transaction, a Lua script) or the main thread for long.
      if (pairs > 0 && pairs + groups.length > MAX_FANOUT_PER_STEP) {
        await targets.ready();
        await this.bus.route(DISPATCH_GROUP, items);
        items = [];
        pairs = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
      items.push({ id: d.id, groups });
      pairs += groups.length;
    }
    // A new lane's queue exists before the step that appends to it (route() refuses a missing queue).
    await targets.ready();
    await this.bus.route(DISPATCH_GROUP, items);
    if (touched.size > 0) this.queued(touched);
    if (services !== undefined) for (const g of services) this.#serviceWakes.get(g)?.();
  }
}
