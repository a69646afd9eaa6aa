import { z } from 'zod';
import { JsonObjectSchema, TenantIdSchema, UeeError, parseOrThrow } from '../core/index.js';

/** What a model does, which decides how its input is validated and its output shaped. */
export const MODEL_KINDS = ['chat', 'embedding', 'scorer', 'wasm'] as const;
/** One of {@link MODEL_KINDS}. */
export type ModelKind = (typeof MODEL_KINDS)[number];

/** A registry model name: `task.prioritizer.v2`, `embed.small`, `chat.default`. */
export const ModelNameSchema = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9_.:/-]{0,127}$/, 'model names are 1-128 chars of letters, digits, "_", ".", ":", "/" or "-", starting with a letter');

/** Reserved provider names handled by the gateway itself. */
export const BUILTIN_PROVIDER = 'builtin';
/** Provider name of wasm model plugins (target = plugin name). */
export const WASM_PROVIDER = 'wasm';
/** Provider name of hybrid chains (target = inner model, `chain.pre`/`chain.post` = plugins). */
export const HYBRID_PROVIDER = 'hybrid';

/** Price of one call: credits per input unit and per output unit (units are tokens). */
export const CostSchema = z
  .object({
    inputPerUnit: z.number().min(0).default(0),
    outputPerUnit: z.number().min(0).default(0),
  })
  .strict();

/** A named model: where it runs and under which operational policy. */
export const ModelDefinitionSchema = z
  .object({
    name: ModelNameSchema,
    kind: z.enum(MODEL_KINDS),
    /** `builtin`, `wasm`, `hybrid`, or the name of a configured provider connection. */
    provider: z.string().min(1).max(64),
    /** Provider-specific: builtin model id, upstream model id, plugin name, or inner model name. */
    target: z.string().min(1).max(256),
    description: z.string().max(2000).default(''),
    /** Provider parameters (e.g. `temperature`, `dimensions`); never secrets. @default {} */
    params: JsonObjectSchema.default({}),
    /** Per-attempt timeout. @default 10000 */
    timeoutMs: z.number().int().min(1).max(600_000).default(10_000),
    /** Extra attempts on a retryable failure, with exponential backoff. @default 0 */
    retries: z.number().int().min(0).max(10).default(0),
    /** First backoff delay; doubles per attempt. @default 50 */
    retryBackoffMs: z.number().int().min(0).max(60_000).default(50),
    /** Models tried in order when this one fails, times out or its circuit is open. @default [] */
    fallback: z.array(ModelNameSchema).max(8).default([]),
    /** Result cache lifetime; 0 disables caching and in-flight de-duplication. @default 0 */
    cacheTtlMs: z.number().int().min(0).max(7 * 24 * 3600_000).default(0),
    cost: CostSchema.default({ inputPerUnit: 0, outputPerUnit: 0 }),
    /** Upper bound of output tokens, used to reserve budget before a chat call. @default 256 */
    maxOutputTokens: z.number().int().min(1).max(1_000_000).default(256),
    /** Hybrid chains: wasm pre-processing plugin → `target` model → wasm post-processing plugin. */
    chain: z.object({ pre: z.string().min(1).max(128).optional(), post: z.string().min(1).max(128).optional() }).strict().optional(),
  })
  .strict();
/** A validated model definition with defaults filled in. */
export type ModelDefinition = z.infer<typeof ModelDefinitionSchema>;
/** A model definition as written in a manifest. */
export type ModelDefinitionInput = z.input<typeof ModelDefinitionSchema>;

/** A tenant's changes to a model: any field but name and kind. */
export const ModelOverrideSchema = ModelDefinitionSchema.omit({ name: true, kind: true }).partial().strict();

/** Per-tenant registry changes: overridden or tenant-private models, and hidden ones. */
export const TenantModelsSchema = z
  .object({
    /** Name → fields replacing the global definition's (or a full definition for a tenant-only model). */
    models: z.record(ModelNameSchema, z.record(z.string(), z.unknown())).default({}),
    /** Global models this tenant may not see or call. @default [] */
    hidden: z.array(ModelNameSchema).default([]),
  })
  .strict();

/** The models part of a gateway manifest. */
export const ModelsManifestSchema = z
  .object({
    models: z.array(z.unknown()).default([]),
    tenants: z.record(TenantIdSchema, TenantModelsSchema).default({}),
  })
  .strict();
/** Input of {@link ModelRegistry.create}. */
export type ModelsManifestInput = z.input<typeof ModelsManifestSchema>;

/**
 * The named models of one gateway. Built once and validated as a whole: unique names, fallbacks
 * and hybrid targets that exist, no fallback cycles, known providers. Immutable afterwards.
 */
export class ModelRegistry {
  readonly #global = new Map<string, ModelDefinition>();
  readonly #tenants = new Map<string, { models: Map<string, ModelDefinition>; hidden: Set<string> }>();
  readonly #providers: ReadonlySet<string>;

  private constructor(providers: ReadonlySet<string>) {
    this.#providers = providers;
  }

  /**
   * Validates `manifest`; `providers` are the provider names that exist besides the reserved
   * `builtin`, `wasm` and `hybrid`. Throws `CONFIG_INVALID` naming the offending model.
   */
  static create(manifest: ModelsManifestInput, providers: Iterable<string> = []): ModelRegistry {
    const parsed = parseOrThrow(ModelsManifestSchema, manifest, 'model manifest', 'CONFIG_INVALID');
    const registry = new ModelRegistry(new Set([BUILTIN_PROVIDER, WASM_PROVIDER, HYBRID_PROVIDER, ...providers]));
    for (const raw of parsed.models) {
      const def = parseOrThrow(ModelDefinitionSchema, raw, 'model definition', 'CONFIG_INVALID');
      if (registry.#global.has(def.name)) throw configError(def.name, 'duplicate model name');
      registry.#global.set(def.name, def);
    }
    for (const [tenantId, t] of Object.entries(parsed.tenants)) {
      const models = new Map<string, ModelDefinition>();
      for (const [name, fields] of Object.entries(t.models)) {
        const base = registry.#global.get(name);
        const def = base
          ? parseOrThrow(ModelDefinitionSchema, { ...base, ...parseOrThrow(ModelOverrideSchema, fields, `override of ${name} for tenant ${tenantId}`, 'CONFIG_INVALID') }, `model ${name}`, 'CONFIG_INVALID')
          : parseOrThrow(ModelDefinitionSchema, { ...fields, name }, `tenant ${tenantId} model ${name}`, 'CONFIG_INVALID');
        models.set(name, def);
      }
      registry.#tenants.set(tenantId, { models, hidden: new Set(t.hidden) });
    }
    registry.#validate();
    return registry;
  }

  /**
   * Adds a global model at run time (e.g. one served by a wasm model plugin just deployed), validated
   * like the manifest's. A name that is already defined is `CONFIG_INVALID`: definitions never change
   * under results cached for them.
   */
  register(input: ModelDefinitionInput): ModelDefinition {
    const def = parseOrThrow(ModelDefinitionSchema, input, 'model definition', 'CONFIG_INVALID');
    if (this.#global.has(def.name)) throw configError(def.name, 'duplicate model name');
    this.#global.set(def.name, def);
    try {
      this.#validate();
    } catch (err) {
      this.#global.delete(def.name);
      throw err;
    }
    return def;
  }

  /** The definition `tenantId` gets for `name`, overrides applied. Throws `NOT_FOUND`. */
  resolve(name: string, tenantId: string | null): ModelDefinition {
    const tenant = tenantId === null ? undefined : this.#tenants.get(tenantId);
    const def = tenant?.models.get(name) ?? (tenant?.hidden.has(name) ? undefined : this.#global.get(name));
    if (!def) {
      throw new UeeError('NOT_FOUND', `unknown model "${name}"`, {
        details: { model: name },
        hint: 'list the models with GET /v1/models (or the models tool) and use one of their names',
      });
    }
    return def;
  }

  /** Every model `tenantId` may call, sorted by name. */
  list(tenantId: string | null): ModelDefinition[] {
    const tenant = tenantId === null ? undefined : this.#tenants.get(tenantId);
    const out = new Map<string, ModelDefinition>();
    for (const [name, def] of this.#global) if (!tenant?.hidden.has(name)) out.set(name, def);
    for (const [name, def] of tenant?.models ?? []) out.set(name, def);
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  #validate(): void {
    const providers = this.#providers;
    const scopes: Array<[string, (name: string) => ModelDefinition | undefined, ModelDefinition[]]> = [
      ['global', (n) => this.#global.get(n), [...this.#global.values()]],
      ...[...this.#tenants].map(([tid, t]): [string, (name: string) => ModelDefinition | undefined, ModelDefinition[]] => [
        `tenant ${tid}`,
        (n) => t.models.get(n) ?? this.#global.get(n),
        [...t.models.values()],
      ]),
    ];
    for (const [scope, lookup, defs] of scopes) {
      for (const def of defs) {
        if (!providers.has(def.provider)) throw configError(def.name, `unknown provider "${def.provider}" (${scope}); known: ${[...providers].join(', ')}`);
        for (const fb of def.fallback) {
          const target = lookup(fb);
          if (!target) throw configError(def.name, `fallback "${fb}" is not a model (${scope})`);
          if (target.kind !== def.kind) throw configError(def.name, `fallback "${fb}" is a ${target.kind} model, not ${def.kind}`);
        }
        if (def.provider === HYBRID_PROVIDER) {
          const inner = lookup(def.target);
          if (!inner) throw configError(def.name, `hybrid target "${def.target}" is not a model (${scope})`);
          if (inner.provider === HYBRID_PROVIDER) throw configError(def.name, 'a hybrid chain cannot wrap another hybrid chain');
        }
        const seen = new Set<string>();
        const visit = (name: string): void => {
          if (seen.has(name)) throw configError(def.name, `fallback cycle through "${name}" (${scope})`);
          seen.add(name);
          for (const fb of lookup(name)?.fallback ?? []) visit(fb);
          seen.delete(name);
        };
        visit(def.name);
      }
    }
  }
}

/**
 * Enforces a plugin manifest's `models` allow-list. Entries match exactly, or by prefix when they end
 * in `*` (`embed.*`). `undefined` allows everything. Throws `CAPABILITY_DENIED` with
 * `details.reason = "MODEL_NOT_ALLOWED"`.
 */
export function checkModelAllowed(model: string, allowed: readonly string[] | undefined, pluginName?: string): void {
  if (allowed === undefined) return;
  const ok = allowed.some((entry) => (entry.endsWith('*') ? model.startsWith(entry.slice(0, -1)) : entry === model));
  if (ok) return;
  throw new UeeError('CAPABILITY_DENIED', `model "${model}" is not in the plugin's models allow-list`, {
    details: { reason: 'MODEL_NOT_ALLOWED', model, allowed: [...allowed], ...(pluginName === undefined ? {} : { plugin: pluginName }) },
    hint: `add "${model}" to the plugin manifest's "models" list and redeploy`,
  });
}

function configError(model: string, message: string): UeeError {
  return new UeeError('CONFIG_INVALID', `model "${model}": ${message}`, {
    details: { model },
    hint: 'fix the model definition in the gateway manifest',
  });
}
