import type { TenantContext } from '../core/index.js';
import type { ModelDefinition, ModelKind } from './registry.js';

/**
 * One `call_model` request as the plugin runtime (or the OpenAI-compatible endpoint) hands it to the
 * gateway. Everything but `model` and `input` is attribution and policy input.
 */
export interface GatewayCallRequest {
  /** A registry model name such as `task.prioritizer.v2`. */
  model: string;
  /**
   * The model input. Chat: a string or `{ messages, temperature?, max_tokens?, response_format? }`;
   * embedding: a string, an array of strings or `{ input }`; scorer: a feature object; wasm and
   * hybrid: any JSON the model plugin accepts.
   */
  input: unknown;
  /** The calling plugin's id (one id per plugin version): per-plugin quotas and audit. */
  pluginId?: string | undefined;
  /** The calling plugin's name: per-plugin quotas are keyed by name so a new version shares them. */
  pluginName?: string | undefined;
  /** The event being handled, recorded in the audit log. */
  eventId?: string | undefined;
  /**
   * The plugin manifest's `models` allow-list. `undefined` means every model is allowed; an empty
   * array allows none. A model outside it fails with `CAPABILITY_DENIED` (`details.reason:
   * "MODEL_NOT_ALLOWED"`) before any budget is touched.
   */
  allowedModels?: readonly string[] | undefined;
  /** Who calls, for the audit log. @default "plugin" when `pluginId` or `pluginName` is set, else "api" */
  source?: 'plugin' | 'api' | 'admin' | undefined;
  /** Aborts the call (the runtime's watchdog). */
  signal?: AbortSignal | undefined;
}

/** Token and cost accounting of one call. */
export interface CallUsage {
  inputTokens: number;
  outputTokens: number;
  /** Cost in credits (the unit model definitions price in, conventionally USD). */
  cost: number;
}

/** The outcome of {@link ModelGateway.call}. The runtime returns only `output` to the plugin. */
export interface GatewayCallResult {
  /** The model's JSON result (see {@link ChatOutput}, {@link EmbeddingOutput}, {@link ScorerOutput}). */
  output: unknown;
  /** The registry model that answered (differs from the requested one after a fallback). */
  model: string;
  /** The provider connection name that answered (`builtin`, a configured provider, `wasm`, `hybrid`). */
  provider: string;
  usage: CallUsage;
  /** `hit`: served from the cache; `inflight`: joined an identical concurrent call. */
  cache: 'miss' | 'hit' | 'inflight';
  latencyMs: number;
  /** The audit record id of this call. */
  callId: string;
}

/** One streamed piece of a chat answer. */
export interface ChatChunk {
  /** Text to append. */
  delta: string;
}

/** A streaming chat call: iterate `chunks`, then await `result` for usage and the final text. */
export interface GatewayStream {
  model: string;
  chunks: AsyncIterable<ChatChunk>;
  /** Settles after the last chunk (rejects when the stream failed). */
  result: Promise<GatewayCallResult>;
}

/**
 * The model gateway as the rest of UEE sees it: every `call_model` goes through {@link call}, which
 * checks the allow-list, reserves quota atomically, serves from cache or routes to a provider with
 * retries, timeouts, fallbacks and a circuit breaker, settles the budget and writes one audit record.
 * Provider keys stay inside: nothing returned or thrown contains them.
 *
 * Errors are `UeeError`s: `NOT_FOUND` (unknown model), `CAPABILITY_DENIED` (not in the allow-list),
 * `VALIDATION_FAILED` (bad input for the model kind), `QUOTA_EXCEEDED` / `RATE_LIMITED` (retryable,
 * `details.retryAfterMs`), `MODEL_UNAVAILABLE` (every model of the fallback chain failed),
 * `CIRCUIT_OPEN`, `TIMEOUT`, `CLOSED`.
 */
export interface ModelGateway {
  /** Calls a model for `ctx.tenantId` (null: the global scope). */
  call(ctx: TenantContext, request: GatewayCallRequest): Promise<GatewayCallResult>;
  /** Streams a chat model's answer; same policy as {@link call}, no cache. */
  stream(ctx: TenantContext, request: GatewayCallRequest): Promise<GatewayStream>;
  /** The models a tenant may see, with tenant overrides applied. Never contains secrets. */
  listModels(tenantId: string | null): ModelInfo[];
  /** Releases providers, ledger and audit connections. Safe to call twice. */
  close(): Promise<void>;
}

/** A model as listed to users, agents and `/v1/models`: no provider secrets, no base URLs. */
export interface ModelInfo {
  name: string;
  kind: ModelKind;
  provider: string;
  description: string;
  fallback: string[];
  cacheTtlMs: number;
  timeoutMs: number;
  cost: { inputPerUnit: number; outputPerUnit: number };
}

/** What a provider receives for one attempt. */
export interface ProviderCall {
  /** The resolved definition (tenant overrides applied). */
  definition: ModelDefinition;
  /** Input already normalised for the model kind (see `normalizeInput`). */
  input: unknown;
  tenantId: string | null;
  pluginId?: string | undefined;
  eventId?: string | undefined;
  /** Fires on timeout or caller abort; providers must stop work and reject. */
  signal: AbortSignal;
}

/** What a provider returns for one attempt. */
export interface ProviderResult {
  output: unknown;
  inputTokens: number;
  outputTokens: number;
}

/**
 * A model provider: the builtin offline models, an OpenAI-compatible HTTP endpoint, or the plugin
 * runtime's wasm model plugins. Providers throw `UeeError`s (`retryable: true` for transient faults)
 * whose messages never carry credentials.
 */
export interface ModelProvider {
  /** The connection name model definitions refer to. */
  readonly name: string;
  invoke(call: ProviderCall): Promise<ProviderResult>;
  /** Chat streaming; providers without it are streamed as one chunk. */
  stream?(call: ProviderCall): AsyncIterable<ChatChunk & { usage?: { inputTokens: number; outputTokens: number } }>;
  /** Secrets this provider holds, so the gateway can scrub them from anything it emits. */
  secrets?(): string[];
  close?(): Promise<void>;
}

/**
 * Runs the `infer` export of a `kind: model` plugin. Implemented by the plugin runtime
 * (src/runtime); the gateway only depends on this interface.
 */
export interface WasmModelRunner {
  /**
   * Invokes plugin `plugin` (a plugin name, resolved to its enabled version for `tenantId`) with
   * `{ model, input, context }` and returns its JSON output. Rejects with a `UeeError`
   * (`PLUGIN_ERROR`, `PLUGIN_TRAP`, `TIMEOUT`, `NOT_FOUND`).
   */
  infer(request: { plugin: string; model: string; input: unknown; tenantId: string | null; signal: AbortSignal }): Promise<unknown>;
}
