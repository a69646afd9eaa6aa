import { z } from 'zod';
import { UeeError, isUeeError, parseOrThrow } from '../../core/index.js';
import { inspectWasm } from '../../compiler/index.js';
import { PluginManifestSchema, type PluginManifest, type PluginManifestInput, type PluginRecord } from '../../registry/index.js';
import { PINS_VIEW, changedVersion } from '../../router/index.js';
import type { ToolContext } from '../define-tool.js';
import { defineTool } from '../define-tool.js';
import { DryRunArg, JsonObjectArg, PlanSchema, TenantArg, type Plan } from '../schemas.js';
import { GLOBAL_LABEL, resolveScope } from '../scope.js';
import { scopeManifest } from './manifest-scope.js';
import { artifactInfo, compileSources, loadArtifact, storeArtifact } from './compile.js';
import { sourceCapabilities } from './source-capabilities.js';
import { graphWarnings, scanEmits, scanOutputs, type GraphNode } from './graph.js';
import { ArtifactArg, SourcesArg, visiblePlugins, routingChanged } from './shared.js';
import { deployReview } from './review-hooks.js';

/** A node key of the plugin graph. */
function nodeKey(name: string, tenantId: string | null): string {
  return `${name} (${tenantId ?? 'global'})`;
}

/** What a plugin publishes: declared `emits`, else a scan of its recorded sources. */
export function emitsOf(p: PluginRecord): string[] {
  return p.attributes.emits ?? scanEmits(p.attributes.source?.files ?? {});
}

/** A deployed (or planned) plugin as a node of the subscribe→emit graph: outputs with entity types, filter's entity types. */
function graphNode(key: string, m: Pick<PluginManifest, 'subscribeTo' | 'emits' | 'filter'>, files: Record<string, string> | undefined): GraphNode {
  const outputs = m.emits !== undefined ? m.emits.map((type) => ({ type })) : scanOutputs(files ?? {});
  return {
    key,
    subscribeTo: m.subscribeTo,
    emits: [...new Set(outputs.map((o) => o.type))],
    outputs,
    ...(m.filter?.entityTypes === undefined ? {} : { entityTypes: m.filter.entityTypes }),
  };
}

/** Checks the module's needs against the declared capabilities with a hint naming what to add. */
function checkCapabilities(manifest: PluginManifest, needed: readonly string[], hostFunctions: readonly string[]): void {
  const missing = needed.filter((c) => !(manifest.capabilities as readonly string[]).includes(c));
  if (missing.length === 0) return;
  throw new UeeError('CAPABILITY_DENIED', `the module needs capabilities the manifest does not declare: ${missing.join(', ')}`, {
    details: { missingCapabilities: missing, declared: manifest.capabilities, hostFunctions },
    hint: `add ${missing.map((c) => `"${c}"`).join(', ')} to manifest.capabilities (now ${JSON.stringify(manifest.capabilities)}) and call plugin_deploy again`,
  });
}

/** `plugin_deploy`: plans (dryRun) or creates a new plugin version. */
export const pluginDeploy = defineTool({
  name: 'plugin_deploy',
  taskSupport: 'optional',
  title: 'Deploy plugin',
  description: 'Deploys a plugin version (artifact or source, manifest). dryRun: version, capability diff, tenants, cycle warnings.',
  input: z.strictObject({
    tenantId: TenantArg,
    manifest: JsonObjectArg.describe('Schema: uee://schemas/plugin-manifest'),
    artifact: ArtifactArg.optional(),
    source: SourcesArg.optional(),
    dryRun: DryRunArg,
  }),
  output: z.object({
    dryRun: z.boolean(),
    applied: z.boolean(),
    plan: PlanSchema,
    pluginId: z.string().nullable().describe('Id of the new version (null for a dry run)'),
    name: z.string(),
    version: z.number().int(),
    tenantId: z.string().nullable(),
    artifact: z.string(),
    capabilityDiff: z.object({ added: z.array(z.string()), removed: z.array(z.string()), previousVersion: z.number().int().nullable() }),
    affectedTenants: z.array(z.string()),
    subscribeTo: z.array(z.string()),
    emits: z.object({ types: z.array(z.string()), from: z.enum(['manifest', 'source-scan', 'unknown']) }),
    triggers: z.array(z.string()).describe('Plugins this one triggers through its emitted events'),
    triggeredBy: z.array(z.string()).describe('Plugins whose emitted events trigger this one'),
    warnings: z.array(z.string()),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  review: deployReview,
  async run(ctx, args) {
    if (typeof args.tenantId === 'string') await resolveScope(ctx, args.tenantId);
    const raw = scopeManifest(ctx, args.manifest, args.tenantId);
    const manifest = parseOrThrow(PluginManifestSchema, raw, 'plugin manifest');
    if (args.artifact === undefined && args.source === undefined) {
      throw new UeeError('VALIDATION_FAILED', 'pass artifact (from plugin_compile) or source', {
        details: { issues: [{ path: 'artifact', message: 'artifact or source is required' }] },
        hint: 'compile with plugin_compile and pass its artifact',
      });
    }
    let wasm: Uint8Array;
    let source: { language: string; files: Record<string, string> } | undefined = args.source ? { language: args.source.language, files: args.source.files } : undefined;
    if (args.artifact !== undefined) {
      wasm = await loadArtifact(ctx, args.artifact);
      source ??= artifactInfo(ctx, args.artifact)?.source;
    } else {
      const compiled = await compileSources(ctx, args.source!);
      await storeArtifact(ctx, compiled.wasm, { sha256: compiled.report.sha256, report: compiled.report, ...(source ? { source } : {}) });
      wasm = compiled.wasm;
    }
    const report = inspectWasm(wasm);
    checkCapabilities(manifest, report.capabilities, report.hostFunctions);

    const request = { manifest: raw as PluginManifestInput, wasm, language: source?.language ?? 'wasm', ...(source ? { source } : {}) };
    const planned = await ctx.app.registry.deploy(ctx.principal.id, { ...request, dryRun: true });
    const tenantId = planned.plugin.tenantId;
    const emits = manifest.emits !== undefined ? { types: manifest.emits, from: 'manifest' as const } : source ? { types: scanEmits(source.files), from: 'source-scan' as const } : { types: [], from: 'unknown' as const };

    const others = latestEnabled(await visiblePlugins(ctx)).filter((p) => !(p.attributes.name === manifest.name && p.tenantId === tenantId));
    const node = graphNode(nodeKey(manifest.name, tenantId), manifest, source?.files);
    const graph = graphWarnings(node, others.map((p) => graphNode(nodeKey(p.attributes.name, p.tenantId), p.attributes, p.attributes.source?.files)));
    const { tenants, pinnedElsewhere } = await affected(ctx, manifest, tenantId);
    const warnings = [...planned.warnings, ...graph.warnings];
    for (const c of sourceCapabilities(source?.files)) {
      if (!manifest.capabilities.includes(c.capability)) warnings.push(`${c.reason}: without "${c.capability}" in capabilities, input.entity is undefined at run time`);
    }
    if (pinnedElsewhere.length > 0) warnings.push(`tenants pinned to another version keep it: ${pinnedElsewhere.join(', ')}`);
    if (emits.from === 'unknown' && manifest.capabilities.includes('emitEvents')) {
      warnings.push('emitted event types are unknown (no source, no manifest.emits): chains and cycles could not be checked; declare "emits" in the manifest');
    }
    const version = planned.plugin.attributes.pluginVersion;
    const diff = planned.capabilityDiff;
    const plan: Plan = {
      summary:
        `deploy ${manifest.name} v${version} (${tenantId ?? 'global'}), subscribed to ${manifest.subscribeTo.join(', ') || 'nothing'}` +
        (diff.previousVersion === null ? '' : `, replacing v${diff.previousVersion}`) +
        (diff.added.length > 0 ? `; gains ${diff.added.join(', ')}` : '') +
        (diff.removed.length > 0 ? `; loses ${diff.removed.join(', ')}` : ''),
      changes: [
        { action: 'create', target: `plugin:${manifest.name}@v${version}`, detail: `${report.size} bytes, sha256 ${report.sha256.slice(0, 12)}…` },
        ...(diff.previousVersion === null ? [] : [{ action: 'none' as const, target: `plugin:${manifest.name}@v${diff.previousVersion}`, detail: 'stays enabled; events go to the newest enabled version unless a tenant pins another' }]),
        { action: 'emit', target: 'event:PluginInstalled' },
      ],
      tenants,
      eventTypes: ['PluginInstalled', ...emits.types],
    };
    const out = {
      name: manifest.name,
      version,
      tenantId,
      artifact: report.sha256,
      capabilityDiff: diff,
      affectedTenants: tenants,
      subscribeTo: manifest.subscribeTo,
      emits,
      triggers: graph.triggers,
      triggeredBy: graph.triggeredBy,
      warnings,
      plan,
    };
    if (args.dryRun) return { dryRun: true, applied: false, pluginId: null, ...out };
    const result = await ctx.app.registry.deploy(ctx.principal.id, { ...request, dryRun: false });
    await routingChanged(ctx, { tenantId: result.plugin.tenantId, names: [result.plugin.attributes.name], versions: [changedVersion(result.plugin)] });
    return { dryRun: false, applied: true, pluginId: result.plugin.id, ...out, version: result.plugin.attributes.pluginVersion };
  },
  summarize: (o) =>
    `${o.dryRun ? 'dry run: ' : `deployed ${o.pluginId ?? ''}: `}${o.plan.summary}${o.warnings.length > 0 ? `; ${o.warnings.length} warning(s): ${o.warnings.join(' | ')}` : ''}`,
});

/** The newest enabled version of each logical plugin. */
function latestEnabled(plugins: PluginRecord[]): PluginRecord[] {
  const best = new Map<string, PluginRecord>();
  for (const p of plugins) {
    if (p.attributes.status !== 'enabled') continue;
    const key = nodeKey(p.attributes.name, p.tenantId);
    const cur = best.get(key);
    if (!cur || cur.attributes.pluginVersion < p.attributes.pluginVersion) best.set(key, p);
  }
  return [...best.values()];
}

/** The version a tenant pinned for a plugin name, or null. */
export async function pinOf(ctx: ToolContext, tenantId: string, name: string): Promise<number | null> {
  try {
    const doc = await ctx.app.store.readModels.get({ tenantId, actor: ctx.principal.id }, PINS_VIEW, name);
    return typeof doc.doc.version === 'number' ? doc.doc.version : null;
  } catch (err) {
    if (isUeeError(err, 'NOT_FOUND')) return null;
    throw err;
  }
}

/** Tenants whose events the new version handles, and those pinned to another version. */
async function affected(ctx: ToolContext, manifest: PluginManifest, tenantId: string | null): Promise<{ tenants: string[]; pinnedElsewhere: string[] }> {
  if (tenantId !== null) return { tenants: [tenantId], pinnedElsewhere: [] };
  const all = (await ctx.app.store.tenants.list()).map((t) => t.tenantId);
  const p = ctx.principal;
  const visible = p.kind === 'admin' ? all : all.filter((t) => t === p.tenantId);
  const pinnedElsewhere: string[] = [];
  for (const t of visible) {
    if ((await pinOf(ctx, t, manifest.name)) !== null) pinnedElsewhere.push(t);
  }
  return { tenants: [GLOBAL_LABEL, ...visible.filter((t) => !pinnedElsewhere.includes(t))], pinnedElsewhere };
}
