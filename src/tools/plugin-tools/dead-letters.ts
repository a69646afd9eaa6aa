import { z } from 'zod';
import type { EntityVersion } from '../../core/index.js';
import { UeeError, isUeeError } from '../../core/index.js';
import { queuePlugin, type PluginRecord } from '../../registry/index.js';
import { PINS_VIEW } from '../../router/index.js';
import { DEFAULT_BUS_OPTIONS, type DeadLetter } from '../../bus/index.js';
import type { ToolContext } from '../define-tool.js';
import { defineTool } from '../define-tool.js';
import { EventOut, JsonObjectArg, PluginNameArg, TenantArg } from '../schemas.js';
import { resolveScope } from '../scope.js';
import { assertMaySpend } from './sandbox-gate.js';
import { RunOut, SandboxArgs, runSandbox, type SandboxPlugin } from './sandbox.js';
import { ArtifactArg, PluginRefArgs, notFound, resolvePlugin, versionsOf } from './shared.js';
import { SandboxOut, TestedPluginOut, artifactPlugin } from './test-tool.js';

/** Dead letters a tenant's listing or search reads at most: the bus's default bound per tenant, so it sees all of that tenant's. */
export const DEAD_LETTER_SCAN = DEFAULT_BUS_OPTIONS.maxDeadLettersPerTenant;

/** The plugin a router queue belongs to (`plugin:<tenant|*>:<name>`, or a global plugin's lane `lane:<tenant>:<name>`), or null for other queues. */
export function groupPlugin(group: string): { name: string; tenantId: string | null } | null {
  const owner = queuePlugin(group);
  return owner === null ? null : { name: owner.name, tenantId: owner.tenantId };
}

export const DeadLetterOut = z.object({
  id: z.string().describe('Dead-letter id: pass it to dead_letter_replay'),
  group: z.string(),
  plugin: z.object({ name: z.string(), tenantId: z.string().nullable() }).nullable(),
  originalId: z.string(),
  event: EventOut,
  error: z.object({ code: z.string(), message: z.string() }),
  attempts: z.array(z.object({ at: z.string(), code: z.string(), message: z.string() })),
  deadAt: z.string(),
}).meta({ id: 'DeadLetter' });

function visibleLetter(ctx: ToolContext, letter: DeadLetter, tenantId: string | null | undefined): boolean {
  if (ctx.principal.kind === 'tenant') return letter.event.tenantId === ctx.principal.tenantId;
  return tenantId === undefined || letter.event.tenantId === tenantId;
}

function out(letter: DeadLetter): z.infer<typeof DeadLetterOut> {
  return { ...letter, plugin: groupPlugin(letter.group) };
}

/** `dead_letter_list`: events plugins gave up on. */
export const deadLetterList = defineTool({
  name: 'dead_letter_list',
  title: 'List dead letters',
  description: 'Dead-lettered deliveries, newest first: event, plugin, final error, attempts.',
  input: z.strictObject({
    tenantId: TenantArg,
    name: PluginNameArg.optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  }),
  output: z.object({ deadLetters: z.array(DeadLetterOut), scanned: z.number().int().describe('Dead letters visible to this token that were considered') }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const tenantId = ctx.principal.kind === 'admin' && args.tenantId !== undefined ? (await resolveScope(ctx, args.tenantId)).tenantId : undefined;
    // Only this principal's tenant's letters are read (newest first, all of them up to the bus's
    // per-tenant bound): another tenant's thousands never hide these, and their number is theirs.
    const scope = ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : tenantId;
    const visible = (await ctx.app.bus.deadLetters({ ...(scope === undefined ? {} : { tenantId: scope }), count: DEAD_LETTER_SCAN, newestFirst: true })).filter((l) => visibleLetter(ctx, l, tenantId));
    const letters = visible
      .filter((l) => args.name === undefined || groupPlugin(l.group)?.name === args.name)
      .slice(0, args.limit ?? 50)
      .map(out);
    return { deadLetters: letters, scanned: visible.length };
  },
  summarize: (o) => `${o.deadLetters.length} dead letter${o.deadLetters.length === 1 ? '' : 's'}`,
});

/** `dead_letter_replay`: re-runs a dead-lettered event against a version, in the sandbox. */
export const deadLetterReplay = defineTool({
  name: 'dead_letter_replay',
  taskSupport: 'optional',
  title: 'Replay dead letter (sandbox)',
  description: "Runs a dead letter's event on another version (default current) in plugin_test's sandbox: does the fix work?",
  input: z.strictObject({
    tenantId: TenantArg,
    deadLetterId: z.string().regex(/^\d+-\d+$/, 'a dead-letter id looks like "1700000000000-12"'),
    artifact: ArtifactArg.optional(),
    ...PluginRefArgs,
    manifest: JsonObjectArg.optional(),
    ...SandboxArgs,
  }),
  output: z.object({
    deadLetter: DeadLetterOut,
    plugin: TestedPluginOut,
    sandbox: SandboxOut,
    run: RunOut,
    nowSucceeds: z.boolean(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    assertMaySpend(ctx.principal, args.models);
    const [letter] = await ctx.app.bus.deadLettersById([args.deadLetterId]);
    if (typeof args.tenantId === 'string' || ctx.principal.kind === 'tenant') await resolveScope(ctx, args.tenantId);
    if (!letter || !visibleLetter(ctx, letter, args.tenantId)) {
      throw new UeeError('NOT_FOUND', `dead letter ${args.deadLetterId} not found`, { hint: 'call dead_letter_list (with the same tenantId) for the ids visible to this token' });
    }
    const event = letter.event;
    let plugin: SandboxPlugin;
    let source: 'artifact' | 'deployed';
    if (args.artifact !== undefined) {
      plugin = await artifactPlugin(ctx, args.artifact, args.manifest, [event.type]);
      source = 'artifact';
    } else {
      const owner = groupPlugin(letter.group);
      const ref = args.pluginId !== undefined || args.name !== undefined ? { pluginId: args.pluginId, name: args.name, version: args.version } : { pluginId: undefined, name: owner?.name, version: args.version };
      if (ref.name === undefined && ref.pluginId === undefined) throw notFound(`dead letter ${letter.id} belongs to no plugin; pass pluginId or artifact`);
      // No version named: the one that would handle the event now (pin, else newest enabled), never a disabled one.
      const effective = ref.pluginId === undefined && ref.version === undefined && ref.name === owner?.name;
      const record = effective ? await effectiveVersion(ctx, letter) : await resolvePlugin(ctx, ref, args.pluginId === undefined ? (owner?.tenantId ?? null) : undefined);
      if (record === undefined) throw notFound(`plugin ${ref.name ?? '?'} has no enabled version; pass version to replay on a disabled one`);
      plugin = { id: record.id, name: record.attributes.name, version: record.attributes.pluginVersion, manifest: record.attributes, tenantId: record.tenantId, wasm: await ctx.app.registry.binary(record) };
      source = 'deployed';
    }
    const entity = await realEntity(ctx, event.tenantId, event.entityId, event.entityVersion);
    const { runs, sandbox } = await runSandbox(ctx, plugin, [{ envelope: event, ...(entity ? { entity } : {}) }], {
      tenantId: event.tenantId,
      models: args.models,
      copies: entity ? [entity] : [],
      chain: false,
      ...(args.fixtures ? { fixtures: args.fixtures } : {}),
      ...(args.readModels ? { readModels: args.readModels } : {}),
      ...(args.tenantConfig ? { tenantConfig: args.tenantConfig } : {}),
      ...(args.pluginSettings ? { pluginSettings: args.pluginSettings } : {}),
    });
    const run = runs[0]!;
    return {
      deadLetter: out(letter),
      plugin: { name: plugin.name, version: plugin.version, source, capabilities: [...plugin.manifest.capabilities] },
      sandbox: { ...sandbox, isolated: true as const },
      run,
      nowSucceeds: run.ok,
    };
  },
  summarize: (o) =>
    o.nowSucceeds
      ? `replayed ${o.deadLetter.event.type} on ${o.plugin.name} v${o.plugin.version}: now succeeds (was ${o.deadLetter.error.code})`
      : `replayed ${o.deadLetter.event.type} on ${o.plugin.name} v${o.plugin.version}: still fails with ${o.run.error?.code ?? '?'} (hint: ${o.run.error?.hint ?? ''})`,
});

/** The version that handles the letter's event now: the tenant's pin when enabled, else the newest enabled version. */
export async function effectiveVersion(ctx: ToolContext, letter: DeadLetter): Promise<PluginRecord | undefined> {
  const owner = groupPlugin(letter.group);
  if (owner === null) return undefined;
  const versions = (await versionsOf(ctx, owner.name, owner.tenantId)).filter((p) => p.tenantId === owner.tenantId);
  let pinned: number | undefined;
  if (letter.event.tenantId !== null) {
    try {
      pinned = Number((await ctx.app.store.readModels.get({ tenantId: letter.event.tenantId, actor: 'system:router' }, PINS_VIEW, owner.name)).doc.version);
    } catch (err) {
      if (!isUeeError(err, 'NOT_FOUND')) throw err;
    }
  }
  const enabled = versions.filter((p) => p.attributes.status === 'enabled');
  return enabled.find((p) => p.attributes.pluginVersion === pinned) ?? enabled[0];
}

/** The event's entity from the real store (read only), at the event's version when it names one. */
async function realEntity(ctx: ToolContext, tenantId: string | null, entityId: string | undefined, version: number | undefined): Promise<EntityVersion | undefined> {
  if (entityId === undefined) return undefined;
  try {
    return await ctx.app.store.get({ tenantId, actor: ctx.principal.id }, entityId, version === undefined ? {} : { version });
  } catch (err) {
    if (isUeeError(err, 'NOT_FOUND')) return undefined;
    throw err;
  }
}
