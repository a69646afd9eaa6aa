import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { NOT_WANTED, UeeError, type ErrorCode, ERROR_CODES } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { envelopeText, eventSeed, type EntityVersion, type EventEnvelope, type JsonObject, type TenantContext } from '../core/index.js';
import { CallHost, type PluginPolicy } from './host-functions.js';
import { prepareModule, type PreparedModule } from './module-loader.js';
import { WorkerPool, type JobOutcome } from './pool.js';
import type { InstanceCacheLimits } from './protocol.js';
import { DEFAULT_RATE_LIMITS, TokenBuckets, type RateLimitOptions } from './rate-limit.js';
import type { HostServices } from './services.js';

/**
 * Failures the JS engine reports with a fixed text, re-worded here: its guest-side budgets
 * (interrupt checks, heap) are platform defaults no manifest can change, so the hint names what can.
 */
const ENGINE_ERRORS: Partial<Record<string, { message: string; hint: string }>> = {
  FUEL_EXHAUSTED: {
    message: 'the plugin ran out of its JS interrupt budget (a fixed platform limit): it looped too long in one call',
    hint: 'look for an unbounded loop and do less work per event; the wall-clock limit is maximumResourceBudget.timeoutMs',
  },
  OUT_OF_MEMORY: {
    message: 'the plugin exceeded the JS heap limit of the engine (a fixed platform limit)',
    hint: 'keep less data in memory per event (stream or page through data instead of collecting it)',
  },
};
import { DEFAULT_BUDGET, type InvocationInput, type InvocationResult, type LoadedPluginSpec, type PluginLogLine, type ResourceBudget, type Usage } from './types.js';

/** Options of {@link ExecutionHost.create}. */
export interface ExecutionHostOptions {
  /** What host functions read and call through (store, config, model gateway). */
  services: HostServices;
  /** Worker threads. @default os.availableParallelism() */
  workers?: number;
  /** @default silentLogger */
  logger?: Logger;
  /** Host-call rate limits per plugin version and per tenant. @default DEFAULT_RATE_LIMITS */
  rateLimits?: Partial<RateLimitOptions>;
  /**
   * Events one plugin instance serves before it is replaced. Instances are only reused for the
   * same tenant, `reset()` between events (so Extism's block index never overflows: the "16k
   * calls" bug), and dropped after any failure. `1` gives every event a fresh instance (prepared
   * ahead while the worker idles): no state survives between events, so runs replay exactly, at
   * roughly a third of the throughput (bench/runtime.ts measures both). @default 1000
   */
  eventsPerInstance?: number;
  /** Bytes of each worker's host-call bridge buffer; larger answers travel by message. @default 2 MiB */
  bridgeBytes?: number;
  /**
   * After a deadline passes, how much CPU time the worker thread gets to unwind the plugin (at its
   * next kernel call, or answering TIMEOUT to a host call) before it is killed; counted in the
   * thread's CPU time where Linux tells it, so a loaded machine that does not schedule the worker
   * costs nothing, and capped at 20 × this of wall-clock time. @default 100
   */
  timeoutGraceMs?: number;
  /** Where a worker thread's CPU time is read (tests stand in a starved thread here). @default /proc/<pid>/task/<tid>/stat */
  readThreadCpu?: (statPath: string | undefined) => number | undefined;
  /** V8 heap limits of each worker, a backstop behind the per-plugin memory caps. @default { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 16 } */
  resourceLimits?: ResourceLimits;
  /** How long `close()` waits for running calls before terminating workers. @default 5000 */
  closeGraceMs?: number;
  /** Log lines kept per event; the rest are dropped and counted. @default 100 */
  logLinesPerEvent?: number;
  /** Log bytes (messages and fields) kept per event; the rest are dropped and counted. @default 65536 */
  logBytesPerEvent?: number;
  /**
   * Hard cap on the workers the calls of one tenant may hold at once (global plugins count against
   * the tenant of the event they handle). Below it each tenant gets its fair part: all workers
   * while it is the only active tenant, `floor(workers / active tenants)` (at least 1) while others
   * are active, so one tenant's slow or runaway plugins cannot hold the whole pool. @default workers
   */
  maxWorkersPerTenant?: number;
  /**
   * Most calls of one plugin and tenant sent to a worker in one message (one hand-off and one
   * watchdog per batch; each call keeps its own deadline, result and effects). With the router's
   * default window of 2 × its batchSize (64) in flight, one batch runs while the next waits. @default 64
   */
  maxBatch?: number;
  /**
   * Expected work one batch may hold a worker for, in ms: a plugin averaging `d` ms per call gets
   * batches of `floor(batchTargetMs / d)` calls (1 to `maxBatch`), so a slow plugin's calls still go
   * one by one and a batch never makes another tenant wait longer than single calls would. @default 10
   */
  batchTargetMs?: number;
  /**
   * The host-call bridge's spinning (see `PoolOptions.hostCallSpin`): after a host call the main
   * thread polls the workers' requests between its tasks until `mainMs` passed without one, and a
   * worker spins up to `workerUs` for its answer before it sleeps, only while fewer workers run than
   * `cores` (a core is spare for the polling). `mainMs: 0` turns it off.
   * @default { mainMs: 1, workerUs: 150, cores: os.availableParallelism() }
   */
  hostCallSpin?: { mainMs?: number; workerUs?: number; cores?: number };
  /** Workers the calls of one plugin version may hold at once. @default max(1, workers - 1) */
  maxWorkersPerPlugin?: number;
  /** How long a tenant counts as active (for its fair part) after its last call. @default 30000 */
  activeTenantWindowMs?: number;
  /**
   * Idle plugin instances per worker: their linear memory is bounded in bytes (least recently used
   * released first) and instances idle longer than `idleMs` are released. Unloading (disabling) a
   * plugin releases its instances at once. @default { idleBytes: 256 MiB, idleMs: 60000 }
   */
  instances?: Partial<InstanceCacheLimits>;
  /**
   * Upper bounds an operator sets on manifest budgets: a load asking for more is refused with
   * `BUDGET_EXCEEDED` naming the setting (the registry checks the same bounds at deploy).
   * @default DEFAULT_BUDGET_CEILING
   */
  budgetCeiling?: Partial<BudgetCeiling>;
  /**
   * Times the workers running one (event, plugin) may die before the host stops running it and
   * answers `WORKER_CRASHED` (not retryable), so the delivery is dead-lettered instead of crashing
   * workers forever. Counted in memory; across restarts the bus's delivery count does the same
   * (see `quarantinedDelivery`). @default 2
   */
  crashQuarantine?: number;
}

/** The budget fields an operator bounds, and the setting that bounds each. */
export const BUDGET_CEILING_SETTINGS = {
  timeoutMs: { env: 'UEE_MAX_TIMEOUT_MS', flag: '--max-timeout-ms' },
  memoryPages: { env: 'UEE_MAX_MEMORY_PAGES', flag: '--max-memory-pages' },
} as const;

/** Operator upper bounds on manifest budgets. */
export type BudgetCeiling = Record<keyof typeof BUDGET_CEILING_SETTINGS, number>;

/** Defaults of {@link BudgetCeiling}: 10 s per call, 256 MiB of linear memory. */
export const DEFAULT_BUDGET_CEILING: BudgetCeiling = { timeoutMs: 10_000, memoryPages: 4096 };

/**
 * Checks a budget against the operator's ceiling: `BUDGET_EXCEEDED` naming the first field over it
 * and the setting that bounds it.
 */
export function checkBudgetCeiling(budget: Partial<ResourceBudget> | undefined, ceiling: BudgetCeiling): void {
  for (const field of Object.keys(BUDGET_CEILING_SETTINGS) as Array<keyof BudgetCeiling>) {
    const asked = budget?.[field];
    if (asked !== undefined && asked > ceiling[field]) {
      const setting = BUDGET_CEILING_SETTINGS[field];
      throw new UeeError('BUDGET_EXCEEDED', `maximumResourceBudget.${field} of ${asked} is over the operator's limit of ${ceiling[field]} (${setting.env})`, {
        details: { limit: field, requested: asked, allowed: ceiling[field], setting: setting.env },
        hint: `set maximumResourceBudget.${field} to at most ${ceiling[field]}; an operator raises the limit with ${setting.flag} (${setting.env})`,
      });
    }
  }
}

/**
 * A `handle` call's input: exactly `JSON.stringify({ event, entity, settings, context })` (an
 * undefined `entity` left out), with the envelope's text spliced in rather than stringified again
 * when the caller has it (`eventText`: a bus entry's stored text, see `Delivery.text`) or the store
 * read it ({@link envelopeText}); `context` is given as its text ({@link contextText}) and the
 * settings' text is kept per settings object ({@link settingsText}).
 */
export function handleInputText(event: EventEnvelope, entity: EntityVersion | undefined, settings: JsonObject, context: string, eventText?: string): string {
  const entityPart = entity === undefined ? '' : `,"entity":${JSON.stringify(entity)}`;
  return `{"event":${eventText ?? envelopeText(event)}${entityPart},"settings":${settingsText(settings)},"context":${context}}`;
}

/**
 * `JSON.stringify({ now, randomSeed, tenantId, plugin })` with the plugin part given as its text
 * (built once per load): a stringify of the object was ~0.4 µs of the main thread per event more.
 */
export function contextText(now: string, randomSeed: string, tenantId: string | null, pluginText: string): string {
  return `{"now":${JSON.stringify(now)},"randomSeed":${JSON.stringify(randomSeed)},"tenantId":${JSON.stringify(tenantId)},"plugin":${pluginText}}`;
}

/**
 * The JSON text of the settings objects inputs were built with, kept per object: the router gives
 * every input of a plugin version (and tenant, see router/input.ts) the same object, never changed
 * once given — a settings object handed to {@link ExecutionHost.invoke} must not be changed after.
 */
const SETTINGS_TEXT = new WeakMap<JsonObject, string>();

/** `JSON.stringify(settings)`, kept per object (see {@link SETTINGS_TEXT}). */
export function settingsText(settings: JsonObject): string {
  let text = SETTINGS_TEXT.get(settings);
  if (text === undefined) SETTINGS_TEXT.set(settings, (text = JSON.stringify(settings)));
  return text;
}

/** The answer for an (event, plugin) whose calls killed their worker `crashes` times: run no more. */
function quarantined(crashes: number, plugin: string, reason?: string): UeeError {
  return new UeeError('WORKER_CRASHED', `the call killed its worker ${crashes} times; the delivery is quarantined`, {
    details: { crashes, quarantined: true, plugin, ...(reason === undefined ? {} : { reason }) },
    hint: 'inspect the event with event_trace and the plugin logs; fix the handler and redeploy (the event is dead-lettered, not retried)',
  });
}

/** What {@link ExecutionHost.load} accepted. */
export interface LoadedPluginInfo {
  id: string;
  sha256: string;
  entry: 'handle' | 'infer';
  hostImports: string[];
  memory: PreparedModule['memory'];
  budget: ResourceBudget;
}

interface Loaded {
  spec: LoadedPluginSpec;
  policy: PluginPolicy;
  info: LoadedPluginInfo;
  /** Built once per load, not per call: the calls' actor and their input's `context.plugin`. */
  actor: string;
  ref: Readonly<{ id: string; name: string; version: LoadedPluginSpec['version'] }>;
  /** `JSON.stringify(ref)`, for the inputs' context ({@link contextText}). */
  refText: string;
}

/** The key of an event's crashes of a plugin (see `ExecutionHostOptions.crashQuarantine`). */
function crashKeyOf(eventId: string, spec: LoadedPluginSpec): string {
  return `${eventId}:${spec.tenantId ?? ''}:${spec.name}`;
}

/** Lifecycle of an {@link ExecutionHost}. */
export type HostState = 'running' | 'closing' | 'closed';

/** Times a call interrupted by another call of its batch is run again before it fails as `WORKER_CRASHED` (retryable). */
const MAX_RERUNS = 3;

const isErrorCode = (code: string): code is ErrorCode => (ERROR_CODES as readonly string[]).includes(code);

/** The usage of a call that never ran. */
function zeroUsage(): Usage {
  return { durationMs: 0, hostCalls: 0, modelCalls: 0, emits: 0, outputBytes: 0 };
}

/** Per-call options of {@link ExecutionHost.invoke}. */
export interface InvokeCallOptions {
  /**
   * Asked once, when the call leaves the pool's queue for a worker: false drops it unrun, answered
   * `CANCELLED` with `details.reason` {@link NOT_WANTED} — the router's queue lease it was made under
   * ended while it waited, and the new holder runs the delivery itself. Cheap; must not throw.
   */
  wanted?: (() => boolean) | undefined;
}

/**
 * The plugin execution host: loads plugin versions (validated, memory-capped, compiled once),
 * runs `handle`/`infer` calls on a pool of worker threads under a watchdog, answers host calls
 * against {@link HostServices}, and returns each successful call's buffered effects for the
 * caller to commit (see `commitEffects`). A failed call returns no effects at all.
 */
export class ExecutionHost {
  readonly #pool: WorkerPool;
  readonly #services: HostServices;
  readonly #logger: Logger;
  readonly #plugins = new Map<string, Loaded>();
  readonly #pluginLimits: TokenBuckets;
  readonly #tenantLimits: TokenBuckets;
  readonly #eventsPerInstance: number;
  readonly #logLines: number;
  readonly #closeGraceMs: number;
  readonly #logBytes: number;
  readonly #ceiling: BudgetCeiling;
  readonly #crashQuarantine: number;
  /** Worker deaths per (event, plugin name in scope), oldest first; bounded. */
  readonly #crashes = new Map<string, number>();
  #state: HostState = 'running';
  #closed: Promise<void> | null = null;

  private constructor(pool: WorkerPool, options: ExecutionHostOptions) {
    this.#pool = pool;
    this.#services = options.services;
    this.#logger = options.logger ?? silentLogger;
    const rates = { ...DEFAULT_RATE_LIMITS, ...options.rateLimits };
    this.#pluginLimits = new TokenBuckets(rates.perPlugin);
    this.#tenantLimits = new TokenBuckets(rates.perTenant);
    this.#eventsPerInstance = options.eventsPerInstance ?? 1000;
    this.#logLines = options.logLinesPerEvent ?? 100;
    this.#closeGraceMs = options.closeGraceMs ?? 5000;
    this.#logBytes = options.logBytesPerEvent ?? 64 * 1024;
    this.#ceiling = { ...DEFAULT_BUDGET_CEILING, ...options.budgetCeiling };
    this.#crashQuarantine = options.crashQuarantine ?? 2;
  }

  /** The operator's upper bounds on manifest budgets, as configured. */
  get budgetCeiling(): BudgetCeiling {
    return this.#ceiling;
  }

  /** Starts the worker pool; resolves when every worker is ready. */
  static async create(options: ExecutionHostOptions): Promise<ExecutionHost> {
    const workers = options.workers ?? availableParallelism();
    if (!Number.isInteger(workers) || workers < 1) {
      throw new UeeError('CONFIG_INVALID', `runtime workers must be a positive integer, got ${String(workers)}`, { details: { setting: 'workers' } });
    }
    const events = options.eventsPerInstance ?? 1000;
    if (!Number.isInteger(events) || events < 1) {
      throw new UeeError('CONFIG_INVALID', 'eventsPerInstance must be a positive integer', { details: { setting: 'eventsPerInstance' } });
    }
    const perTenant = options.maxWorkersPerTenant ?? workers;
    const perPlugin = options.maxWorkersPerPlugin ?? Math.max(1, workers - 1);
    for (const [setting, value] of [['maxWorkersPerTenant', perTenant], ['maxWorkersPerPlugin', perPlugin]] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new UeeError('CONFIG_INVALID', `${setting} must be a positive integer, got ${String(value)}`, { details: { setting } });
      }
    }
    const pool = await WorkerPool.create({
      size: workers,
      maxWorkersPerTenant: perTenant,
      maxWorkersPerPlugin: perPlugin,
      activeWindowMs: options.activeTenantWindowMs ?? 30_000,
      instances: { idleBytes: 256 * 1024 * 1024, idleMs: 60_000, ...options.instances },
      maxBatch: Math.max(1, Math.floor(options.maxBatch ?? 64)),
      batchTargetMs: options.batchTargetMs ?? 10,
      hostCallSpin: {
        mainMs: options.hostCallSpin?.mainMs ?? 1,
        workerUs: options.hostCallSpin?.workerUs ?? 150,
        cores: options.hostCallSpin?.cores ?? availableParallelism(),
      },
      bridgeBytes: options.bridgeBytes ?? 2 * 1024 * 1024,
      resourceLimits: options.resourceLimits ?? { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 16 },
      timeoutGraceMs: options.timeoutGraceMs ?? 100,
      ...(options.readThreadCpu === undefined ? {} : { readThreadCpu: options.readThreadCpu }),
      logger: options.logger ?? silentLogger,
    });
    return new ExecutionHost(pool, options);
  }

  /** `running` until `close()` is called. */
  get state(): HostState {
    return this.#state;
  }

  /** Pool figures for health checks and benchmarks. */
  stats(): {
    workers: number;
    queued: number;
    replacements: number;
    plugins: number;
    shares: Record<string, { running: number; queued: number }>;
    /** Batches sent to workers and the calls in them, since start. */
    batches: number;
    batchedCalls: number;
    /**
     * Host calls answered since start (a request slowed to a rate counts each time it asks), those
     * seen by the main thread's polling, the requests'
     * messages received (and of them those received while it polled: their worker gave up spinning),
     * and whether it polls now.
     */
    hostCalls: number;
    hostCallsPolled: number;
    /** Calls whose input, output and host calls crossed by direct I/O (JS plugins: src/runtime/direct-io.ts), since start. */
    directIoCalls: number;
    hostMessages: number;
    hostMessagesWhilePolling: number;
    /** Host calls over the plugin's or tenant's rate, slowed (their worker slept, then asked again). */
    hostCallsThrottled: number;
    /** Calls that started a new plugin instance on their worker (a cold start: none idle there for their plugin and tenant), since start. */
    instancesStarted: number;
    polling: boolean;
    /** The polling's length after a host call in µs, as the pool runs it (0: requests are always messages). */
    hostCallSpinUs: number;
  } {
    const pool = this.#pool;
    return {
      workers: pool.size,
      queued: pool.queued,
      replacements: pool.replacements,
      plugins: this.#plugins.size,
      shares: pool.shares(),
      batches: pool.batches,
      batchedCalls: pool.batchedJobs,
      hostCalls: pool.hostCalls,
      hostCallsPolled: pool.hostCallsPolled,
      directIoCalls: pool.directIoCalls,
      hostMessages: pool.hostMessages,
      hostMessagesWhilePolling: pool.hostMessagesWhilePolling,
      hostCallsThrottled: pool.hostCallsThrottled,
      instancesStarted: pool.instancesStarted,
      polling: pool.polling,
      hostCallSpinUs: pool.spinUs,
    };
  }

  /**
   * Validates, memory-caps and compiles a plugin version, and hands the compiled module to every
   * worker. Loading an id again replaces it. Rejects with `INVALID_MODULE`, `CAPABILITY_DENIED`
   * (naming the missing capabilities) or `BUDGET_EXCEEDED` (memory minimum over budget, tables or
   * globals over `MODULE_LIMITS`, a budget over the operator's ceiling).
   */
  async load(spec: LoadedPluginSpec): Promise<LoadedPluginInfo> {
    this.#assertRunning();
    checkBudgetCeiling(spec.budget, this.#ceiling);
    const budget: ResourceBudget = { ...DEFAULT_BUDGET, ...spec.budget };
    const prepared = await prepareModule(spec.wasm, { kind: spec.kind, capabilities: spec.capabilities, memoryPages: budget.memoryPages });
    const info: LoadedPluginInfo = { id: spec.id, sha256: prepared.sha256, entry: prepared.entry, hostImports: prepared.hostImports, memory: prepared.memory, budget };
    const restricted = spec.restrictedEntityTypes ?? null;
    const policy: PluginPolicy = {
      id: spec.id,
      name: spec.name,
      version: spec.version,
      budget,
      restrictedEntityTypes: restricted === null || restricted.length === 0 ? null : new Set(restricted),
      // A plugin loaded for a tenant (its stored tenant) is never global, whatever its scope attribute says.
      tenantScope: spec.tenantId !== undefined && spec.tenantId !== null && (spec.tenantScope ?? 'global') === 'global' ? 'tenant' : (spec.tenantScope ?? 'global'),
      ownerId: spec.ownerId ?? null,
      models: spec.models === undefined || spec.models === null ? null : new Set(spec.models),
    };
    const ref = Object.freeze({ id: spec.id, name: spec.name, version: spec.version });
    this.#plugins.set(spec.id, { spec, policy, info, actor: `plugin:${spec.name}@${spec.version}`, ref, refText: JSON.stringify(ref) });
    this.#pool.load({
      t: 'load',
      pluginId: spec.id,
      module: prepared.module,
      entry: prepared.entry,
      granted: prepared.hostImports,
      limits: {
        hostCalls: budget.hostCalls,
        outputBytes: budget.outputBytes,
        blockBytes: budget.memoryPages * 65536,
        logLines: this.#logLines,
        logBytes: this.#logBytes,
      },
      eventsPerInstance: this.#eventsPerInstance,
    });
    return info;
  }

  /** Forgets a plugin version; calls already running finish. Returns whether it was loaded. */
  unload(pluginId: string): boolean {
    if (!this.#plugins.delete(pluginId)) return false;
    this.#pool.unload(pluginId);
    return true;
  }

  /** Whether a plugin version is loaded. */
  has(pluginId: string): boolean {
    return this.#plugins.has(pluginId);
  }

  /**
   * Runs the plugin's `handle` (or `infer`) for one event. Never rejects: failures come back as
   * `{ ok: false, error }` with a `UeeError` code (`TIMEOUT`, `PLUGIN_TRAP`, `PLUGIN_ERROR`,
   * `BUDGET_EXCEEDED`, `PLUGIN_OUTPUT_INVALID`, `TENANT_FORBIDDEN`, `NOT_FOUND`, `CLOSED`) and no effects.
   */
  async invoke(pluginId: string, input: InvocationInput, options?: InvokeCallOptions): Promise<InvocationResult> {
    if (this.#state !== 'running') return { ok: false, error: new UeeError('CLOSED', 'the execution host is closed'), usage: zeroUsage(), logs: [] };
    const loaded = this.#plugins.get(pluginId);
    if (loaded === undefined) {
      return { ok: false, error: new UeeError('NOT_FOUND', `plugin ${pluginId} is not loaded`, { details: { pluginId } }), usage: zeroUsage(), logs: [] };
    }
    const { spec, policy } = loaded;
    const event = input.event;
    if (policy.tenantScope !== 'global' && event.tenantId !== (spec.tenantId ?? null)) {
      const error = new UeeError('TENANT_FORBIDDEN', `plugin ${spec.name} serves tenant ${String(spec.tenantId)} only`, {
        details: { pluginId, eventTenantId: event.tenantId },
      });
      return { ok: false, error, usage: zeroUsage(), logs: [] };
    }
    const ctx: TenantContext = { tenantId: event.tenantId, actor: loaded.actor };
    const now = input.context?.now ?? event.occurredAt;
    const randomSeed = input.context?.randomSeed ?? eventSeed(event.eventId, pluginId);
    let call = this.#newCall(policy, ctx, event.eventId, now);
    const entity = input.entity !== undefined && input.entity !== null && this.#canSee(call, input.entity) ? input.entity : undefined;
    const crashes = this.#crashCount(event.eventId, spec);
    if (crashes >= this.#crashQuarantine) return { ok: false, error: quarantined(crashes, spec.name), usage: zeroUsage(), logs: [] };
    const text =
      spec.kind === 'model'
        ? JSON.stringify({ model: input.model?.model ?? '', input: input.model?.input ?? null, context: { now, randomSeed, tenantId: event.tenantId, plugin: loaded.ref } })
        : handleInputText(event, entity, input.settings ?? {}, contextText(now, randomSeed, event.tenantId, loaded.refText), input.eventText);
    let outcome: JobOutcome;
    for (let rerun = 0; ; rerun++) {
      const host = call;
      outcome = await this.#pool.run({
        share: event.tenantId ?? '',
        pluginId,
        input: text,
        instanceKey: event.tenantId ?? '',
        timeoutMs: policy.budget.timeoutMs,
        // Bound, not an arrow in the literal: the loader names every such closure (a defineProperty per call).
        hostCall: host.hostCall.bind(host),
        wanted: options?.wanted,
      });
      // Another call of its batch lost the worker: this one's result (and anything its host calls
      // buffered) is gone, so it runs again from scratch — innocent, never failed for it.
      if (outcome.kind !== 'interrupted' || rerun >= MAX_RERUNS || this.#state !== 'running') break;
      call = this.#newCall(policy, ctx, event.eventId, now);
    }
    if (outcome.kind === 'crashed' && this.#state === 'running') this.#noteCrash(crashKeyOf(event.eventId, spec));
    return this.#result(loaded, call, outcome, this.#crashCount(event.eventId, spec));
  }

  #newCall(policy: PluginPolicy, ctx: TenantContext, eventId: string, now: string): CallHost {
    return new CallHost(policy, ctx, { eventId, now }, { services: this.#services, pluginLimits: this.#pluginLimits, tenantLimits: this.#tenantLimits });
  }

  /** How often this event crashed the plugin (no key is built while no crash is remembered). */
  #crashCount(eventId: string, spec: LoadedPluginSpec): number {
    return this.#crashes.size === 0 ? 0 : (this.#crashes.get(crashKeyOf(eventId, spec)) ?? 0);
  }

  #noteCrash(key: string): void {
    const n = (this.#crashes.get(key) ?? 0) + 1;
    this.#crashes.delete(key);
    this.#crashes.set(key, n);
    // Bounded: the oldest entries go first (a delivery is retried within seconds, not hours).
    if (this.#crashes.size > 10_000) this.#crashes.delete(this.#crashes.keys().next().value!);
  }

  #canSee(call: CallHost, entity: EntityVersion): boolean {
    return call.visible(entity);
  }

  #result(loaded: Loaded, call: CallHost, outcome: JobOutcome, crashes: number): InvocationResult {
    const budget = loaded.policy.budget;
    const done = outcome.kind === 'done' ? outcome.done : null;
    const usage: Usage = {
      durationMs: outcome.durationMs,
      hostCalls: done?.hostCalls ?? 0,
      modelCalls: call.modelCalls,
      emits: call.emits,
      outputBytes: (done?.outputBytes ?? 0) + call.effectBytes,
    };
    if (call.modelCost !== 0) usage.modelCost = call.modelCost;
    if (call.metricCount !== 0) usage.metrics = call.metrics;
    const logs = done?.logs ?? [];
    if (outcome.kind === 'dropped') {
      return { ok: false, error: new UeeError('CANCELLED', 'the call was dropped before it ran: its caller no longer wanted it when a worker came free', { details: { reason: NOT_WANTED } }), usage, logs: [] };
    }
    if (outcome.kind === 'timeout') {
      return this.#fail(loaded, usage, logs, call, new UeeError('TIMEOUT', `the call overran its ${budget.timeoutMs} ms budget`, {
        details: { limit: 'timeoutMs', budget: budget.timeoutMs },
        hint: 'raise maximumResourceBudget.timeoutMs or make the plugin faster',
        retryable: true,
      }));
    }
    if (outcome.kind === 'interrupted') {
      if (this.#state !== 'running') return this.#fail(loaded, usage, logs, call, new UeeError('CLOSED', 'the execution host closed during the call'));
      return this.#fail(loaded, usage, logs, call, new UeeError('WORKER_CRASHED', `the call was interrupted ${MAX_RERUNS + 1} times by other calls of its batch losing the worker: ${outcome.message}`, {
        details: { reason: outcome.message, interrupted: true },
        hint: 'other events of this plugin keep killing their worker (see plugin_logs and dead_letter_list); the delivery is retried',
        retryable: true,
      }));
    }
    if (outcome.kind === 'crashed') {
      if (this.#state !== 'running') return this.#fail(loaded, usage, logs, call, new UeeError('CLOSED', 'the execution host closed during the call'));
      if (crashes >= this.#crashQuarantine) return this.#fail(loaded, usage, logs, call, quarantined(crashes, loaded.spec.name, outcome.message));
      return this.#fail(loaded, usage, logs, call, new UeeError('WORKER_CRASHED', `the worker running the call died: ${outcome.message}`, {
        details: { reason: outcome.message, crashes },
        hint: 'the plugin exhausted its worker (V8 heap or stack); it is retried once, then dead-lettered',
        retryable: true,
      }));
    }
    const d = outcome.done;
    switch (d.status) {
      case 'aborted': {
        if (call.failure !== null) return this.#fail(loaded, usage, logs, call, call.failure);
        const a = d.abort;
        if (a === undefined) return this.#fail(loaded, usage, logs, call, new UeeError('TIMEOUT', 'the call was ended by the host'));
        return this.#fail(loaded, usage, logs, call, new UeeError(isErrorCode(a.code) ? a.code : 'INTERNAL', a.message, { ...(a.details ? { details: a.details } : {}) }));
      }
      case 'trap':
        return this.#fail(loaded, usage, logs, call, new UeeError('PLUGIN_TRAP', `the plugin trapped: ${d.text ?? 'unknown trap'}`, { details: { trap: d.text ?? '' } }));
      case 'error': {
        const text = d.text ?? '';
        let pluginCode: string | undefined;
        let message = text;
        try {
          const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
          if (typeof parsed.code === 'string') pluginCode = parsed.code;
          if (typeof parsed.message === 'string') message = parsed.message;
        } catch {
          // A plain-text error message.
        }
        const engine = pluginCode === undefined ? undefined : ENGINE_ERRORS[pluginCode];
        if (engine !== undefined) message = engine.message;
        return this.#fail(loaded, usage, logs, call, new UeeError('PLUGIN_ERROR', message === '' ? `the plugin returned ${d.rc ?? 'an error'}` : message, {
          details: { rc: d.rc ?? 0, ...(pluginCode === undefined ? {} : { pluginCode }) },
          ...(engine === undefined ? {} : { hint: engine.hint }),
        }));
      }
      case 'ok':
        break;
    }
    if (usage.outputBytes > budget.outputBytes) {
      return this.#fail(loaded, usage, logs, call, new UeeError('BUDGET_EXCEEDED', `output and effects are ${usage.outputBytes} bytes, over ${budget.outputBytes}`, {
        details: { limit: 'outputBytes', budget: budget.outputBytes, actual: usage.outputBytes },
      }));
    }
    let output: unknown = null;
    if (d.text !== undefined && d.text !== '') {
      try {
        output = JSON.parse(d.text);
      } catch {
        return this.#fail(loaded, usage, logs, call, new UeeError('PLUGIN_OUTPUT_INVALID', 'the plugin output is not JSON', { details: { bytes: d.outputBytes } }));
      }
    }
    return { ok: true, output, effects: call.effects, usage, logs, models: call.models };
  }

  #fail(loaded: Loaded, usage: Usage, logs: PluginLogLine[], call: CallHost, error: UeeError): InvocationResult {
    this.#logger.debug('plugin call failed', { pluginId: loaded.spec.id, code: error.code, message: error.message });
    return { ok: false, error, usage, logs, models: call.models };
  }

  #assertRunning(): void {
    if (this.#state !== 'running') throw new UeeError('CLOSED', 'the execution host is closed');
  }

  /** Lets running and queued calls finish (up to `closeGraceMs`), then stops every worker. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#state = 'closing';
      try {
        await this.#pool.close(this.#closeGraceMs);
      } finally {
        this.#plugins.clear();
        this.#state = 'closed';
      }
    })();
    return this.#closed;
  }
}
