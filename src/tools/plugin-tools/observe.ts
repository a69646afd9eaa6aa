import { z } from 'zod';
import { UeeError } from '../../core/index.js';
import { laneGroup, pluginGroup, queuePlugin, type PluginRecord } from '../../registry/index.js';
import type { EventBus, QueueBacklog } from '../../bus/index.js';
import { defineTool } from '../define-tool.js';
import { EntityIdArg, PluginNameArg, TenantArg, text } from '../schemas.js';
import { resolveScope } from '../scope.js';
import { pinOf } from './deploy.js';
import { PluginOut, PluginRefArgs, resolvePlugin, summarize, visiblePlugins } from './shared.js';

/** A plugin version as plugin_list shows it: with the tenant's pin of its name. */
export const PluginListingOut = PluginOut.extend({ pinnedVersion: z.number().int().nullable().describe('This tenant\'s pin of the plugin name, if any') }).meta({ id: 'PluginListing' });

/** `plugin_list`: plugins and their versions visible to the principal. */
export const pluginList = defineTool({
  name: 'plugin_list',
  title: 'List plugins',
  description: "Deployed plugin versions, newest first, with the tenant's pins.",
  input: z.strictObject({
    tenantId: TenantArg,
    name: PluginNameArg.optional(),
    status: z.enum(['enabled', 'disabled']).optional(),
    latestOnly: z.boolean().optional(),
  }),
  output: z.object({
    plugins: z.array(PluginListingOut),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    let plugins = await visiblePlugins(ctx);
    let tenant: string | null = ctx.principal.kind === 'tenant' ? ctx.principal.tenantId : null;
    if (ctx.principal.kind === 'admin' && args.tenantId !== undefined) {
      const scope = await resolveScope(ctx, args.tenantId);
      tenant = scope.tenantId;
      plugins = plugins.filter((p) => p.tenantId === null || p.tenantId === scope.tenantId);
    }
    if (args.name !== undefined) plugins = plugins.filter((p) => p.attributes.name === args.name);
    if (args.status !== undefined) plugins = plugins.filter((p) => p.attributes.status === args.status);
    plugins.sort((a, b) => a.attributes.name.localeCompare(b.attributes.name) || b.attributes.pluginVersion - a.attributes.pluginVersion);
    if (args.latestOnly) {
      const seen = new Set<string>();
      plugins = plugins.filter((p) => {
        const key = `${p.tenantId ?? ''}\u0000${p.attributes.name}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    }
    const pins = new Map<string, number | null>();
    const out = [];
    for (const p of plugins) {
      const name = p.attributes.name;
      if (tenant !== null && !pins.has(name)) pins.set(name, await pinOf(ctx, tenant, name));
      out.push({ ...summarize(p), pinnedVersion: tenant === null ? null : (pins.get(name) ?? null) });
    }
    return { plugins: out };
  },
  summarize: (o) => `${o.plugins.length} plugin version${o.plugins.length === 1 ? '' : 's'}`,
});

/** `plugin_source`: the recorded source and manifest of a deployed version. */
export const pluginSource = defineTool({
  name: 'plugin_source',
  title: 'Plugin source',
  description: 'Source files, language and manifest recorded with a deployed version.',
  input: z.strictObject({ tenantId: TenantArg, ...PluginRefArgs, file: text(128).optional() }),
  output: z.object({
    plugin: PluginOut,
    language: z.string(),
    files: z.record(z.string(), z.string()),
    manifest: z.record(z.string(), z.unknown()),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    const scope = args.tenantId === undefined ? undefined : (await resolveScope(ctx, args.tenantId)).tenantId;
    const p = await resolvePlugin(ctx, args, scope);
    // A global plugin runs on every tenant's events, but its code and manifest (settings included)
    // are the operator's: a tenant sees that it exists (plugin_list), not what it contains.
    if (p.tenantId === null && ctx.principal.kind === 'tenant') {
      throw new UeeError('TENANT_FORBIDDEN', `plugin ${p.attributes.name} is global; its source is visible to administrators only`, {
        details: { pluginId: p.id, name: p.attributes.name },
        hint: 'plugin_list and plugin_metrics show what a global plugin does for your tenant',
      });
    }
    const { pluginVersion: _v, status: _s, source, binary: _b, exports: _e, imports: _i, deployedAt: _d, language, ...manifest } = p.attributes;
    let files = source?.files ?? {};
    if (args.file !== undefined) {
      const content = files[args.file];
      files = content === undefined ? {} : { [args.file]: content };
    }
    return { plugin: summarize(p), language: source?.language ?? language, files, manifest };
  },
  summarize: (o) => `${o.plugin.name} v${o.plugin.version}: ${Object.keys(o.files).length} file(s) (${o.language})`,
});

const LogLineOut = z.object({
  at: z.string(),
  pluginId: z.string(),
  pluginName: z.string(),
  eventId: z.string(),
  correlationId: z.string(),
  tenantId: z.string().nullable(),
  level: z.enum(['debug', 'info', 'warn', 'error']),
  message: z.string(),
  fields: z.record(z.string(), z.unknown()).optional(),
});

/** `plugin_logs`: recent log lines plugins wrote while handling events. */
export const pluginLogs = defineTool({
  name: 'plugin_logs',
  title: 'Plugin logs',
  description: 'Recent plugin log lines on real events, newest first (in memory, 1000 per version).',
  input: z.strictObject({
    tenantId: TenantArg,
    pluginId: PluginRefArgs.pluginId,
    name: PluginNameArg.optional(),
    level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
    eventId: EntityIdArg.optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  }),
  output: z.object({ lines: z.array(LogLineOut) }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    if (args.pluginId !== undefined) await resolvePlugin(ctx, { pluginId: args.pluginId });
    let tenantId: string | null | undefined;
    if (ctx.principal.kind === 'tenant') tenantId = ctx.principal.tenantId;
    else if (args.tenantId !== undefined) tenantId = (await resolveScope(ctx, args.tenantId)).tenantId;
    const lines = ctx.app.pluginLogs.query({
      ...(args.pluginId === undefined ? {} : { pluginId: args.pluginId }),
      ...(args.name === undefined ? {} : { pluginName: args.name }),
      ...(tenantId === undefined ? {} : { tenantId }),
      ...(args.level === undefined ? {} : { level: args.level }),
      ...(args.eventId === undefined ? {} : { eventId: args.eventId }),
      limit: args.limit ?? 100,
    });
    return { lines: lines.map((l) => ({ ...l })) };
  },
  summarize: (o) => `${o.lines.length} log line${o.lines.length === 1 ? '' : 's'}`,
});

const BacklogOut = z.object({
  name: z.string(),
  tenantId: z.string().nullable().describe("The plugin's scope (null: global)"),
  lane: z.string().nullable().describe("A global plugin's queue of one tenant's events: that tenant. null: the plugin's own queue (for an administrator, a global plugin's queue with every tenant's lane summed)"),
  waiting: z.number().int().describe('Events routed to the plugin and not read yet (counted up to 1,000 per queue)'),
  inFlight: z.number().int().describe('Events a router read and has not acknowledged yet: running, waiting for a retry or for a worker (up to 1,000 per queue)'),
  queues: z.number().int().describe('Queues summed'),
});
type Backlog = z.infer<typeof BacklogOut>;

/** A queue's waiting and in-flight entries are counted up to this (the bus counts no further): bounded work per queue whatever its length. */
const BACKLOG_COUNT_CAP = 1000;
/** How long a queue's backlog, once read, is answered again: a token polling `plugin_metrics` costs the bus one read per queue per interval. */
const BACKLOG_TTL_MS = 1000;
/** Queues read per bus call; the event loop runs between calls. */
const BACKLOG_CHUNK = 100;
/** Queues the cache of backlogs holds before it drops the expired ones. */
const BACKLOG_CACHE_PRUNE_AT = 100_000;
const backlogCache = new WeakMap<EventBus, Map<string, { at: number; value: QueueBacklog | null }>>();

/**
 * The backlogs of `queues`, read at most once per {@link BACKLOG_TTL_MS} per queue and in chunks: the
 * bus reads run on the thread that routes and delivers every tenant's events (the embedded bus), so
 * one tenant's token polling the tool for its hundreds of queues must not take that thread's time.
 */
async function readBacklogs(bus: EventBus, queues: readonly string[]): Promise<Map<string, QueueBacklog | null>> {
  let cache = backlogCache.get(bus);
  if (cache === undefined) backlogCache.set(bus, (cache = new Map<string, { at: number; value: QueueBacklog | null }>()));
  const now = Date.now();
  const stale = [...new Set(queues)].filter((q) => {
    const kept = cache.get(q);
    return kept === undefined || now - kept.at >= BACKLOG_TTL_MS;
  });
  for (let i = 0; i < stale.length; i += BACKLOG_CHUNK) {
    if (i > 0) await new Promise((r) => setImmediate(r));
    const chunk = stale.slice(i, i + BACKLOG_CHUNK);
    const values = await bus.queueBacklogs(chunk, BACKLOG_COUNT_CAP);
    chunk.forEach((q, k) => cache.set(q, { at: now, value: values[k] ?? null }));
  }
  const out = new Map(queues.map((q) => [q, cache.get(q)?.value ?? null]));
  if (cache.size > BACKLOG_CACHE_PRUNE_AT) for (const [q, kept] of cache) if (now - kept.at >= BACKLOG_TTL_MS) cache.delete(q);
  return out;
}

/**
 * The backlogs of the plugins a principal may see (`plugins`, one entry per version), per logical
 * plugin: a tenant-scoped plugin's queue; a global plugin's lane of `tenant` when one is given (a
 * tenant sees its own events only), else its queue with every lane summed. Read from the bus, so a
 * front end without a runtime answers too. A plugin whose queue does not exist (never routed to, or
 * disabled: its queues are deleted) has no entry.
 */
async function pluginBacklogs(bus: EventBus, plugins: readonly PluginRecord[], tenant: string | null | undefined): Promise<Backlog[]> {
  const wanted = new Map<string, { name: string; tenantId: string | null; lane: string | null; queues: string[] }>();
  /** Every lane on the bus by its plugin's queue (listed once, only for a view that sums them). */
  let lanes: Map<string, string[]> | undefined;
  for (const p of plugins) {
    const { name } = p.attributes;
    const key = `${p.tenantId ?? '*'}\u0000${name}`;
    if (wanted.has(key)) continue;
    if (p.tenantId !== null) {
      wanted.set(key, { name, tenantId: p.tenantId, lane: null, queues: [pluginGroup(name, p.tenantId)] });
    } else if (typeof tenant === 'string') {
      wanted.set(key, { name, tenantId: null, lane: tenant, queues: [laneGroup(name, tenant)] });
    } else {
      const group = pluginGroup(name, null);
      lanes ??= lanesByPlugin((await bus.queues?.()) ?? []);
      wanted.set(key, { name, tenantId: null, lane: null, queues: [group, ...(lanes.get(group) ?? [])] });
    }
  }
  const read = await readBacklogs(bus, [...wanted.values()].flatMap((w) => w.queues));
  const out: Backlog[] = [];
  for (const w of wanted.values()) {
    const found = w.queues.map((q) => read.get(q)).filter((b) => b !== null && b !== undefined);
    if (found.length === 0) continue;
    out.push({ name: w.name, tenantId: w.tenantId, lane: w.lane, waiting: sum(found.map((b) => b.waiting)), inFlight: sum(found.map((b) => b.inFlight)), queues: found.length });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || (a.tenantId ?? '').localeCompare(b.tenantId ?? ''));
}

/** The lanes among `queues`, by the queue of the global plugin each belongs to. */
function lanesByPlugin(queues: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const q of queues) {
    const owner = queuePlugin(q);
    if (owner?.lane === undefined) continue;
    const list = out.get(owner.group);
    if (list === undefined) out.set(owner.group, [q]);
    else list.push(q);
  }
  return out;
}

function sum(xs: readonly number[]): number {
  let n = 0;
  for (const x of xs) n += x;
  return n;
}

/** `plugin_metrics`: per-version counters and latency percentiles from the router, and each plugin's backlog from the bus. */
export const pluginMetrics = defineTool({
  name: 'plugin_metrics',
  title: 'Plugin metrics',
  description: "Counters and latency per plugin version since start (errors by code, timeouts, retries, dead letters), and each plugin's backlog: events waiting in its queue and in flight.",
  input: z.strictObject({ tenantId: TenantArg, pluginId: PluginRefArgs.pluginId, name: PluginNameArg.optional() }),
  output: z.object({
    runtime: z.boolean(),
    plugins: z.array(
      z.object({
        pluginId: z.string(),
        name: z.string(),
        version: z.number().int().nullable(),
        invocations: z.number().int(),
        successes: z.number().int(),
        errors: z.record(z.string(), z.number()),
        timeouts: z.number().int(),
        budgetBreaches: z.number().int(),
        deadLettered: z.number().int(),
        retries: z.number().int(),
        latencyMs: z.object({ p50: z.number(), p95: z.number(), p99: z.number(), max: z.number(), samples: z.number().int() }),
      }),
    ),
    backlog: z.array(BacklogOut).describe("Per plugin: its queue's events waiting and in flight (a global plugin: your tenant's lane)"),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true },
  async run(ctx, args) {
    // Tenant tokens see their tenant-scoped plugins (a global plugin's counters aggregate every tenant);
    // an admin's tenantId shows what that tenant's token would see, null the global plugins.
    const scope = ctx.principal.kind === 'tenant' || args.tenantId !== undefined ? await resolveScope(ctx, args.tenantId) : undefined;
    const inScope = (p: PluginRecord): boolean => (scope === undefined ? true : scope.tenantId === null ? p.tenantId === null : p.tenantId === scope.tenantId);
    const all = await visiblePlugins(ctx);
    const visible = new Map(all.filter(inScope).map((p) => [p.id, p]));
    let chosen = all;
    if (args.pluginId !== undefined) {
      // Not visible: resolvePlugin answers the NOT_FOUND it answers everywhere.
      const plugin = all.find((p) => p.id === args.pluginId) ?? (await resolvePlugin(ctx, { pluginId: args.pluginId }));
      chosen = [plugin];
    }
    if (args.name !== undefined) chosen = chosen.filter((p) => p.attributes.name === args.name);
    // A tenant's view of a global plugin is its own lane; an admin's tenantId null, the global plugins' queues.
    const backlogOf = scope === undefined ? chosen : chosen.filter((p) => (scope.tenantId === null ? p.tenantId === null : p.tenantId === null || p.tenantId === scope.tenantId));
    const backlog = await pluginBacklogs(ctx.app.bus, backlogOf, scope?.tenantId);
    const router = ctx.app.runtime?.router;
    if (!router) return { runtime: false, plugins: [], backlog };
    const plugins = router.metrics
      .snapshot(args.pluginId)
      .filter((m) => visible.has(m.pluginId) && (args.name === undefined || m.name === args.name))
      .map((m) => ({ ...m, version: visible.get(m.pluginId)?.attributes.pluginVersion ?? null }));
    return { runtime: true, plugins, backlog };
  },
  summarize: (o) => {
    const waiting = sum(o.backlog.map((b) => b.waiting));
    const queued = `${waiting} event(s) waiting in ${o.backlog.length} plugin queue(s)`;
    return o.runtime ? `${o.plugins.length} plugin version(s) with metrics; ${queued}` : `runtime is off: no metrics; ${queued}`;
  },
});
