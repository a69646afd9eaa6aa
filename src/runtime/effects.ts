import { createHash } from 'node:crypto';
import { assertMayWriteReserved, type Causation, type EntityWrite, type EventDraft, type JsonObject, type ReadModelOp, type TenantContext } from '../core/index.js';
import type { CommitResult, EntityStore } from '../store/port.js';
import type { CommitFence } from '../store/fence.js';

/**
 * Effects a plugin buffers while handling one event. They leave the host only when `handle`
 * returned 0 (never after a trap, a non-zero return, a timeout or a budget breach), and are applied
 * atomically by {@link commitEffects}.
 */

/** Entity type of persisted timers; the timer service (`src/app/timer-service.ts`) fires the due ones. */
export const TIMER_ENTITY_TYPE = 'uee.timer';

/**
 * How far ahead a timer may be scheduled (`fireAt` - now): 366 days. Further is refused with
 * `TIMER_HORIZON_EXCEEDED`, so a typo in a delay cannot park a timer forever.
 */
export const DEFAULT_TIMER_HORIZON_MS = 366 * 24 * 3600 * 1000;

/**
 * The store id of a plugin's timer. A plugin names its timers freely (`timerId`); the stored entity
 * id is derived from tenant, plugin name and that name, so two plugins (or tenants) using the same
 * `timerId` get two different timers: no plugin can replace, move or cancel another plugin's timer,
 * and a timer can never land on an ordinary entity's id. Versions of one plugin share its timers.
 */
export function timerEntityId(tenantId: string | null, pluginName: string, timerId: string): string {
  const h = createHash('sha256').update(`${tenantId ?? ''}\u0000${pluginName}\u0000${timerId}`).digest('hex');
  return `tmr:${h.slice(0, 40)}`;
}

/** An event the plugin emitted (`emit_event`) or a `WorkflowSpawned` event (`spawn_workflow`). */
export interface EmittedEvent {
  /**
   * The id answered to the plugin. The store's `EventDraft` has no id field yet, so the committed
   * envelope carries the store's own id (a known gap until the port accepts a caller-minted id).
   */
  eventId: string;
  type: string;
  entityId?: string;
  entityTypeId?: string;
  payload: JsonObject;
  /** Set by `spawn_workflow` on the `WorkflowSpawned` it buffers: the only reserved event a plugin's commit may carry. */
  origin?: 'spawn_workflow';
}

/** The chain metadata of the event whose handling scheduled a timer (see {@link TimerRecord.causation}). */
export interface TimerCausation {
  eventId: string;
  correlationId: string;
  hop: number;
  experiment?: { id: string; variant: string };
}

/** A persisted timer (the attributes of its `uee.timer` entity). */
export interface TimerRecord {
  type: string;
  /** Normalised ISO-8601 UTC (`toISOString`), so string order is time order in every store. */
  fireAt: string;
  payload: JsonObject;
  /**
   * `scheduled` → `fired` (by the timer service), `cancelled` (by `cancel_timer`) or `dead` (the
   * timer service could not fire it: see `deadLetter`); only `scheduled` ever fires.
   */
  status: 'scheduled' | 'cancelled' | 'fired' | 'dead';
  /** The id the plugin gave (or was answered); the entity id is {@link timerEntityId} of it. */
  timerId?: string;
  pluginId: string;
  pluginName: string;
  /**
   * Recorded at commit by {@link timerWrites}: the fired event continues this chain (same
   * correlation, caused by this event, hop + 1). Absent on timers persisted before it existed,
   * whose events then start a new chain.
   */
  causation?: TimerCausation;
  /** When the timer service fired it (status `fired`). */
  firedAt?: string;
  /** Why a `dead` timer could not fire (error code and message), and when it was retired. */
  deadLetter?: { code: string; message: string; at: string };
}

/** A timer change: scheduling or cancelling one. */
export interface TimerOp {
  op: 'schedule' | 'cancel';
  /** The store entity id ({@link timerEntityId}). */
  timerId: string;
  timer: TimerRecord;
}

/** Everything a successful call wants to change, in the order the plugin asked. */
export interface EffectSet {
  writes: EntityWrite[];
  events: EmittedEvent[];
  readModelOps: ReadModelOp[];
  timers: TimerOp[];
}

/** An empty {@link EffectSet}. */
export function emptyEffects(): EffectSet {
  return { writes: [], events: [], readModelOps: [], timers: [] };
}

/** True when the set changes nothing. */
export function isEmptyEffects(effects: EffectSet): boolean {
  return effects.writes.length + effects.events.length + effects.readModelOps.length + effects.timers.length === 0;
}

/** Which call produced the effects; its ids make the commit idempotent and the chain traceable. */
export interface CommitMeta {
  eventId: string;
  /** The plugin version's id: together with `eventId` it is the idempotency key. */
  pluginId: string;
  /** The handled event's chain metadata, propagated into the emitted events (hop + 1). */
  causation: Causation;
  /** Overrides the default `${eventId}:${pluginId}` key (the router keys by logical plugin, so a redelivery handled by a newer version still applies once). */
  idempotencyKey?: string;
  /** The router queue lease's fence: the store refuses the commit (`FENCED`) once a later holder committed. */
  fence?: CommitFence;
}

/** The idempotency key of a (event, plugin version) commit. */
export function effectsIdempotencyKey(eventId: string, pluginId: string): string {
  return `${eventId}:${pluginId}`;
}

/**
 * Turns timer operations into the `uee.timer` entity writes that persist them. With `causation`
 * (the handled event), scheduled timers record it so the event they fire continues the chain.
 */
export function timerWrites(timers: readonly TimerOp[], causation?: Causation): EntityWrite[] {
  return timers.map((t) => ({
    entityId: t.timerId,
    entityTypeId: TIMER_ENTITY_TYPE,
    attributes: t.op === 'schedule' && causation !== undefined ? { ...t.timer, causation: timerCausation(causation) } : { ...t.timer },
    eventType: t.op === 'schedule' ? 'TimerScheduled' : 'TimerCancelled',
  }));
}

function timerCausation(c: Causation): TimerCausation {
  return {
    eventId: c.eventId,
    correlationId: c.correlationId,
    hop: c.hop,
    ...(c.experiment === undefined ? {} : { experiment: { id: c.experiment.id, variant: c.experiment.variant } }),
  };
}

/**
 * Applies an {@link EffectSet} in one store commit keyed by `${eventId}:${pluginId}`, so a
 * redelivered event never applies it twice (`applied: false` the second time). Timers become
 * `uee.timer` entity writes.
 */
export async function commitEffects(
  store: EntityStore,
  ctx: TenantContext,
  effects: EffectSet,
  meta: CommitMeta,
): Promise<CommitResult> {
  // What the plugin itself asked for may not touch the platform's namespace; the runtime-derived parts
  // (timer writes, spawn_workflow's event) are added below and checked by the store as plugin effects.
  assertMayWriteReserved({
    writes: effects.writes,
    events: effects.events.filter((e) => e.origin !== 'spawn_workflow'),
    readModelOps: effects.readModelOps,
    source: { kind: 'api', id: meta.pluginId },
  });
  const events: EventDraft[] = effects.events.map((e) => ({
    eventId: e.eventId,
    type: e.type,
    ...(e.entityId === undefined ? {} : { entityId: e.entityId }),
    ...(e.entityTypeId === undefined ? {} : { entityTypeId: e.entityTypeId }),
    payload: e.payload,
  }));
  return store.commit(ctx, {
    idempotencyKey: meta.idempotencyKey ?? effectsIdempotencyKey(meta.eventId, meta.pluginId),
    writes: [...effects.writes, ...timerWrites(effects.timers, meta.causation)],
    events,
    readModelOps: effects.readModelOps,
    causation: meta.causation,
    source: { kind: 'plugin', id: meta.pluginId },
    ...(meta.fence === undefined ? {} : { fence: meta.fence }),
  });
}
