import type { Logger, TenantContext } from '../core/index.js';
import { UeeError, newId, silentLogger, toUeeError } from '../core/index.js';
import type { AuditLog, AuditRecord } from './audit/port.js';
import { MemoryAuditLog } from './audit/memory-audit.js';
import { BuiltinProvider } from './builtin/provider.js';
import { ResultCache, cacheKey } from './cache.js';
import { withDefaultModels } from './defaults.js';
import type { ExecState, Outcome, StreamPiece } from './executor.js';
import { Executor } from './executor.js';
import { estimateTokens, normalizeInput } from './io.js';
import type { BudgetLedger } from './policy/ledger.js';
import { InMemoryLedger } from './policy/ledger.js';
import type { Estimate, QuotaConfig, Reservation } from './policy/quotas.js';
import { QuotaPolicy } from './policy/quotas.js';
import type { ChatChunk, GatewayCallRequest, GatewayCallResult, GatewayStream, ModelGateway, ModelInfo, ModelProvider, WasmModelRunner } from './port.js';
import type { OpenAiProviderConfig } from './providers/openai-provider.js';
import { OpenAiProvider } from './providers/openai-provider.js';
import { WasmProvider } from './providers/wasm-provider.js';
import { Redactor } from './redact.js';
import type { ModelDefinition, ModelDefinitionInput, ModelsManifestInput } from './registry.js';
import { BUILTIN_PROVIDER, HYBRID_PROVIDER, ModelRegistry, WASM_PROVIDER, checkModelAllowed } from './registry.js';
import type { CircuitBreakerOptions, CircuitState } from './resilience.js';
import { CircuitBreakers } from './resilience.js';

/** Options of {@link createModelGateway}. */
export interface ModelGatewayOptions {
  /** Models added to (or replacing, by name) the defaults `task.prioritizer.v2`, `embed.small`, `chat.default`. */
  models?: ModelDefinitionInput[];
  /** Drop the default models. @default false */
  replaceDefaults?: boolean;
  /** Per-tenant model overrides and hidden models. */
  tenants?: ModelsManifestInput['tenants'];
  /** OpenAI-compatible provider connections, referenced by models' `provider`. */
  providers?: OpenAiProviderConfig[];
  /** Further provider implementations (e.g. a local GGUF runner). */
  customProviders?: ModelProvider[];
  /** The plugin runtime's runner of `kind: model` plugins; without it wasm and hybrid models fail. */
  wasmRunner?: WasmModelRunner;
  /** Quotas, rate limits and concurrency caps per tenant and plugin. @default none */
  quotas?: QuotaConfig;
  /** Where budgets are counted. @default a new {@link InMemoryLedger} (owned: closed with the gateway) */
  ledger?: BudgetLedger;
  /** Close a given {@link ledger} with the gateway (one the gateway makes itself is always closed). @default false */
  ownLedger?: boolean;
  /** Where calls are recorded. @default a new {@link MemoryAuditLog} */
  audit?: AuditLog;
  /** Result-cache size. @default 10000 */
  cacheEntries?: number;
  breaker?: CircuitBreakerOptions;
  /** More secrets to scrub from everything the gateway emits (e.g. the endpoint's tenant tokens). */
  secrets?: string[];
  logger?: Logger;
  /** Source of provider `apiKeyEnv` values. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Gateway lifecycle. */
export type GatewayState = 'running' | 'closed';

/** Builds a gateway from options: registry validated, providers connected. Throws `CONFIG_INVALID`. */
export function createModelGateway(options: ModelGatewayOptions = {}): Promise<DefaultModelGateway> {
  return Promise.resolve(new DefaultModelGateway(options));
}

/** The embedded {@link ModelGateway}: see the port for the guarantees. */
export class DefaultModelGateway implements ModelGateway {
  readonly registry: ModelRegistry;
  readonly audit: AuditLog;
  readonly policy: QuotaPolicy;
  readonly redactor = new Redactor();
  readonly cache: ResultCache<Outcome>;
  readonly #providers = new Map<string, ModelProvider>();
  readonly #ledger: BudgetLedger;
  readonly #breakers: CircuitBreakers;
  readonly #executor: Executor;
  readonly #logger: Logger;
  readonly #owned: { ledger: boolean; audit: boolean };
  #state: GatewayState = 'running';

  constructor(options: ModelGatewayOptions) {
    this.#logger = options.logger ?? silentLogger;
    const providers: ModelProvider[] = [new BuiltinProvider(), new WasmProvider(options.wasmRunner), ...(options.providers ?? []).map((c) => new OpenAiProvider(c, options.env)), ...(options.customProviders ?? [])];
    for (const p of providers) {
      if (this.#providers.has(p.name) || p.name === HYBRID_PROVIDER) throw new UeeError('CONFIG_INVALID', `duplicate or reserved provider name "${p.name}"`, { details: { provider: p.name } });
      this.#providers.set(p.name, p);
      this.redactor.add(...(p.secrets?.() ?? []));
    }
    this.redactor.add(...(options.secrets ?? []));
    const models = options.replaceDefaults ? (options.models ?? []) : withDefaultModels(options.models);
    this.registry = ModelRegistry.create({ models, tenants: options.tenants ?? {} }, this.#providers.keys());
    this.#ledger = options.ledger ?? new InMemoryLedger();
    this.audit = options.audit ?? new MemoryAuditLog();
    this.#owned = { ledger: options.ledger === undefined || options.ownLedger === true, audit: options.audit === undefined };
    this.policy = new QuotaPolicy(options.quotas ?? {}, this.#ledger);
    this.#breakers = new CircuitBreakers(options.breaker);
    this.cache = new ResultCache<Outcome>({ maxEntries: options.cacheEntries ?? 10_000 });
    this.#executor = new Executor(this.registry, this.#providers, this.#breakers, options.wasmRunner, this.#logger);
  }

  get state(): GatewayState {
    return this.#state;
  }

  /**
   * Billing follows the work, not the caller: the reservation (with its concurrency lease) is held
   * until the provider work this call started or joined has ended, and then settled with what that
   * work consumed — also when the caller stopped waiting. A caller that aborts gets `TIMEOUT` at
   * once, but a call that ran on (into the cache, or because the provider ignored the abort) is
   * billed and audited when it ends.
   */
  async call(ctx: TenantContext, request: GatewayCallRequest): Promise<GatewayCallResult> {
    const started = performance.now();
    const record = this.#baseRecord(ctx, request);
    const plugin = request.pluginName ?? request.pluginId;
    let reservation: Reservation | undefined;
    let billed: Promise<Served> | undefined;
    const state = this.#state;
    let exec: ExecState | undefined;
    try {
      if (state === 'closed') throw new UeeError('CLOSED', 'the model gateway is closed');
      checkModelAllowed(request.model, request.allowedModels, request.pluginName ?? request.pluginId);
      const def = this.registry.resolve(request.model, ctx.tenantId);
      const input = this.#executor.normalize(def, request.input);
      const estimate = this.#executor.estimate(def, input, ctx.tenantId);
      reservation = await this.policy.reserve(ctx.tenantId, plugin, estimate);
      const held = reservation;
      exec = this.#execState(ctx, request, estimate, (extra) => this.policy.topUp(held, extra, ctx.tenantId, plugin));
      const es = exec;
      const run = (): Promise<Outcome> => this.#executor.run(def, input, request.input, es);
      let work: Promise<Served>;
      if (def.cacheTtlMs > 0) {
        const key = cacheKey({ tenantId: ctx.tenantId, model: def.name, routing: [def.provider, def.target, def.params, def.fallback], input });
        // Hits and joiners did not run the provider: they are charged a call, not its tokens.
        work = this.cache.getOrCompute(key, def.cacheTtlMs, run).then((r) => ({ outcome: r.source === 'miss' ? r.value : { ...r.value, inputTokens: 0, outputTokens: 0, cost: 0 }, cache: r.source }));
      } else {
        es.signal = request.signal;
        work = run().then((outcome) => ({ outcome, cache: 'miss' as const }));
      }
      billed = work.then(
        async (w) => {
          await this.policy.settle(held, { tokens: w.outcome.inputTokens + w.outcome.outputTokens, cost: w.outcome.cost });
          return w;
        },
        async (err: unknown) => {
          await this.policy.settle(held, { tokens: 0, cost: 0 }).catch(() => undefined);
          throw err;
        },
      );
      const { outcome, cache } = await raceAbort(billed, request.signal);
      this.#warnOverspend(estimate, outcome, def.name);
      const latencyMs = round3(performance.now() - started);
      this.audit.append({
        ...record, servedBy: outcome.model, provider: outcome.provider, latencyMs, inputTokens: outcome.inputTokens, outputTokens: outcome.outputTokens,
        cost: outcome.cost, cache, attempts: cache === 'miss' ? es.attempts : 0,
      });
      return { output: outcome.output, model: outcome.model, provider: outcome.provider, usage: { inputTokens: outcome.inputTokens, outputTokens: outcome.outputTokens, cost: outcome.cost }, cache, latencyMs, callId: record.id };
    } catch (err) {
      if (billed !== undefined && request.signal?.aborted) {
        // The caller left; the work goes on and is billed and audited when it ends.
        const left = exec;
        billed.then(
          (w) =>
            this.audit.append({
              ...record, servedBy: w.outcome.model, provider: w.outcome.provider, latencyMs: round3(performance.now() - started), inputTokens: w.outcome.inputTokens,
              outputTokens: w.outcome.outputTokens, cost: w.outcome.cost, cache: w.cache, attempts: w.cache === 'miss' ? (left?.attempts ?? 0) : 0,
              errorCode: 'TIMEOUT', errorMessage: 'call aborted by the caller; the work ran on and was billed',
            }),
          (e: unknown) => void this.#fail(e, record, started, left),
        );
        throw toUeeError(err);
      }
      if (billed !== undefined) await billed.catch(() => undefined);
      else if (reservation) await this.policy.settle(reservation, { tokens: 0, cost: 0 }).catch(() => undefined);
      throw this.#fail(err, record, started, exec);
    }
  }

  async stream(ctx: TenantContext, request: GatewayCallRequest): Promise<GatewayStream> {
    const started = performance.now();
    const record = this.#baseRecord(ctx, request);
    const plugin = request.pluginName ?? request.pluginId;
    let reservation: Reservation | undefined;
    let exec: ExecState | undefined;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.#state === 'closed') throw new UeeError('CLOSED', 'the model gateway is closed');
      checkModelAllowed(request.model, request.allowedModels, request.pluginName ?? request.pluginId);
      const def = this.registry.resolve(request.model, ctx.tenantId);
      if (def.kind !== 'chat') throw new UeeError('VALIDATION_FAILED', `model "${def.name}" is a ${def.kind} model: only chat models stream`, { details: { model: def.name } });
      const input = normalizeInput(def.kind, request.input, def.name);
      const estimate = this.#executor.estimate(def, input, ctx.tenantId);
      reservation = await this.policy.reserve(ctx.tenantId, plugin, estimate);
      exec = this.#execState(ctx, request, estimate, () => Promise.resolve());
      const opened = await this.#executor.openStream(def, input, request.input, exec, controller.signal);
      const held = reservation;
      const state = exec;
      let resolveResult!: (r: GatewayCallResult) => void;
      let rejectResult!: (e: unknown) => void;
      const result = new Promise<GatewayCallResult>((res, rej) => ((resolveResult = res), (rejectResult = rej)));
      result.catch(() => undefined);
      const provider = state.lastProvider ?? opened.def.provider;
      const finish = async (text: string, usage: StreamPiece['usage']): Promise<GatewayCallResult> => {
        const inputTokens = usage?.inputTokens ?? estimate.tokens - opened.def.maxOutputTokens;
        const outputTokens = usage?.outputTokens ?? estimateTokens(text);
        const cost = inputTokens * opened.def.cost.inputPerUnit + outputTokens * opened.def.cost.outputPerUnit;
        await this.policy.settle(held, { tokens: inputTokens + outputTokens, cost });
        const latencyMs = round3(performance.now() - started);
        this.audit.append({ ...record, servedBy: opened.def.name, provider, latencyMs, inputTokens, outputTokens, cost, cache: 'miss', attempts: state.attempts });
        return { output: { content: text, finishReason: 'stop' }, model: opened.def.name, provider, usage: { inputTokens, outputTokens, cost }, cache: 'miss', latencyMs, callId: record.id };
      };
      const policy = this.policy;
      // The prompt and the text streamed so far, priced: what a stream that ended early consumed.
      const delivered = (text: string): Estimate => {
        if (text === '') return { tokens: 0, cost: 0 };
        const inputTokens = estimate.tokens - opened.def.maxOutputTokens;
        const outputTokens = estimateTokens(text);
        return { tokens: inputTokens + outputTokens, cost: inputTokens * opened.def.cost.inputPerUnit + outputTokens * opened.def.cost.outputPerUnit };
      };
      const fail = (err: unknown): UeeError => this.#fail(err, record, started, state);
      async function* chunks(): AsyncGenerator<ChatChunk> {
        let text = '';
        let usage: StreamPiece['usage'];
        try {
          let next = opened.first;
          while (!next.done) {
            if (next.value.usage) usage = next.value.usage;
            if (next.value.delta) {
              text += next.value.delta;
              yield { delta: next.value.delta };
            }
            next = await opened.rest.next();
          }
          resolveResult(await finish(text, usage));
        } catch (err) {
          await policy.settle(held, delivered(text)).catch(() => undefined);
          const e = fail(err);
          rejectResult(e);
          throw e;
        } finally {
          request.signal?.removeEventListener('abort', onAbort);
          if (!held.settled) {
            controller.abort();
            // What was generated before the consumer left was work: it is billed.
            await policy.settle(held, delivered(text)).catch(() => undefined);
            rejectResult(new UeeError('TIMEOUT', 'stream abandoned by the consumer', { retryable: true }));
          }
        }
      }
      return { model: opened.def.name, chunks: chunks(), result };
    } catch (err) {
      request.signal?.removeEventListener('abort', onAbort);
      if (reservation) await this.policy.settle(reservation, { tokens: 0, cost: 0 }).catch(() => undefined);
      throw this.#fail(err, record, started, exec);
    }
  }

  listModels(tenantId: string | null): ModelInfo[] {
    return this.registry.list(tenantId).map(modelInfo);
  }

  /**
   * Adds a global model while running, e.g. `{ provider: "wasm", target: "<model plugin name>" }`
   * after deploying a `kind: model` plugin. Throws `CONFIG_INVALID` (bad definition, unknown provider
   * or fallback, a name already defined) or `CLOSED`.
   */
  registerModel(definition: ModelDefinitionInput): ModelInfo {
    if (this.#state === 'closed') throw new UeeError('CLOSED', 'the model gateway is closed');
    return modelInfo(this.registry.register(definition));
  }

  /** The circuit state of a model's provider target, for operators. */
  circuitState(model: string, tenantId: string | null = null): CircuitState {
    const d = this.registry.resolve(model, tenantId);
    return this.#breakers.state(`${d.provider}/${d.target}`);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    for (const p of this.#providers.values()) {
      try {
        await p.close?.();
      } catch (err) {
        this.#logger.warn('provider close failed', { provider: p.name, error: this.redactor.text(String(err)) });
      }
    }
    if (this.#owned.ledger) await this.#ledger.close().catch(() => undefined);
    if (this.#owned.audit) this.audit.close();
  }

  #baseRecord(ctx: TenantContext, r: GatewayCallRequest): BaseRecord {
    const isPlugin = r.pluginId !== undefined || r.pluginName !== undefined;
    return {
      id: newId(), at: new Date().toISOString(), tenantId: ctx.tenantId, pluginId: r.pluginId ?? null, pluginName: r.pluginName ?? null,
      eventId: r.eventId ?? null, model: r.model, source: r.source ?? (isPlugin ? 'plugin' : 'api'), errorCode: null, errorMessage: null,
    };
  }

  #execState(ctx: TenantContext, r: GatewayCallRequest, reserved: Estimate, topUp: (extra: Estimate) => Promise<void>): ExecState {
    const state: ExecState = {
      tenantId: ctx.tenantId, pluginId: r.pluginId, eventId: r.eventId, attempts: 0, lastProvider: null, reserved: { ...reserved },
      topUp: async (extra) => {
        await topUp(extra);
        state.reserved = { tokens: state.reserved.tokens + extra.tokens, cost: state.reserved.cost + extra.cost };
      },
    };
    return state;
  }

  /** Scrubs, audits and logs a failure; returns the error to throw. */
  #fail(err: unknown, record: BaseRecord, started: number, exec: ExecState | undefined): UeeError {
    const raw = toUeeError(err);
    const e = new UeeError(raw.code, this.redactor.text(raw.message), {
      details: this.redactor.value(raw.details), retryable: raw.retryable, ...(raw.hint === undefined ? {} : { hint: raw.hint }),
    });
    this.audit.append({
      ...record, servedBy: null, provider: exec?.lastProvider ?? null, latencyMs: round3(performance.now() - started), inputTokens: 0, outputTokens: 0,
      cost: 0, cache: 'miss', attempts: exec?.attempts ?? 0, errorCode: e.code, errorMessage: e.message,
    });
    if (e.code === 'INTERNAL') this.#logger.error('model call failed', { model: record.model, tenantId: record.tenantId, code: e.code, message: e.message });
    else this.#logger.debug('model call refused or failed', { model: record.model, tenantId: record.tenantId, code: e.code, message: e.message });
    return e;
  }

  #warnOverspend(estimate: Estimate, o: Outcome, model: string): void {
    if (o.inputTokens + o.outputTokens > estimate.tokens || o.cost > estimate.cost + 1e-9) {
      this.#logger.warn('provider reported more usage than reserved; charged in full', { model, reserved: estimate, actual: { tokens: o.inputTokens + o.outputTokens, cost: o.cost } });
    }
  }
}

/** What the work behind one call produced, and whether it ran for this caller. */
interface Served {
  outcome: Outcome;
  cache: GatewayCallResult['cache'];
}

type BaseRecord = Omit<AuditRecord, 'servedBy' | 'provider' | 'latencyMs' | 'inputTokens' | 'outputTokens' | 'cost' | 'cache' | 'attempts' | 'errorCode' | 'errorMessage'> & {
  errorCode: null;
  errorMessage: null;
};

/** Providers the gateway always has. */
export const RESERVED_PROVIDERS = [BUILTIN_PROVIDER, WASM_PROVIDER, HYBRID_PROVIDER] as const;

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new UeeError('TIMEOUT', 'call aborted by the caller', { retryable: true }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new UeeError('TIMEOUT', 'call aborted by the caller', { retryable: true }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The public listing of a definition: no provider target, parameters or secrets. */
function modelInfo(d: ModelDefinition): ModelInfo {
  return {
    name: d.name,
    kind: d.kind,
    provider: d.provider,
    description: d.description,
    fallback: [...d.fallback],
    cacheTtlMs: d.cacheTtlMs,
    timeoutMs: d.timeoutMs,
    cost: { ...d.cost },
  };
}
