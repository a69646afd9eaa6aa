import { z } from 'zod';
import type { ProjectionState } from '../projections/index.js';
import { defineTool } from './define-tool.js';
import { DryRunArg, FilterArg, TenantArg, ViewArg } from './schemas.js';
import { resolveScope } from './scope.js';

/** Declarative projections (issue 17): define a view as a fold of events, rebuild it from the journal, list, drop. */

const NameArg = ViewArg;
const PathArg = z.string().min(1).max(256);
// Loose output shapes: agents read them, and every listed field costs tools/list bytes.
const Rec = z.record(z.string(), z.unknown());

function summary(s: ProjectionState): Record<string, unknown> {
  return {
    name: s.name,
    version: s.active?.version ?? null,
    building: s.building?.version ?? null,
    pending: s.active === null || JSON.stringify(s.active.definition) !== JSON.stringify(s.definition),
    events: s.definition.events,
    status: s.error === null ? 'ok' : s.error.during === 'maintenance' && s.error.version === s.active?.version ? 'stopped' : 'rebuildFailed',
    ...(s.error === null ? {} : { error: { code: s.error.code, message: s.error.message } }),
    ...(s.indexes.length === 0 ? {} : { indexes: s.indexes }),
  };
}

/** `projection_define`: store (or dry-run) a projection definition. */
export const projectionDefine = defineTool({
  name: 'projection_define',
  title: 'Define projection',
  description: 'Defines view `name` as a fold of `events` into one doc per `key` (event path): fields, aggregates, filter. dryRun: sample docs. Build with projection_rebuild.',
  input: z.strictObject({
    tenantId: TenantArg,
    name: NameArg,
    events: z.array(z.string().min(1).max(128)).min(1).max(32),
    key: PathArg,
    fields: z.record(z.string(), PathArg).optional(),
    aggregates: z.record(z.string(), z.strictObject({ op: z.enum(['count', 'sum', 'min', 'max', 'last']), path: PathArg.optional() })).optional(),
    filter: FilterArg.optional(),
    dryRun: DryRunArg,
  }),
  output: z.object({ dryRun: z.boolean(), rebuildRequired: z.boolean(), projection: Rec.nullable(), sample: z.array(Rec), stats: Rec.nullable() }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const { tenantId: _t, dryRun, ...def } = args;
    const r = await ctx.app.projections.define(scope, def, { dryRun });
    return { dryRun, rebuildRequired: r.rebuildRequired, projection: r.state && summary(r.state), sample: r.sample, stats: r.stats };
  },
  summarize: (o) => (o.dryRun ? `dry run: ${o.sample.length} sample docs from ${Number(o.stats?.events ?? 0)} recent events` : `defined${o.rebuildRequired ? '; run projection_rebuild to build it' : ''}`),
});

/** `projection_rebuild`: build the latest definition from the journal into a new version, then swap. */
export const projectionRebuild = defineTool({
  name: 'projection_rebuild',
  taskSupport: 'optional',
  title: 'Rebuild projection',
  description: 'Builds the projection from the event journal into a new version, then swaps atomically (progress: position/head).',
  input: z.strictObject({ tenantId: TenantArg, name: NameArg }),
  output: z.object({ version: z.number(), position: z.number(), head: z.number(), applied: z.number(), retired: z.number().nullable(), oldest: z.number().nullable() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    let last = -1;
    const r = await ctx.app.projections.rebuild(scope, args.name, {
      signal: ctx.signal,
      onProgress: async (p) => {
        if (p.position <= last) return;
        last = p.position;
        await ctx.progress(p.position, Math.max(p.head, p.position), `${p.phase} v${p.version}: ${p.position}/${p.head}`);
      },
    });
    const { phase: _p, ...out } = r;
    return out;
  },
  summarize: (o) => `version ${o.version} active at position ${o.position}/${o.head}${o.oldest !== null && o.oldest > 1 ? ` (journal retained from ${o.oldest})` : ''}`,
});

/** `projection_list`: the tenant's projections. */
export const projectionList = defineTool({
  name: 'projection_list',
  title: 'List projections',
  description: "The tenant's projections.",
  input: z.strictObject({ tenantId: TenantArg }),
  output: z.object({ projections: z.array(Rec) }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    return { projections: (await ctx.app.projections.list(scope)).map(summary) };
  },
  summarize: (o) => `${o.projections.length} projection${o.projections.length === 1 ? '' : 's'}`,
});

/** `projection_get`: one projection's definition and lag. */
export const projectionGet = defineTool({
  name: 'projection_get',
  title: 'Get projection',
  description: 'One projection: definition, active version, journal position, lag, counts.',
  input: z.strictObject({ tenantId: TenantArg, name: NameArg }),
  output: z.object({ projection: Rec }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const r = await ctx.app.projections.get(scope, args.name);
    return { projection: { ...summary(r.state), definition: r.state.definition, position: r.position, head: r.head, lag: r.position === null ? null : r.head - r.position, applied: r.applied, skipped: r.skipped, documents: r.documents } };
  },
  summarize: (o) => `${String(o.projection.name)} v${String(o.projection.version)} lag ${String(o.projection.lag)}`,
});

/** `projection_drop`: remove a projection and its documents. */
export const projectionDrop = defineTool({
  name: 'projection_drop',
  title: 'Drop projection',
  description: 'Removes a projection and all its documents.',
  input: z.strictObject({ tenantId: TenantArg, name: NameArg, dryRun: DryRunArg }),
  output: z.object({ dryRun: z.boolean(), deleted: z.number() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    if (args.dryRun) {
      await ctx.app.projections.get(scope, args.name);
      return { dryRun: true, deleted: 0 };
    }
    return { dryRun: false, deleted: await ctx.app.projections.drop(scope, args.name) };
  },
  summarize: (o) => (o.dryRun ? 'dry run: would drop' : `dropped (${o.deleted} docs)`),
});

/** The projection tools. */
export const projectionTools = [projectionDefine, projectionRebuild, projectionList, projectionGet, projectionDrop];
