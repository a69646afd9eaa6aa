import type { JsonObject } from '../../core/index.js';
import { PluginManifestSchema, type PluginRecord } from '../../registry/index.js';
import type { ChangeReview, ReviewFile, ReviewHooks, ToolContext } from '../define-tool.js';
import { artifactInfo } from './compile.js';
import { versionsOf } from './shared.js';

/** Manifest fields reviewers compare between the running version and the proposed one. */
const MANIFEST_FIELDS = ['kind', 'tenantScope', 'subscribeTo', 'emits', 'capabilities', 'restrictedEntityTypes', 'maximumResourceBudget', 'settings'] as const;

/** Files of two source maps, paired by path (null where one side has none). */
export function pairFiles(before: Record<string, string> | undefined, after: Record<string, string> | undefined): ReviewFile[] {
  const paths = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].sort();
  return paths.map((path) => ({ path, before: before?.[path] ?? null, after: after?.[path] ?? null }));
}

function numbers(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) if (typeof v === 'number') out[k] = v;
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** Compares two plugin versions' manifests, capabilities, subscriptions and sources. */
function compare(
  before: PluginRecord | undefined,
  after: Record<string, unknown>,
  afterFiles: Record<string, string> | undefined,
): Pick<ChangeReview, 'capabilitiesAdded' | 'subscriptionsAdded' | 'budget'> & { bundle: Omit<ChangeReview['bundle'], 'warnings' | 'notes'> } {
  const b = (before?.attributes ?? {}) as Record<string, unknown>;
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const capsBefore = list(b.capabilities);
  const capsAfter = list(after.capabilities);
  const subsBefore = list(b.subscribeTo);
  const sourceBefore = (b.source as { files?: Record<string, string> } | undefined)?.files;
  return {
    capabilitiesAdded: capsAfter.filter((c) => !capsBefore.includes(c)),
    subscriptionsAdded: list(after.subscribeTo).filter((t) => !subsBefore.includes(t)),
    budget: numbers(after.maximumResourceBudget),
    bundle: {
      files: pairFiles(sourceBefore, afterFiles),
      capabilities: { before: capsBefore, after: capsAfter },
      manifest: MANIFEST_FIELDS.filter((f) => !same(b[f], after[f])).map((field) => ({ field, before: b[field] ?? null, after: after[field] ?? null })),
    },
  };
}

function modelNote(caps: string[], budget: Record<string, number>): string[] {
  if (!caps.includes('invokeModels')) return [];
  return [`estimated model cost: up to ${budget.modelCalls ?? '?'} model call(s) per handled event (maximumResourceBudget.modelCalls), charged to the tenant's model quota`];
}

const NO_SIMULATION = 'simulation on recorded events: not available for this change (no recorded-event simulator is registered)';

/** Review of `plugin_deploy`: the new version against the newest enabled one of the same name and scope. */
export const deployReview: ReviewHooks = {
  scope: (ctx) => (ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : undefined),
  async describe(ctx, args, dry) {
    const d = dry as { name: string; tenantId: string | null; warnings: string[]; capabilityDiff: { previousVersion: number | null }; subscribeTo: string[] };
    // the manifest with its defaults, as the registry stores it (the dry run already validated it)
    const raw = (args.manifest ?? {}) as Record<string, unknown>;
    const p = ctx.principal;
    const parsed = PluginManifestSchema.safeParse(p.kind === 'tenant' ? { ...raw, tenantScope: raw.tenantScope ?? 'tenant', tenantId: p.tenantId } : raw);
    const manifest = (parsed.success ? parsed.data : raw) as Record<string, unknown>;
    const source = args.source as { files?: Record<string, string> } | undefined;
    const files = source?.files ?? (typeof args.artifact === 'string' ? artifactInfo(ctx, args.artifact)?.source?.files : undefined);
    const previous =
      d.capabilityDiff.previousVersion === null
        ? undefined
        : (await versionsOf(ctx, d.name, ctx.principal.kind === 'admin' ? d.tenantId : undefined)).find((v) => v.attributes.pluginVersion === d.capabilityDiff.previousVersion);
    const after = { ...manifest, subscribeTo: d.subscribeTo, capabilities: manifest.capabilities ?? [] };
    const cmp = compare(previous, after, files);
    const budget = { ...numbers(previous?.attributes.maximumResourceBudget), ...cmp.budget };
    return {
      tenantId: d.tenantId,
      target: `plugin:${d.name}`,
      capabilitiesAdded: cmp.capabilitiesAdded,
      subscriptionsAdded: cmp.subscriptionsAdded,
      budget,
      bundle: {
        ...cmp.bundle,
        warnings: d.warnings,
        notes: [...(files === undefined ? ['the new version has no recorded source (deployed from bytes): only the manifest can be reviewed'] : []), ...modelNote(cmp.bundle.capabilities.after, budget), NO_SIMULATION],
      },
    };
  },
};

/** Review of `plugin_configure`: the effective version before and after, and the settings. */
export const configureReview: ReviewHooks = {
  scope: (ctx, args) => (ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : (args.tenantId as string | null | undefined)),
  async describe(ctx, args, dry) {
    const name = String(args.name);
    const tenantId = ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : ((args.tenantId as string | null | undefined) ?? null);
    const d = dry as { before: { effectiveVersion: number | null; settings: JsonObject | null }; after: { effectiveVersion: number | null; settings: JsonObject | null }; plan: { summary: string } };
    const versions = await versionsOf(ctx, name, ctx.principal.kind === 'admin' ? tenantId : undefined);
    const at = (v: number | null): PluginRecord | undefined => versions.find((p) => p.attributes.pluginVersion === v);
    const before = at(d.before.effectiveVersion);
    const after = at(d.after.effectiveVersion);
    const afterAttrs = (after?.attributes ?? {}) as Record<string, unknown>;
    const cmp = compare(before, afterAttrs, (after?.attributes.source as { files?: Record<string, string> } | undefined)?.files);
    const settingsChange = same(d.before.settings, d.after.settings)
      ? []
      : [{ path: `settings of ${name}.json`, before: JSON.stringify(d.before.settings ?? {}, null, 2), after: JSON.stringify(d.after.settings ?? {}, null, 2) }];
    return {
      tenantId,
      target: `plugin:${name}`,
      capabilitiesAdded: cmp.capabilitiesAdded,
      subscriptionsAdded: cmp.subscriptionsAdded,
      budget: cmp.budget,
      bundle: {
        files: [...(before?.id === after?.id ? [] : cmp.bundle.files), ...settingsChange],
        capabilities: cmp.bundle.capabilities,
        manifest: before?.id === after?.id ? [] : cmp.bundle.manifest,
        warnings: [],
        notes: [`effective version v${d.before.effectiveVersion ?? 'none'} → v${d.after.effectiveVersion ?? 'none'}`, ...modelNote(cmp.bundle.capabilities.after, cmp.budget)],
      },
    };
  },
};

/** The review of a tool whose plan is all reviewers get (no hooks of its own). */
export function planOnlyReview(target: (ctx: ToolContext, args: Record<string, unknown>) => { tenantId: string | null; target: string }): ReviewHooks {
  return {
    describe(ctx, args) {
      const t = target(ctx, args);
      return Promise.resolve({ ...t, capabilitiesAdded: [], subscriptionsAdded: [], budget: {}, bundle: { files: [], capabilities: { before: [], after: [] }, manifest: [], warnings: [], notes: [] } });
    },
  };
}
