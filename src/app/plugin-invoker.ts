import { toUeeError, type Logger } from '../core/index.js';
import type { EntityStore } from '../store/port.js';
import type { ExecutionHost, InvocationInput, LoadedPluginSpec } from '../runtime/index.js';
import { commitEffects, isEmptyEffects } from '../runtime/index.js';
import type { PluginRecord, PluginRegistry } from '../registry/index.js';
import type { CommittedEffects, HandleInput, InvocationOutcome, InvocationUsage, InvokeOptions, PluginInvoker, PreviewOutcome } from '../router/index.js';
import type { PluginLogStore } from './plugin-logs.js';

/**
 * Runs plugin versions on the execution host for the router: loads a version's module from the
 * registry on first use, invokes it, stores its log lines, and commits its effects atomically under
 * the router's idempotency key.
 */
export class HostPluginInvoker implements PluginInvoker {
  readonly #loading = new Map<string, Promise<void>>();

  constructor(
    private readonly host: ExecutionHost,
    private readonly registry: PluginRegistry,
    private readonly store: EntityStore,
    private readonly logs: PluginLogStore,
    private readonly logger: Logger,
  ) {}

  async invoke(plugin: PluginRecord, input: HandleInput, options: InvokeOptions): Promise<InvocationOutcome> {
    const result = await this.#run(plugin, input, options.wanted, options.eventText);
    const { event } = input;
    if (result.logs.length > 0) {
      const at = new Date().toISOString();
      this.logs.append(
        result.logs.map((l) => ({
          at,
          pluginId: plugin.id,
          pluginName: plugin.attributes.name,
          eventId: event.eventId,
          correlationId: event.correlationId,
          tenantId: event.tenantId,
          ...l,
        })),
      );
    }
    // Built field by field (no rest or spreads): one outcome per delivery is on the hot path.
    const u = result.usage;
    const durationMs = u.durationMs;
    const usage: InvocationUsage = { hostCalls: u.hostCalls, modelCalls: u.modelCalls, emits: u.emits, outputBytes: u.outputBytes };
    if (u.modelCost !== undefined) usage.modelCost = u.modelCost;
    if (u.metrics !== undefined) usage.metrics = u.metrics;
    const models = result.models ?? [];
    if (!result.ok) return { ok: false, error: result.error.toJSON(), durationMs, usage, models };
    let committed = false;
    let effects: CommittedEffects = { committed: false, writes: [], events: [], readModelOps: 0, timers: 0 };
    // An invocation that called models records its key even with no effects: a redelivery then finds
    // it committed and does not pay for the model calls again.
    if (!isEmptyEffects(result.effects) || usage.modelCalls > 0) {
      const e = result.effects;
      // The chain's event budget is spent before the commit: effects that do not fit are never committed.
      if (options.beforeCommit !== undefined) {
        try {
          await options.beforeCommit(e.writes.length + e.timers.length + e.events.length);
        } catch (err) {
          return { ok: false, error: toUeeError(err).toJSON(), durationMs, usage, models };
        }
      }
      const commit = await commitEffects(
        this.store,
        { tenantId: event.tenantId, actor: `plugin:${plugin.id}@${plugin.attributes.pluginVersion}` },
        result.effects,
        {
          eventId: event.eventId,
          pluginId: plugin.id,
          idempotencyKey: options.idempotencyKey,
          ...(options.fence === undefined ? {} : { fence: options.fence }),
          causation: { eventId: event.eventId, correlationId: event.correlationId, hop: event.hop, experiment: event.experiment },
        },
      );
      committed = true;
      effects = {
        committed: commit.applied,
        writes: commit.versions.map((v) => ({ entityId: v.entityId, entityTypeId: v.entityTypeId, version: v.version })),
        events: commit.events.map((ev) => ({ eventId: ev.eventId, type: ev.type })),
        readModelOps: e.readModelOps.length,
        timers: e.timers.length,
      };
    }
    return { ok: true, output: result.output, committed, durationMs, usage, models, effects, buffered: result.effects };
  }

  /** Runs the version with its effects captured, never committed, and its log lines dropped (shadow runs). */
  async preview(plugin: PluginRecord, input: HandleInput): Promise<PreviewOutcome> {
    const result = await this.#run(plugin, input);
    if (!result.ok) return { ok: false, error: result.error.toJSON(), durationMs: result.usage.durationMs };
    return { ok: true, output: result.output, effects: result.effects, durationMs: result.usage.durationMs };
  }

  #run(plugin: PluginRecord, input: HandleInput, wanted?: () => boolean, eventText?: string): ReturnType<ExecutionHost['invoke']> {
    const hostInput: InvocationInput = { event: input.event, settings: input.settings, context: { now: input.context.now, randomSeed: input.context.randomSeed } };
    if (input.entity) hostInput.entity = input.entity;
    if (eventText !== undefined) hostInput.eventText = eventText;
    const options = wanted === undefined ? undefined : { wanted };
    // Loaded already (every delivery but a version's first): no await in between.
    if (this.host.has(plugin.id)) return this.host.invoke(plugin.id, hostInput, options);
    return this.#ensureLoaded(plugin).then(() => this.host.invoke(plugin.id, hostInput, options));
  }

  retain(pluginIds: ReadonlySet<string>): void {
    for (const id of this.#loaded) {
      if (!pluginIds.has(id)) {
        this.host.unload(id);
        this.#loaded.delete(id);
        this.logger.info('plugin unloaded', { pluginId: id });
      }
    }
  }

  readonly #loaded = new Set<string>();

  #ensureLoaded(plugin: PluginRecord): Promise<void> {
    if (this.host.has(plugin.id)) return Promise.resolve();
    let loading = this.#loading.get(plugin.id);
    if (!loading) {
      loading = this.#load(plugin).finally(() => this.#loading.delete(plugin.id));
      this.#loading.set(plugin.id, loading);
    }
    return loading;
  }

  async #load(plugin: PluginRecord): Promise<void> {
    await this.host.load(loadSpecOf(plugin, await this.registry.binary(plugin)));
    const a = plugin.attributes;
    this.#loaded.add(plugin.id);
    this.logger.info('plugin loaded', { pluginId: plugin.id, plugin: a.name, version: a.pluginVersion });
  }
}

/** The execution host's load spec of a deployed plugin version. */
export function loadSpecOf(plugin: PluginRecord, wasm: Uint8Array): LoadedPluginSpec {
  const a = plugin.attributes;
  return {
    id: plugin.id,
    name: a.name,
    version: a.pluginVersion,
    kind: a.kind,
    capabilities: a.capabilities,
    budget: a.maximumResourceBudget,
    restrictedEntityTypes: a.restrictedEntityTypes ?? null,
    tenantScope: a.tenantScope,
    tenantId: plugin.tenantId,
    ownerId: a.ownerId ?? null,
    models: a.models ?? null,
    wasm,
  };
}
