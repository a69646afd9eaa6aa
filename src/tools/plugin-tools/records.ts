import { z } from 'zod';
import { UeeError, type TenantContext } from '../../core/index.js';
import type { DeadLetter } from '../../bus/index.js';
import type { PluginRecord } from '../../registry/index.js';
import { isSpawnOf, subscriptionMatches } from '../../router/index.js';
import type { InvocationRecord } from '../../store/index.js';
import type { ToolContext } from '../define-tool.js';
import { defineTool } from '../define-tool.js';
import { CursorArg, DryRunArg, EntityIdArg, LimitArg, PlanSchema, PluginNameArg, TenantArg, text, type Plan } from '../schemas.js';
import { GLOBAL_LABEL, resolveScope } from '../scope.js';
import { DEAD_LETTER_SCAN, effectiveVersion, groupPlugin } from './dead-letters.js';
import { versionsOf } from './shared.js';
import { redriveReview } from './review-hooks.js';

/** Invocation records on the wire: the stored shape, described once (a full schema would cost tools/list bytes). */
export const RecordsOut = z
  .array(z.record(z.string(), z.unknown()))
  .describe(
    'InvocationRecord: recordId, at, event{eventId,type,correlationId,entityId}, plugin{id,name,version}, attempt, trigger router|redrive, ' +
      'outcome ok|retry|dead|left, error{code,message}, durationMs, usage, effects{committed,writes[],events[],readModelOps,timers}, models[], experiment, deadLetterId',
  );

/**
 * Records written so far in this process reach the store before a read of `scope`'s records (the
 * recorder buffers ~100 ms, the SQLite store groups up to 500 ms): bounded per tenant, so an agent
 * polling cannot make every tenant's records cost more (see `InvocationRecords.flushFor`).
 */
export async function flushedRecords(ctx: ToolContext, scope: TenantContext): Promise<void> {
  await ctx.app.records?.flushFor(scope.tenantId);
}

function recordsOff(): UeeError {
  return new UeeError('BACKEND_UNAVAILABLE', 'invocation records are off on this server', { hint: 'start uee with --records-retention-hours above 0 (UEE_RECORDS_RETENTION_HOURS)' });
}

/** `invocation_list`: what plugins did with events, from the invocation records. */
export const invocationList = defineTool({
  name: 'invocation_list',
  title: 'List invocation records',
  description: 'Plugin attempts on events, newest first: outcome, error, usage, committed effects.',
  input: z.strictObject({
    tenantId: TenantArg,
    eventId: EntityIdArg.optional(),
    correlationId: EntityIdArg.optional(),
    entityId: EntityIdArg.optional(),
    name: PluginNameArg.optional(),
    outcome: z.enum(['ok', 'retry', 'dead', 'left']).optional(),
    experimentId: text(128).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    limit: LimitArg,
    cursor: CursorArg,
  }),
  output: z.object({ records: RecordsOut, nextCursor: z.string().nullable() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = await resolveScope(ctx, args.tenantId);
    if (ctx.app.records === undefined) throw recordsOff();
    await flushedRecords(ctx, scope);
    const { tenantId: _t, name, ...filters } = args;
    const page = await ctx.app.store.invocations.query(scope, { ...filters, ...(name === undefined ? {} : { plugin: name }) });
    return { records: page.items, nextCursor: page.nextCursor };
  },
  summarize: (o) => {
    const rows = o.records as unknown as InvocationRecord[];
    return `${rows.length} record(s)${rows.slice(0, 5).map((r) => `; ${r.plugin.name} v${r.plugin.version} ${r.event.type}: ${r.outcome}${r.error ? ` ${r.error.code}` : ''}`).join('')}`;
  },
});

const RedriveItem = z.object({
  deadLetterId: z.string(),
  eventId: z.string(),
  type: z.string(),
  plugin: z.string().nullable(),
  version: z.number().int().nullable().describe('Version it runs (ran) on'),
  result: z.enum(['planned', 'succeeded', 'failed', 'skipped']),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  removed: z.boolean().describe('The dead letter left the list'),
});

/** `dead_letter_redrive`: re-delivers dead letters for real. */
export const deadLetterRedrive = defineTool({
  name: 'dead_letter_redrive',
  taskSupport: 'optional',
  title: 'Redrive dead letters',
  description: 'Re-delivers dead letters FOR REAL on the current version (or `version`); a success deletes the letter.',
  input: z.strictObject({
    tenantId: TenantArg,
    deadLetterIds: z.array(z.string().regex(/^\d+-\d+$/)).min(1).max(100).optional(),
    name: PluginNameArg.optional(),
    version: z.number().int().min(1).optional(),
    limit: z.number().int().min(1).max(100).optional(),
    dryRun: DryRunArg.default(true),
  }),
  output: z.object({ dryRun: z.boolean(), applied: z.boolean(), plan: PlanSchema, items: z.array(RedriveItem), succeeded: z.number().int(), failed: z.number().int() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  review: redriveReview,
  async run(ctx, args) {
    if (args.deadLetterIds === undefined && args.name === undefined) {
      throw new UeeError('VALIDATION_FAILED', 'pick dead letters: pass deadLetterIds or name', { details: { issues: [{ path: 'deadLetterIds', message: 'deadLetterIds or name is required' }] }, hint: 'call dead_letter_list for ids' });
    }
    const scope = ctx.principal.kind === 'tenant' || args.tenantId !== undefined ? await resolveScope(ctx, args.tenantId) : undefined;
    const ids = args.deadLetterIds === undefined ? undefined : new Set(args.deadLetterIds);
    // By id: those letters, whoever's (checked next); by name: this scope's only — another tenant's
    // letters are never read, however many there are.
    const found = ids !== undefined ? await ctx.app.bus.deadLettersById([...ids]) : await ctx.app.bus.deadLetters({ ...(scope === undefined ? {} : { tenantId: scope.tenantId }), count: DEAD_LETTER_SCAN });
    const letters = found
      .filter((l) => scope === undefined || l.event.tenantId === scope.tenantId)
      .filter((l) => ids === undefined || ids.has(l.id))
      .filter((l) => args.name === undefined || groupPlugin(l.group)?.name === args.name)
      .slice(0, args.limit ?? 100);
    if (ids !== undefined && letters.length < ids.size) {
      const missing = [...ids].filter((id) => !letters.some((l) => l.id === id));
      throw new UeeError('NOT_FOUND', `dead letter(s) ${missing.join(', ')} not found`, { details: { missing }, hint: 'call dead_letter_list for the ids visible to this token' });
    }
    const targets = await Promise.all(letters.map((l) => target(ctx, l, args.version)));
    const items: Array<z.infer<typeof RedriveItem>> = letters.map((l, i) => {
      const t = targets[i]!;
      return {
        deadLetterId: l.id,
        eventId: l.event.eventId,
        type: l.event.type,
        plugin: groupPlugin(l.group)?.name ?? null,
        version: t.plugin?.attributes.pluginVersion ?? null,
        result: t.skip === undefined ? 'planned' : 'skipped',
        ...(t.skip === undefined ? {} : { error: t.skip }),
        removed: false,
      };
    });
    const plan: Plan = {
      summary: `redrive ${items.filter((i) => i.result === 'planned').length} of ${items.length} dead letter(s) for real${items.some((i) => i.result === 'skipped') ? ' (the rest are skipped, see items)' : ''}`,
      changes: items.map((i) => ({ action: i.result === 'planned' ? ('emit' as const) : ('none' as const), target: `${i.type} ${i.eventId} → ${i.plugin ?? '?'} v${i.version ?? '?'}`, detail: i.result === 'planned' ? `runs once; on success dead letter ${i.deadLetterId} is deleted` : i.error?.message })),
      tenants: [...new Set(letters.map((l) => l.event.tenantId ?? GLOBAL_LABEL))],
      eventTypes: [...new Set(letters.map((l) => l.event.type))],
    };
    if (args.dryRun) return { dryRun: true, applied: false, plan, items, succeeded: 0, failed: 0 };
    const router = ctx.app.runtime?.router;
    if (router === undefined) throw new UeeError('BACKEND_UNAVAILABLE', 'this process runs no plugins (--runtime off)', { hint: 'call dead_letter_redrive on a server started with --runtime on' });
    for (const [i, letter] of letters.entries()) {
      const item = items[i]!;
      const plugin = targets[i]!.plugin;
      if (item.result !== 'planned' || plugin === undefined || ctx.signal.aborted) continue;
      const outcome = await router.redrive(letter, plugin);
      if (outcome.ok) {
        item.result = 'succeeded';
        item.removed = (await ctx.app.bus.deleteDeadLetters([letter.id])) === 1;
      } else {
        item.result = 'failed';
        item.error = { code: outcome.error.code, message: outcome.error.message };
      }
      await ctx.progress(i + 1, letters.length, `${letter.event.type}: ${item.result}`);
    }
    const succeeded = items.filter((i) => i.result === 'succeeded').length;
    return { dryRun: false, applied: true, plan, items, succeeded, failed: items.filter((i) => i.result === 'failed').length };
  },
  summarize: (o) => (o.dryRun ? `dry run: ${o.plan.summary}` : `redrove: ${o.succeeded} succeeded (removed from dead letters), ${o.failed} failed${o.items.find((i) => i.error) ? `; first error ${o.items.find((i) => i.error)!.error!.code}` : ''}`),
});

/** Which version a letter is redriven to, or why it is skipped. */
async function target(ctx: ToolContext, letter: DeadLetter, version: number | undefined): Promise<{ plugin?: PluginRecord; skip?: { code: string; message: string } }> {
  const owner = groupPlugin(letter.group);
  if (owner === null) return { skip: { code: 'NOT_FOUND', message: `group ${letter.group} is no plugin's queue` } };
  let plugin: PluginRecord | undefined;
  if (version === undefined) plugin = await effectiveVersion(ctx, letter);
  else plugin = (await versionsOf(ctx, owner.name, owner.tenantId)).find((p) => p.tenantId === owner.tenantId && p.attributes.pluginVersion === version);
  if (plugin === undefined) return { skip: { code: 'NOT_FOUND', message: version === undefined ? `no enabled version of ${owner.name}` : `${owner.name} has no version ${version}` } };
  if (!isSpawnOf(plugin, letter.event) && !subscriptionMatches(plugin, letter.event, () => undefined)) {
    return { plugin, skip: { code: 'VALIDATION_FAILED', message: `v${plugin.attributes.pluginVersion} does not subscribe to this event` } };
  }
  return { plugin };
}
