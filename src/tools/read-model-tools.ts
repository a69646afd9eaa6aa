import { z } from 'zod';
import { defineTool } from './define-tool.js';
import { CursorArg, FilterArg, LimitArg, SortArg, TenantArg, ViewArg, safeName } from './schemas.js';
import { resolveScope } from './scope.js';

const DocOut = z.object({
  view: z.string(),
  id: z.string(),
  doc: z.record(z.string(), z.unknown()),
  updatedAt: z.string(),
});

const DocIdArg = safeName(z.string().min(1).max(256), 'id');

/** `read_model_get`: one read-model document. */
export const readModelGet = defineTool({
  name: 'read_model_get',
  title: 'Get read-model document',
  description: 'One document of a read-model view. NOT_FOUND when absent.',
  input: z.strictObject({ tenantId: TenantArg, view: ViewArg, id: DocIdArg }),
  output: z.object({ doc: DocOut }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const doc = await ctx.app.store.readModels.get(scope, await ctx.app.projections.resolveView(scope, args.view), args.id);
    return { doc: { ...doc, view: args.view } };
  },
  summarize: (o) => `${o.doc.view}/${o.doc.id} (updated ${o.doc.updatedAt})`,
});

/** `read_model_query`: documents of a view matching a filter. */
export const readModelQuery = defineTool({
  name: 'read_model_query',
  title: 'Query read model',
  description: 'Documents of a read-model view: filter, sort, pages.',
  input: z.strictObject({ tenantId: TenantArg, view: ViewArg, filter: FilterArg.optional(), sort: SortArg.optional(), limit: LimitArg, cursor: CursorArg }),
  output: z.object({ items: z.array(DocOut), nextCursor: z.string().nullable() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const { tenantId: _t, view, ...q } = args;
    const page = await ctx.app.store.readModels.query(scope, await ctx.app.projections.resolveView(scope, view), q);
    return { ...page, items: page.items.map((d) => ({ ...d, view })) };
  },
  summarize: (o) => `${o.items.length} document${o.items.length === 1 ? '' : 's'}${o.nextCursor ? ' (more: pass nextCursor)' : ''}`,
});
