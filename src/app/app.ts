import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from '../core/index.js';
import { toUeeError } from '../core/index.js';
import type { EventBus } from '../bus/port.js';
import type { EntityStore } from '../store/port.js';
import { IDEMPOTENCY_PURGE_BATCH, JOURNAL_PURGE_BATCH } from '../store/index.js';
import type { BusConfig, UeeConfig } from '../config/index.js';
import { redact } from '../config/index.js';
import { openBus, openStore } from './backends.js';
import { OutboxRelay, type RelayLease } from './outbox-relay.js';
import { ExecutionHost, createStoreHostServices, type ExecutionHostOptions } from '../runtime/index.js';
import { PluginRegistry } from '../registry/index.js';
import { DISPATCH_GROUP, InMemoryChainCounter, RedisChainCounter, Router, SqliteChainCounter, type ChainCounter, type RouterOptions } from '../router/index.js';
import { RedisLedger, createModelGateway, forRuntime, type DefaultModelGateway } from '../model-gateway/index.js';
import { pluginInspector } from './module-inspector.js';
import { HostPluginInvoker } from './plugin-invoker.js';
import { RegistryWasmModelRunner } from './wasm-model-runner.js';
import { PluginLogStore } from './plugin-logs.js';
import { InvocationRecords, type InvocationRecordsOptions } from './invocation-records.js';
import { TimerService, type TimerServiceOptions } from './timer-service.js';
import { Retention } from './retention.js';
import { ProjectionService, type ProjectionServiceOptions } from '../projections/index.js';
import { WORKFLOW_EVENT_TYPES, WORKFLOW_QUEUE, WorkflowService } from '../workflows/index.js';

/** Lifecycle of the application: `running` → `draining` → `closed`. */
export type AppState = 'running' | 'draining' | 'closed';

/** What `uee status` and `/status` report. */
export interface AppStatus {
  state: AppState;
  uptimeMs: number;
  store: { kind: string; location: string };
  bus: { kind: string; location: string; length: number };
  outbox: { pending: number; published: number };
  tenants: number;
  /** The Node.js version and the flags the process runs with (command line, then `NODE_OPTIONS`): `npm start` and `bin/uee.mjs` pass `SERVER_NODE_FLAGS`. */
  node: { version: string; flags: string[] };
  /**
   * Invocation records since start: written to the store, dropped (the buffer's bounds reached while
   * the store was behind, or a batch the store refused — each also logged), and waiting to be
   * written now (see `InvocationRecords`). `enabled` false with `--records-retention-hours 0`.
   */
  records: { enabled: boolean; written: number; dropped: number; waiting: number };
  runtime: {
    enabled: boolean;
    workers: number;
    plugins: number;
    replacements: number;
    router: string;
    /** Plugin calls waiting for a worker now. */
    queued: number;
    /** Deliveries the router holds now (read, not yet done) against its bound, and queues waiting for room (see `RouterOptions.maxInHand`). */
    inHand: { capacity: number; held: number; waiting: number };
    /** Global plugins' lanes (their queues per tenant with events) with a worker in this process now; idle ones close (`RouterOptions.laneIdleMs`). */
    lanes: number;
    /**
     * Host calls answered since start, those the main thread saw by polling, and the messages of
     * workers that gave up spinning for an answer while it polled (see `UEE_HOST_CALL_SPIN_US`), and
     * the requests over a plugin's or tenant's host-call rate, slowed to it (their worker slept, then asked again);
     * `spinUs` is how long the main thread polls after a host call, as the runtime runs it.
     */
    hostCalls: { answered: number; polled: number; gaveUp: number; throttled: number; spinUs: number };
    /** Calls whose input, output and host calls crossed by direct I/O (JS plugins; see docs/plugin-abi.md) instead of the Extism kernel. */
    directIoCalls: number;
    /** Calls that started a plugin instance on their worker (a cold start: none idle there for their plugin and tenant). */
    instancesStarted: number;
  };
}

/** The plugin-running half of a process (absent with `--runtime off`). */
export interface RuntimeParts {
  host: ExecutionHost;
  router: Router;
  /** Fires due `uee.timer` entities (see {@link TimerService}). */
  timers: TimerService;
}

/**
 * Tuning that is not operator configuration: tests and benchmarks pass it to
 * {@link UeeApp.create}; production leaves it empty and gets the documented defaults.
 */
export interface UeeAppOptions {
  /** Router tuning (e.g. a short `claimIdleMs` so a crash test reclaims a dead consumer's entries quickly). @default {} */
  router?: Omit<RouterOptions, 'logger' | 'hopLimit'>;
  /** Timer service tuning (e.g. a short `intervalMs`, or a test clock). @default {} */
  timers?: Omit<TimerServiceOptions, 'logger'>;
  /** Workflow service tuning (a test clock, a shorter claim of a crashed process's events). @default {} */
  workflows?: { now?: () => number; claimIdleMs?: number; intervalMs?: number; maxIntervalMs?: number };
  /** Invocation-record tuning (e.g. a short `flushMs`). @default {} */
  records?: Omit<InvocationRecordsOptions, 'logger' | 'retentionMs'>;
  /** Projection maintenance tuning (e.g. a short `pollMs`). @default {} */
  projections?: Omit<ProjectionServiceOptions, 'logger'>;
  /** Execution-host tuning (e.g. `maxBatch: 1` for the one-call-per-message path bench/routing compares). @default {} */
  host?: Pick<ExecutionHostOptions, 'maxBatch' | 'batchTargetMs'>;
}

/**
 * The composition root: one store, one bus, the outbox relay between them, the plugin registry,
 * the model gateway and (unless `--runtime off`) the execution host and router. Created with {@link UeeApp.create}; `close()` drains
 * and is safe to call twice.
 */
export class UeeApp {
  #state: AppState = 'running';
  #closing: Promise<void> | undefined;
  readonly #startedAt = Date.now();

  private constructor(
    readonly config: UeeConfig,
    readonly store: EntityStore,
    readonly bus: EventBus,
    readonly relay: OutboxRelay,
    readonly registry: PluginRegistry,
    readonly gateway: DefaultModelGateway,
    readonly pluginLogs: PluginLogStore,
    readonly runtime: RuntimeParts | undefined,
    readonly logger: Logger,
    /** Declared workflows: definitions, instances, enforced transitions (see {@link WorkflowService}). */
    readonly workflows: WorkflowService,
    /** Invocation records: the router's recorder and retention (absent with `--records-retention-hours 0`). */
    readonly records: InvocationRecords | undefined,
    /** Event-journal retention (absent with `--journal-retention-hours 0`: entries are kept). */
    readonly journalRetention: Retention | undefined,
    /** Retention of the deliveries' idempotency keys (absent with `--idempotency-retention-hours 0`, or a store that cannot purge them: kept). */
    readonly idempotencyRetention: Retention | undefined,
    /** Declarative projections: definitions, incremental maintenance from the journal, rebuilds. */
    readonly projections: ProjectionService,
  ) {}

  /** Opens the backends, registers bootstrap tenants and starts the relay. */
  static async create(config: UeeConfig, logger: Logger, options: UeeAppOptions = {}): Promise<UeeApp> {
    if (config.store.kind === 'sqlite' || config.bus.kind === 'embedded') mkdirSync(config.dataDir, { recursive: true });
    const store = await openStore(config.store, {
      maxAttributeBytes: config.limits.maxAttributeBytes,
      filter: { maxScanMs: config.limits.queryScanMs, maxDocumentsExamined: config.limits.queryMaxDocs },
      slowQueryMs: config.limits.slowQueryMs,
      maxIndexesPerTenant: config.limits.maxIndexesPerTenant,
      logger,
    });
    let bus: EventBus;
    try {
      const { maxQueueLength, dedupeWindowMs, settledDedupeMs } = config.limits;
      bus = await openBus(config.bus, { logger, busOptions: { maxQueueLength, dedupeWindowMs, settledDedupeMs } });
    } catch (err) {
      await store.close();
      throw err;
    }
    let lease: RelayLease;
    try {
      // The dispatcher's group must exist before this process publishes anything: created later (by
      // the first router to start), it would begin at the stream's tail and never route what came
      // before — e.g. events committed while every process ran with `--runtime off`.
      await bus.ensureGroup(DISPATCH_GROUP, 'latest');
      lease = await relayLease(store);
    } catch (err) {
      await bus.close();
      await store.close();
      throw err;
    }
    for (const tenantId of config.bootstrapTenants) await store.tenants.create(tenantId);
    const relay = new OutboxRelay(store.outbox, bus, { lease, logger: logger.child({ component: 'outbox-relay' }) });
    const registry = new PluginRegistry(store, store.blobs, pluginInspector(config.runtime.budgetCeiling), bus, { maxSubscribersPerType: config.limits.maxSubscribersPerType, maxPluginsPerTenant: config.limits.maxPluginsPerTenant });
    const wasmRunner = new RegistryWasmModelRunner(registry, logger.child({ component: 'model-plugins' }));
    // Quotas and concurrency leases are counted where every process sharing the bus sees them: in
    // Redis beside a Redis bus, so N processes cannot each spend a tenant's whole quota.
    let ledger: RedisLedger | undefined;
    try {
      ledger = config.bus.kind === 'redis' ? await RedisLedger.create({ url: config.bus.url, prefix: `${config.bus.prefix}gw:` }) : undefined;
    } catch (err) {
      await bus.close();
      await store.close();
      throw err;
    }
    const gateway = await createModelGateway({
      logger: logger.child({ component: 'model-gateway' }),
      wasmRunner,
      ...(config.modelQuotas ? { quotas: config.modelQuotas } : {}),
      ...(ledger ? { ledger, ownLedger: true } : {}),
    });
    const pluginLogs = new PluginLogStore();
    const records =
      config.records.retentionHours > 0
        ? new InvocationRecords(store.invocations, { retentionMs: config.records.retentionHours * 3_600_000, logger: logger.child({ component: 'invocation-records' }), ...options.records })
        : undefined;
    records?.start();
    const journalRetention =
      config.journal.retentionHours > 0
        ? new Retention((before, limit) => store.journal.purgeBefore(before, limit), { what: 'the event journal', retentionMs: config.journal.retentionHours * 3_600_000, batch: JOURNAL_PURGE_BATCH, logger: logger.child({ component: 'journal' }) })
        : undefined;
    journalRetention?.start();
    const purgeIdempotency = store.purgeIdempotency?.bind(store);
    const idempotencyRetention =
      config.idempotency.retentionHours > 0 && purgeIdempotency !== undefined
        ? new Retention(purgeIdempotency, { what: 'idempotency keys', retentionMs: config.idempotency.retentionHours * 3_600_000, batch: IDEMPOTENCY_PURGE_BATCH, everyMs: 60_000, logger: logger.child({ component: 'idempotency' }) })
        : undefined;
    idempotencyRetention?.start();
    const projections = new ProjectionService(store, { logger: logger.child({ component: 'projections' }), maxDocuments: config.projections.maxDocuments, ...options.projections });
    projections.start();
    let runtime: RuntimeParts | undefined;
    let kickTimers: TimerService | undefined;
    const workflows = new WorkflowService(store, {
      logger: logger.child({ component: 'workflows' }),
      ...(options.workflows?.now === undefined ? {} : { now: options.workflows.now }),
      afterCommit: () => {
        relay.kick();
        kickTimers?.kick();
      },
      // A workflow's model calls are billed and audited like a plugin's, under the workflow's name.
      callModel: async (ctx, r) => (await gateway.call(ctx, { model: r.model, input: r.input, eventId: r.eventId, pluginName: `workflow:${r.workflow}` })).output,
      models: (tenantId) => gateway.listModels(tenantId).map((m) => m.name),
    });
    if (config.runtime.enabled) {
      let host: ExecutionHost | undefined;
      let timers: TimerService | undefined;
      let chainCounter: ChainCounter | undefined;
      try {
        host = await ExecutionHost.create({
          services: createStoreHostServices({ store, models: forRuntime(gateway), resolveView: (ctx, view) => projections.resolveViewCached(ctx, view) }),
          workers: config.runtime.workers,
          maxWorkersPerTenant: config.runtime.maxWorkersPerTenant,
          hostCallSpin: { mainMs: config.runtime.hostCallSpinUs / 1000 },
          budgetCeiling: config.runtime.budgetCeiling,
          logger: logger.child({ component: 'runtime' }),
          ...options.host,
        });
        wasmRunner.attach(host);
        const invoker = new HostPluginInvoker(host, registry, store, pluginLogs, logger.child({ component: 'invoker' }));
        const router = new Router(store, bus, registry, invoker, {
          heartbeatMs: config.runtime.heartbeatMs,
          ...(config.runtime.maxInHand > 0 ? { maxInHand: config.runtime.maxInHand } : {}),
          ...options.router,
          logger: logger.child({ component: 'router' }),
          hopLimit: config.runtime.hopLimit,
          chainLimits: { maxEvents: config.runtime.chainMaxEvents, maxInvocations: config.runtime.chainMaxInvocations },
          chainCounter: (chainCounter = await openChainCounter(config.bus)),
          ...(records === undefined ? {} : { recorder: records }),
          // The workflow service below reads only its own event types, queued for it by the dispatcher.
          serviceQueues: [{ group: WORKFLOW_QUEUE, types: WORKFLOW_EVENT_TYPES, queued: () => workflows.wake() }],
        });
        await router.start();
        timers = new TimerService(store, { ...options.timers, logger: logger.child({ component: 'timers' }) });
        timers.start();
        kickTimers = timers;
        // Timer and spawn events drive instances only where plugins run (the runtime's processes).
        workflows.startConsuming(bus, options.workflows ?? {});
        runtime = { host, router, timers };
      } catch (err) {
        // A half-built app must not leak workers, connections or the relay loop.
        for (const step of [() => workflows.stop(), () => timers?.stop(), () => host?.close(), () => chainCounter?.close(), () => records?.close(), () => journalRetention?.stop(), () => idempotencyRetention?.stop(), () => projections.stop(), () => relay.stop(), () => gateway.close(), () => bus.close(), () => store.close()]) {
          await Promise.resolve()
            .then(step)
            .catch(() => undefined);
        }
        throw err;
      }
    }
    logger.info('uee started', {
      store: store.kind,
      bus: bus.kind,
      storeLocation: describeLocation(config.store),
      busLocation: describeLocation(config.bus),
      runtime: config.runtime.enabled ? `${config.runtime.workers} workers` : 'off',
    });
    return new UeeApp(config, store, bus, relay, registry, gateway, pluginLogs, runtime, logger, workflows, records, journalRetention, idempotencyRetention, projections);
  }

  /** Current lifecycle state. */
  get state(): AppState {
    return this.#state;
  }

  /** A snapshot for operators. */
  async status(): Promise<AppStatus> {
    const host = this.runtime?.host.stats();
    return {
      state: this.#state,
      uptimeMs: Date.now() - this.#startedAt,
      store: { kind: this.store.kind, location: describeLocation(this.config.store) },
      bus: { kind: this.bus.kind, location: describeLocation(this.config.bus), length: await this.bus.length() },
      outbox: { pending: await this.store.outbox.size(), published: this.relay.published },
      tenants: (await this.store.tenants.list()).length,
      node: { version: process.version, flags: nodeFlagsInEffect() },
      records: { enabled: this.records !== undefined, written: this.records?.written ?? 0, dropped: this.records?.dropped ?? 0, waiting: this.records?.waiting ?? 0 },
      runtime: {
        enabled: this.runtime !== undefined,
        workers: host?.workers ?? 0,
        plugins: host?.plugins ?? 0,
        replacements: host?.replacements ?? 0,
        router: this.runtime?.router.state ?? 'off',
        queued: host?.queued ?? 0,
        inHand: this.runtime?.router.inHand ?? { capacity: 0, held: 0, waiting: 0 },
        lanes: this.runtime?.router.lanesOpen ?? 0,
        hostCalls: { answered: host?.hostCalls ?? 0, polled: host?.hostCallsPolled ?? 0, gaveUp: host?.hostMessagesWhilePolling ?? 0, throttled: host?.hostCallsThrottled ?? 0, spinUs: host?.hostCallSpinUs ?? 0 },
        directIoCalls: host?.directIoCalls ?? 0,
        instancesStarted: host?.instancesStarted ?? 0,
      },
    };
  }

  /** Stops timers and router, drains the relay, then closes bus and store; each step isolated so one failure does not skip the rest. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'draining';
    for (const [name, step] of [
      // Timers first: what they commit while stopping still reaches the bus through the relay.
      ['workflows', () => this.workflows.stop()],
      ['timers', () => this.runtime?.timers.stop() ?? Promise.resolve()],
      ['router', () => this.runtime?.router.stop() ?? Promise.resolve()],
      ['runtime', () => this.runtime?.host.close() ?? Promise.resolve()],
      ['invocation records', () => this.records?.close() ?? Promise.resolve()],
      ['journal retention', () => Promise.resolve(this.journalRetention?.stop())],
      ['idempotency retention', () => Promise.resolve(this.idempotencyRetention?.stop())],
      ['projections', () => Promise.resolve(this.projections.stop())],
      ['relay', () => this.relay.stop()],
      ['model gateway', () => this.gateway.close()],
      ['bus', () => this.bus.close()],
      ['store', () => this.store.close()],
    ] as const) {
      try {
        await step();
      } catch (err) {
        this.logger.warn(`closing ${name} failed`, { error: toUeeError(err).message });
      }
    }
    this.#state = 'closed';
  }
}

/** The flags this process runs with: its command line's, then `NODE_OPTIONS`' (`/status`'s `node.flags`). */
function nodeFlagsInEffect(): string[] {
  const fromEnv = (process.env['NODE_OPTIONS'] ?? '').split(/\s+/).filter((f) => f.startsWith('-'));
  return [...process.execArgv, ...fromEnv];
}

function describeLocation(config: UeeConfig['store'] | UeeConfig['bus']): string {
  if ('path' in config) return config.path;
  return redact(config.url);
}

/**
 * Chain budgets are counted next to the bus, which every process routing the same events shares:
 * in Redis under the bus prefix, or in the embedded bus's SQLite file (in memory for `:memory:`).
 */
async function openChainCounter(bus: BusConfig): Promise<ChainCounter> {
  if (bus.kind === 'redis') return RedisChainCounter.create(bus.url, bus.prefix);
  return bus.path === ':memory:' ? new InMemoryChainCounter() : SqliteChainCounter.open(bus.path);
}

/**
 * The relay's lease (see `OutboxRelayOptions.lease`): named after the store's identity, so the
 * processes sharing one store relay its outbox one at a time, however each was told its address,
 * and processes of another store on the same bus — another file or in-memory store, another database
 * reached at the same address from another host — relay their own. (Named after the configured
 * address before, two in-memory stores on one Redis bus shared one lease: the one standing by never
 * published its events until it stopped.)
 */
export async function relayLease(store: EntityStore): Promise<RelayLease> {
  const name = `relay:${createHash('sha256').update(await store.identity()).digest('hex').slice(0, 16)}`;
  return { name, owner: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}` };
}
