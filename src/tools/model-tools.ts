import { z } from 'zod';
import { gatewayUsage, listGatewayModels, recentCalls, testModelCall } from '../model-gateway/index.js';
import { defineTool } from './define-tool.js';
import { JsonObjectArg, PluginNameArg, TenantArg, text } from './schemas.js';
import { resolveScope } from './scope.js';

const ModelNameArg = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/, 'model names are letters, digits, ".", "_", "-", ":" and "/"')
  .refine((v) => !v.includes('..'), 'model names must not contain ".."')
  .describe('See model_list');

const IsoArg = z.iso.datetime({ offset: true });

/** `model_list`: the gateway's models visible to the tenant. */
export const modelList = defineTool({
  name: 'model_list',
  title: 'List models',
  description: 'Models usable in the tenant: kind, provider, fallbacks, cost, circuit state.',
  input: z.strictObject({ tenantId: TenantArg }),
  output: z.object({
    models: z.array(
      z.object({
        name: z.string(),
        kind: z.string(),
        provider: z.string(),
        description: z.string(),
        fallback: z.array(z.string()),
        cacheTtlMs: z.number(),
        timeoutMs: z.number(),
        cost: z.object({ inputPerUnit: z.number(), outputPerUnit: z.number() }),
        circuit: z.string(),
      }),
    ),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    return { models: listGatewayModels(ctx.app.gateway, scope.tenantId).map((m) => ({ ...m, circuit: String(m.circuit) })) };
  },
  summarize: (o) => `${o.models.length} model(s): ${o.models.map((m) => m.name).join(', ')}`,
});

/** `model_call`: one test call through the gateway, under the tenant's quotas. */
export const modelCall = defineTool({
  name: 'model_call',
  title: 'Call model (test)',
  description: 'Calls a model once as a test (quota, audit). Input: chat, string or {messages}; embedding, string; scorer, features.',
  input: z.strictObject({
    tenantId: TenantArg,
    model: ModelNameArg,
    input: z.union([text(100_000), JsonObjectArg]),
  }),
  output: z.object({
    output: z.unknown(),
    model: z.string(),
    provider: z.string(),
    usage: z.object({ inputTokens: z.number(), outputTokens: z.number(), cost: z.number() }),
    cache: z.enum(['miss', 'hit', 'inflight']),
    latencyMs: z.number(),
    callId: z.string(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    return testModelCall(ctx.app.gateway, { tenantId: scope.tenantId, model: args.model, input: args.input, actor: ctx.principal.id });
  },
  summarize: (o) => `${o.model} via ${o.provider}: ${o.usage.inputTokens}+${o.usage.outputTokens} tokens, cost ${o.usage.cost}, ${o.cache}, ${Math.round(o.latencyMs)} ms`,
});

const SummaryOut = z.object({
  key: z.string().nullable(),
  calls: z.number(),
  errors: z.number(),
  cacheHits: z.number(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  cost: z.number(),
  avgLatencyMs: z.number(),
});

/** `model_usage`: gateway usage of a tenant, per plugin (or per model of one plugin). */
export const modelUsage = defineTool({
  name: 'model_usage',
  title: 'Model usage',
  description: "The tenant's model usage by plugin, model or tenant, with quota windows.",
  input: z.strictObject({
    tenantId: TenantArg,
    plugin: PluginNameArg.optional(),
    since: IsoArg.optional(),
    until: IsoArg.optional(),
    by: z.enum(['plugin', 'model', 'tenant']).optional(),
    recent: z.number().int().min(0).max(500).optional(),
  }),
  output: z.object({
    tenantId: z.string().nullable(),
    summaries: z.array(SummaryOut),
    quota: z.record(z.string(), z.object({ used: z.number(), limit: z.number() })),
    recent: z.array(
      z.object({
        id: z.string(),
        at: z.string(),
        pluginName: z.string().nullable(),
        model: z.string(),
        servedBy: z.string().nullable(),
        provider: z.string().nullable(),
        source: z.string(),
        latencyMs: z.number(),
        inputTokens: z.number(),
        outputTokens: z.number(),
        cost: z.number(),
        cache: z.string(),
        errorCode: z.string().nullable(),
      }),
    ),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const filter = {
      tenantId: scope.tenantId,
      ...(args.plugin === undefined ? {} : { pluginName: args.plugin }),
      ...(args.since === undefined ? {} : { since: args.since }),
      ...(args.until === undefined ? {} : { until: args.until }),
    };
    const usage = await gatewayUsage(ctx.app.gateway, { ...filter, ...(args.by === undefined ? {} : { by: args.by }) });
    const recent = (args.recent ?? 0) === 0 ? [] : recentCalls(ctx.app.gateway, { ...filter, limit: args.recent ?? 0 });
    return {
      tenantId: scope.tenantId,
      summaries: usage.summaries,
      quota: usage.quota,
      recent: recent.map((r) => ({
        id: r.id,
        at: r.at,
        pluginName: r.pluginName,
        model: r.model,
        servedBy: r.servedBy,
        provider: r.provider,
        source: r.source,
        latencyMs: r.latencyMs,
        inputTokens: r.inputTokens,
        outputTokens: r.outputTokens,
        cost: r.cost,
        cache: r.cache,
        errorCode: r.errorCode,
      })),
    };
  },
  summarize: (o) => `${o.summaries.reduce((n, s) => n + s.calls, 0)} call(s) in ${o.tenantId ?? '(global)'}, cost ${o.summaries.reduce((n, s) => n + s.cost, 0)}`,
});

/** The model-gateway tools. */
export function modelTools() {
  return [modelList, modelCall, modelUsage];
}
