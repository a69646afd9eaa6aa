import { z } from 'zod';
import {
  EntityIdSchema,
  EventTypeSchema,
  JsonObjectSchema,
  UeeError,
  toUeeError,
  type EntityVersion,
  type JsonObject,
  type Logger,
  type TenantContext,
} from '../core/index.js';
import type { EntityStore } from '../store/port.js';
import { TIMER_ENTITY_TYPE } from '../runtime/index.js';

/**
 * Fires persisted timers. It lives in `src/app` beside the outbox relay, not in `src/runtime`: like
 * the relay it is a background loop over the store port composed by {@link UeeApp}, and it never runs
 * plugin code; the runtime only buffers `uee.timer` writes (see `timerWrites`).
 */

/** Tuning of a {@link TimerService}. */
export interface TimerServiceOptions {
  /** How often due timers are looked for (a {@link TimerService.kick} looks at once). @default 250 */
  intervalMs?: number;
  /** Due timers read per scope per round; a full page starts the next round at once. @default 100 */
  batchSize?: number;
  /** The clock deciding what is due. @default Date.now */
  now?: () => number;
  logger: Logger;
}

/** Lifecycle of a timer service: `idle` → `running` → `stopping` → `stopped`. */
export type TimerServiceState = 'idle' | 'running' | 'stopping' | 'stopped';

/** What one round did. */
export interface TimerRound {
  /** Timers this service fired. */
  fired: number;
  /** Due timers another process fired (or cancelled) first: skipped on `VERSION_CONFLICT`. */
  conflicts: number;
  /** Due timers skipped because their stored record is malformed or their commit failed. */
  skipped: number;
  /** True when some scope returned a full page: more may be due already. */
  more: boolean;
}

/** The stored attributes of a due timer, validated when read back (fields written by `schedule_timer`). */
const DueTimerSchema = z
  .object({
    type: EventTypeSchema,
    fireAt: z.string(),
    payload: JsonObjectSchema,
    status: z.literal('scheduled'),
    causation: z
      .object({
        eventId: z.string().min(1),
        correlationId: z.string().min(1),
        hop: z.number().int().nonnegative(),
        experiment: z.object({ id: z.string(), variant: z.string() }).optional(),
      })
      .optional(),
  })
  .passthrough();

const ACTOR = 'system:timers';

/**
 * Finds due `uee.timer` entities (status `scheduled`, `fireAt` ≤ now) in the global scope and in
 * every registered tenant, and fires each in one store commit: the timer's next version with status
 * `fired` (written with `expectedVersion` = the version read) plus the timer's event (its `type`,
 * its payload plus `timerId`, `entityId` from `payload.entityId` when that names a visible entity),
 * sourced `{ kind: 'timer', id: timerId }` and caused by the event that scheduled it.
 *
 * Guarantee: a timer fires at most once, even with several services (processes) on one store: the
 * loser of a race gets `VERSION_CONFLICT` and skips; a cancelled timer is no longer `scheduled` and
 * never fires. A timer is fired at least once as long as some service runs (a failed commit leaves
 * it `scheduled` for the next round).
 */
export class TimerService {
  #state: TimerServiceState = 'idle';
  #loop: Promise<void> | undefined;
  #rounds: Promise<unknown> = Promise.resolve();
  #wake: (() => void) | undefined;
  #kicked = false;
  #fired = 0;
  readonly #intervalMs: number;
  readonly #batchSize: number;
  readonly #now: () => number;

  constructor(
    private readonly store: EntityStore,
    private readonly options: TimerServiceOptions,
  ) {
    this.#intervalMs = Math.max(1, options.intervalMs ?? 250);
    this.#batchSize = Math.min(1000, Math.max(1, Math.floor(options.batchSize ?? 100)));
    this.#now = options.now ?? Date.now;
  }

  /** Current lifecycle state. */
  get state(): TimerServiceState {
    return this.#state;
  }

  /** Timers this service has fired since it was created. */
  get fired(): number {
    return this.#fired;
  }

  /** Starts the periodic loop. Idempotent; a stopped service stays stopped. */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    this.#loop = this.#run();
  }

  /** Looks for due timers now instead of at the end of the current interval. */
  kick(): void {
    this.#kicked = true;
    this.#wake?.();
  }

  /**
   * Runs one round over every scope and resolves with what it did. Rounds of one service never
   * overlap (a call waits for the one in flight). Rejects only when the tenant list cannot be read.
   */
  runOnce(): Promise<TimerRound> {
    const round = this.#rounds.then(() => this.#round());
    this.#rounds = round.catch(() => undefined);
    return round;
  }

  /** Stops the loop after its current round. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'idle' || this.#state === 'stopped') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    this.#wake?.();
    await this.#loop;
    await this.#rounds;
    this.#state = 'stopped';
  }

  async #run(): Promise<void> {
    while (this.#state === 'running') {
      let delay = this.#intervalMs;
      try {
        if ((await this.runOnce()).more) delay = 0;
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'CLOSED') break;
        this.options.logger.warn('timer round failed; retrying', { code: error.code, error: error.message });
      }
      if (this.#state !== 'running') break;
      if (this.#kicked) {
        this.#kicked = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      this.#kicked = false;
    }
  }

  async #round(): Promise<TimerRound> {
    const result: TimerRound = { fired: 0, conflicts: 0, skipped: 0, more: false };
    const scopes: Array<string | null> = [null, ...(await this.store.tenants.list()).map((t) => t.tenantId)];
    for (const tenantId of scopes) {
      if (this.#state === 'stopping') break;
      try {
        await this.#scope(tenantId, result);
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'CLOSED') throw error;
        this.options.logger.warn('timer scope failed; retrying next round', { tenantId, code: error.code, error: error.message });
      }
    }
    return result;
  }

  async #scope(tenantId: string | null, result: TimerRound): Promise<void> {
    const ctx: TenantContext = { tenantId, actor: ACTOR };
    const page = await this.store.query(ctx, {
      entityTypeId: TIMER_ENTITY_TYPE,
      // A tenant also sees global entities: global timers are fired in the global scope only.
      filter: { tenantId, 'attributes.status': 'scheduled', 'attributes.fireAt': { $lte: new Date(this.#now()).toISOString() } },
      sort: { 'attributes.fireAt': 1 },
      limit: this.#batchSize,
    });
    if (page.items.length >= this.#batchSize) result.more = true;
    for (const timer of page.items) {
      const outcome = await this.#fire(ctx, timer);
      if (outcome === 'fired') result.fired++;
      else if (outcome === 'conflict') result.conflicts++;
      else result.skipped++;
    }
  }

  async #fire(ctx: TenantContext, timer: EntityVersion): Promise<'fired' | 'conflict' | 'skipped'> {
    const fields = { tenantId: ctx.tenantId, timerId: timer.entityId, version: timer.version };
    const parsed = DueTimerSchema.safeParse(timer.attributes);
    if (!parsed.success) {
      this.options.logger.warn('malformed timer skipped', { ...fields, error: parsed.error.message });
      return 'skipped';
    }
    const t = parsed.data;
    try {
      const subject = await this.#subject(ctx, t.payload);
      await this.store.commit(ctx, {
        writes: [
          {
            entityId: timer.entityId,
            entityTypeId: TIMER_ENTITY_TYPE,
            expectedVersion: timer.version,
            attributes: { ...timer.attributes, status: 'fired', firedAt: new Date(this.#now()).toISOString() },
            metadata: timer.metadata,
            eventType: 'TimerFired',
          },
        ],
        events: [{ type: t.type, ...subject, payload: { ...t.payload, timerId: timer.entityId } }],
        ...(t.causation === undefined ? {} : { causation: t.causation }),
        source: { kind: 'timer', id: timer.entityId },
      });
    } catch (err) {
      if (err instanceof UeeError && err.code === 'VERSION_CONFLICT') return 'conflict';
      const error = toUeeError(err);
      if (error.code === 'CLOSED') throw error;
      this.options.logger.warn('timer commit failed; retrying next round', { ...fields, code: error.code, error: error.message });
      return 'skipped';
    }
    this.#fired++;
    return 'fired';
  }

  /** The event's entity: `payload.entityId` when it names an entity visible in the timer's scope. */
  async #subject(ctx: TenantContext, payload: JsonObject): Promise<{ entityId?: string; entityTypeId?: string }> {
    const id = EntityIdSchema.safeParse(payload.entityId);
    if (!id.success) return {};
    try {
      const entity = await this.store.get(ctx, id.data);
      return { entityId: entity.entityId, entityTypeId: entity.entityTypeId };
    } catch (err) {
      if (err instanceof UeeError && err.code === 'NOT_FOUND') return {};
      throw err;
    }
  }
}
