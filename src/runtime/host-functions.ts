import { z } from 'zod';
import { UeeError, toUeeError } from '../core/errors.js';
import {
  EntityIdSchema,
  EntityTypeIdSchema,
  EntityWriteSchema,
  EventTypeSchema,
  JsonObjectSchema,
  ReadModelOpSchema,
  SortSchema,
  isReservedEntityType,
  isReservedEventType,
  isReservedView,
  jsonBytes,
  newId,
  parseOrThrow,
  reservedName,
  type EntityVersion,
  type JsonObject,
  type TenantContext,
} from '../core/index.js';
import { HOST_FUNCTIONS, type HostFunctionName } from '../core/capabilities.js';
import { DEFAULT_TIMER_HORIZON_MS, TIMER_ENTITY_TYPE, emptyEffects, timerEntityId, type EffectSet, type TimerRecord } from './effects.js';
import { errorAnswer, okAnswer } from './protocol.js';
import type { HostCallAnswer } from './pool.js';
import type { TokenBuckets } from './rate-limit.js';
import { overlayReadModel } from './read-overlay.js';
import type { HostServices } from './services.js';
import type { ModelCallNote } from './types.js';
import type { ResourceBudget, TenantScope } from './types.js';

/** What the host functions need to know about the plugin being run. */
export interface PluginPolicy {
  id: string;
  name: string;
  version: string | number;
  budget: ResourceBudget;
  /** `null` when unrestricted. */
  restrictedEntityTypes: ReadonlySet<string> | null;
  tenantScope: TenantScope;
  ownerId: string | null;
  /** `null` when every model is allowed. */
  models: ReadonlySet<string> | null;
}

/** Shared collaborators of every call. */
export interface HostFunctionDeps {
  services: HostServices;
  pluginLimits: TokenBuckets;
  tenantLimits: TokenBuckets;
  /** How far ahead `schedule_timer` may schedule. @default DEFAULT_TIMER_HORIZON_MS */
  timerHorizonMs?: number;
}

const ReadEntity = z.object({ entityId: EntityIdSchema, version: z.number().int().positive().optional() }).strict();
const QueryReadModel = z
  .object({ view: z.string().min(1).max(128), filter: JsonObjectSchema.optional(), sort: SortSchema.optional(), limit: z.number().int().min(1).max(1000).optional() })
  .strict();
// The store's own write request, minus what a plugin may not set (owner, tombstones).
const WriteEntity = EntityWriteSchema.omit({ ownerId: true, deleted: true }).strict();
const EmitEvent = z
  .object({ type: EventTypeSchema, entityId: EntityIdSchema.optional(), entityTypeId: EntityTypeIdSchema.optional(), payload: JsonObjectSchema.optional() })
  .strict();
const CallModel = z.object({ model: z.string().min(1).max(256), input: z.unknown() }).strict();
const ScheduleTimer = z
  .object({
    fireAt: z.string().datetime({ offset: true }).optional(),
    delayMs: z.number().int().min(0).optional(),
    type: EventTypeSchema,
    payload: JsonObjectSchema.optional(),
    timerId: EntityIdSchema.optional(),
  })
  .strict()
  .refine((t) => (t.fireAt === undefined) !== (t.delayMs === undefined), { message: 'give exactly one of fireAt and delayMs' });
const CancelTimer = z.object({ timerId: EntityIdSchema }).strict();
const RecordMetric = z
  .object({ name: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'a metric name is a letter then up to 63 letters, digits, "_", "-", "."'), value: z.number().finite() })
  .strict();
/** Distinct custom metrics one call may record. */
export const MAX_CALL_METRICS = 16;
/** Metric names the platform reports itself: a plugin cannot record a number under them. */
export const BUILTIN_METRICS: ReadonlySet<string> = new Set(['successRate', 'latencyMs', 'modelCost', 'hostCalls', 'modelCalls', 'emits', 'outputBytes', 'exposures', 'fallbacks']);
const SpawnWorkflow = z.object({ workflow: z.string().min(1).max(128), input: JsonObjectSchema.optional() }).strict();

/** Thrown by a handler to end the whole call (budget breach): answered with the fatal flag. */
class Fatal extends Error {}

/** Model calls noted per invocation (the budget's `modelCalls` bounds them anyway). */
export const MAX_MODEL_NOTES = 20;

/**
 * The main-thread side of one call: implements every host function against {@link HostServices},
 * enforcing capability-independent policy (tenant scope, `restrictedEntityTypes`, rate limits,
 * per-event budgets) and buffering effects with read-your-writes. Capabilities are enforced earlier:
 * an ungranted function is not even linked.
 */
export class CallHost {
  readonly effects: EffectSet = emptyEffects();
  /** The fatal error that ended the call, when a budget was breached here. */
  failure: UeeError | null = null;
  modelCalls = 0;
  /** One note per `call_model` answered (for invocation records), at most {@link MAX_MODEL_NOTES}. */
  readonly models: ModelCallNote[] = [];
  /** Gateway cost of this call's model calls. */
  modelCost = 0;
  /** Custom metrics (`record_metric`), summed per name. */
  readonly metrics: Record<string, number> = {};
  metricCount = 0;
  emits = 0;
  effectBytes = 0;
  /** Buffered entity versions by id, oldest first: what the plugin's own reads see first. */
  readonly #overlay = new Map<string, EntityVersion[]>();
  /**
   * The store's latest version of each entity this call read (or null), read once per call: a
   * `write_entity` after the plugin's own `read_entity` of that id (read, then write) checks scope
   * and numbers the version against that read instead of a second store read. The commit numbers
   * versions against the store as it is then, as it always did.
   */
  #stored: Map<string, Promise<EntityVersion | null>> | undefined;

  constructor(
    readonly plugin: PluginPolicy,
    readonly ctx: TenantContext,
    readonly event: { eventId: string; now: string },
    readonly deps: HostFunctionDeps,
  ) {}

  /** Answers one bridged host call. Never throws. */
  hostCall(fnId: number, requestText: string): Promise<HostCallAnswer> | HostCallAnswer {
    if (this.failure !== null) return { body: errorAnswer(this.failure.code, this.failure.message), fatal: true };
    const name = HOST_FUNCTIONS[fnId];
    if (name === undefined || name === 'log') return { body: errorAnswer('VALIDATION_FAILED', `unknown host function #${fnId}`), fatal: false };
    // Over a rate: the worker sleeps until the bucket has refilled and asks again (the call's deadline
    // still bounds it), so a plugin within its per-event budget is slowed to the rate, never failed.
    const pluginWait = this.deps.pluginLimits.take(this.plugin.id);
    if (pluginWait > 0) return { body: '', fatal: false, waitMs: pluginWait };
    const tenantWait = this.deps.tenantLimits.take(this.ctx.tenantId ?? '');
    if (tenantWait > 0) {
      this.deps.pluginLimits.refund(this.plugin.id);
      return { body: '', fatal: false, waitMs: tenantWait };
    }
    let request: unknown;
    try {
      request = JSON.parse(requestText);
    } catch {
      return { body: errorAnswer('VALIDATION_FAILED', `${name}: the request is not JSON`), fatal: false };
    }
    try {
      const value = this.#dispatch(name, request);
      if (value instanceof Promise) return value.then((v) => this.#ok(v), (err: unknown) => this.#error(name, err));
      return this.#ok(value);
    } catch (err) {
      return this.#error(name, err);
    }
  }

  #ok(value: unknown): HostCallAnswer {
    return { body: okAnswer(value), fatal: false };
  }

  #error(name: string, err: unknown): HostCallAnswer {
    if (err instanceof Fatal && this.failure !== null) return { body: errorAnswer(this.failure.code, this.failure.message), fatal: true };
    const e = toUeeError(err);
    return { body: errorAnswer(e.code, `${name}: ${e.message}`), fatal: false };
  }

  #fail(limit: keyof ResourceBudget, message: string): never {
    this.failure = new UeeError('BUDGET_EXCEEDED', message, {
      details: { limit, budget: this.plugin.budget[limit] },
      hint: `raise maximumResourceBudget.${limit} or make the plugin do less per event`,
    });
    throw new Fatal(message);
  }

  #dispatch(name: Exclude<HostFunctionName, 'log'>, request: unknown): unknown {
    switch (name) {
      case 'read_entity': {
        const r = parseOrThrow(ReadEntity, request, 'read_entity request');
        return this.readEntity(r.entityId, r.version);
      }
      case 'query_read_model': {
        const r = parseOrThrow(QueryReadModel, request, 'query_read_model request');
        return this.#queryReadModel(r);
      }
      case 'write_entity':
        return this.#writeEntity(parseOrThrow(WriteEntity, request, 'write_entity request'));
      case 'emit_event': {
        const r = parseOrThrow(EmitEvent, request, 'emit_event request');
        // Platform events (lifecycle, WorkflowSpawned, timers) come only from their services and
        // host functions: emitEvents does not grant them.
        if (isReservedEventType(r.type)) throw reservedName('event type', r.type);
        if (r.entityTypeId !== undefined && isReservedEntityType(r.entityTypeId)) throw reservedName('entity type', r.entityTypeId);
        // An event names an entity only within the plugin's scope: a user-scoped (or type-restricted)
        // plugin cannot announce something about an entity it may not see (another owner's document),
        // which plugins reacting to the event would take as a fact about that entity.
        if (r.entityId !== undefined && (this.plugin.tenantScope === 'user' || this.plugin.restrictedEntityTypes !== null)) {
          const entityId = r.entityId;
          return this.#current(entityId).then((named) => {
            if (named !== null && !this.visible(named)) {
              throw new UeeError('CAPABILITY_DENIED', `entity ${entityId} is outside this plugin's scope; an event cannot name it`, {
                details: { entityId },
                hint: this.plugin.tenantScope === 'user' ? "name only the owner's entities (manifest ownerId), or none" : 'name an entity of a type in restrictedEntityTypes, or none',
              });
            }
            return this.#emit(r);
          });
        }
        return this.#emit(r);
      }
      case 'update_read_model': {
        const op = parseOrThrow(ReadModelOpSchema, request, 'update_read_model request');
        if (isReservedView(op.view)) throw reservedName('read-model view', op.view);
        const add = (): object => {
          this.#addBytes(op);
          this.effects.readModelOps.push(op);
          return {};
        };
        const projection = this.deps.services.isProjection?.(this.ctx, op.view);
        if (projection === undefined) return add();
        return projection.then((is) => {
          if (is) throw reservedName('read-model view', op.view, 'a projection is written only by the platform, from the events it folds (projection_get lists them): emit one of those, or write a view of another name');
          return add();
        });
      }
      case 'get_tenant_config':
        return this.deps.services.getTenantConfig(this.ctx, this.plugin.name);
      case 'call_model': {
        const r = parseOrThrow(CallModel, request, 'call_model request');
        if (this.plugin.models !== null && !this.plugin.models.has(r.model)) {
          throw new UeeError('CAPABILITY_DENIED', `model "${r.model}" is not among the plugin's declared models`, { details: { model: r.model } });
        }
        if (++this.modelCalls > this.plugin.budget.modelCalls) this.#fail('modelCalls', `more than ${this.plugin.budget.modelCalls} model calls in one event`);
        const p = this.plugin;
        const started = performance.now();
        const note = (ok: boolean, code?: string): void => {
          if (this.models.length < MAX_MODEL_NOTES) this.models.push({ model: r.model, ok, durationMs: performance.now() - started, ...(code === undefined ? {} : { code }) });
        };
        return this.deps.services
          .callModel(this.ctx, {
            model: r.model,
            input: r.input,
            plugin: { id: p.id, name: p.name, version: String(p.version) },
            eventId: this.event.eventId,
            ...(p.models === null ? {} : { allowedModels: [...p.models] }),
            onCost: (cost: number) => void (this.modelCost += cost),
          })
          .then(
            (value) => (note(true), value),
            (err: unknown) => {
              note(false, toUeeError(err).code);
              throw err;
            },
          );
      }
      case 'schedule_timer': {
        const t = parseOrThrow(ScheduleTimer, request, 'schedule_timer request');
        if (isReservedEventType(t.type)) throw reservedName('event type', t.type);
        return this.#scheduleTimer(t);
      }
      case 'cancel_timer':
        return this.#cancelTimer(parseOrThrow(CancelTimer, request, 'cancel_timer request').timerId);
      case 'record_metric':
        return this.#recordMetric(parseOrThrow(RecordMetric, request, 'record_metric request'));
      case 'spawn_workflow': {
        const r = parseOrThrow(SpawnWorkflow, request, 'spawn_workflow request');
        this.#countEmit();
        const eventId = newId();
        const ev = { eventId, type: 'WorkflowSpawned', payload: { workflow: r.workflow, input: r.input ?? {} }, origin: 'spawn_workflow' as const };
        this.#addBytes(ev);
        this.effects.events.push(ev);
        return { eventId };
      }
    }
  }

  #emit(r: z.output<typeof EmitEvent>): { eventId: string } {
    this.#countEmit();
    const eventId = newId();
    const ev = { eventId, type: r.type, ...(r.entityId ? { entityId: r.entityId } : {}), ...(r.entityTypeId ? { entityTypeId: r.entityTypeId } : {}), payload: r.payload ?? {} };
    this.#addBytes(ev);
    this.effects.events.push(ev);
    return { eventId };
  }

  /**
   * `record_metric`: a number reported to the experiments this invocation belongs to, summed per name
   * within the call and kept only when the call succeeds. Platform names (`uee.*` and the built-in
   * metrics) are refused with RESERVED_NAME, so a plugin cannot pose as the platform's figures.
   */
  #recordMetric(r: { name: string; value: number }): Record<string, never> {
    if (r.name.toLowerCase().startsWith('uee.') || BUILTIN_METRICS.has(r.name)) {
      throw new UeeError('RESERVED_NAME', `metric ${r.name} is reserved for the platform`, {
        details: { metric: r.name },
        hint: `name the metric outside "uee." and the built-in metrics (${[...BUILTIN_METRICS].join(', ')})`,
      });
    }
    if (this.metrics[r.name] === undefined) {
      if (this.metricCount >= MAX_CALL_METRICS) throw new UeeError('LIMIT_EXCEEDED', `more than ${MAX_CALL_METRICS} distinct metrics in one event`, { hint: 'record fewer metric names per event' });
      this.metricCount++;
      this.metrics[r.name] = 0;
    }
    this.metrics[r.name]! += r.value;
    return {};
  }

  #countEmit(): void {
    if (++this.emits > this.plugin.budget.emits) this.#fail('emits', `more than ${this.plugin.budget.emits} emitted events in one event`);
  }

  #addBytes(effect: unknown): void {
    this.effectBytes += jsonBytes(effect);
    if (this.effectBytes > this.plugin.budget.outputBytes) {
      this.#fail('outputBytes', `buffered effects exceed ${this.plugin.budget.outputBytes} bytes`);
    }
  }

  /** Whether the plugin may see this entity version (type restriction, user scope, tenant). */
  visible(v: EntityVersion): boolean {
    if (v.deleted) return false;
    if (v.tenantId !== null && v.tenantId !== this.ctx.tenantId) return false;
    if (this.plugin.restrictedEntityTypes !== null && !this.plugin.restrictedEntityTypes.has(v.entityTypeId)) return false;
    if (this.plugin.tenantScope === 'user' && v.ownerId !== null && v.ownerId !== this.plugin.ownerId) return false;
    return true;
  }

  /**
   * Whether the plugin may write over this existing entity: its type is allowed and, for a
   * user-scoped plugin, it belongs to the plugin's owner (ownerless tenant entities are read-only to
   * user-scoped plugins).
   */
  writable(v: EntityVersion): boolean {
    if (v.tenantId !== this.ctx.tenantId) return false;
    if (this.plugin.restrictedEntityTypes !== null && !this.plugin.restrictedEntityTypes.has(v.entityTypeId)) return false;
    if (this.plugin.tenantScope === 'user' && v.ownerId !== this.plugin.ownerId) return false;
    return true;
  }

  /** `read_entity`: the plugin's own buffered write first, then the store; `null` when not visible. */
  async readEntity(entityId: string, version?: number): Promise<EntityVersion | null> {
    const buffered = this.#overlay.get(entityId);
    if (buffered !== undefined) {
      const hit = version === undefined ? buffered[buffered.length - 1] : buffered.find((v) => v.version === version);
      if (hit !== undefined) return this.visible(hit) ? hit : null;
    }
    const v = await (version === undefined ? this.#storedLatest(entityId) : this.deps.services.readEntity(this.ctx, entityId, version));
    return v !== null && this.visible(v) ? v : null;
  }

  /** The store's latest version of `entityId`, read once per call (see {@link #stored}). */
  #storedLatest(entityId: string): Promise<EntityVersion | null> {
    this.#stored ??= new Map();
    let read = this.#stored.get(entityId);
    if (read === undefined) {
      read = this.deps.services.readEntity(this.ctx, entityId);
      this.#stored.set(entityId, read);
    }
    return read;
  }

  async #queryReadModel(r: z.output<typeof QueryReadModel>): Promise<{ items: Array<{ id: string; doc: JsonObject }> }> {
    const items = await this.deps.services.queryReadModel(this.ctx, r.view, {
      ...(r.filter === undefined ? {} : { filter: r.filter }),
      ...(r.sort === undefined ? {} : { sort: r.sort }),
      ...(r.limit === undefined ? {} : { limit: r.limit }),
    });
    return { items: overlayReadModel(items, this.effects.readModelOps, r) };
  }

  #checkType(entityTypeId: string): void {
    if (isReservedEntityType(entityTypeId)) throw reservedName('entity type', entityTypeId);
    const allowed = this.plugin.restrictedEntityTypes;
    if (allowed !== null && !allowed.has(entityTypeId)) {
      throw new UeeError('CAPABILITY_DENIED', `the plugin may not write entities of type ${entityTypeId}`, {
        details: { entityTypeId, restrictedEntityTypes: [...allowed] },
        hint: 'add the type to restrictedEntityTypes or write an allowed type',
      });
    }
  }

  async #writeEntity(w: z.output<typeof WriteEntity>): Promise<{ entityId: string; version: number }> {
    this.#checkType(w.entityTypeId);
    if (w.eventType !== undefined && isReservedEventType(w.eventType)) throw reservedName('event type', w.eventType);
    const current = w.entityId === undefined ? null : await this.#current(w.entityId);
    if (current !== null) {
      if (current.tenantId !== this.ctx.tenantId) {
        throw new UeeError('TENANT_FORBIDDEN', `entity ${current.entityId} is not the tenant's own`, { details: { entityId: current.entityId } });
      }
      // Scope applies to writes as to reads, and is checked before anything about the entity is told.
      if (!this.writable(current)) {
        throw new UeeError('CAPABILITY_DENIED', `entity ${current.entityId} is outside this plugin's scope`, {
          details: { entityId: current.entityId },
          hint: this.plugin.tenantScope === 'user' ? "a user-scoped plugin writes only its owner's entities (manifest ownerId)" : 'add the type to restrictedEntityTypes',
        });
      }
      if (current.entityTypeId !== w.entityTypeId) {
        throw new UeeError('VALIDATION_FAILED', `entity ${current.entityId} is a ${current.entityTypeId}, not a ${w.entityTypeId}`);
      }
    }
    const currentVersion = current?.version ?? 0;
    if (w.expectedVersion !== undefined && w.expectedVersion !== currentVersion) {
      throw new UeeError('VERSION_CONFLICT', `expected version ${w.expectedVersion}, the entity is at ${currentVersion}`, {
        details: { expectedVersion: w.expectedVersion, actual: currentVersion },
        retryable: true,
      });
    }
    const entityId = w.entityId ?? newId();
    // A user-scoped plugin's new entities belong to its owner, so its writes stay within its scope.
    const owner = this.plugin.tenantScope === 'user' ? this.plugin.ownerId : undefined;
    const write = { ...w, entityId, ...(current === null && owner !== undefined && owner !== null ? { ownerId: owner } : {}) };
    this.#addBytes(write);
    this.effects.writes.push(write);
    const version = currentVersion + 1;
    this.#buffer({
      entityId,
      entityTypeId: w.entityTypeId,
      tenantId: this.ctx.tenantId,
      ownerId: current?.ownerId ?? owner ?? null,
      version,
      attributes: w.attributes,
      metadata: w.metadata ?? {},
      createdAt: this.event.now,
      createdBy: this.ctx.actor,
      causationId: this.event.eventId,
      deleted: false,
    });
    return { entityId, version };
  }

  async #current(entityId: string): Promise<EntityVersion | null> {
    const buffered = this.#overlay.get(entityId);
    if (buffered !== undefined) return buffered[buffered.length - 1] ?? null;
    return this.#storedLatest(entityId);
  }

  #buffer(v: EntityVersion): void {
    const list = this.#overlay.get(v.entityId);
    if (list === undefined) this.#overlay.set(v.entityId, [v]);
    else list.push(v);
  }

  async #scheduleTimer(t: z.output<typeof ScheduleTimer>): Promise<{ timerId: string }> {
    const parsedBase = Date.parse(this.event.now);
    const base = Number.isNaN(parsedBase) ? Date.now() : parsedBase;
    const at = t.fireAt !== undefined ? Date.parse(t.fireAt) : base + (t.delayMs ?? 0);
    const horizonMs = this.deps.timerHorizonMs ?? DEFAULT_TIMER_HORIZON_MS;
    if (at - base > horizonMs) {
      throw new UeeError('TIMER_HORIZON_EXCEEDED', `timer fires ${at - base} ms ahead; the horizon is ${horizonMs} ms`, {
        details: { delayMs: at - base, horizonMs },
        hint: 'schedule within the horizon, and re-schedule from the fired timer to wait longer',
      });
    }
    const fireAt = new Date(at).toISOString();
    const timerId = t.timerId ?? newId();
    const entityId = timerEntityId(this.ctx.tenantId, this.plugin.name, timerId);
    const timer: TimerRecord = { type: t.type, fireAt, payload: t.payload ?? {}, status: 'scheduled', timerId, pluginId: this.plugin.id, pluginName: this.plugin.name };
    this.#addBytes(timer);
    // Re-scheduling one of this plugin's own timers replaces it; the id can name nothing else.
    const current = await this.#current(entityId);
    this.effects.timers.push({ op: 'schedule', timerId: entityId, timer });
    this.#bufferTimer(entityId, timer, current?.version ?? 0);
    return { timerId };
  }

  async #cancelTimer(timerId: string): Promise<Record<string, never>> {
    const entityId = timerEntityId(this.ctx.tenantId, this.plugin.name, timerId);
    const current = await this.#current(entityId);
    const attrs = current?.attributes as Partial<TimerRecord> | undefined;
    // Derived ids already separate plugins and tenants; the owner check keeps that true for any record.
    if (current === null || current.entityTypeId !== TIMER_ENTITY_TYPE || attrs?.pluginName !== this.plugin.name || current.tenantId !== this.ctx.tenantId) {
      throw new UeeError('NOT_FOUND', `timer ${timerId} not found`, { details: { timerId }, hint: 'cancel a timer this plugin scheduled, by the timerId schedule_timer answered' });
    }
    const timer = { ...(current.attributes as unknown as TimerRecord), status: 'cancelled' as const };
    this.#addBytes(timer);
    this.effects.timers.push({ op: 'cancel', timerId: entityId, timer });
    this.#bufferTimer(entityId, timer, current.version);
    return {};
  }

  #bufferTimer(timerId: string, timer: TimerRecord, baseVersion: number): void {
    this.#buffer({
      entityId: timerId,
      entityTypeId: TIMER_ENTITY_TYPE,
      tenantId: this.ctx.tenantId,
      ownerId: null,
      version: baseVersion + 1,
      attributes: { ...timer },
      metadata: {},
      createdAt: this.event.now,
      createdBy: this.ctx.actor,
      causationId: this.event.eventId,
      deleted: false,
    });
  }
}
