import { z } from 'zod';
import type { EventEnvelope } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import { defineTool } from '../define-tool.js';
import { EntityIdArg, TenantArg } from '../schemas.js';
import { resolveScope } from '../scope.js';
import { DEAD_LETTER_SCAN, groupPlugin } from './dead-letters.js';
import { RecordsOut, flushedRecords } from './records.js';
import type { InvocationRecord } from '../../store/index.js';

const PAGE = 1000;

/** `event_trace`: the causation tree of an event's correlation. */
export const eventTrace = defineTool({
  name: 'event_trace',
  title: 'Trace event',
  description: "An event's chain as a tree, with the dead letters, logs and invocation records of its events.",
  input: z.strictObject({
    tenantId: TenantArg,
    eventId: EntityIdArg,
    maxScan: z.number().int().min(100).max(200_000).optional(),
  }),
  output: z.object({
    correlationId: z.string(),
    events: z.array(
      z.object({
        eventId: z.string(),
        type: z.string(),
        parent: z.string().nullable().describe('causationId'),
        depth: z.number().int(),
        hop: z.number().int(),
        source: z.object({ kind: z.string(), id: z.string() }),
        occurredAt: z.string(),
        entityId: z.string().optional(),
        streamId: z.string(),
      }),
    ),
    deadLetters: z.array(z.object({ id: z.string(), eventId: z.string(), plugin: z.string().nullable(), code: z.string(), message: z.string() })),
    logs: z.array(z.object({ eventId: z.string(), plugin: z.string(), level: z.string(), message: z.string() })),
    invocations: RecordsOut,
    scanned: z.number().int().describe('Retained bus entries of this tenant that were scanned'),
    truncated: z.boolean().describe('The scan stopped at maxScan: older or newer chain events may be missing'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const bus = ctx.app.bus;
    if (!bus.range) {
      throw new UeeError('BACKEND_UNAVAILABLE', `the ${bus.kind} bus cannot read events back`, { hint: 'use the embedded or Redis bus, which support range reads' });
    }
    const max = args.maxScan ?? 50_000;
    const entries: Array<{ id: string; event: EventEnvelope }> = [];
    let start = '-';
    let read = 0;
    let scanned = 0;
    let truncated = false;
    for (;;) {
      if (read >= max) {
        truncated = true;
        break;
      }
      const want = Math.min(PAGE, max - read) + (start === '-' ? 0 : 1);
      const page = await bus.range(start, want);
      const fresh = page.filter((e) => e.id !== start);
      read += fresh.length;
      // Only the caller's own entries are counted: other tenants' traffic is not theirs to measure.
      const own = fresh.filter((e) => e.event.tenantId === scope.tenantId);
      scanned += own.length;
      entries.push(...own);
      const last = page[page.length - 1];
      if (!last || page.length < want || ctx.signal.aborted) break;
      start = last.id;
    }
    const target = entries.find((e) => e.event.eventId === args.eventId);
    // Records outlive the bus's retention: an event trimmed from the stream is still found by them.
    let recorded: InvocationRecord[] = [];
    if (ctx.app.records !== undefined) {
      await flushedRecords(ctx);
      const correlation = target?.event.correlationId ?? (await ctx.app.store.invocations.query(scope, { eventId: args.eventId, limit: 1 })).items[0]?.event.correlationId;
      if (correlation !== undefined) recorded = (await ctx.app.store.invocations.query(scope, { correlationId: correlation, limit: 1000 })).items.reverse();
    }
    if (!target && recorded.length === 0) {
      throw new UeeError('NOT_FOUND', `event ${args.eventId} not found on the bus or in the invocation records`, {
        hint: truncated ? 'raise maxScan' : 'check the eventId and tenantId; events not yet relayed, or trimmed from the stream with no records left, cannot be traced',
      });
    }
    const correlationId = target?.event.correlationId ?? recorded[0]!.event.correlationId;
    const chain = entries.filter((e) => e.event.correlationId === correlationId);
    const byId = new Map(chain.map((e) => [e.event.eventId, e]));
    const depthOf = (id: string, seen = new Set<string>()): number => {
      const parent = byId.get(id)?.event.causationId;
      if (!parent || !byId.has(parent) || seen.has(parent)) return 0;
      seen.add(parent);
      return 1 + depthOf(parent, seen);
    };
    const ids = new Set([...chain.map((e) => e.event.eventId), ...recorded.map((r) => r.event.eventId)]);
    const letters = (await bus.deadLetters({ tenantId: scope.tenantId, count: DEAD_LETTER_SCAN })).filter((l) => ids.has(l.event.eventId));
    const logs = [...ids].flatMap((eventId) => ctx.app.pluginLogs.query({ eventId, tenantId: scope.tenantId, limit: 100 }));
    return {
      correlationId,
      events: chain.map(({ id, event: e }) => ({
        eventId: e.eventId,
        type: e.type,
        parent: e.causationId,
        depth: depthOf(e.eventId),
        hop: e.hop,
        source: e.source,
        occurredAt: e.occurredAt,
        ...(e.entityId === undefined ? {} : { entityId: e.entityId }),
        streamId: id,
      })),
      deadLetters: letters.map((l) => ({ id: l.id, eventId: l.event.eventId, plugin: groupPlugin(l.group)?.name ?? null, code: l.error.code, message: l.error.message })),
      logs: logs.map((l) => ({ eventId: l.eventId, plugin: l.pluginName, level: l.level, message: l.message })),
      invocations: recorded,
      scanned,
      truncated,
    };
  },
  summarize: (o) =>
    `${o.events.length} event(s) in chain ${o.correlationId}: ${o.events.map((e) => `${'  '.repeat(e.depth)}${e.type}`).join(' → ')}` +
    `${o.deadLetters.length > 0 ? `; ${o.deadLetters.length} dead letter(s)` : ''}; ${o.invocations.length} invocation record(s)`,
});
