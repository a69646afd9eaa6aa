import { z } from 'zod';
import type { EntityVersion, TenantContext } from '../core/index.js';
import { UeeError, assertMayWriteReserved, isUeeError, jsonBytes } from '../core/index.js';
import type { ToolContext } from './define-tool.js';
import { defineTool } from './define-tool.js';
import {
  CursorArg,
  DryRunArg,
  EntityIdArg,
  EntityOut,
  EntityTypeArg,
  EventTypeArg,
  FilterArg,
  JsonObjectArg,
  LimitArg,
  PlanSchema,
  SortArg,
  TenantArg,
  text,
  type Plan,
} from './schemas.js';
import { resolveScope, scopeLabel } from './scope.js';

const PageOut = z.object({ items: z.array(EntityOut), nextCursor: z.string().nullable() });

/** `entity_get`: one entity, latest or a given version. */
export const entityGet = defineTool({
  name: 'entity_get',
  title: 'Get entity',
  description: "One entity (latest, or `version`). NOT_FOUND when absent or another tenant's.",
  input: z.strictObject({
    tenantId: TenantArg,
    entityId: EntityIdArg,
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  }),
  output: z.object({ entity: EntityOut }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const entity = await ctx.app.store.get(scope, args.entityId, args.version === undefined ? {} : { version: args.version });
    return { entity };
  },
  summarize: (o) => `${o.entity.entityTypeId} ${o.entity.entityId} v${o.entity.version}${o.entity.deleted ? ' (deleted)' : ''}`,
});

/** `entity_put`: writes the next version of an entity, or plans it. */
export const entityPut = defineTool({
  name: 'entity_put',
  title: 'Put entity',
  description: 'Creates (no entityId: minted) or writes the next version of an entity, with its event. expectedVersion 0: create only.',
  input: z.strictObject({
    tenantId: TenantArg,
    entityId: EntityIdArg.optional(),
    entityTypeId: EntityTypeArg,
    attributes: JsonObjectArg,
    metadata: JsonObjectArg.optional(),
    ownerId: text(256).nullable().optional(),
    expectedVersion: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
    eventType: EventTypeArg.optional(),
    deleted: z.boolean().optional(),
    dryRun: DryRunArg,
  }),
  output: z.object({
    dryRun: z.boolean(),
    plan: PlanSchema,
    entity: EntityOut.nullable().describe('The written version (null for a dry run)'),
    events: z.array(z.object({ eventId: z.string(), type: z.string() })),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const limit = ctx.app.config.limits.maxAttributeBytes;
    const bytes = jsonBytes(args.attributes);
    if (bytes > limit) {
      throw new UeeError('PAYLOAD_TOO_LARGE', `attributes are ${bytes} bytes; the limit is ${limit}`, {
        details: { bytes, limit },
        hint: 'store less per entity (split it, or keep large blobs elsewhere)',
      });
    }
    const current = args.entityId === undefined ? null : await findCurrent(ctx, scope, args.entityId);
    const plan = planPut(scope, args, current);
    if (args.dryRun) return { dryRun: true, plan, entity: null, events: [] };
    const { tenantId: _t, dryRun: _d, ...write } = args;
    const result = await ctx.app.store.commit(scope, { writes: [write], source: { kind: 'api', id: ctx.principal.id } });
    ctx.app.relay.kick();
    const entity = result.versions[0];
    if (!entity) throw new UeeError('INTERNAL', 'the store returned no version');
    return { dryRun: false, plan, entity, events: result.events.map((e) => ({ eventId: e.eventId, type: e.type })) };
  },
  summarize: (o) => (o.dryRun ? `dry run: ${o.plan.summary}` : `wrote ${o.entity?.entityTypeId} ${o.entity?.entityId} v${o.entity?.version}`),
});

async function findCurrent(ctx: ToolContext, scope: TenantContext, entityId: string): Promise<EntityVersion | null> {
  try {
    return await ctx.app.store.get(scope, entityId);
  } catch (err) {
    if (isUeeError(err, 'NOT_FOUND')) return null;
    throw err;
  }
}

/** Mirrors the store's rules so a dry run fails exactly where the write would. */
function planPut(
  scope: TenantContext,
  args: { entityId?: string | undefined; entityTypeId: string; expectedVersion?: number | undefined; eventType?: string | undefined; deleted?: boolean | undefined },
  current: EntityVersion | null,
): Plan {
  const entityId = args.entityId ?? '(new id)';
  assertMayWriteReserved({ writes: [args], events: [], readModelOps: [], source: { kind: 'api', id: scope.actor } });
  if (current && current.tenantId !== scope.tenantId) {
    throw new UeeError('TENANT_FORBIDDEN', `entity "${entityId}" is global; a tenant cannot write it`, {
      hint: 'create a tenant entity with another id',
    });
  }
  const actual = current?.version ?? 0;
  if (args.expectedVersion !== undefined && args.expectedVersion !== actual) {
    throw new UeeError('VERSION_CONFLICT', `entity "${entityId}" is at version ${actual}, expected ${args.expectedVersion}`, {
      details: { entityId, expected: args.expectedVersion, actual },
      hint: 'read the entity again (entity_get), reapply your change and retry with its version as expectedVersion',
    });
  }
  if (current && current.entityTypeId !== args.entityTypeId) {
    throw new UeeError('VALIDATION_FAILED', `entity "${entityId}" is a ${current.entityTypeId}, not a ${args.entityTypeId}`, {
      hint: 'an entity keeps its entityTypeId; create a new entity for another type',
    });
  }
  const version = actual + 1;
  const eventType = args.eventType ?? (args.deleted ? 'EntityDeleted' : version === 1 ? 'EntityCreated' : 'EntityUpdated');
  const action = args.deleted ? 'delete' : version === 1 ? 'create' : 'update';
  return {
    summary: `${action} ${args.entityTypeId} ${entityId} → v${version} in ${scopeLabel(scope)}, announcing ${eventType}`,
    changes: [
      { action, target: `entity:${entityId}`, detail: `v${actual} → v${version}` },
      { action: 'emit', target: `event:${eventType}` },
    ],
    tenants: [scopeLabel(scope)],
    eventTypes: [eventType],
  };
}

/** `entity_query`: latest versions of one type matching a filter. */
export const entityQuery = defineTool({
  name: 'entity_query',
  title: 'Query entities',
  description: 'Latest versions of an entity type: MongoDB-style filter (attributes.*, metadata.*, version…), sort, pages.',
  input: z.strictObject({
    tenantId: TenantArg,
    entityTypeId: EntityTypeArg,
    filter: FilterArg.optional(),
    sort: SortArg.optional(),
    limit: LimitArg,
    cursor: CursorArg,
    includeDeleted: z.boolean().optional(),
  }),
  output: PageOut,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const { tenantId: _t, ...query } = args;
    return ctx.app.store.query(scope, query);
  },
  summarize: (o) => `${o.items.length} entit${o.items.length === 1 ? 'y' : 'ies'}${o.nextCursor ? ' (more: pass nextCursor)' : ''}`,
});

/** `entity_history`: versions of one entity, newest first. */
export const entityHistory = defineTool({
  name: 'entity_history',
  title: 'Entity history',
  description: 'Versions of one entity, newest first, paged.',
  input: z.strictObject({ tenantId: TenantArg, entityId: EntityIdArg, limit: LimitArg, cursor: CursorArg }),
  output: PageOut,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    return ctx.app.store.history(scope, args.entityId, {
      ...(args.limit === undefined ? {} : { limit: args.limit }),
      ...(args.cursor === undefined ? {} : { cursor: args.cursor }),
    });
  },
  summarize: (o) => `${o.items.length} version${o.items.length === 1 ? '' : 's'}${o.nextCursor ? ' (more: pass nextCursor)' : ''}`,
});
