import { z } from 'zod';
import { UeeError, assertMayWriteReserved } from '../core/index.js';
import { defineTool } from './define-tool.js';
import { DryRunArg, EntityIdArg, EntityTypeArg, EventOut, EventTypeArg, JsonObjectArg, PlanSchema, TenantArg, safeName } from './schemas.js';
import { resolveScope, scopeLabel } from './scope.js';

/** `event_emit`: publishes an event through the store's transactional outbox. */
export const eventEmit = defineTool({
  name: 'event_emit',
  title: 'Emit event',
  description: 'Publishes an event in the tenant; subscribed plugins react. A repeated idempotencyKey publishes nothing.',
  input: z.strictObject({
    tenantId: TenantArg,
    type: EventTypeArg,
    entityId: EntityIdArg.optional(),
    entityTypeId: EntityTypeArg.optional(),
    payload: JsonObjectArg.optional(),
    idempotencyKey: safeName(z.string().min(1).max(200), 'idempotencyKey').optional(),
    dryRun: DryRunArg,
  }),
  output: z.object({
    dryRun: z.boolean(),
    applied: z.boolean().describe('False for a dry run or a repeated idempotencyKey'),
    plan: PlanSchema,
    event: EventOut.nullable(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    // Refused alike for a dry run and a real emit (the store refuses it too).
    assertMayWriteReserved({ writes: [], events: [args], readModelOps: [], source: { kind: 'api', id: ctx.principal.id } });
    const plan = {
      summary: `emit ${args.type} in ${scopeLabel(scope)}${args.entityId ? ` about ${args.entityId}` : ''}`,
      changes: [{ action: 'emit' as const, target: `event:${args.type}` }],
      tenants: [scopeLabel(scope)],
      eventTypes: [args.type],
    };
    if (args.dryRun) return { dryRun: true, applied: false, plan, event: null };
    const draft = {
      type: args.type,
      payload: args.payload ?? {},
      ...(args.entityId === undefined ? {} : { entityId: args.entityId }),
      ...(args.entityTypeId === undefined ? {} : { entityTypeId: args.entityTypeId }),
    };
    const result = await ctx.app.store.commit(scope, {
      events: [draft],
      source: { kind: 'api', id: ctx.principal.id },
      ...(args.idempotencyKey === undefined ? {} : { idempotencyKey: args.idempotencyKey }),
    });
    ctx.app.relay.kick();
    const event = result.events.find((e) => e.type === args.type) ?? result.events[0];
    if (!event) throw new UeeError('INTERNAL', 'the store returned no event');
    return { dryRun: false, applied: result.applied, plan, event };
  },
  summarize: (o) => (o.event ? `${o.applied ? 'emitted' : 'already emitted'} ${o.event.type} ${o.event.eventId}` : `dry run: ${o.plan.summary}`),
});
