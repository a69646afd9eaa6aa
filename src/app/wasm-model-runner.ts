import { UeeError, newId, type EventEnvelope, type Logger, type TenantContext } from '../core/index.js';
import { silentLogger } from '../core/index.js';
import type { WasmModelRunner } from '../model-gateway/index.js';
import type { PluginRecord, PluginRegistry } from '../registry/index.js';
import type { ExecutionHost } from '../runtime/index.js';
import { loadSpecOf } from './plugin-invoker.js';

/** What {@link RegistryWasmModelRunner.infer} receives (the gateway's {@link WasmModelRunner} request). */
type InferRequest = Parameters<WasmModelRunner['infer']>[0];

/** Event type of the envelope a model call runs under (model plugins see only its id and tenant, in `context`). */
export const MODEL_CALL_EVENT_TYPE = 'ModelInferenceRequested';

/**
 * The gateway's {@link WasmModelRunner} on the plugin runtime: resolves a model plugin by name to
 * its newest enabled `kind: model` version (the tenant's own first, then the global one), loads it
 * on the {@link ExecutionHost} on first use (binary from the {@link PluginRegistry}), and runs its
 * `infer` export with `{ model, input, context }`. Failures reject with the host's `UeeError`
 * (`PLUGIN_ERROR`, `PLUGIN_TRAP`, `TIMEOUT`, `BUDGET_EXCEEDED`, …); an unknown plugin is `NOT_FOUND`,
 * and with no host attached (`--runtime off`) every call is `MODEL_UNAVAILABLE`.
 *
 * The host is attached after construction because the gateway (which holds this runner) is built
 * before the host (whose model calls go through the gateway).
 */
export class RegistryWasmModelRunner implements WasmModelRunner {
  #host: ExecutionHost | undefined;
  readonly #loading = new Map<string, Promise<void>>();
  /** The version loaded for each `scope/name`, so a newer version replaces it on the host. */
  readonly #current = new Map<string, { id: string; version: number }>();

  constructor(
    private readonly registry: PluginRegistry,
    private readonly logger: Logger = silentLogger,
  ) {}

  /** Runs model plugins on `host` from now on. */
  attach(host: ExecutionHost): void {
    this.#host = host;
  }

  async infer({ plugin, model, input, tenantId, signal }: InferRequest): Promise<unknown> {
    const host = this.#host;
    if (host === undefined) {
      throw new UeeError('MODEL_UNAVAILABLE', `model plugin "${plugin}" cannot run: the plugin runtime is off`, {
        details: { plugin },
        hint: 'start UEE with the runtime enabled to serve wasm model plugins',
      });
    }
    const record = await this.#resolve(plugin, tenantId);
    await this.#ensureLoaded(host, record);
    if (signal.aborted) throw new UeeError('TIMEOUT', `model plugin "${plugin}" call aborted`, { retryable: true });
    const now = new Date().toISOString();
    const eventId = newId();
    const event: EventEnvelope = {
      eventId,
      type: MODEL_CALL_EVENT_TYPE,
      tenantId,
      payload: { model },
      occurredAt: now,
      correlationId: eventId,
      causationId: null,
      hop: 0,
      source: { kind: 'system', id: 'model-gateway' },
    };
    const result = await host.invoke(record.id, { event, model: { model, input }, context: { now } });
    if (!result.ok) throw result.error;
    return result.output;
  }

  /** The newest enabled model version of `name` visible to `tenantId`: the tenant's own, else the global one. */
  async #resolve(name: string, tenantId: string | null): Promise<PluginRecord> {
    const scopes = tenantId === null ? [null] : [tenantId, null];
    for (const scope of scopes) {
      const ctx: TenantContext = { tenantId: scope, actor: 'system:model-gateway' };
      const found = await this.registry.newestEnabled(ctx, name);
      if (found === undefined) continue;
      if (found.attributes.kind !== 'model') {
        throw new UeeError('NOT_FOUND', `plugin "${name}" is a ${found.attributes.kind} plugin, not a model plugin`, {
          details: { plugin: name, kind: found.attributes.kind },
          hint: 'point the model definition at a plugin deployed with kind "model" (exporting infer)',
        });
      }
      return found;
    }
    throw new UeeError('NOT_FOUND', `no enabled model plugin named "${name}"`, {
      details: { plugin: name, tenantId },
      hint: 'deploy the plugin with kind "model", or fix the model definition\'s target',
    });
  }

  #ensureLoaded(host: ExecutionHost, plugin: PluginRecord): Promise<void> {
    if (host.has(plugin.id)) return Promise.resolve();
    let loading = this.#loading.get(plugin.id);
    if (loading === undefined) {
      loading = (async () => {
        await host.load(loadSpecOf(plugin, await this.registry.binary(plugin)));
        const key = `${plugin.tenantId ?? '*'}/${plugin.attributes.name}`;
        const previous = this.#current.get(key);
        const version = plugin.attributes.pluginVersion;
        if (previous === undefined || previous.version < version) {
          this.#current.set(key, { id: plugin.id, version });
          // Calls already running on the previous version finish; new ones resolve to this one.
          if (previous !== undefined) host.unload(previous.id);
        }
        this.logger.info('model plugin loaded', { pluginId: plugin.id, plugin: plugin.attributes.name, version: plugin.attributes.pluginVersion });
      })().finally(() => this.#loading.delete(plugin.id));
      this.#loading.set(plugin.id, loading);
    }
    return loading;
  }
}
