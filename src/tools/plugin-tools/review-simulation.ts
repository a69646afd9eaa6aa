import { createHash } from 'node:crypto';
import type { EntityVersion, EventEnvelope } from '../../core/index.js';
import { isUeeError, toUeeError } from '../../core/index.js';
import type { PluginRecord } from '../../registry/index.js';
import { subscriptionMatches } from '../../router/index.js';
import { journalNewestFirst } from '../../store/index.js';
import type { ReviewCost, ReviewSimulation, SimulatedRun, ToolContext } from '../define-tool.js';
import { runSandbox, type RunResult, type SandboxPlugin } from './sandbox.js';

/** Recorded events a review simulation runs both versions on (the newest that match). */
export const SIMULATION_EVENTS = 10;
/** Bus entries scanned per time window at most, for a global-scope plugin (windows: last hour, last day, everything retained). */
const MAX_SCAN = 20_000;
/** Journal positions of the plugin's tenant looked at most, newest first. */
const MAX_JOURNAL_SCAN = 100_000;
const PAGE = 1000;
const DAY_MS = 86_400_000;
/** Event types one journal read can select (see {@link JournalQuery.types}). */
const JOURNAL_TYPES_MAX = 32;

/** Recorded events to simulate on: the newest that match, and the recent rate of matching events. */
interface Recorded {
  events: EventEnvelope[];
  perDay: number;
  scanned: number;
  /** What `scanned` counted. */
  source: 'journal' | 'bus';
}

/**
 * The newest recorded events a plugin with `probe`'s subscription would receive, and their rate per
 * day. A tenant's plugin only ever receives its tenant's events, so they come from that tenant's
 * event journal, newest first: what other tenants publish, however much, is never looked at (the
 * shared bus stream, read before 2026-12-06, let any tenant's 20,000 events in an hour hide every
 * other tenant's from its reviews). A global-scope plugin receives every tenant's events: the bus.
 */
function recordedEvents(ctx: ToolContext, probe: PluginRecord, limit: number): Promise<Recorded | undefined> {
  return probe.tenantId === null ? busEvents(ctx, probe, limit) : journalEvents(ctx, probe, probe.tenantId, limit);
}

/**
 * The tenant's journal read backwards, one span of positions at a time, until `limit` matching
 * events are kept and the scan has passed the last day (so the day's rate is counted, not guessed),
 * or {@link MAX_JOURNAL_SCAN} positions were looked at, or the oldest retained one was reached.
 */
async function journalEvents(ctx: ToolContext, probe: PluginRecord, tenantId: string, limit: number): Promise<Recorded> {
  const scope = { tenantId, actor: ctx.principal.id };
  const now = Date.now();
  const subscribed = probe.attributes.subscribeTo;
  const types = subscribed.length <= JOURNAL_TYPES_MAX ? subscribed : undefined;
  const kept: EventEnvelope[] = [];
  let matched = 0;
  let oldestMatched = now;
  let pastDay = false;
  let scanned = 0;
  for await (const span of journalNewestFirst(ctx.app.store.journal, scope, { ...(types === undefined ? {} : { types }), maxPositions: MAX_JOURNAL_SCAN, signal: ctx.signal })) {
    scanned = span.scanned;
    for (const { event } of span.entries) {
      const at = Date.parse(event.occurredAt) || now;
      if (now - at > DAY_MS) pastDay = true;
      if (!subscriptionMatches(probe, event)) continue;
      if (kept.length < limit) kept.push(event);
      if (pastDay) continue;
      matched++;
      oldestMatched = Math.min(oldestMatched, at);
    }
    if (kept.length >= limit && pastDay) break;
  }
  // Past the day, `matched` is the day's count; otherwise the rate over what was scanned.
  const perDay = matched === 0 ? 0 : pastDay ? matched : (matched * DAY_MS) / Math.max(3_600_000, now - oldestMatched);
  return { events: kept.reverse(), perDay, scanned, source: 'journal' };
}

/** The newest retained bus events a global-scope plugin would receive, and their rate per day. */
async function busEvents(ctx: ToolContext, probe: PluginRecord, limit: number): Promise<Recorded | undefined> {
  const bus = ctx.app.bus;
  if (!bus.range) return undefined;
  const now = Date.now();
  let last: Recorded = { events: [], perDay: 0, scanned: 0, source: 'bus' };
  for (const windowMs of [3_600_000, DAY_MS, Infinity]) {
    let start = windowMs === Infinity ? '-' : `${now - windowMs}-0`;
    const kept: EventEnvelope[] = [];
    let matched = 0;
    let oldest = now;
    let scanned = 0;
    let first = true;
    while (scanned < MAX_SCAN) {
      // range() includes its start entry: every page after the first re-reads the previous last one
      const want = PAGE + (first ? 0 : 1);
      const page = await bus.range(start, want);
      for (const entry of first ? page : page.filter((e) => e.id !== start)) {
        scanned++;
        if (!subscriptionMatches(probe, entry.event)) continue;
        matched++;
        oldest = Math.min(oldest, Date.parse(entry.event.occurredAt) || now);
        kept.push(entry.event);
        if (kept.length > limit) kept.shift();
      }
      const lastEntry = page[page.length - 1];
      if (lastEntry === undefined || page.length < want || ctx.signal.aborted) break;
      start = lastEntry.id;
      first = false;
    }
    const spanMs = Math.max(3_600_000, now - oldest);
    last = { events: kept, perDay: matched === 0 ? 0 : (matched * DAY_MS) / spanMs, scanned, source: 'bus' };
    if (kept.length >= limit) break;
  }
  return last;
}

async function entityAt(ctx: ToolContext, event: EventEnvelope): Promise<EntityVersion | undefined> {
  if (event.entityId === undefined) return undefined;
  try {
    return await ctx.app.store.get({ tenantId: event.tenantId, actor: ctx.principal.id }, event.entityId, event.entityVersion === undefined ? {} : { version: event.entityVersion });
  } catch (err) {
    if (isUeeError(err, 'NOT_FOUND')) return undefined;
    throw err;
  }
}

/** Effects without minted ids (the random seed differs between versions), hashed for comparison. */
function digest(run: RunResult): string {
  const strip = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(strip) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'entityId' && k !== 'eventId').map(([k, x]) => [k, strip(x)])) : v;
  const body = run.ok ? { effects: strip(run.effects), output: strip(run.output ?? null) } : { error: run.error?.code };
  return createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 12);
}

function summary(run: RunResult): SimulatedRun {
  const usage = run.usage as RunResult['usage'] & { modelCost?: number };
  return {
    ok: run.ok,
    ...(run.error === undefined ? {} : { error: `${run.error.code}: ${run.error.message}`.slice(0, 300) }),
    writes: run.effects.writes.length,
    emits: run.effects.emits.map((e) => (typeof e.type === 'string' ? e.type : '?')),
    readModelUpdates: run.effects.readModelUpdates.length,
    timers: run.effects.timers.length,
    modelCalls: usage.modelCalls,
    modelCost: usage.modelCost ?? 0,
    durationMs: Math.round(usage.durationMs * 10) / 10,
    effects: digest(run),
  };
}

/** What a scan looked at: journal positions or bus entries. */
const scannedText = (found: Recorded): string => `${found.scanned} ${found.source === 'journal' ? 'journal positions' : 'bus entries'} scanned`;

const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * Runs the version in force (`before`, when there is one) and the proposed version (`after`) on the
 * newest recorded real events the proposed version subscribes to, each in its own discarded sandbox
 * (entities copied read-only at the event's version, built-in offline models real, others stubbed,
 * nothing committed anywhere), and compares their effects event by event. Also estimates the proposed
 * version's model use at the recent event rate. Answers a note instead when it cannot run.
 */
export async function simulateOnRecorded(
  ctx: ToolContext,
  options: {
    tenantId: string | null;
    before: PluginRecord | undefined;
    after: SandboxPlugin;
    limit?: number;
    /** Run on these events instead of the newest recorded matching ones (e.g. the dead letters a redrive re-delivers). */
    events?: { events: EventEnvelope[]; source: string };
  },
): Promise<{ simulation?: ReviewSimulation; cost?: ReviewCost; note?: string }> {
  const { after, before } = options;
  const probe = { id: '(proposed)', entityVersion: 1, tenantId: after.tenantId, attributes: { ...after.manifest, tenantScope: after.manifest.tenantScope ?? (after.tenantId === null ? 'global' : 'tenant') } } as unknown as PluginRecord;
  let found: Recorded | undefined;
  try {
    found = options.events !== undefined ? { events: options.events.events, perDay: 0, scanned: 0, source: 'bus' } : await recordedEvents(ctx, probe, options.limit ?? SIMULATION_EVENTS);
  } catch (err) {
    return { note: `simulation on recorded events: the recorded events could not be read (${toUeeError(err).message})` };
  }
  if (found === undefined) return { note: `simulation on recorded events: the ${ctx.app.bus.kind} bus cannot read events back` };
  const types = after.manifest.subscribeTo.join(', ') || 'no event types';
  if (found.events.length === 0) return { note: `simulation on recorded events: no retained event of ${types} matches this version (${scannedText(found)}); nothing to compare` };
  const copies: EntityVersion[] = [];
  const items = [];
  for (const event of found.events) {
    const entity = await entityAt(ctx, event);
    if (entity !== undefined && !copies.some((c) => c.entityId === entity.entityId)) copies.push(entity);
    items.push({ envelope: event, ...(entity ? { entity } : {}) });
  }
  const sandbox = { tenantId: options.tenantId, models: 'offline' as const, copies, chain: false };
  const afterRuns = (await runSandbox(ctx, after, items, sandbox)).runs;
  let beforeRuns: RunResult[] | undefined;
  if (before !== undefined) {
    const plugin: SandboxPlugin = { id: before.id, name: before.attributes.name, version: before.attributes.pluginVersion, manifest: before.attributes, tenantId: before.tenantId, wasm: await ctx.app.registry.binary(before) };
    beforeRuns = (await runSandbox(ctx, plugin, items, sandbox)).runs;
  }
  const rows = found.events.map((event, i) => {
    const a = summary(afterRuns[i]!);
    const b = beforeRuns === undefined ? null : summary(beforeRuns[i]!);
    return { eventId: event.eventId, type: event.type, occurredAt: event.occurredAt, before: b, after: a, same: b !== null && b.ok === a.ok && b.effects === a.effects };
  });
  const stubbed = [...new Set([...afterRuns, ...(beforeRuns ?? [])].flatMap((r) => r.stubbedModels ?? []))].sort();
  const count = (runs: RunResult[]): { ok: number; failed: number } => ({ ok: runs.filter((r) => r.ok).length, failed: runs.filter((r) => !r.ok).length });
  const simulation: ReviewSimulation = {
    source: options.events?.source ?? `the newest ${found.events.length} retained ${types} event(s)${options.tenantId === null ? '' : ` of ${options.tenantId}`} (${scannedText(found)})`,
    before: before === undefined || beforeRuns === undefined ? null : { version: before.attributes.pluginVersion, ...count(beforeRuns) },
    after: { version: after.version, ...count(afterRuns) },
    changed: rows.filter((r) => r.before !== null && !r.same).length,
    rows,
    stubbedModels: stubbed,
  };
  const callsAfter = mean(rows.map((r) => r.after.modelCalls));
  const costAfter = mean(rows.map((r) => r.after.modelCost));
  const perDay = Math.round(found.perDay * 10) / 10;
  const cap = after.manifest.capabilities.includes('invokeModels') ? after.manifest.maximumResourceBudget.modelCalls : 0;
  const cost: ReviewCost = {
    modelCallsPerEvent: { before: rows[0]?.before === null ? null : mean(rows.map((r) => r.before?.modelCalls ?? 0)), after: callsAfter },
    costPerEvent: { before: rows[0]?.before === null ? null : mean(rows.map((r) => r.before?.modelCost ?? 0)), after: costAfter },
    eventsPerDay: perDay,
    callsPerDay: Math.round(callsAfter * perDay * 10) / 10,
    costPerDay: Math.round(costAfter * perDay * 1e6) / 1e6,
    maxCallsPerDay: Math.round(cap * perDay * 10) / 10,
    basis:
      `model calls and cost measured in the simulation (built-in offline models priced as configured${stubbed.length > 0 ? `; stubbed, unpriced: ${stubbed.join(', ')}` : ''}), ` +
      `times the recent rate of matching events (${perDay}/day); the budget's modelCalls cap bounds the worst case`,
  };
  return { simulation, cost };
}
