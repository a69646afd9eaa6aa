import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EntityVersion, EventEnvelope, JsonObject, Logger, SerializedError, TenantContext } from '../core/index.js';
import { UeeError, toUeeError } from '../core/index.js';
import type { Delivery, EventBus } from '../bus/port.js';
import type { EntityStore } from '../store/port.js';
import { matchesSubscription } from '../store/index.js';
import { pluginGroup, type PluginRecord, type PluginRegistry } from '../registry/index.js';
import { quarantinedDelivery } from '../runtime/quarantine.js';
import { RouterMetrics } from './metrics.js';
import type { HandleInput, InvocationOutcome, PluginInvoker } from './types.js';

/** Read-model view holding per-tenant version pins: id = plugin name, doc = `{ version }`. */
export const PINS_VIEW = 'uee.plugin-pins';

/** Router tuning. */
export interface RouterOptions {
  /** Name of this consumer in every plugin group. @default host:pid:random */
  consumerName?: string;
  /** Max chain depth; deeper events are dead-lettered with HOP_LIMIT_EXCEEDED. @default 16 */
  hopLimit?: number;
  /** Attempts per delivery before it is dead-lettered. @default 3 */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt. @default 50 */
  backoffMs?: number;
  /** Deliveries read per round. @default 64 */
  batchSize?: number;
  /** Entries idle this long in another consumer are reclaimed. @default 30000 */
  claimIdleMs?: number;
  /** How often the routing table is reloaded from the store (other processes' deploys). @default 2000 */
  refreshMs?: number;
  /** Wait when a group has nothing new. @default 5 */
  idleMs?: number;
  /**
   * Deliveries of one logical plugin in flight at once, spread over the host's workers. Events about
   * the same entity (or, without an entity, of the same correlation chain) are still handled one
   * after another in stream order; only unrelated events overlap. `1` handles strictly in order.
   * Above 1, one slow plugin can occupy several workers at once. On the 2-core reference machine
   * the router's own thread is the bottleneck and 4 measured no faster than 1 (bench/runtime.ts).
   * @default 1
   */
  concurrency?: number;
  logger: Logger;
}

/** One logical plugin (name within a scope) and its versions, newest first. */
interface Route {
  key: string;
  group: string;
  name: string;
  tenantId: string | null;
  versions: PluginRecord[];
  loop?: Promise<void>;
  stopped: boolean;
}

/** Lifecycle of a router. */
export type RouterState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * Routes bus events to plugins. Each logical plugin (a name in a scope) has its own consumer group,
 * so each progresses independently: a failing or slow plugin delays nobody else. Within a group,
 * every event is handled by exactly one version — the tenant's pin or the latest enabled version at
 * handling time — so a hot deploy never has an event handled by two versions. Effects commit with
 * the idempotency key `eventId:group`, so redelivery never applies them twice.
 */
export class Router {
  readonly metrics = new RouterMetrics();
  readonly consumer: string;
  #state: RouterState = 'idle';
  #routes = new Map<string, Route>();
  #pins = new Map<string, Map<string, number>>();
  #refreshTimer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  readonly #opts: Required<Omit<RouterOptions, 'consumerName' | 'logger'>>;

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
      refreshMs: options.refreshMs ?? 2000,
      idleMs: options.idleMs ?? 5,
      concurrency: Math.max(1, Math.floor(options.concurrency ?? 1)),
    };
  }

  /** Current lifecycle state. */
  get state(): RouterState {
    return this.#state;
  }

  /** Loads the routing table and starts one loop per logical plugin. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    await this.refresh();
    this.#refreshTimer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.options.logger.warn('routing table refresh failed', { error: toUeeError(err).message }));
    }, this.#opts.refreshMs);
    this.#refreshTimer.unref();
  }

  /** Reloads plugins and pins from the store; starts loops for new routes, stops emptied ones. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const plugins = (await this.registry.listAll()).filter((p) => p.attributes.kind !== 'model');
    const next = new Map<string, PluginRecord[]>();
    for (const p of plugins) {
      const key = pluginGroup(p.attributes.name, p.tenantId);
      const list = next.get(key) ?? [];
      list.push(p);
      next.set(key, list);
    }
    const pins = new Map<string, Map<string, number>>();
    for (const tenant of await this.store.tenants.list()) {
      const page = await this.store.readModels.query({ tenantId: tenant.tenantId, actor: 'system:router' }, PINS_VIEW, { limit: 1000 });
      if (page.items.length === 0) continue;
      pins.set(tenant.tenantId, new Map(page.items.map((d) => [d.id, Number(d.doc.version)])));
    }
    this.#pins = pins;
    this.invoker.retain(new Set(plugins.map((p) => p.id)));
    for (const [key, versions] of next) {
      versions.sort((a, b) => b.attributes.pluginVersion - a.attributes.pluginVersion);
      const existing = this.#routes.get(key);
      if (existing) {
        existing.versions = versions;
        continue;
      }
      const first = versions[0]!;
      const route: Route = { key, group: key, name: first.attributes.name, tenantId: first.tenantId, versions, stopped: false };
      this.#routes.set(key, route);
      if (this.#state === 'running') {
        await this.bus.ensureGroup(route.group, 'latest');
        route.loop = this.#runRoute(route);
      }
    }
    for (const [key, route] of this.#routes) {
      if (!next.has(key)) {
        route.stopped = true;
        this.#routes.delete(key);
      }
    }
  }

  /** The version that handles `event` on `route`, or undefined when none does. */
  resolve(route: { name: string; versions: PluginRecord[] }, event: EventEnvelope): PluginRecord | undefined {
    const enabled = route.versions.filter((v) => v.attributes.status === 'enabled');
    const pinned = event.tenantId === null ? undefined : this.#pins.get(event.tenantId)?.get(route.name);
    if (pinned !== undefined) {
      const match = enabled.find((v) => v.attributes.pluginVersion === pinned);
      if (match) return match;
    }
    return enabled[0];
  }

  /** Stops every loop after its current delivery. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'idle') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    clearInterval(this.#refreshTimer);
    await this.#refreshing?.catch(() => undefined);
    const loops: Array<Promise<void>> = [];
    for (const r of this.#routes.values()) {
      r.stopped = true;
      if (r.loop) loops.push(r.loop);
    }
    await Promise.allSettled(loops);
    this.#state = 'stopped';
  }

  async #runRoute(route: Route): Promise<void> {
    const log = this.options.logger.child({ group: route.group });
    let lastClaim = 0;
    while (!route.stopped && this.#state === 'running') {
      try {
        let deliveries: Delivery[] = [];
        const now = Date.now();
        if (now - lastClaim >= this.#opts.claimIdleMs / 2) {
          lastClaim = now;
          deliveries = await this.bus.claimStale(route.group, this.consumer, { minIdleMs: this.#opts.claimIdleMs, count: this.#opts.batchSize });
        }
        if (deliveries.length === 0) deliveries = await this.bus.read(route.group, this.consumer, { count: this.#opts.batchSize });
        if (deliveries.length === 0) {
          await sleep(this.#opts.idleMs);
          continue;
        }
        const acks = await this.#handleBatch(route, deliveries, log);
        if (acks.length > 0) await this.bus.ack(route.group, acks);
        // Embedded backends answer synchronously: yield a macrotask so I/O is never starved.
        await new Promise((resolve) => setImmediate(resolve));
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'CLOSED') return;
        log.error('route loop failed; backing off', { code: error.code, error: error.message });
        await sleep(500);
      }
    }
  }

  /**
   * Handles a batch with up to `concurrency` deliveries in flight, chaining deliveries that share an
   * ordering key (entity, else correlation) so they run in stream order. Resolves with the ids to ack
   * once every started delivery has finished; rethrows the first failure after that (its delivery
   * and the ones chained behind it stay pending and are reclaimed later).
   */
  async #handleBatch(route: Route, deliveries: Delivery[], log: Logger): Promise<string[]> {
    const acks: string[] = [];
    const settings = new Map<string, Promise<JsonObject>>();
    const chains = new Map<string, Promise<void>>();
    const inflight = new Set<Promise<void>>();
    let failure: unknown;
    for (const delivery of deliveries) {
      if (route.stopped || failure !== undefined) break;
      while (inflight.size >= this.#opts.concurrency) await Promise.race(inflight);
      const key = delivery.event.entityId !== undefined ? `e:${delivery.event.entityId}` : `c:${delivery.event.correlationId}`;
      const run = (chains.get(key) ?? Promise.resolve()).then(async () => {
        if (await this.#handle(route, delivery, log, settings)) acks.push(delivery.id);
      });
      chains.set(key, run);
      const tracked: Promise<void> = run.then(
        () => void inflight.delete(tracked),
        (err: unknown) => {
          inflight.delete(tracked);
          failure ??= err;
        },
      );
      inflight.add(tracked);
    }
    await Promise.all(inflight);
    if (failure !== undefined) {
      // Ack what finished so a retry does not redo it; the failed ones stay pending.
      if (acks.length > 0) await this.bus.ack(route.group, acks);
      throw toUeeError(failure);
    }
    return acks;
  }

  /** Handles one delivery; returns true when it should be acked (done), false when dead-lettered (already acked). */
  async #handle(route: Route, delivery: Delivery, log: Logger, settings: Map<string, Promise<JsonObject>>): Promise<boolean> {
    const event = delivery.event;
    const plugin = this.resolve(route, event);
    if (!plugin || !(await this.#matches(plugin, event))) return true;
    const fields = { eventId: event.eventId, correlationId: event.correlationId, pluginId: plugin.id, plugin: plugin.attributes.name };
    if (event.hop >= this.#opts.hopLimit) {
      const error = { code: 'HOP_LIMIT_EXCEEDED', message: `event is ${event.hop} hops deep; the limit is ${this.#opts.hopLimit}` };
      log.warn('hop limit exceeded; dead-lettering', fields);
      await this.bus.deadLetter(route.group, delivery, error, [{ at: new Date().toISOString(), ...error }]);
      this.metrics.deadLettered(plugin.id, plugin.attributes.name);
      return false;
    }
    // A delivery the process died during, again and again, is dead-lettered before it runs again.
    const crashed = quarantinedDelivery(delivery.deliveryCount);
    if (crashed !== null) {
      const error = { code: crashed.code, message: crashed.message };
      log.error('delivery quarantined: the process died during it repeatedly', { ...fields, deliveryCount: delivery.deliveryCount });
      await this.bus.deadLetter(route.group, delivery, error, [{ at: new Date().toISOString(), ...error }]);
      this.metrics.deadLettered(plugin.id, plugin.attributes.name);
      return false;
    }
    const attempts: Array<{ at: string; code: string; message: string }> = [];
    for (let attempt = delivery.deliveryCount; ; attempt++) {
      const outcome = await this.#invoke(route, plugin, event, settings);
      this.metrics.record(plugin.id, plugin.attributes.name, outcome.durationMs, outcome.ok ? undefined : outcome.error.code);
      if (outcome.ok) return true;
      attempts.push({ at: new Date().toISOString(), code: outcome.error.code, message: outcome.error.message });
      log.warn('plugin invocation failed', { ...fields, attempt, code: outcome.error.code, error: outcome.error.message });
      if (attempt >= this.#opts.maxAttempts || !isRetryable(outcome.error) || route.stopped) {
        await this.bus.deadLetter(route.group, delivery, { code: outcome.error.code, message: outcome.error.message }, attempts);
        this.metrics.deadLettered(plugin.id, plugin.attributes.name);
        return false;
      }
      this.metrics.retried(plugin.id, plugin.attributes.name);
      await sleep(this.#opts.backoffMs * 2 ** (attempts.length - 1));
    }
  }

  async #invoke(route: Route, plugin: PluginRecord, event: EventEnvelope, settings: Map<string, Promise<JsonObject>>): Promise<InvocationOutcome> {
    const started = performance.now();
    try {
      const input = await this.#input(plugin, event, settings);
      return await this.invoker.invoke(plugin, input, { idempotencyKey: `${event.eventId}:${route.group}` });
    } catch (err) {
      return { ok: false, error: toUeeError(err).toJSON(), durationMs: performance.now() - started };
    }
  }

  async #input(plugin: PluginRecord, event: EventEnvelope, settings: Map<string, Promise<JsonObject>>): Promise<HandleInput> {
    const ctx: TenantContext = { tenantId: event.tenantId, actor: `plugin:${plugin.id}@${plugin.attributes.pluginVersion}` };
    let entity: EntityVersion | undefined;
    // Only a plugin that may read entities gets the event's entity (deny by default), and only then
    // is it worth a store read.
    if (event.entityId !== undefined && plugin.attributes.capabilities.includes('readEntities') && mayTouch(plugin, event.entityTypeId)) {
      try {
        entity = await this.store.get(ctx, event.entityId, event.entityVersion === undefined ? {} : { version: event.entityVersion });
      } catch (err) {
        if (!(err instanceof UeeError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    // Tenant settings are read once per tenant per batch, not per event.
    let tenantSettings: Promise<JsonObject> | undefined;
    if (event.tenantId !== null) {
      const key = `${event.tenantId}\u0000${plugin.attributes.name}`;
      tenantSettings = settings.get(key);
      if (tenantSettings === undefined) {
        tenantSettings = this.store.config.getPlugin(ctx, plugin.attributes.name);
        settings.set(key, tenantSettings);
      }
    }
    const resolvedSettings: JsonObject = tenantSettings === undefined ? {} : await tenantSettings;
    return {
      event,
      ...(entity ? { entity } : {}),
      settings: { ...plugin.attributes.settings, ...resolvedSettings },
      context: {
        now: event.occurredAt,
        randomSeed: createHash('sha256').update(`${event.eventId}:${plugin.id}`).digest('hex').slice(0, 32),
        tenantId: event.tenantId,
        plugin: { id: plugin.id, name: plugin.attributes.name, version: plugin.attributes.pluginVersion },
      },
    };
  }

  async #matches(plugin: PluginRecord, event: EventEnvelope): Promise<boolean> {
    const a = plugin.attributes;
    // `spawn_workflow` addresses a workflow by name: its `WorkflowSpawned` event reaches that workflow
    // whether or not it subscribes to the type (other plugins get it only by subscribing). Scope still
    // applies, and a tenant's own workflow of that name shadows a global one. Subscription filters do
    // not: they describe subscribed events, and a spawn names its target.
    if (isSpawnOf(plugin, event)) {
      if (a.tenantScope !== 'global') return event.tenantId === plugin.tenantId;
      const own = event.tenantId === null ? undefined : this.#routes.get(pluginGroup(a.name, event.tenantId));
      return own === undefined || this.resolve(own, event) === undefined;
    }
    if (!a.subscribeTo.includes(event.type)) return false;
    if (a.tenantScope !== 'global' && event.tenantId !== plugin.tenantId) return false;
    if (!mayTouch(plugin, event.entityTypeId) && event.entityTypeId !== undefined) return false;
    if (a.filter?.entityTypes && (event.entityTypeId === undefined || !a.filter.entityTypes.includes(event.entityTypeId))) return false;
    if (a.filter?.where && !matchesSubscription(a.filter.where, event, (err) => this.options.logger.warn('subscription filter refused', { plugin: plugin.id, code: err.code, error: err.message }))) return false;
    if (a.tenantScope === 'user') {
      if (event.entityId === undefined) return false;
      try {
        const entity = await this.store.get({ tenantId: event.tenantId, actor: 'system:router' }, event.entityId);
        return entity.ownerId === a.ownerId;
      } catch {
        return false;
      }
    }
    return true;
  }
}

/** The event type `spawn_workflow` commits; its `payload.workflow` names the workflow plugin to run. */
export const WORKFLOW_SPAWNED = 'WorkflowSpawned';

/** Whether `event` spawns `plugin`: a `WorkflowSpawned` event naming this workflow plugin. */
export function isSpawnOf(plugin: PluginRecord, event: EventEnvelope): boolean {
  return event.type === WORKFLOW_SPAWNED && plugin.attributes.kind === 'workflow' && event.payload.workflow === plugin.attributes.name;
}

/** Whether the plugin's `restrictedEntityTypes` allow an entity type. */
export function mayTouch(plugin: PluginRecord, entityTypeId: string | undefined): boolean {
  const restricted = plugin.attributes.restrictedEntityTypes;
  return restricted === undefined || (entityTypeId !== undefined && restricted.includes(entityTypeId));
}

const PERMANENT = new Set(['CAPABILITY_DENIED', 'INVALID_MODULE', 'HOP_LIMIT_EXCEEDED', 'VALIDATION_FAILED', 'PAYLOAD_TOO_LARGE']);

function isRetryable(error: SerializedError): boolean {
  return !PERMANENT.has(error.code);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
