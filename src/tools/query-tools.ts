import { z } from 'zod';
import { UeeError } from '../core/index.js';
import { parseVersionView } from '../projections/index.js';
import type { EntityStore, QueryIndexStore, QueryPlan } from '../store/index.js';
import { defineTool } from './define-tool.js';
import { DryRunArg, FilterArg, PlanSchema, SortArg, TenantArg, type Plan } from './schemas.js';
import { resolveScope } from './scope.js';

/** Query plans, slow queries and per-tenant indexes (issue 17): what an agent reads and changes to make a query fast. */

const TargetArg = z.enum(['entities', 'readModel']);
const ScopeArg = z.string().min(1).max(128);
const FieldArg = z.string().min(1).max(256).describe('e.g. "attributes.status" or a view field');

// Loose output shapes: these results are read by agents, and each field listed here would cost tools/list bytes.
const PlanOut = z.record(z.string(), z.unknown()).describe('{access: index|scan, index, probe, fallback, rowsExamined, rowsReturned, ms, backendPlan, suggestedIndex, error}');
const IndexOut = z.record(z.string(), z.unknown()).describe('{name, target, scope, field, sizeBytes, uses}');

function indexesOf(store: EntityStore): QueryIndexStore {
  if (store.indexes === undefined) {
    throw new UeeError('VALIDATION_FAILED', `the ${store.kind} store evaluates filters natively and has no query indexes here`, { hint: 'run UEE on SQLite or PostgreSQL to use query indexes' });
  }
  return store.indexes;
}

/** `query_explain`: a query's plan, or the tenant's slow-query log. */
export const queryExplain = defineTool({
  name: 'query_explain',
  title: 'Explain query / slow queries',
  description: "With target+scope: a query's plan (index or scan, rows, suggestedIndex). Without: the tenant's slow queries by shape, most total time first (count, totalMs; the slowest run's plan and filter).",
  input: z.strictObject({ tenantId: TenantArg, target: TargetArg.optional(), scope: ScopeArg.optional(), filter: FilterArg.optional(), sort: SortArg.optional() }),
  output: z.object({ plan: PlanOut.optional(), slow: z.array(PlanOut).optional() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const idx = indexesOf(ctx.app.store);
    const { tenantId: _t, target, scope: on, ...q } = args;
    if (target === undefined || on === undefined) return { slow: (await idx.slowQueries(scope)).map((x) => ({ ...x })) };
    const physical = target === 'readModel' ? await ctx.app.projections.resolveView(scope, on) : on;
    return { plan: { ...(await idx.explain(scope, { target, scope: physical, ...q })) } };
  },
  summarize: (o) =>
    o.plan === undefined
      ? `${o.slow?.length ?? 0} slow query shapes`
      : `${String(o.plan.access)}${typeof o.plan.index === 'string' ? ` via ${o.plan.index}` : ''}: ${String(o.plan.rowsExamined)} examined, ${String(o.plan.rowsReturned)} returned in ${String(o.plan.ms)} ms`,
});

/** `query_index`: list, add or drop the tenant's indexes, with the plan before and after. */
export const queryIndex = defineTool({
  name: 'query_index',
  title: 'Manage query indexes',
  description: 'list, add or drop a tenant index on a field of an entity type or view; with filter, the plan before and after.',
  input: z.strictObject({
    tenantId: TenantArg,
    action: z.enum(['list', 'add', 'drop']),
    target: TargetArg.optional(),
    scope: ScopeArg.optional(),
    field: FieldArg.optional(),
    name: z.string().max(64).optional(),
    filter: FilterArg.optional(),
    dryRun: DryRunArg,
  }),
  output: z.object({ dryRun: z.boolean(), indexes: z.array(IndexOut), plan: PlanSchema.optional(), before: PlanOut.nullable(), after: PlanOut.nullable() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const idx = indexesOf(ctx.app.store);
    const tenant = scope.tenantId ?? '(global)';
    const rec = (x: object): Record<string, unknown> => ({ ...x });
    // An index on a projection's version view is shown with the projection it follows.
    const shown = (i: { scope: string }): Record<string, unknown> => {
      const pv = parseVersionView(i.scope);
      return pv === null ? { ...i } : { ...i, projection: pv.name };
    };
    if (args.action === 'list') return { dryRun: args.dryRun, indexes: (await idx.list(scope)).map(shown), before: null, after: null };
    let target = args.target;
    let on = args.scope;
    let field = args.field;
    const existing = await idx.list(scope);
    if (args.action === 'drop') {
      const found = existing.find((i) => i.name === args.name);
      if (found === undefined) throw new UeeError('NOT_FOUND', `no index ${String(args.name)} in this tenant`, { hint: 'call query_index with action "list" for the names' });
      ({ target, scope: on, field } = found);
      const pv = target === 'readModel' ? parseVersionView(on) : null;
      if (pv !== null) on = pv.name;
    }
    if (target === undefined || on === undefined || field === undefined) {
      throw new UeeError('VALIDATION_FAILED', 'add needs target, scope and field', { hint: 'pass the suggestedIndex of query_explain as target, scope and field' });
    }
    const spec = { target, scope: on, field };
    // A projection's indexes are declared on its name and follow it from version to version.
    const projection = target === 'readModel' && (await ctx.app.projections.isProjection(scope, on));
    const explain = async (): Promise<QueryPlan | null> =>
      args.filter === undefined ? null : idx.explain(scope, { target: spec.target, scope: projection ? await ctx.app.projections.resolveView(scope, on) : spec.scope, filter: args.filter });
    const before = await explain();
    const plan: Plan = {
      summary: `${args.action} index on ${target} ${on}.${field}`,
      changes: [{ action: args.action === 'add' ? 'create' : 'delete', target: `index ${on}.${field}`, detail: args.action === 'add' ? 'built online; covers only this tenant' : undefined }],
      tenants: [tenant],
      eventTypes: [],
    };
    if (args.dryRun) {
      const after =
        before === null
          ? null
          : args.action === 'add'
            ? { ...before, access: 'index' as const, index: '(new)', probe: `${field} (predicted)`, suggestedIndex: null, backendPlan: [], rowsExamined: before.rowsReturned, ms: 0 }
            : { ...before, access: 'scan' as const, index: null, probe: null, backendPlan: [], ms: 0 };
      return { dryRun: true, indexes: existing.map(shown), plan, before: before && rec(before), after: after && rec(after) };
    }
    if (projection && args.action === 'add') await ctx.app.projections.addIndex(scope, on, field);
    else if (projection) await ctx.app.projections.dropIndex(scope, on, field);
    else if (args.action === 'add') await idx.add(scope, spec);
    else await idx.drop(scope, args.name!);
    const after = await explain();
    return { dryRun: false, indexes: (await idx.list(scope)).map(shown), plan, before: before && rec(before), after: after && rec(after) };
  },
  summarize: (o) =>
    `${o.dryRun ? 'dry run: ' : ''}${o.indexes.length} index${o.indexes.length === 1 ? '' : 'es'}` +
    (o.before && o.after ? `; ${String(o.before.access)} ${String(o.before.ms)} ms → ${String(o.after.access)} ${String(o.after.ms)} ms` : ''),
});
