import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { JsonObject, TenantContext } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import { EXPERIMENTS_VIEW, GuardrailsSchema, parseExperiment, report, type Experiment, type Variant } from '../../experiments/index.js';
import { PINS_VIEW, endExperiment, type ExperimentSnapshot } from '../../router/index.js';
import type { ToolContext } from '../define-tool.js';
import { defineTool } from '../define-tool.js';
import { DryRunArg, PlanSchema, PluginNameArg, TenantArg, type Plan } from '../schemas.js';
import { resolveScope } from '../scope.js';
import { notFound, versionsOf, routingChanged } from './shared.js';
import { experimentEndReview, experimentStartReview } from './review-hooks.js';

const ExperimentIdArg = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "_" and "-"');
const VersionArg = z.number().int().positive().max(1_000_000);

export const ExperimentOut = z.object({
  id: z.string(),
  kind: z.enum(['split', 'shadow']),
  status: z.enum(['running', 'stopped', 'promoted']),
  plugins: z.array(z.string()),
  key: z.string(),
  variants: z.array(z.object({ name: z.string(), weight: z.number(), versions: z.record(z.string(), z.number()) })),
  guardrails: z.record(z.string(), z.number()),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  reason: z.string().optional(),
  winner: z.string().optional(),
}).meta({ id: 'Experiment' });

function experimentOut(e: Experiment): z.infer<typeof ExperimentOut> {
  const { final: _final, createdBy: _by, ...rest } = e;
  return { ...rest, guardrails: { ...e.guardrails } };
}

/** A tenant is required: experiments (like pins) belong to one tenant's traffic. */
async function tenantScope(ctx: ToolContext, tenantId: string | null | undefined): Promise<TenantContext & { tenantId: string }> {
  const scope = await resolveScope(ctx, tenantId);
  if (scope.tenantId === null) {
    throw new UeeError('VALIDATION_FAILED', 'experiments run on one tenant\'s traffic; the global scope has none', {
      details: { issues: [{ path: 'tenantId', message: 'a tenant is required' }] },
      hint: 'pass the tenantId whose events the experiment splits',
    });
  }
  return { ...scope, tenantId: scope.tenantId };
}

async function loadExperiment(ctx: ToolContext, scope: TenantContext, id: string): Promise<Experiment> {
  const doc = await ctx.app.store.readModels.get(scope, EXPERIMENTS_VIEW, id).catch(() => undefined);
  const exp = doc === undefined ? undefined : parseExperiment(id, doc.doc);
  if (exp === undefined) throw new UeeError('NOT_FOUND', `experiment ${id} not found`, { hint: 'call experiment_report without id to list the tenant\'s experiments' });
  return exp;
}

async function listExperiments(ctx: ToolContext, scope: TenantContext): Promise<Experiment[]> {
  const page = await ctx.app.store.readModels.query(scope, EXPERIMENTS_VIEW, { limit: 1000 });
  return page.items.flatMap((d) => parseExperiment(d.id, d.doc) ?? []);
}

/** `experiment_start`: a split (A/B) experiment or a shadow run over versions of one or more plugins. */
export const experimentStart = defineTool({
  name: 'experiment_start',
  title: 'Start experiment',
  description: "Splits a tenant's traffic between plugin versions (split: variants[0] is control; shadow: variants[1] runs uncommitted).",
  input: z.strictObject({
    tenantId: TenantArg,
    id: ExperimentIdArg.optional(),
    plugins: z.array(PluginNameArg).min(1).max(16),
    kind: z.enum(['split', 'shadow']).default('split'),
    key: z.enum(['entity', 'tenant', 'correlation']).default('entity'),
    variants: z
      .array(z.strictObject({ name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/), weight: z.number().min(0).max(1_000_000).default(1), version: VersionArg.optional(), versions: z.record(PluginNameArg, VersionArg).optional() }))
      .min(2)
      .max(8),
    guardrails: GuardrailsSchema.strict().default({ minSamples: 20 }),
    dryRun: DryRunArg,
  }),
  output: z.object({ dryRun: z.boolean(), applied: z.boolean(), experiment: ExperimentOut, plan: PlanSchema }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  review: experimentStartReview,
  async run(ctx, args) {
    const scope = await tenantScope(ctx, args.tenantId);
    const invalid = (message: string, path: string, hint: string): UeeError => new UeeError('VALIDATION_FAILED', message, { details: { issues: [{ path, message }] }, hint });
    const names = [...new Set(args.variants.map((v) => v.name))];
    if (names.length !== args.variants.length) throw invalid('variant names must be unique', 'variants', 'name each variant once, e.g. "control" and "candidate"');
    if (args.kind === 'shadow' && args.variants.length !== 2) throw invalid('a shadow run has exactly two variants: live (control) and candidate', 'variants', 'pass [{name:"live",version:1},{name:"candidate",version:2}]');
    if (args.variants.reduce((s, v) => s + v.weight, 0) <= 0) throw invalid('the weights add up to 0', 'variants', 'give at least one variant a positive weight');
    const variants: Variant[] = [];
    for (const v of args.variants) {
      const versions: Record<string, number> = {};
      for (const name of args.plugins) {
        const version = v.versions?.[name] ?? v.version;
        if (version === undefined) throw invalid(`variant ${v.name} names no version of ${name}`, 'variants', 'give the variant `version` (for every plugin) or `versions` {plugin: version}');
        const all = await versionsOf(ctx, name, scope.tenantId);
        if (all.length === 0) throw notFound(`plugin ${name} not found`);
        const found = all.find((p) => p.attributes.pluginVersion === version);
        if (found === undefined) throw notFound(`plugin ${name} has no version ${version} (versions: ${all.map((p) => p.attributes.pluginVersion).join(', ')})`);
        if (found.attributes.status !== 'enabled') throw invalid(`${name} v${version} is disabled`, 'variants', 'enable it first (plugin_configure action "enable"); an experiment only routes to enabled versions');
        versions[name] = version;
      }
      for (const extra of Object.keys(v.versions ?? {})) if (!args.plugins.includes(extra)) throw invalid(`variant ${v.name} names ${extra}, which is not in plugins`, 'variants', 'add it to plugins or remove it');
      variants.push({ name: v.name, weight: v.weight, versions });
    }
    const running = (await listExperiments(ctx, scope)).filter((e) => e.status === 'running');
    const id = args.id ?? `exp-${randomBytes(4).toString('hex')}`;
    if (running.some((e) => e.id === id) || (args.id !== undefined && (await ctx.app.store.readModels.get(scope, EXPERIMENTS_VIEW, id).catch(() => undefined)) !== undefined)) {
      throw new UeeError('VALIDATION_FAILED', `experiment ${id} already exists`, { hint: 'choose another id, or omit id to get a fresh one' });
    }
    const busy = running.find((e) => e.plugins.some((p) => args.plugins.includes(p)));
    if (busy !== undefined) throw new UeeError('VALIDATION_FAILED', `experiment ${busy.id} is already running on ${busy.plugins.join(', ')}`, { hint: `end it first (experiment_end id "${busy.id}")` });
    const experiment: Experiment = { id, kind: args.kind, plugins: args.plugins, key: args.key, variants, guardrails: args.guardrails, status: 'running', startedAt: new Date().toISOString(), createdBy: ctx.principal.id };
    const pinned: string[] = [];
    for (const name of args.plugins) if ((await ctx.app.store.readModels.get(scope, PINS_VIEW, name).catch(() => undefined)) !== undefined) pinned.push(name);
    const plan: Plan = {
      summary: `start ${args.kind} experiment ${id} on ${args.plugins.join(', ')} in ${scope.tenantId}: ${variants.map((v) => `${v.name} ${JSON.stringify(v.versions)}${args.kind === 'split' ? ` ×${v.weight}` : ''}`).join(' vs ')}${pinned.length > 0 ? `; removes the pins of ${pinned.join(', ')}` : ''}`,
      changes: [{ action: 'create', target: `experiment:${id}` }, ...pinned.map((n) => ({ action: 'delete' as const, target: `pin:${n}` }))],
      tenants: [scope.tenantId],
      eventTypes: [],
    };
    const out = experimentOut(experiment);
    if (args.dryRun) return { dryRun: true, applied: false, experiment: out, plan };
    for (const name of pinned) await ctx.app.store.readModels.delete(scope, PINS_VIEW, name);
    const { id: _id, ...doc } = experiment;
    await ctx.app.store.readModels.upsert(scope, EXPERIMENTS_VIEW, id, JSON.parse(JSON.stringify(doc)) as JsonObject);
    await routingChanged(ctx, { tenantId: scope.tenantId, names: args.plugins, versions: [] });
    return { dryRun: false, applied: true, experiment: out, plan };
  },
  summarize: (o) => `${o.dryRun ? 'dry run: ' : ''}${o.plan.summary}`,
});

const VariantReportOut = z.record(z.string(), z.unknown());

/** `experiment_report`: the tenant's experiments, or one experiment's figures with intervals and tests. */
export const experimentReport = defineTool({
  name: 'experiment_report',
  title: 'Experiment report',
  description: "The tenant's experiments, or one with per-variant figures and significance vs control.",
  input: z.strictObject({ tenantId: TenantArg, id: ExperimentIdArg.optional() }),
  output: z.object({
    experiments: z.array(ExperimentOut),
    variants: z.array(VariantReportOut).optional(),
    shadow: z.record(z.string(), z.unknown()).optional(),
    recommendation: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await tenantScope(ctx, args.tenantId);
    if (args.id === undefined) return { experiments: (await listExperiments(ctx, scope)).map(experimentOut) };
    const exp = await loadExperiment(ctx, scope, args.id);
    const snap = figures(ctx, scope.tenantId, exp);
    const variants = report(snap.variants);
    return {
      experiments: [experimentOut(exp)],
      variants: variants as unknown as Array<Record<string, unknown>>,
      ...(snap.shadow === undefined ? {} : { shadow: snap.shadow as unknown as Record<string, unknown> }),
      recommendation: recommend(exp, variants, snap),
    };
  },
  summarize: (o) => (o.recommendation ?? `${o.experiments.length} experiment(s)`),
});

/** The live figures of a running experiment (this process's router), else the ones stored when it ended. */
function figures(ctx: ToolContext, tenantId: string, exp: Experiment): ExperimentSnapshot {
  const router = ctx.app.runtime?.router;
  if (exp.status === 'running' && router !== undefined) return router.experiments.snapshot(tenantId, exp);
  const stored = exp.final as ExperimentSnapshot | undefined;
  if (stored?.variants !== undefined) return stored;
  return { variants: [] };
}

function recommend(exp: Experiment, variants: ReturnType<typeof report>, snap: ExperimentSnapshot): string {
  if (exp.status !== 'running') return `ended (${exp.status}${exp.winner === undefined ? '' : `, ${exp.winner} effective`}): ${exp.reason ?? ''}`;
  if (exp.kind === 'shadow') {
    const s = snap.shadow;
    if (s === undefined || s.compared === 0) return 'no events compared yet';
    return s.different === 0 ? `candidate matched live on all ${s.compared} events: promote to make it live` : `candidate differs on ${s.different} of ${s.compared} events: read diffs before promoting`;
  }
  const min = exp.guardrails.minSamples;
  const low = variants.find((v) => v.exposures < min);
  if (low !== undefined) return `keep running: variant ${low.variant} has ${low.exposures} of ${min} samples`;
  const worse = variants.find((v) => v.vsControl?.successRate.significant === true && v.vsControl.successRate.diff < 0);
  if (worse !== undefined) return `stop: ${worse.variant} succeeds significantly less than control`;
  const better = variants.find((v) => v.vsControl !== undefined && ((v.vsControl.successRate.significant && v.vsControl.successRate.diff > 0) || (v.vsControl.latencyMs.significant && v.vsControl.latencyMs.diff < 0)));
  if (better !== undefined) return `promote ${better.variant}: significantly better than control`;
  return 'no significant difference yet: keep running, or promote if the change is wanted anyway';
}

/** `experiment_end`: stop (control restored) or promote a variant (its versions pinned). */
export const experimentEnd = defineTool({
  name: 'experiment_end',
  title: 'End experiment',
  description: "Ends an experiment: stop (pins control's versions) or promote (pins `variant`'s).",
  input: z.strictObject({ tenantId: TenantArg, id: ExperimentIdArg, action: z.enum(['stop', 'promote']), variant: z.string().max(32).optional(), dryRun: DryRunArg }),
  output: z.object({ dryRun: z.boolean(), applied: z.boolean(), experiment: ExperimentOut, pins: z.record(z.string(), z.number()), plan: PlanSchema }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  review: experimentEndReview,
  async run(ctx, args) {
    const scope = await tenantScope(ctx, args.tenantId);
    const exp = await loadExperiment(ctx, scope, args.id);
    if (exp.status !== 'running') throw new UeeError('VALIDATION_FAILED', `experiment ${exp.id} already ended (${exp.status}): ${exp.reason ?? ''}`, { hint: 'start a new experiment (experiment_start)' });
    let winner: string | undefined;
    if (args.action === 'promote') {
      const candidates = exp.variants.slice(1);
      winner = args.variant ?? (candidates.length === 1 ? candidates[0]!.name : undefined);
      if (winner === undefined || !exp.variants.some((v) => v.name === winner)) {
        throw new UeeError('VALIDATION_FAILED', `name the variant to promote (${exp.variants.map((v) => v.name).join(', ')})`, { details: { issues: [{ path: 'variant', message: 'unknown or missing' }] }, hint: 'pass variant' });
      }
    } else if (exp.kind === 'split') winner = exp.variants[0]!.name;
    const pins = exp.variants.find((v) => v.name === winner)?.versions ?? {};
    const plan: Plan = {
      summary: `${args.action} experiment ${exp.id} in ${scope.tenantId}${winner === undefined ? '' : `: ${winner} becomes effective (${Object.entries(pins).map(([n, v]) => `${n} v${v}`).join(', ')})`}`,
      changes: [{ action: 'update', target: `experiment:${exp.id}`, detail: args.action === 'stop' ? 'stopped' : 'promoted' }, ...Object.entries(pins).map(([n, v]) => ({ action: 'set' as const, target: `pin:${n}`, detail: `v${v}` }))],
      tenants: [scope.tenantId],
      eventTypes: [],
    };
    if (args.dryRun) return { dryRun: true, applied: false, experiment: experimentOut(exp), pins, plan };
    const final = figures(ctx, scope.tenantId, exp);
    const status = args.action === 'stop' ? 'stopped' : 'promoted';
    await endExperiment(ctx.app.store, scope.tenantId, exp, { status, reason: `${args.action === 'stop' ? 'stopped' : `promoted ${winner ?? ''}`} by ${ctx.principal.id}`, actor: ctx.principal.id, ...(winner === undefined ? {} : { winner }), final });
    await routingChanged(ctx, { tenantId: scope.tenantId, names: exp.plugins, versions: [] });
    return { dryRun: false, applied: true, experiment: experimentOut(await loadExperiment(ctx, scope, exp.id)), pins, plan };
  },
  summarize: (o) => `${o.dryRun ? 'dry run: ' : ''}${o.plan.summary}`,
});
