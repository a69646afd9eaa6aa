import type { TenantContext } from '../core/index.js';
import type { ModelGateway } from './port.js';

/** The `call_model` request shape the plugin runtime (src/runtime/services.ts) sends. */
export interface RuntimeModelCall {
  model: string;
  input: unknown;
  plugin: { id: string; name: string; version: string };
  eventId: string;
}

/**
 * Adapts a {@link ModelGateway} to the runtime's narrow model port (`call(ctx, request) → output`),
 * attributing the call to the plugin and event. The runtime checks the manifest allow-list itself;
 * pass `allowedModels` to have the gateway check it again.
 */
export function forRuntime(
  gateway: ModelGateway,
  allowedModels?: (plugin: RuntimeModelCall['plugin']) => readonly string[] | undefined,
): { call(ctx: TenantContext, request: RuntimeModelCall): Promise<unknown> } {
  return {
    call: async (ctx, r) =>
      (
        await gateway.call(ctx, {
          model: r.model,
          input: r.input,
          pluginId: r.plugin.id,
          pluginName: r.plugin.name,
          eventId: r.eventId,
          allowedModels: allowedModels?.(r.plugin),
          source: 'plugin',
        })
      ).output,
  };
}
