import { z } from 'zod';
import type { JsonObject, TenantContext } from '../core/index.js';
import { TenantIdSchema, UeeError, isUeeError, jsonBytes } from '../core/index.js';
import type { ToolContext } from './define-tool.js';
import { defineTool } from './define-tool.js';
import { DryRunArg, JsonObjectArg, PlanSchema, PluginNameArg, TenantArg, safeName, text } from './schemas.js';
import { resolveScope } from './scope.js';

const TenantOut = z.object({ tenantId: z.string(), name: z.string(), createdAt: z.string() });

/** `tenant_list` (admin): every registered tenant. */
export const tenantList = defineTool({
  name: 'tenant_list',
  title: 'List tenants',
  description: 'Every registered tenant (admin tokens only).',
  input: z.strictObject({}),
  output: z.object({ tenants: z.array(TenantOut) }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  adminOnly: true,
  async run(ctx) {
    return { tenants: await ctx.app.store.tenants.list() };
  },
  summarize: (o) => `${o.tenants.length} tenant${o.tenants.length === 1 ? '' : 's'}`,
});

/** `tenant_create` (admin): registers a tenant; idempotent. */
export const tenantCreate = defineTool({
  name: 'tenant_create',
  title: 'Create tenant',
  description: 'Registers a tenant (admin tokens only); an existing one is returned (created: false).',
  input: z.strictObject({
    tenantId: safeName(TenantIdSchema.max(64), 'tenantId'),
    name: text(200).optional(),
    dryRun: DryRunArg,
  }),
  output: z.object({ dryRun: z.boolean(), created: z.boolean(), plan: PlanSchema, tenant: TenantOut.nullable() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  adminOnly: true,
  async run(ctx, args) {
    let existing = null;
    try {
      existing = await ctx.app.store.tenants.get(args.tenantId);
    } catch (err) {
      if (!isUeeError(err, 'UNKNOWN_TENANT')) throw err;
    }
    const plan = {
      summary: existing ? `tenant ${args.tenantId} already exists: nothing to do` : `create tenant ${args.tenantId}`,
      changes: [{ action: existing ? ('none' as const) : ('create' as const), target: `tenant:${args.tenantId}` }],
      tenants: [args.tenantId],
      eventTypes: [],
    };
    if (args.dryRun) return { dryRun: true, created: false, plan, tenant: existing };
    const tenant = existing ?? (await ctx.app.store.tenants.create(args.tenantId, args.name));
    return { dryRun: false, created: existing === null, plan, tenant };
  },
  summarize: (o) => (o.dryRun ? `dry run: ${o.plan.summary}` : o.created ? `created tenant ${o.tenant?.tenantId}` : `tenant ${o.tenant?.tenantId} already existed`),
});

async function tenantScope(ctx: ToolContext, tenantId: string | null | undefined): Promise<TenantContext> {
  const scope = await resolveScope(ctx, tenantId);
  if (scope.tenantId === null) {
    throw new UeeError('VALIDATION_FAILED', 'tenant settings belong to a tenant, not the global scope', {
      details: { issues: [{ path: 'tenantId', message: 'must name a tenant' }] },
      hint: 'pass the tenantId whose settings you mean',
    });
  }
  return scope;
}

const ConfigOut = z.object({ tenantId: z.string(), plugin: z.string().nullable(), settings: z.record(z.string(), z.unknown()) });

/** `tenant_config_get`: a tenant's settings, or its settings for one plugin. */
export const tenantConfigGet = defineTool({
  name: 'tenant_config_get',
  title: 'Get tenant settings',
  description: "A tenant's settings, or with `plugin` its per-plugin settings (what get_tenant_config answers).",
  input: z.strictObject({ tenantId: TenantArg, plugin: PluginNameArg.optional() }),
  output: ConfigOut,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await tenantScope(ctx, args.tenantId);
    const settings = args.plugin === undefined ? await ctx.app.store.config.getTenant(scope) : await ctx.app.store.config.getPlugin(scope, args.plugin);
    return { tenantId: scope.tenantId ?? '', plugin: args.plugin ?? null, settings };
  },
  summarize: (o) => `${Object.keys(o.settings).length} setting(s) for ${o.tenantId}${o.plugin ? ` / ${o.plugin}` : ''}`,
});

/** `tenant_config_set`: replaces (or merges into) a tenant's settings. */
export const tenantConfigSet = defineTool({
  name: 'tenant_config_set',
  title: 'Set tenant settings',
  description: "Writes a tenant's settings, or with `plugin` its per-plugin settings (merge: null removes a key).",
  input: z.strictObject({
    tenantId: TenantArg,
    plugin: PluginNameArg.optional(),
    settings: JsonObjectArg,
    merge: z.boolean().default(false),
    dryRun: DryRunArg,
  }),
  output: z.object({ dryRun: z.boolean(), plan: PlanSchema, previous: z.record(z.string(), z.unknown()), settings: z.record(z.string(), z.unknown()) }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  async run(ctx, args) {
    const scope = await tenantScope(ctx, args.tenantId);
    const store = ctx.app.store.config;
    const previous = args.plugin === undefined ? await store.getTenant(scope) : await store.getPlugin(scope, args.plugin);
    const next: JsonObject = args.merge ? mergeSettings(previous, args.settings) : args.settings;
    const limit = ctx.app.config.limits.maxAttributeBytes;
    if (jsonBytes(next) > limit) {
      throw new UeeError('PAYLOAD_TOO_LARGE', `settings would be ${jsonBytes(next)} bytes; the limit is ${limit}`, { details: { limit }, hint: 'keep settings small' });
    }
    const target = `config:${scope.tenantId}${args.plugin ? `/${args.plugin}` : ''}`;
    const changes = diffKeys(previous, next).map((d) => ({ action: d.action, target: `${target}.${d.key}` }));
    const plan = {
      summary: changes.length === 0 ? `${target}: no change` : `${target}: ${changes.length} key(s) change`,
      changes: changes.length === 0 ? [{ action: 'none' as const, target }] : changes,
      tenants: [scope.tenantId ?? ''],
      eventTypes: [],
    };
    if (!args.dryRun) {
      if (args.plugin === undefined) await store.setTenant(scope, next);
      else await store.setPlugin(scope, args.plugin, next);
    }
    return { dryRun: args.dryRun, plan, previous, settings: next };
  },
  summarize: (o) => (o.dryRun ? `dry run: ${o.plan.summary}` : o.plan.summary),
});

function mergeSettings(previous: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...previous };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function diffKeys(previous: JsonObject, next: JsonObject): Array<{ key: string; action: 'create' | 'update' | 'delete' }> {
  const out: Array<{ key: string; action: 'create' | 'update' | 'delete' }> = [];
  for (const key of Object.keys(next)) {
    if (!Object.hasOwn(previous, key)) out.push({ key, action: 'create' });
    else if (JSON.stringify(previous[key]) !== JSON.stringify(next[key])) out.push({ key, action: 'update' });
  }
  for (const key of Object.keys(previous)) if (!Object.hasOwn(next, key)) out.push({ key, action: 'delete' });
  return out;
}
