import { z } from 'zod';
import type { JsonObject, TenantContext } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import type { PluginRecord } from '../../registry/index.js';
import { PINS_VIEW, changedVersion } from '../../router/index.js';
import type { ToolContext } from '../define-tool.js';
import { defineTool } from '../define-tool.js';
import { DryRunArg, JsonObjectArg, PlanSchema, PluginNameArg, TenantArg, type Plan } from '../schemas.js';
import { resolveScope, scopeLabel } from '../scope.js';
import { pinOf } from './deploy.js';
import { assertMayChange, mayChange, notFound, versionsOf, routingChanged } from './shared.js';
import { configureReview } from './review-hooks.js';

type Step =
  | { kind: 'settings'; settings: JsonObject }
  | { kind: 'status'; plugin: PluginRecord; status: 'enabled' | 'disabled' }
  | { kind: 'pin'; version: number }
  | { kind: 'unpin' };

const StateOut = z.object({
  versions: z.array(z.object({ version: z.number().int(), pluginId: z.string(), status: z.enum(['enabled', 'disabled']) })),
  pinnedVersion: z.number().int().nullable().describe('The tenant pin (null: none or global scope)'),
  effectiveVersion: z.number().int().nullable().describe('The version that handles this tenant\'s events'),
  settings: z.record(z.string(), z.unknown()).nullable().describe('Per-tenant plugin settings (null in the global scope)'),
});
type State = z.infer<typeof StateOut>;

/** `plugin_configure`: per-tenant settings, enable/disable, pin, unpin, roll back — each with dryRun. */
export const pluginConfigure = defineTool({
  name: 'plugin_configure',
  title: 'Configure plugin',
  description: "settings, enable/disable, pin/unpin (the tenant's version) or rollback a plugin. Tenant tokens: not global plugins.",
  input: z.strictObject({
    tenantId: TenantArg,
    name: PluginNameArg,
    action: z.enum(['settings', 'enable', 'disable', 'pin', 'unpin', 'rollback']),
    settings: JsonObjectArg.optional(),
    version: z.number().int().positive().max(1_000_000).optional(),
    dryRun: DryRunArg,
  }),
  output: z.object({ dryRun: z.boolean(), applied: z.boolean(), action: z.string(), plan: PlanSchema, before: StateOut, after: StateOut }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  review: configureReview,
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const versions = await versionsOf(ctx, args.name, scope.tenantId);
    if (versions.length === 0) throw notFound(`plugin ${args.name} not found`);
    const before = await stateOf(ctx, scope, args.name, versions);
    const steps = plan(ctx, scope, args, versions, before);
    const after = predict(before, steps);
    const planOut: Plan = {
      summary: `${args.action} ${args.name} in ${scopeLabel(scope)}: ${describe(steps)}; effective version ${before.effectiveVersion ?? 'none'} → ${after.effectiveVersion ?? 'none'}`,
      changes: steps.map((s) =>
        s.kind === 'settings'
          ? { action: 'set' as const, target: `settings:${args.name}`, detail: JSON.stringify(s.settings).slice(0, 200) }
          : s.kind === 'status'
            ? { action: 'update' as const, target: `plugin:${args.name}@v${s.plugin.attributes.pluginVersion}`, detail: s.status }
            : s.kind === 'pin'
              ? { action: 'set' as const, target: `pin:${args.name}`, detail: `v${s.version}` }
              : { action: 'delete' as const, target: `pin:${args.name}` },
      ),
      tenants: [scopeLabel(scope)],
      eventTypes: steps.flatMap((s) => (s.kind === 'status' ? [s.status === 'enabled' ? 'PluginEnabled' : 'PluginDisabled'] : [])),
    };
    if (args.dryRun) return { dryRun: true, applied: false, action: args.action, plan: planOut, before, after };
    for (const s of steps) {
      if (s.kind === 'settings') await ctx.app.store.config.setPlugin(scope, args.name, s.settings);
      else if (s.kind === 'status') await ctx.app.registry.setStatus({ tenantId: s.plugin.tenantId, actor: ctx.principal.id }, s.plugin.id, s.status);
      else if (s.kind === 'pin') await ctx.app.store.readModels.upsert(scope, PINS_VIEW, args.name, { version: s.version });
      else await ctx.app.store.readModels.delete(scope, PINS_VIEW, args.name);
    }
    // Settings alone change no route: deliveries read them by the store's configuration changes.
    if (steps.some((s) => s.kind !== 'settings')) {
      // The versions whose status changed are the only ones written (a pin writes none).
      const versions = steps.flatMap((s) => (s.kind === 'status' ? [changedVersion(s.plugin)] : []));
      await routingChanged(ctx, { tenantId: scope.tenantId, names: [args.name], versions });
    }
    const now = await stateOf(ctx, scope, args.name, await versionsOf(ctx, args.name, scope.tenantId));
    return { dryRun: false, applied: true, action: args.action, plan: planOut, before, after: now };
  },
  summarize: (o) => `${o.dryRun ? 'dry run: ' : ''}${o.plan.summary}`,
});

async function stateOf(ctx: ToolContext, scope: TenantContext, name: string, versions: PluginRecord[]): Promise<State> {
  const pinned = scope.tenantId === null ? null : await pinOf(ctx, scope.tenantId, name);
  const settings = scope.tenantId === null ? null : await ctx.app.store.config.getPlugin(scope, name);
  const list = versions.map((v) => ({ version: v.attributes.pluginVersion, pluginId: v.id, status: v.attributes.status }));
  return { versions: list, pinnedVersion: pinned, effectiveVersion: effective(list, pinned), settings };
}

/** Mirrors `Router.resolve`: the pinned version when enabled, else the newest enabled one. */
function effective(list: State['versions'], pinned: number | null): number | null {
  const enabled = list.filter((v) => v.status === 'enabled').sort((a, b) => b.version - a.version);
  if (pinned !== null && enabled.some((v) => v.version === pinned)) return pinned;
  return enabled[0]?.version ?? null;
}

function predict(before: State, steps: Step[]): State {
  let after: State = { ...before, versions: before.versions.map((v) => ({ ...v })) };
  for (const s of steps) {
    if (s.kind === 'settings') after = { ...after, settings: s.settings };
    else if (s.kind === 'pin') after = { ...after, pinnedVersion: s.version };
    else if (s.kind === 'unpin') after = { ...after, pinnedVersion: null };
    else after.versions = after.versions.map((v) => (v.pluginId === s.plugin.id ? { ...v, status: s.status } : v));
  }
  return { ...after, effectiveVersion: effective(after.versions, after.pinnedVersion) };
}

function describe(steps: Step[]): string {
  if (steps.length === 0) return 'nothing to change';
  return steps
    .map((s) => (s.kind === 'settings' ? 'set settings' : s.kind === 'status' ? `${s.status === 'enabled' ? 'enable' : 'disable'} v${s.plugin.attributes.pluginVersion}` : s.kind === 'pin' ? `pin v${s.version}` : 'remove the pin'))
    .join(', ');
}

function needTenant(scope: TenantContext, action: string): void {
  if (scope.tenantId === null) {
    throw new UeeError('VALIDATION_FAILED', `"${action}" is per tenant; the global scope has no ${action === 'settings' ? 'settings' : 'pins'}`, {
      details: { issues: [{ path: 'tenantId', message: 'a tenant is required' }] },
      hint: action === 'settings' ? 'pass a tenantId; global defaults are the manifest settings (redeploy to change them)' : 'pass the tenantId whose events should use the version',
    });
  }
}

function pick(versions: PluginRecord[], version: number | undefined, what: string): PluginRecord {
  const found = version === undefined ? versions[0] : versions.find((v) => v.attributes.pluginVersion === version);
  if (!found) throw notFound(`${what}: version ${String(version)} not found (versions: ${versions.map((v) => v.attributes.pluginVersion).join(', ')})`);
  return found;
}

function plan(
  ctx: ToolContext,
  scope: TenantContext,
  args: { action: string; name: string; settings?: JsonObject | undefined; version?: number | undefined },
  versions: PluginRecord[],
  before: State,
): Step[] {
  switch (args.action) {
    case 'settings': {
      needTenant(scope, 'settings');
      if (args.settings === undefined) {
        throw new UeeError('VALIDATION_FAILED', '"settings" needs the settings object', {
          details: { issues: [{ path: 'settings', message: 'required for action "settings"' }] },
          hint: 'pass settings: {...} (the full object; it replaces the previous one)',
        });
      }
      return [{ kind: 'settings', settings: args.settings }];
    }
    case 'enable':
    case 'disable': {
      const status = args.action === 'enable' ? 'enabled' : 'disabled';
      const target =
        args.version === undefined && status === 'disabled' ? (versions.find((v) => v.attributes.status === 'enabled') ?? versions[0]!) : pick(versions, args.version, args.name);
      assertMayChange(ctx, target);
      return target.attributes.status === status ? [] : [{ kind: 'status', plugin: target, status }];
    }
    case 'pin': {
      needTenant(scope, 'pin');
      if (args.version === undefined) {
        throw new UeeError('VALIDATION_FAILED', '"pin" needs a version', {
          details: { issues: [{ path: 'version', message: 'required for action "pin"' }] },
          hint: 'pass version (see plugin_list for the versions)',
        });
      }
      const target = pick(versions, args.version, args.name);
      if (target.attributes.status !== 'enabled') {
        throw new UeeError('VALIDATION_FAILED', `version ${args.version} of ${args.name} is disabled; a pin on it would be ignored`, {
          hint: mayChange(ctx, target) ? 'enable it first (action "enable" with this version)' : 'ask an administrator to enable it, or pin an enabled version',
        });
      }
      return [{ kind: 'pin', version: args.version }];
    }
    case 'unpin':
      needTenant(scope, 'unpin');
      return before.pinnedVersion === null ? [] : [{ kind: 'unpin' }];
    default:
      return rollback(ctx, scope, args.name, versions, before);
  }
}

function rollback(ctx: ToolContext, scope: TenantContext, name: string, versions: PluginRecord[], before: State): Step[] {
  const current = versions.find((v) => v.attributes.pluginVersion === before.effectiveVersion);
  if (!current) throw new UeeError('VALIDATION_FAILED', `${name} has no enabled version to roll back from`, { hint: 'enable a version instead (action "enable")' });
  const previous = versions.find((v) => v.attributes.pluginVersion < current.attributes.pluginVersion);
  if (!previous) {
    throw new UeeError('VALIDATION_FAILED', `${name} v${current.attributes.pluginVersion} is the first version; there is nothing to roll back to`, {
      hint: 'deploy a fixed version instead, or disable this one',
    });
  }
  const owns = mayChange(ctx, current) && current.tenantId === scope.tenantId;
  if (owns) {
    const steps: Step[] = [{ kind: 'status', plugin: current, status: 'disabled' }];
    if (previous.attributes.status !== 'enabled') steps.push({ kind: 'status', plugin: previous, status: 'enabled' });
    if (before.pinnedVersion === current.attributes.pluginVersion) steps.push({ kind: 'unpin' });
    return steps;
  }
  needTenant(scope, 'rollback');
  if (previous.attributes.status !== 'enabled') {
    throw new UeeError('VALIDATION_FAILED', `${name} v${previous.attributes.pluginVersion} is disabled and the plugin is global`, {
      hint: 'ask an administrator to enable it (plugin_configure action "enable"), then pin it for your tenant',
    });
  }
  return [{ kind: 'pin', version: previous.attributes.pluginVersion }];
}
