import { randomBytes } from 'node:crypto';
import type { EventEnvelope, JsonObject } from '../../core/index.js';
import { isUeeError } from '../../core/index.js';
import { EXPERIMENTS_VIEW } from '../../experiments/index.js';
import { PluginManifestSchema, type PluginRecord } from '../../registry/index.js';
import { PINS_VIEW } from '../../router/index.js';
import type { ChangeReview, ReviewBundle, ReviewFile, ReviewHooks, ToolContext } from '../define-tool.js';
import { artifactInfo, loadArtifact } from './compile.js';
import { simulateOnRecorded } from './review-simulation.js';
import type { SandboxPlugin } from './sandbox.js';
import { versionsOf } from './shared.js';
import { scopeManifest } from './manifest-scope.js';

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

/** A deployed version as the sandbox runs it. */
async function sandboxOf(ctx: ToolContext, p: PluginRecord): Promise<SandboxPlugin> {
  return { id: p.id, name: p.attributes.name, version: p.attributes.pluginVersion, manifest: p.attributes, tenantId: p.tenantId, wasm: await ctx.app.registry.binary(p) };
}

/** Simulation and cost of a change, or a note saying why there are none (never fails the proposal). */
async function simulate(
  ctx: ToolContext,
  tenantId: string | null,
  before: PluginRecord | undefined,
  after: () => Promise<SandboxPlugin | undefined>,
  events?: { events: EventEnvelope[]; source: string },
): Promise<Pick<ReviewBundle, 'simulation' | 'cost'> & { notes?: string[] }> {
  try {
    const plugin = await after();
    if (plugin === undefined) return { notes: ['simulation on recorded events: the proposed version\'s module is not available'] };
    const r = await simulateOnRecorded(ctx, { tenantId, before, after: plugin, ...(events ? { events } : {}) });
    return { ...(r.simulation ? { simulation: r.simulation } : {}), ...(r.cost ? { cost: r.cost } : {}), ...(r.note ? { notes: [r.note] } : {}) };
  } catch (err) {
    ctx.logger.warn('review simulation failed', { error: err });
    return { notes: [`simulation on recorded events failed: ${isUeeError(err) ? err.message : 'internal error'}`] };
  }
}

/** Review of `plugin_deploy`: the new version against the newest enabled one of the same name and scope. */
export const deployReview: ReviewHooks = {
  scope: (ctx, args) => (ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : args.tenantId === null || typeof args.tenantId === 'string' ? args.tenantId : undefined),
  // applied when the newest version of the name is this module, created since the claim
  async finished(ctx, _args, dry, since) {
    const d = dry as { name?: string; tenantId?: string | null; artifact?: string; capabilityDiff?: { previousVersion: number | null } } | undefined;
    if (d?.name === undefined || d.capabilityDiff?.previousVersion == null) return undefined;
    const newest = (await versionsOf(ctx, d.name, ctx.principal.kind === 'admin' ? (d.tenantId ?? null) : undefined)).find((v) => v.attributes.pluginVersion === d.capabilityDiff!.previousVersion);
    return newest !== undefined && newest.attributes.binary.sha256 === d.artifact && newest.attributes.deployedAt >= since;
  },
  async describe(ctx, args, dry) {
    const d = dry as { name: string; tenantId: string | null; warnings: string[]; capabilityDiff: { previousVersion: number | null }; subscribeTo: string[]; triggers: string[]; triggeredBy: string[] };
    // the manifest with its defaults, as the registry stores it (the dry run already validated it)
    const raw = (args.manifest ?? {}) as Record<string, unknown>;
    const parsed = PluginManifestSchema.safeParse(scopeManifest(ctx, raw, args.tenantId as string | null | undefined));
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
        notes: [...(files === undefined ? ['the new version has no recorded source (deployed from bytes): only the manifest can be reviewed'] : []), ...modelNote(cmp.bundle.capabilities.after, budget)],
        graph: { triggers: d.triggers, triggeredBy: d.triggeredBy, warnings: d.warnings.filter((w) => w.startsWith('cycle') || /chain|trigger/i.test(w)) },
      },
    };
  },
  async enrich(ctx, args, dry) {
    const d = dry as { name: string; version: number; tenantId: string | null; artifact: string; capabilityDiff: { previousVersion: number | null } };
    const raw = (args.manifest ?? {}) as Record<string, unknown>;
    const p = ctx.principal;
    const parsed = PluginManifestSchema.safeParse(p.kind === 'tenant' ? { ...raw, tenantScope: raw.tenantScope ?? 'tenant', tenantId: p.tenantId } : raw);
    if (!parsed.success) return { notes: ['simulation on recorded events: the manifest does not parse'] };
    const previous =
      d.capabilityDiff.previousVersion === null ? undefined : (await versionsOf(ctx, d.name, p.kind === 'admin' ? d.tenantId : undefined)).find((v) => v.attributes.pluginVersion === d.capabilityDiff.previousVersion);
    const scope = p.kind === 'tenant' ? p.tenantId : d.tenantId;
    return simulate(ctx, scope, previous, async () => ({ name: d.name, version: d.version, manifest: parsed.data, tenantId: d.tenantId, wasm: await loadArtifact(ctx, d.artifact) }));
  },
};

/** Review of `plugin_configure`: the effective version before and after, and the settings. */
export const configureReview: ReviewHooks = {
  scope: (ctx, args) => (ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : (args.tenantId as string | null | undefined)),
  // settings/enable/disable/pin/unpin state a target: done when re-planning it changes nothing; a rollback is relative (cannot tell)
  finished(_ctx, args, dry) {
    const d = dry as { before?: unknown; after?: unknown } | undefined;
    if (args.action === 'rollback' || d?.before === undefined) return Promise.resolve(undefined);
    return Promise.resolve(JSON.stringify(d.before) === JSON.stringify(d.after));
  },
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
  // a change of the effective version (pin, unpin, rollback, enable, disable) runs both on recorded events
  async enrich(ctx, args, dry) {
    const d = dry as { before: { effectiveVersion: number | null }; after: { effectiveVersion: number | null } };
    if (d.before.effectiveVersion === d.after.effectiveVersion || d.after.effectiveVersion === null) return {};
    const name = String(args.name);
    const tenantId = ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : ((args.tenantId as string | null | undefined) ?? null);
    const versions = await versionsOf(ctx, name, ctx.principal.kind === 'admin' ? tenantId : undefined);
    const at = (v: number | null): PluginRecord | undefined => versions.find((p) => p.attributes.pluginVersion === v);
    const after = at(d.after.effectiveVersion);
    return simulate(ctx, tenantId, at(d.before.effectiveVersion), async () => (after === undefined ? undefined : sandboxOf(ctx, after)));
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

// ---------------------------------------------------------------- experiments and redrives

/** A tenant's pin of a plugin name, or null. */
async function pinned(ctx: ToolContext, tenantId: string, name: string): Promise<number | null> {
  try {
    const doc = await ctx.app.store.readModels.get({ tenantId, actor: ctx.principal.id }, PINS_VIEW, name);
    return typeof doc.doc.version === 'number' ? doc.doc.version : null;
  } catch (err) {
    if (isUeeError(err, 'NOT_FOUND')) return null;
    throw err;
  }
}

/** The version handling a tenant's events of a plugin now (outside experiments): its pin, else the newest enabled. */
export async function effectiveRecord(ctx: ToolContext, name: string, tenantId: string | null): Promise<PluginRecord | undefined> {
  const versions = await versionsOf(ctx, name, ctx.principal.kind === 'admin' ? tenantId : undefined);
  const pin = tenantId === null ? null : await pinned(ctx, tenantId, name);
  const enabled = versions.filter((p) => p.attributes.status === 'enabled').sort((a, b) => b.attributes.pluginVersion - a.attributes.pluginVersion);
  return enabled.find((p) => p.attributes.pluginVersion === pin) ?? enabled[0];
}

/** Compares, plugin by plugin, the versions traffic goes to now with the versions a change sends it to. */
async function versionsChange(
  ctx: ToolContext,
  tenantId: string | null,
  from: Record<string, number | null>,
  to: Record<string, number>,
): Promise<Pick<ChangeReview, 'capabilitiesAdded' | 'subscriptionsAdded' | 'budget'> & { bundle: Omit<ChangeReview['bundle'], 'warnings' | 'notes'> }> {
  const caps = new Set<string>();
  const subs = new Set<string>();
  const budget: Record<string, number> = {};
  const files: ReviewFile[] = [];
  const manifest: ChangeReview['bundle']['manifest'] = [];
  const before: string[] = [];
  const after: string[] = [];
  for (const [name, version] of Object.entries(to)) {
    const versions = await versionsOf(ctx, name, ctx.principal.kind === 'admin' ? tenantId : undefined);
    const at = (v: number | null | undefined): PluginRecord | undefined => (v === null || v === undefined ? undefined : versions.find((p) => p.attributes.pluginVersion === v));
    const b = at(from[name]);
    const a = at(version);
    if (a === undefined || b?.id === a.id) continue;
    const cmp = compare(b, a.attributes, a.attributes.source?.files);
    cmp.capabilitiesAdded.forEach((c) => caps.add(c));
    cmp.subscriptionsAdded.forEach((s) => subs.add(s));
    for (const [k, v] of Object.entries(cmp.budget)) budget[k] = Math.max(budget[k] ?? 0, v);
    const label = (f: string): string => (Object.keys(to).length > 1 ? `${name}: ${f}` : f);
    files.push(...cmp.bundle.files.map((f) => ({ ...f, path: label(f.path) })));
    manifest.push(...cmp.bundle.manifest.map((m) => ({ ...m, field: label(m.field) })));
    before.push(...cmp.bundle.capabilities.before.map((c) => label(c)));
    after.push(...cmp.bundle.capabilities.after.map((c) => label(c)));
  }
  return { capabilitiesAdded: [...caps].sort(), subscriptionsAdded: [...subs].sort(), budget, bundle: { files, capabilities: { before, after }, manifest } };
}

const tenantOf = (ctx: ToolContext, args: Record<string, unknown>): string | null | undefined => (ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : (args.tenantId as string | null | undefined));

/**
 * Review of `experiment_start`. The candidates run on real traffic (a split commits their effects; a
 * shadow run calls their models), so under a "risky" policy a candidate version with capabilities,
 * subscriptions or budgets beyond the version in force waits like a deploy adding them would.
 */
export const experimentStartReview: ReviewHooks = {
  scope: tenantOf,
  // a generated id would differ on every re-plan: the proposal fixes it once
  prepare: (args) => (args.id === undefined ? { ...args, id: `exp-${randomBytes(4).toString('hex')}` } : args),
  base: (dry) => {
    const e = dry.experiment as Record<string, unknown>;
    const { startedAt: _s, ...rest } = e;
    return { experiment: rest, plan: dry.plan };
  },
  async finished(ctx, args) {
    const tenantId = tenantOf(ctx, args) ?? null;
    if (tenantId === null || typeof args.id !== 'string') return undefined;
    const doc = await ctx.app.store.readModels.get({ tenantId, actor: ctx.principal.id }, EXPERIMENTS_VIEW, args.id).catch(() => undefined);
    return doc !== undefined;
  },
  async describe(ctx, args, dry) {
    const d = dry as { experiment: { id: string; kind: string; plugins: string[]; variants: Array<{ name: string; weight: number; versions: Record<string, number> }> } };
    const tenantId = tenantOf(ctx, args) ?? null;
    const e = d.experiment;
    const now: Record<string, number | null> = {};
    for (const name of e.plugins) now[name] = (await effectiveRecord(ctx, name, tenantId))?.attributes.pluginVersion ?? null;
    const total = e.variants.reduce((s, v) => s + v.weight, 0);
    const merged: Record<string, number> = {};
    const notes: string[] = [];
    let change: Awaited<ReturnType<typeof versionsChange>> | undefined;
    for (const v of e.variants) {
      const c = await versionsChange(ctx, tenantId, now, v.versions);
      if (change === undefined) change = c;
      else {
        change.capabilitiesAdded = [...new Set([...change.capabilitiesAdded, ...c.capabilitiesAdded])].sort();
        change.subscriptionsAdded = [...new Set([...change.subscriptionsAdded, ...c.subscriptionsAdded])].sort();
        for (const [k, n] of Object.entries(c.budget)) change.budget[k] = Math.max(change.budget[k] ?? 0, n);
        change.bundle.files.push(...c.bundle.files);
        change.bundle.manifest.push(...c.bundle.manifest);
        change.bundle.capabilities.after.push(...c.bundle.capabilities.after.filter((x) => !change!.bundle.capabilities.after.includes(x)));
        if (change.bundle.capabilities.before.length === 0) change.bundle.capabilities.before = c.bundle.capabilities.before;
      }
      Object.assign(merged, v.versions);
      notes.push(
        e.kind === 'shadow'
          ? `${v.name}: ${JSON.stringify(v.versions)} ${v === e.variants[0] ? 'stays live' : 'runs on copies of live events (effects captured, never committed; model calls are real)'}`
          : `${v.name}: ${JSON.stringify(v.versions)} gets ${total > 0 ? Math.round((100 * v.weight) / total) : 0}% of the chains (effects committed for real)`,
      );
    }
    const c = change!;
    return {
      tenantId,
      target: `experiment:${e.id}`,
      capabilitiesAdded: c.capabilitiesAdded,
      subscriptionsAdded: c.subscriptionsAdded,
      budget: c.budget,
      bundle: { ...c.bundle, warnings: [], notes: [`versions in force now: ${JSON.stringify(now)}`, ...notes] },
    };
  },
  enrich(ctx, args, dry) {
    const e = (dry as { experiment: { plugins: string[]; variants: Array<{ versions: Record<string, number> }> } }).experiment;
    return simulateVariants(ctx, tenantOf(ctx, args) ?? null, e.plugins, e.variants[0]?.versions ?? {}, e.variants[1]?.versions);
  },
};

/** Control's and a candidate's versions of the experiment's first plugin, run on recorded events. */
async function simulateVariants(ctx: ToolContext, tenantId: string | null, plugins: string[], control: Record<string, number>, candidate: Record<string, number> | undefined): Promise<Pick<ReviewBundle, 'simulation' | 'cost'> & { notes?: string[] }> {
  const name = plugins[0];
  if (name === undefined || candidate === undefined || control[name] === candidate[name]) return {};
  const versions = await versionsOf(ctx, name, ctx.principal.kind === 'admin' ? tenantId : undefined);
  const at = (v: number | undefined): PluginRecord | undefined => versions.find((p) => p.attributes.pluginVersion === v);
  const after = at(candidate[name]);
  const r = await simulate(ctx, tenantId, at(control[name]), async () => (after === undefined ? undefined : sandboxOf(ctx, after)));
  return plugins.length > 1 ? { ...r, notes: [...(r.notes ?? []), `simulation covers ${name} only (first of ${plugins.join(', ')})`] } : r;
}

/** Review of `experiment_end`: a promotion makes the winner's versions effective (pins), like a pin would. */
export const experimentEndReview: ReviewHooks = {
  scope: tenantOf,
  async finished(ctx, args) {
    const tenantId = tenantOf(ctx, args) ?? null;
    if (tenantId === null) return undefined;
    const doc = await ctx.app.store.readModels.get({ tenantId, actor: ctx.principal.id }, EXPERIMENTS_VIEW, String(args.id)).catch(() => undefined);
    return doc !== undefined && doc.doc.status === (args.action === 'stop' ? 'stopped' : 'promoted');
  },
  async describe(ctx, args, dry) {
    const d = dry as { experiment: { id: string; variants: Array<{ name: string; versions: Record<string, number> }> }; pins: Record<string, number> };
    const tenantId = tenantOf(ctx, args) ?? null;
    const control = d.experiment.variants[0]?.versions ?? {};
    const c = await versionsChange(ctx, tenantId, control, d.pins);
    return {
      tenantId,
      target: `experiment:${d.experiment.id}`,
      ...c,
      bundle: { ...c.bundle, warnings: [], notes: [`${args.action === 'promote' ? 'promotes' : 'stops'}: pins ${JSON.stringify(d.pins)} (control was ${JSON.stringify(control)})`] },
    };
  },
  enrich(ctx, args, dry) {
    const d = dry as { experiment: { plugins: string[]; variants: Array<{ versions: Record<string, number> }> }; pins: Record<string, number> };
    return simulateVariants(ctx, tenantOf(ctx, args) ?? null, d.experiment.plugins, d.experiment.variants[0]?.versions ?? {}, d.pins);
  },
};

/**
 * Review of `dead_letter_redrive`. A redrive commits effects for real, but on the version that already
 * handles live events it adds nothing a "risky" policy watches; redriving onto another `version` is
 * compared with the version in force (capabilities, subscriptions, budget) like a pin to it.
 */
export const redriveReview: ReviewHooks = {
  scope: (ctx, args) => (ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : (args.tenantId as string | null | undefined)),
  async describe(ctx, args, dry) {
    const d = dry as { items: Array<{ deadLetterId: string; type: string; plugin: string | null; version: number | null; result: string }> };
    const tenantId = (ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : (args.tenantId as string | null | undefined)) ?? null;
    const byPlugin = new Map<string, number>();
    for (const i of d.items) if (i.plugin !== null && i.version !== null && i.result === 'planned') byPlugin.set(i.plugin, i.version);
    const now: Record<string, number | null> = {};
    for (const name of byPlugin.keys()) now[name] = (await effectiveRecord(ctx, name, tenantId))?.attributes.pluginVersion ?? null;
    const c = await versionsChange(ctx, tenantId, now, Object.fromEntries(byPlugin));
    const planned = d.items.filter((i) => i.result === 'planned');
    return {
      tenantId,
      target: `dead-letters:${[...new Set(d.items.map((i) => i.plugin ?? '?'))].join(',')}`,
      ...c,
      bundle: {
        ...c.bundle,
        warnings: [],
        notes: [
          `re-delivers ${planned.length} dead letter(s) for real (${[...new Set(planned.map((i) => i.type))].join(', ')}); effects commit at most once; successes leave the dead-letter list`,
          ...(c.bundle.files.length + c.bundle.manifest.length > 0 ? ['runs on a version other than the one in force: see its diff'] : []),
        ],
      },
    };
  },
  // the letters' own events on the version each is redriven to: will they succeed now, with what effects?
  async enrich(ctx, args, dry) {
    const d = dry as { items: Array<{ deadLetterId: string; plugin: string | null; version: number | null; result: string }> };
    const planned = d.items.filter((i) => i.result === 'planned' && i.plugin !== null && i.version !== null);
    const first = planned[0];
    if (first === undefined) return {};
    const same = planned.filter((i) => i.plugin === first.plugin && i.version === first.version);
    const tenantId = (ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : (args.tenantId as string | null | undefined)) ?? null;
    const ids = new Set(same.map((i) => i.deadLetterId));
    const letters = (await ctx.app.bus.deadLettersById([...ids])).filter((l) => ctx.principal.kind === 'admin' || l.event.tenantId === tenantId).slice(0, 20);
    const target = (await versionsOf(ctx, first.plugin!, ctx.principal.kind === 'admin' ? tenantId : undefined)).find((p) => p.attributes.pluginVersion === first.version);
    const r = await simulate(ctx, tenantId, undefined, async () => (target === undefined ? undefined : sandboxOf(ctx, target)), {
      events: letters.map((l) => l.event),
      source: `the ${letters.length} dead-lettered event(s) redriven to ${first.plugin} v${first.version}`,
    });
    const { cost: _c, ...rest } = r;
    return planned.length > same.length ? { ...rest, notes: [...(rest.notes ?? []), `simulation covers the letters of ${first.plugin} v${first.version} only`] } : rest;
  },
};
