import { UeeError, toUeeError } from '../../core/index.js';
import { estimateInputTokens, estimateTokens } from '../io.js';
import type { ModelProvider, ProviderCall, ProviderResult, WasmModelRunner } from '../port.js';
import { WASM_PROVIDER } from '../registry.js';

/**
 * Wasm model plugins (`kind: model`, export `infer`): the seed's embedded ML deployment. The
 * definition's `target` is the plugin name; the plugin runtime runs it through the injected
 * {@link WasmModelRunner}. Without a runner every call fails with `MODEL_UNAVAILABLE`.
 */
export class WasmProvider implements ModelProvider {
  readonly name = WASM_PROVIDER;

  constructor(private readonly runner: WasmModelRunner | undefined) {}

  async invoke(call: ProviderCall): Promise<ProviderResult> {
    const output = await runPlugin(this.runner, call.definition.target, call.definition.name, call.input, call);
    return { output, inputTokens: estimateInputTokens('wasm', call.input), outputTokens: estimateTokens(JSON.stringify(output) ?? '') };
  }
}

/** Runs one model plugin through `runner`, normalising failures to `UeeError`s. */
export async function runPlugin(
  runner: WasmModelRunner | undefined,
  plugin: string,
  model: string,
  input: unknown,
  call: Pick<ProviderCall, 'tenantId' | 'signal'>,
): Promise<unknown> {
  if (!runner) {
    throw new UeeError('MODEL_UNAVAILABLE', `model "${model}" needs wasm plugin "${plugin}" but no plugin runtime is attached to the gateway`, {
      details: { model, plugin },
      hint: 'create the gateway with a wasmRunner (the plugin runtime provides one)',
    });
  }
  try {
    return await runner.infer({ plugin, model, input, tenantId: call.tenantId, signal: call.signal });
  } catch (err) {
    const e = toUeeError(err, 'PLUGIN_ERROR');
    throw new UeeError(e.code, `model plugin "${plugin}": ${e.message}`, { details: { ...e.details, plugin, model }, retryable: e.retryable });
  }
}
