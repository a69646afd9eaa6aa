import { z } from 'zod';
import type { EntityVersion, EventEnvelope, JsonObject, TenantContext } from '../../core/index.js';
import { UeeError, eventSeed, isUeeError, toUeeError } from '../../core/index.js';
import type { UeeApp } from '../../app/index.js';
import { budgetHint, type PluginManifest } from '../../registry/index.js';
import { mayTouch } from '../../router/index.js';
import { ExecutionHost, commitEffects, createLocalModelGateway, createStoreHostServices, isEmptyEffects, type EffectSet, type ModelGateway } from '../../runtime/index.js';
import { openSqliteStore } from '../../store/index.js';
import type { EntityStore } from '../../store/port.js';
import { BUILTIN_PROVIDER, forRuntime } from '../../model-gateway/index.js';
import type { ToolContext } from '../define-tool.js';
import { EntityIdArg, EntityTypeArg, EventTypeArg, JsonObjectArg, ViewArg, text } from '../schemas.js';
import { cancellable, checkCancelled } from './shared.js';
import { SANDBOX_WORKER_LIMITS, assertMaySpend, sandboxGate } from './sandbox-gate.js';

/** A fixture entity seeded into the sandbox before the events run. */
export const FixtureArg = z.strictObject({
  entityId: EntityIdArg.optional().describe('Default minted'),
  entityTypeId: EntityTypeArg,
  attributes: JsonObjectArg,
  metadata: JsonObjectArg.optional(),
  ownerId: text(256).nullable().optional(),
});

/** An event to run the plugin on (an envelope is built around it in the sandbox). */
export const TestEventArg = z.strictObject({
  type: EventTypeArg,
  entityId: EntityIdArg.optional().describe('Its entity (seed it in fixtures)'),
  entityTypeId: EntityTypeArg.optional(),
  payload: JsonObjectArg.optional(),
});

/** A read-model document seeded into the sandbox. */
export const ReadModelFixtureArg = z.strictObject({ view: ViewArg, id: text(256).min(1), doc: JsonObjectArg });

/** Which models `call_model` reaches in a sandbox. */
export const ModelsModeArg = z
  .enum(['offline', 'stub', 'gateway'])
  .default('offline')
  .describe('offline: built-in real, others stubbed');

/** How `call_model` is answered in a sandbox (see {@link ModelsModeArg}). */
export type ModelsMode = z.infer<typeof ModelsModeArg>;

/** The sandbox-related inputs shared by plugin_test and dead_letter_replay. */
export const SandboxArgs = {
  fixtures: z.array(FixtureArg).max(200).optional().describe('Entities to seed'),
  readModels: z.array(ReadModelFixtureArg).max(200).optional().describe('Views to seed'),
  tenantConfig: JsonObjectArg.optional(),
  pluginSettings: JsonObjectArg.optional(),
  models: ModelsModeArg,
};

const UsageOut = z.object({ durationMs: z.number(), hostCalls: z.number(), modelCalls: z.number(), emits: z.number(), outputBytes: z.number() });
const Json = z.record(z.string(), z.unknown());

/** The outcome of one event in a sandbox. */
export const RunOut = z.object({
  eventId: z.string(),
  type: z.string(),
  ok: z.boolean(),
  output: z.unknown().optional(),
  effects: z.object({ writes: z.array(Json), emits: z.array(Json), readModelUpdates: z.array(Json), timers: z.array(Json) }),
  logs: z.array(z.object({ level: z.string(), message: z.string(), fields: Json.optional() })),
  usage: UsageOut,
  error: z.object({ code: z.string(), message: z.string(), hint: z.string(), details: Json.optional() }).optional(),
  stubbedModels: z.array(z.string()).optional().describe('Models answered by the deterministic stub, not the real model: their outputs are not real'),
}).meta({ id: 'SandboxRun' });
/** A {@link RunOut} value. */
export type RunResult = z.infer<typeof RunOut>;

/** What a sandbox run needs to know about the plugin. */
export interface SandboxPlugin {
  /** The deployed version's id (its random seed derives from it, as in the runtime); artifacts have none. */
  id?: string;
  name: string;
  version: string | number;
  manifest: Pick<PluginManifest, 'kind' | 'capabilities' | 'maximumResourceBudget' | 'settings' | 'subscribeTo'> &
    Partial<Pick<PluginManifest, 'restrictedEntityTypes' | 'models' | 'tenantScope' | 'ownerId'>>;
  tenantId: string | null;
  wasm: Uint8Array;
}

/** One prepared event: the envelope (built in the sandbox, or a real one being replayed) and its entity. */
export interface SandboxEvent {
  draft?: z.infer<typeof TestEventArg>;
  envelope?: EventEnvelope;
  entity?: EntityVersion;
}

/** Options of {@link runSandbox}. */
export interface SandboxOptions {
  tenantId: string | null;
  fixtures?: Array<z.infer<typeof FixtureArg>>;
  /** Real entities to copy in (replays): written with their ids. */
  copies?: EntityVersion[];
  readModels?: Array<z.infer<typeof ReadModelFixtureArg>>;
  tenantConfig?: JsonObject;
  pluginSettings?: JsonObject;
  models: ModelsMode;
  /** Commit each successful event's effects to the sandbox store so later events see them. @default true */
  chain?: boolean;
}

/**
 * Runs a plugin on events in an isolated sandbox: a fresh in-memory SQLite store seeded with the
 * fixtures and an execution host of its own (one worker) whose host functions read only that store.
 * Effects are returned, applied (when `chain`) only to the sandbox store, and the sandbox is discarded
 * at the end: nothing reaches the real store or bus. Model calls go to a deterministic stub unless
 * `models: "gateway"`.
 */
export async function runSandbox(ctx: ToolContext, plugin: SandboxPlugin, events: SandboxEvent[], options: SandboxOptions): Promise<{ runs: RunResult[]; sandbox: { store: string; entitiesSeeded: number } }> {
  const app = ctx.app;
  assertMaySpend(ctx.principal, options.models);
  // Counted before anything starts: a principal's sandboxes (threads and memory) are capped.
  const hold = sandboxGate(app).acquire(ctx.principal, plugin.manifest.maximumResourceBudget.memoryPages);
  const total = events.length + 2;
  let store: EntityStore | undefined;
  let host: ExecutionHost | undefined;
  try {
    await ctx.progress(0, total, 'preparing the sandbox');
    store = await openSqliteStore({ path: ':memory:', limits: { maxAttributeBytes: app.config.limits.maxAttributeBytes } });
    const scope: TenantContext = { tenantId: options.tenantId, actor: `sandbox:${ctx.principal.id}` };
    if (options.tenantId !== null) await store.tenants.create(options.tenantId);
    const seeded = await seed(store, scope, plugin.name, options);
    checkCancelled(ctx.signal);
    const stubbed = new Set<string>();
    host = await cancellable(
      ctx.signal,
      ExecutionHost.create({ services: services(app, store, options.models, stubbed), workers: 1, budgetCeiling: app.config.runtime.budgetCeiling, logger: ctx.logger, resourceLimits: { ...SANDBOX_WORKER_LIMITS } }),
    );
    const id = plugin.id ?? `sandbox-${Date.now().toString(36)}`;
    const m = plugin.manifest;
    await host.load({
      id,
      name: plugin.name,
      version: plugin.version,
      kind: m.kind,
      capabilities: m.capabilities,
      budget: m.maximumResourceBudget,
      restrictedEntityTypes: m.restrictedEntityTypes ?? null,
      tenantScope: m.tenantScope ?? 'global',
      tenantId: plugin.tenantId,
      ownerId: m.ownerId ?? null,
      models: m.models ?? null,
      wasm: plugin.wasm,
    });
    await ctx.progress(1, total, 'sandbox ready');
    const runs: RunResult[] = [];
    for (const [i, item] of events.entries()) {
      checkCancelled(ctx.signal);
      const event = item.envelope ?? (await envelope(store, scope, item.draft!));
      const entity = await entityOf(store, scope, plugin, event, item.entity);
      const settings = { ...m.settings, ...(options.pluginSettings ?? {}) };
      const running = host;
      stubbed.clear();
      // Exactly the runtime's input (router/input.ts): the entity only with readEntities, at the
      // event's version; the event's time as `now`; the seed from (eventId, version id).
      const context = { now: event.occurredAt, randomSeed: eventSeed(event.eventId, id) };
      const result = await cancellable(
        ctx.signal,
        running.invoke(id, { event, ...(entity ? { entity } : {}), settings, context }),
        () => void running.close().catch(() => undefined),
      );
      const run: RunResult = {
        eventId: event.eventId,
        type: event.type,
        ok: result.ok,
        ...(result.ok && result.output !== undefined ? { output: result.output } : {}),
        effects: result.ok ? effectsOut(result.effects) : { writes: [], emits: [], readModelUpdates: [], timers: [] },
        logs: result.logs.map((l) => ({ level: l.level, message: l.message, ...(l.fields ? { fields: l.fields } : {}) })),
        usage: result.usage,
        ...(result.ok ? {} : { error: errorOut(result.error, plugin) }),
        ...(stubbed.size > 0 ? { stubbedModels: [...stubbed].sort() } : {}),
      };
      if (result.ok && (options.chain ?? true) && !isEmptyEffects(result.effects)) {
        try {
          await commitEffects(store, { tenantId: event.tenantId, actor: `plugin:${plugin.name}@${plugin.version}` }, result.effects, {
            eventId: event.eventId,
            pluginId: id,
            causation: { eventId: event.eventId, correlationId: event.correlationId, hop: event.hop },
          });
        } catch (err) {
          const e = toUeeError(err);
          run.ok = false;
          run.error = { code: e.code, message: `the effects would not commit: ${e.message}`, hint: e.hint ?? 'fix the writes the handler makes (expectedVersion, entity types, sizes)' };
        }
      }
      runs.push(run);
      await ctx.progress(i + 2, total, `ran ${event.type} (${i + 1}/${events.length})`);
    }
    return { runs, sandbox: { store: 'sqlite :memory: (discarded)', entitiesSeeded: seeded } };
  } finally {
    await host?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    hold.release();
  }
}

/**
 * The sandbox's host services. Model calls: `gateway` → the real gateway; `offline` → the real
 * gateway for models served by the built-in offline provider (pure CPU, no secrets, nothing leaves
 * the machine), the stub for any other; `stub` → the stub. Every stubbed model is noted in `stubbed`.
 */
function services(app: UeeApp, store: EntityStore, mode: ModelsMode, stubbed: Set<string>) {
  const real = forRuntime(app.gateway);
  const stub = createLocalModelGateway();
  const offline = (model: string, tenantId: string | null): boolean => {
    try {
      return app.gateway.registry.resolve(model, tenantId).provider === BUILTIN_PROVIDER;
    } catch {
      return false;
    }
  };
  const models: ModelGateway = {
    call(ctx, request) {
      if (mode === 'gateway' || (mode === 'offline' && offline(request.model, ctx.tenantId))) return real.call(ctx, request);
      stubbed.add(request.model);
      return stub.call(ctx, request);
    },
  };
  return createStoreHostServices({ store, models });
}

async function seed(store: EntityStore, scope: TenantContext, pluginName: string, options: SandboxOptions): Promise<number> {
  const writes = [
    ...(options.copies ?? []).map((e) => ({
      entityId: e.entityId,
      entityTypeId: e.entityTypeId,
      attributes: e.attributes,
      metadata: e.metadata,
      ownerId: e.ownerId,
      ...(e.deleted ? { deleted: true } : {}),
    })),
    ...(options.fixtures ?? []).map((f) => ({ ...f })),
  ];
  if (writes.length > 0) {
    try {
      await store.commit(scope, { writes, source: { kind: 'system', id: 'sandbox:fixtures' } });
    } catch (err) {
      const e = toUeeError(err);
      throw new UeeError(e.code === 'INTERNAL' ? 'VALIDATION_FAILED' : e.code, `fixtures rejected: ${e.message}`, {
        details: e.details,
        hint: 'fix the fixtures (unique entityIds, JSON attributes within the size limit)',
      });
    }
  }
  for (const r of options.readModels ?? []) await store.readModels.upsert(scope, r.view, r.id, r.doc);
  if (scope.tenantId !== null) {
    if (options.tenantConfig) await store.config.setTenant(scope, options.tenantConfig);
    if (options.pluginSettings) await store.config.setPlugin(scope, pluginName, options.pluginSettings);
  }
  return writes.length;
}

async function envelope(store: EntityStore, scope: TenantContext, draft: z.infer<typeof TestEventArg>): Promise<EventEnvelope> {
  let entityTypeId = draft.entityTypeId;
  if (draft.entityId !== undefined) entityTypeId ??= (await latest(store, scope, draft.entityId))?.entityTypeId;
  const result = await store.commit(scope, {
    events: [
      {
        type: draft.type,
        payload: draft.payload ?? {},
        ...(draft.entityId === undefined ? {} : { entityId: draft.entityId }),
        ...(entityTypeId === undefined ? {} : { entityTypeId }),
      },
    ],
    // The sandbox plays the platform here: a test may run a plugin on any event type, EntityCreated included.
    source: { kind: 'system', id: scope.actor },
  });
  const event = result.events[0];
  if (!event) throw new UeeError('INTERNAL', 'the sandbox store returned no event');
  return event;
}

async function entityOf(store: EntityStore, scope: TenantContext, plugin: SandboxPlugin, event: EventEnvelope, given?: EntityVersion): Promise<EntityVersion | undefined> {
  if (event.entityId === undefined) return undefined;
  // As the router does: only a plugin that may read entities gets the event's entity, within its scope.
  const m = plugin.manifest;
  if (!m.capabilities.includes('readEntities')) return undefined;
  if (!mayTouch({ attributes: { restrictedEntityTypes: m.restrictedEntityTypes } } as Parameters<typeof mayTouch>[0], event.entityTypeId)) return undefined;
  const entity = given ?? (await atVersion(store, { ...scope, tenantId: event.tenantId }, event.entityId, event.entityVersion)) ?? undefined;
  if (entity !== undefined && m.tenantScope === 'user' && entity.ownerId !== m.ownerId) return undefined;
  return entity;
}

async function atVersion(store: EntityStore, scope: TenantContext, entityId: string, version: number | undefined): Promise<EntityVersion | null> {
  try {
    return await store.get(scope, entityId, version === undefined ? {} : { version });
  } catch (err) {
    if (isUeeError(err, 'NOT_FOUND')) return null;
    throw err;
  }
}

async function latest(store: EntityStore, scope: TenantContext, entityId: string): Promise<EntityVersion | null> {
  try {
    return await store.get(scope, entityId);
  } catch (err) {
    if (isUeeError(err, 'NOT_FOUND')) return null;
    throw err;
  }
}

function effectsOut(effects: EffectSet): RunResult['effects'] {
  const json = <T>(v: T): Record<string, unknown> => JSON.parse(JSON.stringify(v)) as Record<string, unknown>;
  return {
    writes: effects.writes.map(json),
    emits: effects.events.map(json),
    readModelUpdates: effects.readModelOps.map(json),
    timers: effects.timers.map(json),
  };
}

/** A failed run's error with a hint an agent can act on (the capability to add, the budget to raise). */
export function errorOut(error: UeeError, plugin: { name: string }): NonNullable<RunResult['error']> {
  const details = JSON.parse(JSON.stringify(error.details ?? {})) as Record<string, unknown>;
  let hint = error.hint;
  if (error.code === 'CAPABILITY_DENIED') {
    const missing = Array.isArray(details.missingCapabilities) ? (details.missingCapabilities as string[]) : [];
    hint =
      missing.length > 0
        ? `add ${missing.map((c) => `"${c}"`).join(', ')} to the manifest's capabilities of ${plugin.name}`
        : (hint ?? `the handler did something its manifest does not allow (${error.message}); grant it or change the handler`);
  } else if (error.code === 'BUDGET_EXCEEDED') {
    hint ??= budgetHint(details.limit, plugin.name);
  } else if (error.code === 'TIMEOUT') {
    hint ??= 'raise maximumResourceBudget.timeoutMs, or make the handler faster';
  }
  return { code: error.code, message: error.message, hint: hint ?? 'inspect logs and output, fix the handler, compile and test again', ...(Object.keys(details).length > 0 ? { details } : {}) };
}
