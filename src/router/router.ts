import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EventEnvelope, Logger } from '../core/index.js';
import { UeeError, toUeeError } from '../core/index.js';
import type { DeadLetter, EventBus } from '../bus/port.js';
import type { EntityStore } from '../store/port.js';
import { laneGroup, pluginGroup, queuePlugin, recordKey, type PluginRecord, type PluginRegistry } from '../registry/index.js';
import { QueueWorker, type DeliveryOptions } from './delivery.js';
import { QueueIo } from './queue-io.js';
import { InHandBudget, inHandGroup } from './in-hand.js';
import { ChainBudget, DEFAULT_CHAIN_LIMITS, InMemoryChainCounter, type ChainCounter, type ChainLimits } from './chain-budget.js';
import { DeliveryHandler } from './handling.js';
import { RouterMetrics } from './metrics.js';
import { SubscriptionIndex, type RouteEntry } from './subscriptions.js';
import type { InvocationOutcome, InvocationRecorder, PluginInvoker } from './types.js';
import { VersionResolver } from './versions.js';
import { ExperimentMonitor } from './experiments.js';
import { ProcessLiveness } from './liveness.js';
import { QueueShare } from './ownership.js';
import { OrphanSweeper } from './orphans.js';
import { ROUTING_SIGNAL, TABLE_WATERMARK, TableWatermark, announceRoutingChange, changedVersion, parseRoutingSignal, type RoutingChange } from './table-changes.js';
import { Dispatcher, ROUTE_ATTEMPTS, type DispatchOptions, type QueueTargets, type ServiceQueue } from './dispatcher.js';

/** Router tuning. */
export interface RouterOptions {
  /** Name of this consumer in the dispatcher group and every queue. @default host:pid:random */
  consumerName?: string;
  /** Max chain depth; deeper events are dead-lettered with HOP_LIMIT_EXCEEDED. @default 16 */
  hopLimit?: number;
  /** Attempts per delivery before it is dead-lettered. @default 3 */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt. @default 50 */
  backoffMs?: number;
  /** Deliveries read per round (dispatcher and each queue). @default 64 */
  batchSize?: number;
  /** Entries idle this long in another consumer are reclaimed. @default 30000 */
  claimIdleMs?: number;
  /**
   * Attempts of a failed route step (half a second apart) before the dispatcher stops holding its
   * events and reads on past them, leaving them to the stale-entry claim (see `DispatchOptions.routeAttempts`). @default 20
   */
  routeAttempts?: number;
  /**
   * TTL of this process's heartbeat on buses that have one (Redis; beaten every quarter of it). The
   * dispatch and queue leases are bound to it instead of `claimIdleMs`: holding them costs no bus
   * call, and a crashed process's leases and pending entries move to another within about 1.5× this
   * (plus one claim), not after `claimIdleMs`. A process paused or cut off longer than half of it
   * starts no new delivery. `0` turns heartbeats off (leases then live `claimIdleMs`). @default 5000
   */
  heartbeatMs?: number;
  /** Consumers idle this long holding nothing are removed (restarts leave no dead consumers). @default 600000 */
  consumerIdleMs?: number;
  /**
   * The dispatcher looks for orphaned queues (of plugins with no enabled version, e.g. deleted while
   * no process was running) every quarter of this, and removes one found orphaned for this long
   * ({@link OrphanSweeper}). @default 60000
   */
  orphanGraceMs?: number;
  /**
   * A global plugin's lane (its queue for one tenant's events, see `laneGroup`) whose worker found
   * nothing for this long stops its worker (the queue stays; the next delivery queued there starts a
   * worker again), so a process does not keep a worker per tenant that ever had an event. @default 60000
   */
  laneIdleMs?: number;
  /** How often the routing table is reloaded from the store (other processes' deploys). @default 2000 */
  refreshMs?: number;
  /**
   * First wait of a queue worker on an empty queue; doubles up to `pollMs`. Every queue a dispatcher
   * fills has a worker in the dispatcher's own process, which it wakes at once, so polling is only a
   * safety net: a short first wait made each of 1,000 tenants' workers re-read its empty queue ~8
   * times in the second after every event. @default pollMs
   */
  idleMs?: number;
  /**
   * Longest wait of a queue worker on an empty queue. Queues filled by this process's dispatcher wake
   * their worker at once; this bounds how late deliveries routed by another process are seen. While
   * this process dispatches, nothing is routed by another, and empty queues wait up to 10× this.
   * @default 500
   */
  pollMs?: number;
  /**
   * Deliveries of one logical plugin in flight at once. Events about the same entity (or, without an
   * entity, of the same correlation chain) are still handled one after another in stream order; only
   * unrelated events overlap — which is what lets the host send them to a worker in batches, and the
   * queue read and prepare its next batch while one runs. At the default four batches are in flight:
   * one on each of two host workers and two ready behind them, so a worker that returns its results
   * finds the next batch waiting instead of idling while the main thread commits and acks (with two,
   * workers and main thread took turns: the no-op plugin ran 1.4–1.6× slower in paired runs). A
   * plugin still holds at most the host's `maxWorkersPerPlugin` workers and its tenant's fair part.
   * `1` handles strictly in order, one at a time. @default 4 × batchSize
   */
  concurrency?: number;
  /**
   * Deliveries this process holds in memory at once across all its queues (read and not yet done;
   * see {@link InHandBudget}): each queue asks for room before a read and the room goes round the
   * queues in turn. `concurrency` bounds one queue; this bounds them together, so 1,000 tenants'
   * queues with a backlog each do not put every queued event in memory at once.
   * At the default one queue (its window and the next batch) holds at most half, so a queue whose
   * deliveries are slow leaves the other half to the rest; below `concurrency + batchSize` it is
   * raised to that (one busy queue alone runs as without it). @default 2 × (concurrency + batchSize)
   */
  maxInHand?: number;
  /**
   * Totals one chain (all events sharing a correlation id, in one tenant) may spend: plugin
   * invocations and events committed by its plugins. Beyond them deliveries are dead-lettered with
   * CHAIN_BUDGET_EXCEEDED. The hop limit bounds a chain's depth; this bounds its volume.
   * @default { maxEvents: 1000, maxInvocations: 2000 }
   */
  chainLimits?: Partial<ChainLimits>;
  /**
   * Where chain totals are counted. Processes sharing a bus must share it, or each spends the full
   * budget (the app passes one on the bus's own backend). Closed by {@link Router.stop}.
   * @default an in-process counter
   */
  chainCounter?: ChainCounter;
  /** Where one invocation record per attempt goes (see {@link InvocationRecorder}). @default none */
  recorder?: InvocationRecorder;
  /**
   * Queues of platform services (the workflow service's): the dispatcher queues every event of their
   * types there too, in the same atomic step as the plugins' queues. Created at {@link Router.start}.
   * @default none
   */
  serviceQueues?: readonly ServiceQueue[];
  logger: Logger;
}

/**
 * Versions newest first, as the routing table keeps them: without their `source` (the files a version
 * was compiled from, kept in the registry). Every version ever deployed stays in every process's
 * table, so with the source one tenant redeploying a plugin with large files grew every process's
 * memory by the files' size per deploy; routing and running need the manifest and the binary's hash only.
 */
function byVersion(versions: PluginRecord[]): PluginRecord[] {
  return versions.map(withoutSource).sort((a, b) => b.attributes.pluginVersion - a.attributes.pluginVersion);
}

/** `p` without `attributes.source` (the same object when it has none). */
function withoutSource(p: PluginRecord): PluginRecord {
  if (p.attributes.source === undefined) return p;
  const { source: _source, ...attributes } = p.attributes;
  return { ...p, attributes };
}

/** One logical plugin: its versions and its queue's worker. */
interface Route extends RouteEntry {
  worker?: QueueWorker;
  /** No enabled version: no worker, not indexed, and its queue removed (by the dispatching process). */
  parked?: boolean;
}

/**
 * One tenant's lane of a global plugin ({@link laneGroup}): the queue that tenant's events for the
 * plugin wait in, and its worker while open in this process. A global plugin's own queue keeps only
 * the global scope's events, so one tenant's backlog never delays another tenant's events (before
 * 2026-12-07 one queue held every tenant's: 10,000 events of one tenant held another's single event
 * 2.7 s behind them). Lanes are opened on demand — by the dispatcher when it routes there, by a
 * signal naming one, by a look at the bus's queues when this process may have missed them — and
 * their workers stop when idle ({@link RouterOptions.laneIdleMs}).
 */
interface Lane {
  /** The lane's queue. */
  readonly group: string;
  readonly laneOf: Route;
  /** The plugin's route as the worker and the handler see it: read from this lane, counted for its tenant. */
  readonly entry: RouteEntry;
  /** Its queue is known to exist (created here, or found or appended to). */
  ready: boolean;
  worker?: QueueWorker;
}

function isLane(target: Route | Lane): target is Lane {
  return 'laneOf' in target;
}

function newLane(route: Route, tenantId: string, group: string): Lane {
  const entry: RouteEntry = {
    group: route.group,
    name: route.name,
    tenantId: route.tenantId,
    queue: group,
    laneTenant: tenantId,
    // The route's versions as they change (deploys, enables): one list for the plugin and its lanes.
    get versions() {
      return route.versions;
    },
  };
  return { group, laneOf: route, entry, ready: false };
}

/** The bus roster every running router keeps itself on (see {@link EventBus.roster}): the queues are split among its live members. */
export const ROUTER_ROSTER = 'uee.routers';

/**
 * The bus signal channel (see {@link EventBus.signal}) on which the dispatching router names the
 * queues it filled that the split gives to other processes: their workers are woken at once instead
 * of finding the deliveries at their next poll. A message is the sender's consumer name, then one
 * queue group per line.
 */
export const QUEUED_SIGNAL = 'uee.queued';

/** Without a watermark change, the table is still reloaded in full every this many `refreshMs` (a safety net). */
const FULL_REFRESH_EVERY = 30;

/** Changes queued for a pass over them: made here (`mark` undefined) or heard from another process. */
interface PendingChange {
  readonly changes: readonly RoutingChange[];
  readonly mark?: number;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Past this many changes in one pass, the table is reloaded in full instead: a reload costs about
 * what reading ~1/16 of the routes' plugins alone does (2026-12-06, SQLite, 1,000 tenants: ~45 ms
 * against ~0.5 ms per change read alone).
 */
function reloadPast(routes: number): number {
  return Math.max(64, Math.ceil(routes / 16));
}

/** Lifecycle of a router. */
export type RouterState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Routes bus events to plugins by subscription. One dispatcher reads the stream once and queues each
 * event for the logical plugins (a name in a scope) it concerns — found in a {@link SubscriptionIndex},
 * so the cost of an event follows the plugins it concerns, not how many exist. Each logical plugin
 * has its own queue and {@link QueueWorker}, so it progresses independently. Each delivery is handled
 * by exactly one version ({@link VersionResolver}), with retries and dead letters
 * ({@link DeliveryHandler}); effects commit with the idempotency key `eventId:queue`, so a redelivery
 * never applies them twice. See the README's "Event routing" section for the data flow.
 */
export class Router {
  readonly metrics = new RouterMetrics();
  readonly consumer: string;
  #state: RouterState = 'idle';
  #routes = new Map<string, Route>();
  #index = new SubscriptionIndex<Route>([]);
  readonly #versions = new VersionResolver();
  /** Live figures, guardrails and shadow comparisons of the experiments this router routes by. */
  readonly experiments: ExperimentMonitor;
  readonly #handler: DeliveryHandler;
  readonly #dispatcher: Dispatcher<Route, Route | Lane>;
  #refreshTimer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #refreshQueued: Promise<void> | undefined;
  #tableLock: Promise<void> = Promise.resolve();
  /** The table watermark this process's table reflects (see {@link TableWatermark}). */
  readonly #watermark = new TableWatermark();
  /** Whether this process hears {@link ROUTING_SIGNAL} now (a bus with `signal` and `listen`). */
  #hearingChanges = false;
  #stopHearingChanges: (() => void) | undefined;
  /** Changes waiting for the next pass (see {@link #whenApplied}), and whether that pass is queued on the table lock. */
  readonly #pending: PendingChange[] = [];
  #passScheduled = false;
  /** Passes over queued changes, the changes they applied alone, and the passes that reloaded in full instead. */
  readonly tableUpdates = { passes: 0, changesApplied: 0, fullReloads: 0 };
  #lastFullRefresh = 0;
  /** Global plugins' lanes open in this process, by queue (see {@link Lane}). */
  readonly #lanes = new Map<string, Lane>();
  /** Lanes the dispatcher named whose queue is not known to exist yet: created before the step that appends to them. */
  readonly #opening = new Set<Lane>();
  /** Plugins' own queues a route step found gone (see {@link #queueLost}): created again before the next step. */
  readonly #lostQueues = new Set<Route>();
  /** Lane workers that stopped (idle, or their plugin parked) and are finishing: a new worker of the lane waits for it. */
  readonly #closingLanes = new Map<string, Promise<void>>();
  /** Which queue each event goes to: a tenant-scoped plugin's own; a global plugin's lane for the event's tenant. */
  readonly #targets: QueueTargets<Route, Route | Lane> = {
    // (A route parked meanwhile, still in the index until it is rebuilt, keeps its own queue: going away with it.)
    of: (route, event) => (route.tenantId !== null || event.tenantId === null || route.parked === true ? route : this.#laneFor(route, event.tenantId)),
    ready: () => this.#openLanes(),
    lost: (group) => this.#queueLost(group),
  };
  /** Queues being removed (their worker stopping, then the queue deleted): a route coming back waits for it. */
  readonly #parking = new Map<string, Promise<void>>();
  readonly #opts: Required<Omit<RouterOptions, 'consumerName' | 'logger' | 'chainLimits' | 'chainCounter' | 'recorder' | 'serviceQueues' | 'maxInHand'>>;
  /** This process's heartbeat (Redis); undefined on buses without one. */
  #liveness: ProcessLiveness | undefined;
  readonly #dispatchOptions: DispatchOptions;
  readonly #budget: ChainBudget;
  /** Every queue worker's reads and acks, one bus call per turn for all queues. */
  readonly queueIo: QueueIo;
  /** The bound on deliveries in hand across every queue of this process. */
  readonly #inHand: InHandBudget;
  /**
   * The split of the queues among the live routers on the bus (Redis, with heartbeats): each queue's
   * lease is taken by the process the split gives it to. Undefined on a bus without rosters: every
   * queue is this process's to take.
   */
  #share: QueueShare | undefined;
  #rosterTimer: NodeJS.Timeout | undefined;
  #rostering: Promise<void> | undefined;
  /**
   * Whether this process hears the dispatcher's {@link QUEUED_SIGNAL}s now: then a queue filled by
   * another process's dispatcher wakes its worker here as one filled by this process's own does, and
   * empty queues are polled at the slow pace.
   */
  #hearing = false;
  #stopListening: (() => void) | undefined;
  /** A subscription attempt in flight (one that failed is tried again at the next roster call). */
  #subscribing: Promise<void> | undefined;

  constructor(
    private readonly store: EntityStore,
    private readonly bus: EventBus,
    private readonly registry: PluginRegistry,
    private readonly invoker: PluginInvoker,
    private readonly options: RouterOptions,
  ) {
    this.consumer = options.consumerName ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.#opts = {
      hopLimit: options.hopLimit ?? 16,
      maxAttempts: options.maxAttempts ?? 3,
      backoffMs: options.backoffMs ?? 50,
      batchSize: options.batchSize ?? 64,
      claimIdleMs: options.claimIdleMs ?? 30_000,
      routeAttempts: Math.max(1, Math.floor(options.routeAttempts ?? ROUTE_ATTEMPTS)),
      heartbeatMs: options.heartbeatMs ?? 5000,
      consumerIdleMs: options.consumerIdleMs ?? 600_000,
      orphanGraceMs: options.orphanGraceMs ?? 60_000,
      laneIdleMs: options.laneIdleMs ?? 60_000,
      refreshMs: options.refreshMs ?? 2000,
      idleMs: options.idleMs ?? options.pollMs ?? 500,
      pollMs: options.pollMs ?? 500,
      concurrency: Math.max(1, Math.floor(options.concurrency ?? 4 * (options.batchSize ?? 64))),
    };
    // Never below what one queue may hold (its window and the next batch): one busy queue runs as
    // without it. Twice that by default, so one queue holds at most half (see InHandBudget's shares).
    const oneQueue = this.#opts.concurrency + this.#opts.batchSize;
    const inHand = Math.max(Math.floor(options.maxInHand ?? 2 * oneQueue), oneQueue);
    this.#inHand = new InHandBudget(inHand, Math.max(1, Math.floor(this.#opts.batchSize / 4)));
    this.#orphans = new OrphanSweeper(bus, this.#opts.orphanGraceMs, options.logger.child({ component: 'housekeeping' }));
    this.queueIo = new QueueIo(bus, this.consumer);
    this.#budget = new ChainBudget(options.chainCounter ?? new InMemoryChainCounter(), { ...DEFAULT_CHAIN_LIMITS, ...options.chainLimits });
    this.experiments = new ExperimentMonitor(store, this.#versions, options.logger.child({ component: 'experiments' }));
    this.#handler = new DeliveryHandler({
      store,
      bus,
      consumer: this.consumer,
      invoker,
      versions: this.#versions,
      metrics: this.metrics,
      experiments: this.experiments,
      routeOf: (group) => this.#routes.get(group),
      groupOf: pluginGroup,
      budget: this.#budget,
      options: { hopLimit: this.#opts.hopLimit, maxAttempts: this.#opts.maxAttempts, backoffMs: this.#opts.backoffMs },
      ...(options.recorder === undefined ? {} : { recorder: options.recorder }),
    });
    this.#dispatcher = new Dispatcher<Route, Route | Lane>(
      bus,
      this.consumer,
      () => this.#index,
      (targets) => this.#queued(targets),
      (this.#dispatchOptions = { batchSize: Math.max(this.#opts.batchSize, 256), claimIdleMs: this.#opts.claimIdleMs, consumerIdleMs: this.#opts.consumerIdleMs, blockMs: 100, routeAttempts: this.#opts.routeAttempts }),
      options.logger.child({ component: 'dispatcher' }),
      (changes) => this.#applyChanges(changes),
      async () => {
        await this.refresh();
        // The previous dispatcher's process may have left lanes with deliveries this one never heard of.
        await this.#discoverLanes();
      },
      options.serviceQueues,
      () => this.#wakeAll(),
      this.#targets,
    );
  }

  /** Deliveries in hand across this process's queues (read, not yet done) against the bound ({@link RouterOptions.maxInHand}), and queues waiting for room. */
  get inHand(): { capacity: number; held: number; waiting: number } {
    return { capacity: this.#inHand.capacity, held: this.#inHand.capacity - this.#inHand.free, waiting: this.#inHand.waiting };
  }

  /** Global plugins' lanes with a worker in this process now (see {@link Lane}). */
  get lanesOpen(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) if (lane.worker !== undefined) n++;
    return n;
  }

  /** Deliveries this process holds now for the queues of `tenantId` (null: the global scope's own events), also of global plugins' lanes, capped at half of {@link inHand}'s capacity. */
  inHandFor(tenantId: string | null): number {
    return this.#inHand.heldByGroup(inHandGroup(tenantId));
  }

  /** Whether this process hears the routing changes other processes announce now (see {@link announceRoutingChange}). */
  get hearingChanges(): boolean {
    return this.#hearingChanges;
  }

  /** Whether this process is the one dispatching the event stream now. */
  get leading(): boolean {
    return this.#dispatcher.leading;
  }

  /** Current lifecycle state. */
  get state(): RouterState {
    return this.#state;
  }

  /** Loads the routing table, starts one worker per logical plugin, then the dispatcher. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    // The heartbeat first: every lease this process takes is bound to it.
    this.#liveness = await ProcessLiveness.start(this.bus, this.consumer, this.#opts.heartbeatMs, this.options.logger.child({ component: 'liveness' }));
    this.#dispatchOptions.liveness = this.#liveness;
    // Then the roster: the split is known before any worker asks for a queue's lease.
    if (this.#liveness !== undefined && this.bus.roster !== undefined) {
      this.#share = new QueueShare(this.consumer);
      await this.#callRoll();
      this.#rosterTimer = setInterval(() => void this.#callRoll(), Math.max(10, Math.floor(this.#opts.heartbeatMs / 4)));
      this.#rosterTimer.unref();
      await this.#listen();
    }
    // Before the watermark is read: a change announced after it is heard, one before it is in the reload.
    await this.#hearChanges();
    this.#watermark.reset(await this.bus.counter(TABLE_WATERMARK));
    await this.refresh();
    // Lanes with deliveries left by earlier processes (or by this one's predecessor) are read again.
    await this.#discoverLanes();
    // Before the dispatcher routes anything to them (route() refuses a queue that does not exist).
    for (const s of this.options.serviceQueues ?? []) await this.bus.ensureQueue(s.group);
    await this.#dispatcher.start();
    this.#refreshTimer = setInterval(() => {
      this.#tick().catch((err: unknown) => this.options.logger.warn('routing table refresh failed', { error: toUeeError(err).message }));
    }, this.#opts.refreshMs);
    this.#refreshTimer.unref();
  }

  /**
   * The periodic check: one bus read of the table watermark. Changes other processes announce are
   * applied as they are heard ({@link ROUTING_SIGNAL}); the table is reloaded in full only when a bump
   * was not heard within a check period, or signals are not heard (or, as a safety net, every
   * {@link FULL_REFRESH_EVERY} periods) — not one registry query per tenant every `refreshMs`, nor a
   * reload of every tenant's plugins for each other process's change.
   */
  async #tick(): Promise<void> {
    if (this.#refreshing !== undefined) return;
    await this.#sweepOrphans();
    if (this.#stopHearingChanges === undefined) await this.#hearChanges();
    const mark = await this.bus.counter(TABLE_WATERMARK);
    const state = this.#watermark.check(mark, this.#hearingChanges);
    if (state === 'wait' || (state === 'current' && Date.now() - this.#lastFullRefresh < FULL_REFRESH_EVERY * this.#opts.refreshMs)) return;
    this.#watermark.reset(mark);
    await this.refresh();
  }

  /**
   * Listens for the routing changes other processes announce ({@link announceRoutingChange}); a bus
   * without signals, or a failed attempt (tried again at the next check), leaves the watermark checks
   * to reload the table.
   */
  async #hearChanges(): Promise<void> {
    if (this.bus.listen === undefined || this.bus.signal === undefined || this.#stopHearingChanges !== undefined) return;
    try {
      this.#stopHearingChanges = await this.bus.listen(ROUTING_SIGNAL, {
        message: (message) => this.#heard(message),
        ready: () => (this.#hearingChanges = true),
        lost: () => (this.#hearingChanges = false),
      });
    } catch (err) {
      this.options.logger.warn('listening for routing changes failed (tried again at the next check); other processes\' changes are found by reloading the table meanwhile', { error: toUeeError(err).message });
    }
  }

  /** Another process's announced change: applied here alone, unless a full reload already read it. */
  #heard(message: string): void {
    const signal = parseRoutingSignal(message);
    if (signal === undefined || signal.from === this.consumer || this.#state !== 'running') return;
    this.#whenApplied(signal.changes, signal.mark).catch((err: unknown) =>
      this.options.logger.warn('applying another process\'s routing change failed; the table is reloaded at a later check', { error: toUeeError(err).message }),
    );
  }

  /**
   * Queues changes for the next pass over them ({@link #applyPending}): made here (`mark` undefined:
   * announced once applied) or heard from another process (its `mark` reflected once applied).
   */
  #whenApplied(changes: readonly RoutingChange[], mark?: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ changes, ...(mark === undefined ? {} : { mark }), resolve, reject });
      if (this.#passScheduled) return;
      this.#passScheduled = true;
      this.#exclusive(() => this.#applyPending()).catch(() => undefined);
    });
  }

  /**
   * One pass over every change queued since the last: each read alone ({@link #applyOne}), then the
   * index and the split rebuilt once — so a burst of changes (many tenants' tool calls, in this
   * process or heard from others) costs one rebuild, not one each; past {@link reloadPast} changes
   * a full reload is the cheaper read. Changes made here are announced together (one bump); heard
   * ones are reflected in the watermark unless a route could not be made (then the periodic check
   * reloads).
   */
  async #applyPending(): Promise<void> {
    this.#passScheduled = false;
    const items = this.#pending.splice(0);
    try {
      const wanted = items.filter((i) => i.mark === undefined || !this.#watermark.covers(i.mark));
      const changes = wanted.flatMap((i) => i.changes);
      let failed = false;
      this.tableUpdates.passes++;
      if (changes.length > reloadPast(this.#routes.size)) {
        this.tableUpdates.fullReloads++;
        await this.#refresh();
      } else {
        for (const change of changes) failed = (await this.#applyOne(change)) || failed;
        this.tableUpdates.changesApplied += changes.length;
        await this.#tableChanged();
      }
      const made = wanted.filter((i) => i.mark === undefined).flatMap((i) => i.changes);
      if (made.length > 0) await this.#announce(made);
      if (!failed) for (const i of wanted) if (i.mark !== undefined) this.#watermark.reflect(i.mark);
      if (failed && this.#state === 'running') setTimeout(() => void this.refresh().catch(() => undefined), Math.min(this.#opts.refreshMs, 1000)).unref();
      for (const i of items) i.resolve();
    } catch (err) {
      for (const i of items) i.reject(err);
    }
  }

  /**
   * The dispatcher's housekeeping: queues no enabled plugin version routes to are removed (see
   * {@link OrphanSweeper}), at most every `orphanGraceMs / 4`, under the table lock.
   */
  async #sweepOrphans(): Promise<void> {
    const now = Date.now();
    if (!this.#dispatcher.leading || now - this.#lastSweep < this.#opts.orphanGraceMs / 4) return;
    this.#lastSweep = now;
    const routed = (queue: string): boolean => {
      // A lane is routed while its plugin is.
      const group = queuePlugin(queue)?.group ?? queue;
      const route = this.#routes.get(group);
      return (route !== undefined && !route.parked) || this.#parking.has(group);
    };
    const wanted = async (): Promise<ReadonlySet<string>> => {
      const plugins = await this.#listPlugins();
      return new Set(plugins.filter((p) => p.attributes.kind !== 'model' && p.attributes.status === 'enabled').map((p) => pluginGroup(p.attributes.name, p.tenantId)));
    };
    await this.#exclusive(async () => {
      await this.#orphans.sweep(routed, wanted);
    });
  }

  /**
   * Reloads plugins and pins from the store; starts workers for new routes, stops emptied ones. The
   * returned promise settles after a reload that began after this call (a reload already in flight
   * may have read the store before the change the caller is waiting for); callers share reloads.
   */
  refresh(): Promise<void> {
    if (this.#refreshQueued) return this.#refreshQueued;
    const run = (): Promise<void> => {
      this.#refreshQueued = undefined;
      this.#refreshing = this.#exclusive(() => this.#refresh()).finally(() => (this.#refreshing = undefined));
      return this.#refreshing;
    };
    if (!this.#refreshing) return run();
    this.#refreshQueued = this.#refreshing.catch(() => undefined).then(run);
    return this.#refreshQueued;
  }

  /**
   * Keeps this process on the bus's roster of routers ({@link ROUTER_ROSTER}) and splits the queues
   * again among its live members: a process joining, draining or dying moves queues (their workers
   * are woken to hand a queue over or ask for it). One bus call per quarter heartbeat.
   */
  #callRoll(): Promise<void> {
    this.#rostering ??= (async () => {
      try {
        const members = await this.bus.roster!(ROUTER_ROSTER, this.consumer, this.#opts.heartbeatMs);
        this.#reshare(members);
        if (this.#stopListening === undefined && this.#state === 'running') void this.#listen();
      } catch (err) {
        this.options.logger.warn('reading the roster of routers failed', { error: toUeeError(err).message });
      }
    })().finally(() => (this.#rostering = undefined));
    return this.#rostering;
  }

  /**
   * The dispatcher filled `routes`' queues: this process's workers are woken; the queues the split
   * gives to other processes are named in one {@link QUEUED_SIGNAL} for their workers there.
   */
  #queued(targets: ReadonlySet<Route | Lane>): void {
    const share = this.#share;
    let others: string[] | undefined;
    for (const t of targets) {
      if (isLane(t)) {
        // Opened here in any case: its worker reads it if the split gives the lane to this process, and
        // is otherwise a safety net for the owner (see DeliveryOptions.owns).
        this.#wakeLane(t.laneOf, t.entry.laneTenant!, t.group);
        if (share !== undefined && !share.ownsLane(t.group)) (others ??= [this.consumer]).push(t.group);
        continue;
      }
      if (share === undefined || share.owns(t.group)) t.worker?.wake();
      else (others ??= [this.consumer]).push(t.group);
    }
    if (others === undefined || this.bus.signal === undefined) return;
    this.bus.signal(QUEUED_SIGNAL, others.join('\n')).catch((err: unknown) => {
      // A hint only: the owners find the deliveries at their next poll.
      this.options.logger.debug('signalling queued deliveries failed', { error: toUeeError(err).message });
    });
  }

  /**
   * Listens for other processes' {@link QUEUED_SIGNAL}s (a bus with `signal` and `listen`). While the
   * subscription is down, empty queues are polled every `pollMs` again; when it is back every worker
   * looks at its queue (what was signalled meanwhile is lost).
   */
  #listen(): Promise<void> {
    this.#subscribing ??= this.#subscribe().finally(() => (this.#subscribing = undefined));
    return this.#subscribing;
  }

  async #subscribe(): Promise<void> {
    if (this.bus.listen === undefined || this.bus.signal === undefined || this.#stopListening !== undefined) return;
    const wakeAll = (): void => this.#wakeAll();
    try {
      this.#stopListening = await this.bus.listen(QUEUED_SIGNAL, {
        message: (message) => {
          const lines = message.split('\n');
          if (lines[0] === this.consumer) return;
          for (let i = 1; i < lines.length; i++) {
            const group = lines[i]!;
            const route = this.#routes.get(group);
            if (route !== undefined) {
              route.worker?.wake();
              continue;
            }
            // A lane: woken or opened here.
            const lane = this.#laneRoute(group);
            if (lane !== undefined) this.#wakeLane(lane.route, lane.tenantId, group);
          }
        },
        ready: () => {
          this.#hearing = true;
          wakeAll();
          // Lanes signalled while this process was not listening are found on the bus.
          void this.#discoverLanes();
        },
        lost: () => {
          this.#hearing = false;
          // Workers waiting at the slow pace come back to `pollMs`.
          wakeAll();
        },
      });
    } catch (err) {
      this.options.logger.warn('listening for queued deliveries failed (tried again at the next roster call); other processes\' deliveries are found by polling meanwhile', { error: toUeeError(err).message });
    }
  }

  /** Splits the routed queues among `members` (default: the last roster read); wakes the workers of queues that changed hands. */
  #reshare(members?: readonly string[]): void {
    const share = this.#share;
    if (share === undefined) return;
    const queues: string[] = [];
    for (const route of this.#routes.values()) if (!route.parked) queues.push(route.group);
    const generation = share.generation;
    const changed = share.update(members ?? share.members, queues);
    if (changed.length > 0) this.options.logger.debug('queues split again among the routers', { members: share.members.length, changed: changed.length });
    for (const group of changed) this.#routes.get(group)?.worker?.wake();
    if (share.generation === generation) return;
    // Other members: any lane may have moved. Each open one looks again, and those now this
    // process's that it has not open are found on the bus.
    for (const lane of this.#lanes.values()) lane.worker?.wake();
    void this.#discoverLanes();
  }

  /** Runs table changes one at a time (a full reload and a lifecycle event's update never interleave). */
  #exclusive(fn: () => Promise<void>): Promise<void> {
    const next = this.#tableLock.then(fn);
    this.#tableLock = next.catch(() => undefined);
    return next;
  }

  /** Every plugin version of every scope; what the table holds is read again only where its entity moved (see {@link PluginRegistry.listAllSince}). */
  #listPlugins(): Promise<PluginRecord[]> {
    const known = new Map<string, PluginRecord>();
    for (const route of this.#routes.values()) for (const v of route.versions) known.set(recordKey(v.tenantId, v.id), v);
    return this.registry.listAllSince(known);
  }

  async #refresh(): Promise<void> {
    this.#lastFullRefresh = Date.now();
    const plugins = (await this.#listPlugins()).filter((p) => p.attributes.kind !== 'model');
    const next = new Map<string, PluginRecord[]>();
    for (const p of plugins) {
      const key = pluginGroup(p.attributes.name, p.tenantId);
      const list = next.get(key);
      if (list) list.push(p);
      else next.set(key, [p]);
    }
    await this.#versions.load(this.store);
    const failed: string[] = [];
    for (const [key, versions] of next) {
      const existing = this.#routes.get(key);
      if (existing) {
        existing.versions = byVersion(versions);
        continue;
      }
      if (!(await this.#addRoute(key, versions))) failed.push(key);
    }
    for (const [key, route] of this.#routes) {
      if (!next.has(key)) {
        // Gone from the registry: its worker stops and (by the dispatching process) its queue goes.
        this.#routes.delete(key);
        this.#park(route);
      }
    }
    await this.#tableChanged();
    if (failed.length > 0 && this.#state === 'running') setTimeout(() => void this.refresh().catch(() => undefined), Math.min(this.#opts.refreshMs, 1000)).unref();
  }

  /**
   * Applies a change of some plugins made by this process (a deploy, a status change, a pin, an
   * experiment): the versions of `names` in `tenantId`'s scope and in the global scope, and that
   * tenant's pins and running experiments, are read again (in the next pass, with whatever else is
   * queued); the rest of the table stays as it is, and the change is announced to the other
   * processes, which apply just it too ({@link announceRoutingChange}). A full reload reads every
   * scope's plugins, pins and experiments — ~46 ms of the
   * main thread with 1,000 tenants' plugins (150 ms before 2026-12-06) — and each tool call made one:
   * one tenant's 20 calls a second held every tenant's deliveries behind them (ROUTER-CHANGE-1).
   */
  applyChange(change: RoutingChange): Promise<void> {
    return this.#whenApplied([change]);
  }

  /**
   * Reads one change's plugins (and its tenant's pins and experiments) into the routes; true when a
   * route could not be made. A change that names the versions it wrote has just those read back
   * into routes held here (see {@link RoutingChange.versions}); otherwise, or for a plugin not held
   * here, every version of each name.
   */
  async #applyOne(change: RoutingChange): Promise<boolean> {
    if (change.tenantId !== null) await this.#versions.loadTenant(this.store, change.tenantId);
    let failed = false;
    if (change.versions !== undefined) {
      for (const v of change.versions) {
        const route = this.#routes.get(pluginGroup(v.name, v.tenantId));
        const plugin = await this.registry.version({ tenantId: v.tenantId, actor: 'system:router' }, v.name, v.version);
        // A model's version routes nowhere.
        if (plugin?.attributes.kind === 'model' && route === undefined) continue;
        if (route !== undefined && plugin !== undefined && plugin.attributes.kind !== 'model') route.versions = byVersion([...route.versions.filter((x) => x.id !== plugin.id), plugin]);
        else failed = (await this.#readName(v.name, v.tenantId)) || failed;
      }
      return failed;
    }
    for (const name of new Set(change.names)) {
      for (const scope of change.tenantId === null ? [null] : [change.tenantId, null]) failed = (await this.#readName(name, scope)) || failed;
    }
    return failed;
  }

  /** Reads every version of `name` in `scope` into its route (made, or removed when none is left); true when the route could not be made. */
  async #readName(name: string, scope: string | null): Promise<boolean> {
    const versions = (await this.registry.versions({ tenantId: scope, actor: 'system:router' }, name)).filter((p) => p.attributes.kind !== 'model');
    const key = pluginGroup(name, scope);
    const route = this.#routes.get(key);
    if (versions.length > 0 && route !== undefined) route.versions = byVersion(versions);
    else if (versions.length > 0) return !(await this.#addRoute(key, versions));
    else if (route !== undefined) {
      this.#routes.delete(key);
      this.#park(route);
    }
    return false;
  }

  /**
   * Applies plugin lifecycle events (deploy, enable, disable) read by the dispatcher: each names the
   * plugin entity it changed, so only that version is read back from the store — O(1) store reads
   * per deploy instead of a full reload (one query per tenant), which made N deploys cost O(N²).
   * Anything it cannot apply that way falls back to a full reload.
   */
  #applyChanges(changes: readonly EventEnvelope[]): Promise<void> {
    return this.#exclusive(async () => {
      const applied: RoutingChange[] = [];
      for (const event of changes) {
        if (event.entityId === undefined) return this.#reloadAndAnnounce();
        let plugin: PluginRecord;
        try {
          plugin = await this.registry.get({ tenantId: event.tenantId, actor: 'system:router' }, event.entityId);
        } catch (err) {
          if (toUeeError(err).code === 'NOT_FOUND') continue;
          throw err;
        }
        if (plugin.attributes.kind === 'model' || plugin.tenantId !== event.tenantId) continue;
        const key = pluginGroup(plugin.attributes.name, plugin.tenantId);
        const route = this.#routes.get(key);
        if (route) route.versions = byVersion([...route.versions.filter((v) => v.id !== plugin.id), plugin]);
        else if (!(await this.#addRoute(key, [plugin]))) return this.#reloadAndAnnounce();
        applied.push({ tenantId: plugin.tenantId, names: [plugin.attributes.name], versions: [changedVersion(plugin)] });
      }
      await this.#tableChanged();
      if (changes.length > 0) await this.#announce(applied);
    });
  }

  /** A change read from the stream that cannot be applied alone: the table reloaded here, and the others told to (a bump naming nothing). */
  async #reloadAndAnnounce(): Promise<void> {
    await this.#refresh();
    await this.#announce([]);
  }

  /** Tells the other processes the table changed here, naming the changes so they apply just them (see {@link announceRoutingChange}). */
  async #announce(changes: readonly RoutingChange[]): Promise<void> {
    this.#watermark.reflect(await announceRoutingChange(this.bus, this.consumer, changes));
  }

  /**
   * Stops a route's worker (after its deliveries in flight) and, when this process is the dispatcher
   * — which applies lifecycle events in stream order, so its view of the table is the one events are
   * routed by — removes its queue: a deleted or disabled plugin leaves no queue, consumers or lease.
   */
  #park(route: Route): void {
    route.parked = true;
    const worker = route.worker;
    route.worker = undefined;
    // A global plugin's lanes close with it (and go with its queue, below).
    for (const lane of [...this.#lanes.values()]) {
      if (lane.laneOf !== route) continue;
      this.#opening.delete(lane);
      if (lane.worker !== undefined) this.#closeLane(lane, lane.worker);
      else this.#lanes.delete(lane.group);
    }
    // Its lanes' workers still finishing (closed now, or idle a moment ago): done before the lanes go.
    const lanesClosing = [...this.#closingLanes].filter(([group]) => queuePlugin(group)?.group === route.group).map(([, closing]) => closing);
    const previous = this.#parking.get(route.group) ?? Promise.resolve();
    const parking = previous
      .then(async () => {
        await worker?.stop();
        await Promise.allSettled(lanesClosing);
        const current = this.#routes.get(route.group);
        const needed = current !== undefined && !current.parked;
        if (needed || !this.#dispatcher.leading) return;
        await this.bus.deleteQueue(route.group);
        if (route.tenantId === null && this.bus.queues !== undefined) {
          // Every lane of the plugin on the bus, also those no process has open.
          for (const q of await this.bus.queues()) if (q !== route.group && queuePlugin(q)?.group === route.group) await this.bus.deleteQueue(q);
        }
      })
      .catch((err: unknown) => this.options.logger.warn('removing a plugin queue failed', { group: route.group, error: toUeeError(err).message }))
      .finally(() => {
        if (this.#parking.get(route.group) === parking) this.#parking.delete(route.group);
      });
    this.#parking.set(route.group, parking);
  }

  /** A new route: its queue first (the index must not send anything to a missing queue), then its worker. */
  async #addRoute(key: string, versions: PluginRecord[]): Promise<boolean> {
    const sorted = byVersion(versions);
    const first = sorted[0]!;
    const route: Route = { group: key, name: first.attributes.name, tenantId: first.tenantId, versions: sorted };
    try {
      await this.#parking.get(key);
      await this.bus.ensureQueue(route.group);
    } catch (err) {
      this.options.logger.warn('creating a plugin queue failed; retrying at the next refresh', { group: key, error: toUeeError(err).message });
      return false;
    }
    this.#routes.set(key, route);
    return true;
  }

  /**
   * Rebuilds the index from the routes and keeps only enabled versions loaded. A route without an
   * enabled version is parked (no worker polling an idle queue; its queue removed); one that has an
   * enabled version again gets its queue back before it is indexed, then its worker.
   */
  async #tableChanged(): Promise<void> {
    const enabled = new Set<string>();
    const starting: Route[] = [];
    for (const route of this.#routes.values()) {
      let active = false;
      for (const v of route.versions) {
        if (v.attributes.status !== 'enabled') continue;
        enabled.add(v.id);
        active = true;
      }
      if (!active) {
        if (!route.parked) this.#park(route);
        continue;
      }
      if (route.parked) {
        try {
          await this.#parking.get(route.group);
          await this.bus.ensureQueue(route.group);
          route.parked = false;
        } catch (err) {
          this.options.logger.warn('recreating a plugin queue failed; retrying at the next refresh', { group: route.group, error: toUeeError(err).message });
          continue;
        }
      }
      if (route.worker === undefined && this.#state === 'running') starting.push(route);
    }
    // Disabled versions are never routed to: unloading them gives their instances' memory back.
    this.invoker.retain(enabled);
    this.#index = new SubscriptionIndex([...this.#routes.values()].filter((r) => !r.parked));
    // The split first: a new worker's first turn already knows whether its queue is this process's.
    this.#reshare();
    for (const route of starting) if (this.#state === 'running' && route.worker === undefined && !route.parked) this.#startWorker(route);
  }

  #startWorker(route: Route): void {
    route.worker = this.#newWorker(route, this.#share === undefined ? undefined : () => this.#share!.owns(route.group));
    route.worker.start();
  }

  #newWorker(entry: RouteEntry, owns: (() => boolean) | undefined, idleStop?: DeliveryOptions['idleStop']): QueueWorker {
    return new QueueWorker(
      entry,
      this.bus,
      this.consumer,
      this.#handler,
      {
        batchSize: this.#opts.batchSize,
        concurrency: this.#opts.concurrency,
        claimIdleMs: this.#opts.claimIdleMs,
        consumerIdleMs: this.#opts.consumerIdleMs,
        idleMs: this.#opts.idleMs,
        pollMs: this.#opts.pollMs,
        woken: () => this.#hearing || this.#dispatcher.leading,
        liveness: this.#liveness,
        io: this.queueIo,
        budget: this.#inHand,
        owns,
        idleStop,
      },
      this.options.logger.child({ group: entry.queue ?? entry.group }),
    );
  }

  /** Every worker of the process looks at its queue now. */
  #wakeAll(): void {
    for (const r of this.#routes.values()) r.worker?.wake();
    for (const lane of this.#lanes.values()) lane.worker?.wake();
  }

  /** The lane of global plugin `route` for `tenantId`'s events, named for opening when it is not known to exist (see {@link #openLanes}). */
  #laneFor(route: Route, tenantId: string): Lane {
    const lane = this.#lane(route, tenantId, laneGroup(route.name, tenantId));
    if (!lane.ready) this.#opening.add(lane);
    return lane;
  }

  /** Lane `group` of `route` as this process knows it (a new one, not known to exist yet, when it knows none). */
  #lane(route: Route, tenantId: string, group: string): Lane {
    let lane = this.#lanes.get(group);
    if (lane === undefined || lane.laneOf !== route) {
      lane = newLane(route, tenantId, group);
      this.#lanes.set(group, lane);
    }
    return lane;
  }

  /**
   * The bus refused a route step because queue `group` is gone (removed behind this process's back):
   * a lane's or a plugin's queue still routed to is created again before the step is retried, so one
   * missing queue does not stop the routing of every event behind it. (A parked plugin's is not: it
   * is going, and the table drops it from the index.)
   */
  #queueLost(group: string): void {
    const lane = this.#lanes.get(group);
    if (lane !== undefined) {
      // Not known to exist any more: the retry's `of` names it for opening (see #laneFor).
      lane.ready = false;
      return;
    }
    const route = this.#routes.get(group);
    if (route !== undefined && route.parked !== true) this.#lostQueues.add(route);
  }

  /**
   * Creates the queues a route step is about to append to that are not known to exist: the lanes
   * named since the last call, and the plugins' own queues a step found gone ({@link #queueLost}).
   * Throws (the step is not made) when one cannot be created.
   */
  async #openLanes(): Promise<void> {
    for (const route of [...this.#lostQueues]) {
      if (route.parked !== true && this.#routes.get(route.group) === route) await this.bus.ensureQueue(route.group);
      this.#lostQueues.delete(route);
    }
    if (this.#opening.size === 0) return;
    const lanes = [...this.#opening];
    this.#opening.clear();
    for (const lane of lanes) {
      if (lane.ready) continue;
      // A parked plugin's lanes may be being removed: created again after that.
      await this.#parking.get(lane.laneOf.group);
      await this.bus.ensureQueue(lane.group);
      lane.ready = true;
    }
  }

  /**
   * Something was queued in lane `group` of global plugin `route` (by this process's dispatcher, or
   * signalled): its worker here is woken, or started when it has none (it stopped idle, or never ran here).
   */
  #wakeLane(route: Route, tenantId: string, group: string): void {
    if (this.#state !== 'running' || route.parked || this.#routes.get(route.group) !== route) return;
    const lane = this.#lane(route, tenantId, group);
    // Something is in it: the queue exists.
    lane.ready = true;
    if (lane.worker !== undefined) {
      lane.worker.wake();
      return;
    }
    const opened = lane;
    const closing = this.#closingLanes.get(group);
    const worker = this.#newWorker(opened.entry, this.#share === undefined ? undefined : () => this.#share!.ownsLane(group), {
      afterMs: this.#opts.laneIdleMs,
      stop: () => this.#closeLane(opened, worker),
    });
    opened.worker = worker;
    // The lane's previous worker here releases its lease first, or this one would wait a lease retry.
    if (closing === undefined) worker.start();
    else void closing.then(() => {
      if (opened.worker === worker && !worker.stopped) worker.start();
    });
  }

  /** The global plugin's route (routed here) and the tenant of lane queue `group`; undefined for any other queue. */
  #laneRoute(group: string): { route: Route; tenantId: string } | undefined {
    const owner = queuePlugin(group);
    if (owner?.lane === undefined) return undefined;
    const route = this.#routes.get(owner.group);
    return route === undefined ? undefined : { route, tenantId: owner.lane };
  }

  /** Closes a lane's worker here (idle, or its plugin parked): later deliveries open it again. */
  #closeLane(lane: Lane, worker: QueueWorker): boolean {
    if (lane.worker !== worker) return false;
    lane.worker = undefined;
    if (this.#lanes.get(lane.group) === lane) this.#lanes.delete(lane.group);
    const closing = worker
      .stop()
      .catch(() => undefined)
      .finally(() => {
        if (this.#closingLanes.get(lane.group) === closing) this.#closingLanes.delete(lane.group);
      });
    this.#closingLanes.set(lane.group, closing);
    return true;
  }

  /**
   * Opens the lanes on the bus that this process should read (the split gives them to it) and has
   * not open: at start, on becoming the dispatcher, when the roster changed, when signals are heard
   * again — the moments a lane with deliveries may have been missed. O(queues) in one bus call.
   */
  async #discoverLanes(): Promise<void> {
    if (this.bus.queues === undefined || this.#state !== 'running') return;
    let queues: string[];
    try {
      queues = await this.bus.queues();
    } catch (err) {
      this.options.logger.warn('listing queues to find lanes failed', { error: toUeeError(err).message });
      return;
    }
    for (const q of queues) {
      if (this.#lanes.has(q)) continue;
      const lane = this.#laneRoute(q);
      if (lane === undefined || (this.#share !== undefined && !this.#share.ownsLane(q))) continue;
      this.#wakeLane(lane.route, lane.tenantId, q);
    }
  }

  /** The version that handles `event` on `route`, or undefined when none does. */
  resolve(route: { name: string; versions: PluginRecord[] }, event: EventEnvelope): PluginRecord | undefined {
    return this.#versions.resolve(route, event);
  }

  /**
   * Re-delivers a dead letter's event, for real, to `plugin` (a version of the letter's logical
   * plugin): one attempt through the live delivery path, its effects committed under the same
   * idempotency key as the original delivery — so however often a letter is redriven, by however many
   * processes, its effects commit at most once — and its outcome recorded with `trigger: 'redrive'`.
   * One redrive of a letter at a time in this process (`LIMIT_EXCEEDED` for a second). The caller
   * deletes the letter once this succeeds.
   */
  async redrive(letter: DeadLetter, plugin: PluginRecord): Promise<InvocationOutcome> {
    if (this.#state !== 'running') throw new UeeError('CLOSED', `the router is ${this.#state}`, { hint: 'redrive on a running process (uee start with --runtime on)' });
    // A letter of a global plugin's lane is the plugin's.
    const group = queuePlugin(letter.group)?.group ?? letter.group;
    const route = this.#routes.get(group);
    if (route === undefined || pluginGroup(plugin.attributes.name, plugin.tenantId) !== group) {
      throw new UeeError('NOT_FOUND', `plugin ${plugin.attributes.name} v${plugin.attributes.pluginVersion} does not serve the dead letter's queue ${letter.group}`, {
        hint: 'redrive to a version of the plugin that dead-lettered the event (plugin_list shows its versions)',
      });
    }
    if (this.#redriving.has(letter.id)) {
      throw new UeeError('LIMIT_EXCEEDED', `dead letter ${letter.id} is being redriven already`, { hint: 'wait for that redrive to finish, then list the dead letters again' });
    }
    this.#redriving.add(letter.id);
    try {
      return await this.#handler.redrive(route, plugin, letter.event, letter.id, letter.attempts.length + 1);
    } finally {
      this.#redriving.delete(letter.id);
    }
  }

  readonly #redriving = new Set<string>();
  #lastSweep = 0;
  readonly #orphans: OrphanSweeper;

  /** Stops the dispatcher and every worker after their deliveries in flight. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'idle') {
      if (this.#state === 'idle') await this.#budget.close().catch(() => undefined);
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    clearInterval(this.#refreshTimer);
    await this.#refreshQueued?.catch(() => undefined);
    await this.#refreshing?.catch(() => undefined);
    await this.#dispatcher.stop();
    await Promise.allSettled([...this.#routes.values()].map((r) => r.worker?.stop() ?? Promise.resolve()));
    await Promise.allSettled([...this.#lanes.values()].map((l) => l.worker?.stop() ?? Promise.resolve()));
    await Promise.allSettled([...this.#closingLanes.values()]);
    await Promise.allSettled([...this.#parking.values()]);
    await this.experiments.drain();
    await this.#budget.close().catch(() => undefined);
    clearInterval(this.#rosterTimer);
    await this.#rostering;
    await this.#subscribing;
    this.#stopListening?.();
    this.#hearing = false;
    this.#stopHearingChanges?.();
    this.#hearingChanges = false;
    if (this.#share !== undefined) await this.bus.roster!(ROUTER_ROSTER, this.consumer, 0).catch(() => undefined);
    // Last: until now another process must not take over what this one was finishing.
    await this.#liveness?.stop();
    this.#state = 'stopped';
  }
}
