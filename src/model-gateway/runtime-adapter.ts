import type { TenantContext } from '../core/index.js';
import type { ModelGateway } from './port.js';

/** The `call_model` request shape the plugin runtime (src/runtime/services.ts) sends. */
export interface RuntimeModelCall {
  model: string;
  input: unknown;
  plugin: { id: string; name: string; version: string };
  eventId: string;
  /** The plugin manifest's `models` allow-list, as the runtime sends it (absent: every model). */
  allowedModels?: readonly string[];
  /** Told the cost of the call once it is served (experiments count model cost per invocation). */
  onCost?: (cost: number) => void;
}

/**
 * Adapts a {@link ModelGateway} to the runtime's narrow model port (`call(ctx, request) → output`),
 * attributing the call to the plugin and event. The runtime checks the manifest allow-list itself and
 * sends it along, so the gateway checks it again; `allowedModels` supplies one when a request lacks it.
 */
export function forRuntime(
  gateway: ModelGateway,
  allowedModels?: (plugin: RuntimeModelCall['plugin']) => readonly string[] | undefined,
): { call(ctx: TenantContext, request: RuntimeModelCall): Promise<unknown> } {
  return {
    call: async (ctx, r) => {
      const res = await gateway.call(ctx, {
        model: r.model,
        input: r.input,
        pluginId: r.plugin.id,
        pluginName: r.plugin.name,
        eventId: r.eventId,
        allowedModels: r.allowedModels ?? allowedModels?.(r.plugin),
        source: 'plugin',
      });
      r.onCost?.(res.usage.cost);
      return res.output;
    },
  };
}
