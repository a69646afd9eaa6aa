import type { Logger } from '../core/index.js';
import { UeeError, toUeeError } from '../core/index.js';
import { estimateInputTokens, maxOutputTokens, normalizeInput } from './io.js';
import type { Estimate } from './policy/quotas.js';
import type { ChatChunk, ModelProvider, ProviderResult, WasmModelRunner } from './port.js';
import { runPlugin } from './providers/wasm-provider.js';
import type { ModelDefinition, ModelRegistry } from './registry.js';
import { BUILTIN_PROVIDER, HYBRID_PROVIDER } from './registry.js';
import type { CircuitBreakers } from './resilience.js';
import { backoffMs, sleep, withTimeout } from './resilience.js';

/** What one routed execution produced. */
export interface Outcome {
  output: unknown;
  /** The model that answered. */
  model: string;
  provider: string;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

/** Mutable state of one execution: attempts made, and a hook to reserve more budget (hybrids). */
export interface ExecState {
  tenantId: string | null;
  pluginId?: string | undefined;
  eventId?: string | undefined;
  attempts: number;
  /** The provider of the last attempt (for failed-call audit records). */
  lastProvider: string | null;
  /** Reserves extra budget when an execution learns it needs more than first estimated. */
  topUp(extra: Estimate): Promise<void>;
  /** Budget held so far for this execution. */
  reserved: Estimate;
  /** The caller's abort signal, when the execution is not shared with other callers (cache off). */
  signal?: AbortSignal | undefined;
}

// Errors that another model of the chain cannot fix: the caller's input or our own configuration.
const NOT_FALLBACKABLE = new Set(['VALIDATION_FAILED', 'CONFIG_INVALID', 'CAPABILITY_DENIED', 'QUOTA_EXCEEDED', 'CLOSED']);
// Errors that do not say anything about the provider's health.
const NOT_PROVIDER_FAULTS = new Set(['VALIDATION_FAILED', 'CONFIG_INVALID', 'CIRCUIT_OPEN', 'QUOTA_EXCEEDED', 'CAPABILITY_DENIED']);

/**
 * Routes a normalised input through a model's fallback chain: per model, the circuit breaker, then
 * attempts with per-attempt timeouts and exponential backoff on retryable errors; hybrid chains run
 * pre-plugin → inner model → post-plugin. Knows nothing of quotas, cache or audit.
 */
export class Executor {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly providers: ReadonlyMap<string, ModelProvider>,
    private readonly breakers: CircuitBreakers,
    private readonly runner: WasmModelRunner | undefined,
    private readonly logger: Logger,
  ) {}

  /** The chain `def` and its fallbacks flatten to, depth first, each model once. */
  chain(def: ModelDefinition, tenantId: string | null): ModelDefinition[] {
    const out: ModelDefinition[] = [];
    const seen = new Set<string>();
    const visit = (d: ModelDefinition): void => {
      if (seen.has(d.name)) return;
      seen.add(d.name);
      out.push(d);
      for (const fb of d.fallback) visit(this.registry.resolve(fb, tenantId));
    };
    visit(def);
    return out;
  }

  /** Validates `input` for `def`; a hybrid chain with a pre-processing plugin takes any JSON (the plugin shapes it). */
  normalize(def: ModelDefinition, input: unknown): unknown {
    return def.provider === HYBRID_PROVIDER && def.chain?.pre !== undefined ? input : normalizeInput(def.kind, input, def.name);
  }

  /** Upper bound of tokens and cost over the whole chain, so no fallback can overspend the reservation. */
  estimate(def: ModelDefinition, input: unknown, tenantId: string | null): Estimate {
    let tokens = 0;
    let cost = 0;
    for (const d of this.chain(def, tenantId)) {
      const inner = d.provider === HYBRID_PROVIDER ? this.registry.resolve(d.target, tenantId) : d;
      // Our own estimate is exact for builtin models; for remote tokenizers one token per byte is a safe bound.
      const shaped = !(d.provider === HYBRID_PROVIDER && d.chain?.pre !== undefined);
      const inTokens = inner.provider === BUILTIN_PROVIDER && shaped ? estimateInputTokens(inner.kind, input) : Buffer.byteLength(JSON.stringify(input) ?? '', 'utf8') + 8;
      const outTokens = shaped ? maxOutputTokens(inner.kind, input, inner.maxOutputTokens) : inner.kind === 'chat' ? inner.maxOutputTokens : 1;
      tokens = Math.max(tokens, inTokens + outTokens);
      cost = Math.max(cost, inTokens * (d.cost.inputPerUnit + (inner === d ? 0 : inner.cost.inputPerUnit)) + outTokens * (d.cost.outputPerUnit + (inner === d ? 0 : inner.cost.outputPerUnit)));
    }
    return { tokens, cost };
  }

  /** Runs the chain of `def` on `input` (already normalised for `def.kind`). */
  async run(def: ModelDefinition, input: unknown, rawInput: unknown, state: ExecState): Promise<Outcome> {
    const chain = this.chain(def, state.tenantId);
    const failures: Array<{ model: string; code: string; message: string }> = [];
    let last: UeeError | undefined;
    for (const d of chain) {
      if (state.signal?.aborted) throw new UeeError('TIMEOUT', 'call aborted by the caller', { retryable: true });
      try {
        const modelInput = d === def ? input : this.normalize(d, rawInput);
        return await this.#runOne(d, modelInput, state);
      } catch (err) {
        last = toUeeError(err, 'MODEL_UNAVAILABLE');
        if (NOT_FALLBACKABLE.has(last.code)) throw last;
        failures.push({ model: d.name, code: last.code, message: last.message });
        if (d !== chain[chain.length - 1]) this.logger.warn('model failed, falling back', { model: d.name, code: last.code });
      }
    }
    if (chain.length === 1 && last) throw last;
    throw new UeeError('MODEL_UNAVAILABLE', `every model of the chain of "${def.name}" failed (${failures.map((f) => `${f.model}: ${f.code}`).join(', ')})`, {
      retryable: failures.some((f) => f.code !== 'UNAUTHORIZED'),
      details: { model: def.name, failures },
      hint: 'check the providers of these models, or retry later',
    });
  }

  /**
   * Opens a chat stream on the first model of the chain that yields a first chunk within its timeout.
   * Returns the model, the first chunk and the rest of the iterator.
   */
  async openStream(def: ModelDefinition, input: unknown, rawInput: unknown, state: ExecState, signal: AbortSignal): Promise<{ def: ModelDefinition; first: IteratorResult<StreamPiece>; rest: AsyncIterator<StreamPiece> }> {
    const failures: string[] = [];
    let last: UeeError | undefined;
    for (const d of this.chain(def, state.tenantId)) {
      const provider = this.providers.get(d.provider);
      const key = `${d.provider}/${d.target}`;
      try {
        if (!provider || d.provider === HYBRID_PROVIDER) throw new UeeError('VALIDATION_FAILED', `model "${d.name}" cannot stream`);
        this.breakers.admit(key);
        state.attempts++;
        state.lastProvider = provider.name;
        const modelInput = d === def ? input : normalizeInput(d.kind, rawInput, d.name);
        const call = { definition: d, input: modelInput, tenantId: state.tenantId, pluginId: state.pluginId, eventId: state.eventId, signal };
        const iterable: AsyncIterable<StreamPiece> = provider.stream ? provider.stream(call) : oneChunk(provider, call);
        const it = iterable[Symbol.asyncIterator]();
        const first = await withTimeout(d.timeoutMs, signal, `first chunk of "${d.name}"`, () => it.next());
        this.breakers.success(key);
        return { def: d, first, rest: it };
      } catch (err) {
        last = toUeeError(err, 'MODEL_UNAVAILABLE');
        if (signal.aborted) throw last;
        if (!NOT_PROVIDER_FAULTS.has(last.code)) this.breakers.failure(key);
        if (NOT_FALLBACKABLE.has(last.code)) throw last;
        failures.push(`${d.name}: ${last.code}`);
      }
    }
    if (failures.length === 1 && last) throw last;
    throw new UeeError('MODEL_UNAVAILABLE', `every model of the chain of "${def.name}" failed to stream (${failures.join(', ')})`, { retryable: true, details: { model: def.name } });
  }

  async #runOne(d: ModelDefinition, input: unknown, state: ExecState): Promise<Outcome> {
    if (d.provider === HYBRID_PROVIDER) return this.#runHybrid(d, input, state);
    const provider = this.providers.get(d.provider);
    if (!provider) throw new UeeError('CONFIG_INVALID', `model "${d.name}": provider "${d.provider}" is not configured`);
    const key = `${d.provider}/${d.target}`;
    for (let attempt = 0; ; attempt++) {
      this.breakers.admit(key);
      state.attempts++;
      state.lastProvider = provider.name;
      try {
        const r: ProviderResult = await withTimeout(d.timeoutMs, state.signal, `model "${d.name}"`, (signal) =>
          provider.invoke({ definition: d, input, tenantId: state.tenantId, pluginId: state.pluginId, eventId: state.eventId, signal }),
        );
        this.breakers.success(key);
        const cost = r.inputTokens * d.cost.inputPerUnit + r.outputTokens * d.cost.outputPerUnit;
        return { output: r.output, model: d.name, provider: provider.name, inputTokens: r.inputTokens, outputTokens: r.outputTokens, cost };
      } catch (err) {
        const e = toUeeError(err, 'MODEL_UNAVAILABLE');
        // A caller's abort says nothing about the provider's health.
        if (state.signal?.aborted) throw e;
        if (!NOT_PROVIDER_FAULTS.has(e.code)) this.breakers.failure(key);
        if (!e.retryable || attempt >= d.retries || e.code === 'CIRCUIT_OPEN') throw e;
        await sleep(backoffMs(d.retryBackoffMs, attempt));
      }
    }
  }

  async #runHybrid(d: ModelDefinition, input: unknown, state: ExecState): Promise<Outcome> {
    const timeout = (what: string, plugin: string, value: unknown): Promise<unknown> =>
      withTimeout(d.timeoutMs, state.signal, `${what} plugin "${plugin}" of "${d.name}"`, (signal) => runPlugin(this.runner, plugin, d.name, value, { tenantId: state.tenantId, signal }));
    const pre = d.chain?.pre === undefined ? input : await timeout('pre-processing', d.chain.pre, input);
    const inner = this.registry.resolve(d.target, state.tenantId);
    const innerInput = normalizeInput(inner.kind, pre, inner.name);
    const need = this.estimate(inner, innerInput, state.tenantId);
    const extra = { tokens: Math.max(0, need.tokens - state.reserved.tokens), cost: Math.max(0, need.cost - state.reserved.cost) };
    if (extra.tokens > 0 || extra.cost > 0) await state.topUp(extra);
    const out = await this.run(inner, innerInput, pre, state);
    const output = d.chain?.post === undefined ? out.output : await timeout('post-processing', d.chain.post, { input, output: out.output });
    const own = out.inputTokens * d.cost.inputPerUnit + out.outputTokens * d.cost.outputPerUnit;
    return { ...out, output, model: d.name, provider: `${HYBRID_PROVIDER}:${out.provider}`, cost: out.cost + own };
  }
}

/** A streamed piece as providers yield it. */
export type StreamPiece = ChatChunk & { usage?: { inputTokens: number; outputTokens: number } };

async function* oneChunk(provider: ModelProvider, call: Parameters<ModelProvider['invoke']>[0]): AsyncIterable<StreamPiece> {
  const r = await provider.invoke(call);
  const content = typeof (r.output as { content?: unknown }).content === 'string' ? (r.output as { content: string }).content : JSON.stringify(r.output);
  yield { delta: content, usage: { inputTokens: r.inputTokens, outputTokens: r.outputTokens } };
}
