import { z } from 'zod';
import type { TenantContext } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import { defineTool, type ToolContext } from '../define-tool.js';
import { EntityIdArg, TenantArg } from '../schemas.js';
import { resolveScope } from '../scope.js';
import { DEAD_LETTER_SCAN, groupPlugin } from './dead-letters.js';
import { RecordsOut, flushedRecords } from './records.js';
import { journalNewestFirst, type InvocationRecord, type JournalEntry } from '../../store/index.js';

/**
 * The events of `eventId`'s chain in the tenant's own event journal, read newest first a span of
 * positions at a time: every entry until the event is found (its correlation is not known before),
 * then those of its correlation, until the chain's first event (the one whose id is the correlation
 * id) or `max` positions. Only the tenant's own events are ever read — the shared bus stream, read
 * oldest first before 2026-12-06, let any other tenant's 50,000 retained events hide a tenant's
 * chains from it. Oldest first.
 */
async function chainOf(ctx: ToolContext, scope: TenantContext, eventId: string, max: number): Promise<{ entries: JournalEntry[]; scanned: number; truncated: boolean }> {
  const kept: JournalEntry[] = [];
  let correlation: string | undefined;
  let scanned = 0;
  let exhausted = true;
  let first = false;
  for await (const span of journalNewestFirst(ctx.app.store.journal, scope, { maxPositions: max, signal: ctx.signal })) {
    ({ scanned, exhausted } = span);
    for (const entry of span.entries) {
      const event = entry.event;
      if (correlation === undefined) {
        kept.push(entry);
        if (event.eventId !== eventId) continue;
        correlation = event.correlationId;
        const chain = kept.filter((e) => e.event.correlationId === correlation);
        kept.length = 0;
        kept.push(...chain);
      } else if (event.correlationId === correlation) kept.push(entry);
      if (event.eventId === correlation) first = true;
    }
    if (first) break;
  }
  // Stopped by the bound with older positions left (not at the chain's first event, the oldest one, or a cancel).
  const truncated = !first && !exhausted && scanned >= max && !ctx.signal.aborted;
  return { entries: kept.reverse(), scanned, truncated };
}

/** `event_trace`: the causation tree of an event's correlation. */
export const eventTrace = defineTool({
  name: 'event_trace',
  title: 'Trace event',
  description: "An event's chain as a tree (from the tenant's event journal), with the dead letters, logs and invocation records of its events.",
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
        position: z.number().int().describe("The event's position in its tenant's event journal"),
      }),
    ),
    deadLetters: z.array(z.object({ id: z.string(), eventId: z.string(), plugin: z.string().nullable(), code: z.string(), message: z.string() })),
    logs: z.array(z.object({ eventId: z.string(), plugin: z.string(), level: z.string(), message: z.string() })),
    invocations: RecordsOut,
    scanned: z.number().int().describe("Positions of this tenant's event journal that were scanned, newest first"),
    truncated: z.boolean().describe('The scan stopped at maxScan before the chain\'s first event: older chain events may be missing'),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    const { entries, scanned, truncated } = await chainOf(ctx, scope, args.eventId, args.maxScan ?? 50_000);
    const target = entries.find((e) => e.event.eventId === args.eventId);
    // Records outlive the journal's retention: an event removed from it is still found by them.
    let recorded: InvocationRecord[] = [];
    if (ctx.app.records !== undefined) {
      await flushedRecords(ctx, scope);
      const correlation = target?.event.correlationId ?? (await ctx.app.store.invocations.query(scope, { eventId: args.eventId, limit: 1 })).items[0]?.event.correlationId;
      if (correlation !== undefined) recorded = (await ctx.app.store.invocations.query(scope, { correlationId: correlation, limit: 1000 })).items.reverse();
    }
    if (!target && recorded.length === 0) {
      throw new UeeError('NOT_FOUND', `event ${args.eventId} not found in the tenant's event journal or invocation records`, {
        hint: truncated ? 'raise maxScan' : 'check the eventId and tenantId; events removed by journal retention with no records left cannot be traced',
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
    const letters = (await ctx.app.bus.deadLetters({ tenantId: scope.tenantId, count: DEAD_LETTER_SCAN })).filter((l) => ids.has(l.event.eventId));
    const logs = [...ids].flatMap((eventId) => ctx.app.pluginLogs.query({ eventId, tenantId: scope.tenantId, limit: 100 }));
    return {
      correlationId,
      events: chain.map(({ position, event: e }) => ({
        eventId: e.eventId,
        type: e.type,
        parent: e.causationId,
        depth: depthOf(e.eventId),
        hop: e.hop,
        source: e.source,
        occurredAt: e.occurredAt,
        ...(e.entityId === undefined ? {} : { entityId: e.entityId }),
        position,
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
