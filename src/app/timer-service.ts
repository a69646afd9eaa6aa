import { z } from 'zod';
import {
  Doorbell,
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
  /**
   * Commit attempts for a timer whose commit fails with a retryable error before it is dead-lettered;
   * attempts are spaced by doubling back-off from `intervalMs`. Non-retryable failures (too large,
   * invalid) dead-letter at once. @default 5
   */
  maxAttempts?: number;
  logger: Logger;
}

/** Due-time lag and outcome counters of a {@link TimerService} since it was created. */
export interface TimerMetrics {
  fired: number;
  conflicts: number;
  /** Timers retired as `dead` because they could not fire. */
  deadLettered: number;
  /** Rounds run, and how long the last one took (ms). */
  rounds: number;
  lastRoundMs: number;
  /** Lateness of fired timers (firing time − `fireAt`, ms) over the last 1,000 firings. */
  lagMs: { last: number; p50: number; p95: number; max: number };
}

/** Lifecycle of a timer service: `idle` → `running` → `stopping` → `stopped`. */
export type TimerServiceState = 'idle' | 'running' | 'stopping' | 'stopped';

/** What one round did. */
export interface TimerRound {
  /** Timers this service fired. */
  fired: number;
  /** Due timers another process fired (or cancelled) first: skipped on `VERSION_CONFLICT`. */
  conflicts: number;
  /** Due timers skipped because their commit failed transiently (retried after a back-off). */
  skipped: number;
  /** Due timers retired as `dead`: malformed, or their commit failed for good. */
  dead?: number;
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
    timerId: z.string().optional(),
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
const LAG_WINDOW = 1000;

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
  /** Rung by {@link kick} and {@link stop}; a kick during a round starts the next round at once. */
  readonly #bell = new Doorbell();
  #fired = 0;
  #conflicts = 0;
  #dead = 0;
  #roundsRun = 0;
  #lastRoundMs = 0;
  readonly #lags: number[] = [];
  /** Transient failures: entity key → attempts so far and when the next may run. */
  readonly #backoff = new Map<string, { attempts: number; notBefore: number }>();
  readonly #intervalMs: number;
  readonly #batchSize: number;
  readonly #maxAttempts: number;
  readonly #now: () => number;

  constructor(
    private readonly store: EntityStore,
    private readonly options: TimerServiceOptions,
  ) {
    this.#intervalMs = Math.max(1, options.intervalMs ?? 250);
    this.#batchSize = Math.min(1000, Math.max(1, Math.floor(options.batchSize ?? 100)));
    this.#now = options.now ?? Date.now;
    this.#maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 5));
  }

  /** Counters and due-time lag since creation. */
  metrics(): TimerMetrics {
    const sorted = [...this.#lags].sort((a, b) => a - b);
    const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    return {
      fired: this.#fired,
      conflicts: this.#conflicts,
      deadLettered: this.#dead,
      rounds: this.#roundsRun,
      lastRoundMs: this.#lastRoundMs,
      lagMs: { last: this.#lags.at(-1) ?? 0, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? 0 },
    };
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
    this.#bell.ring();
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
    this.#bell.ring();
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
      await this.#bell.wait(delay);
    }
  }

  async #round(): Promise<TimerRound> {
    const started = performance.now();
    const result: TimerRound = { fired: 0, conflicts: 0, skipped: 0, dead: 0, more: false };
    try {
      if (this.store.dueTimers !== undefined) await this.#indexed(this.store.dueTimers.bind(this.store), result);
      else await this.#scanned(result);
    } finally {
      this.#roundsRun++;
      this.#lastRoundMs = performance.now() - started;
    }
    return result;
  }

  /** One cross-tenant read of the store's due-time index. */
  async #indexed(due: NonNullable<EntityStore['dueTimers']>, result: TimerRound): Promise<void> {
    const page = await due(new Date(this.#now()).toISOString(), this.#batchSize);
    await this.#fireAll(page, result);
    // A full page means more may be due — unless nothing on it could be fired (all backing off).
    if (page.length >= this.#batchSize && result.fired + result.conflicts + (result.dead ?? 0) > 0) result.more = true;
  }

  /** Fallback for adapters without {@link EntityStore.dueTimers}: one query per scope. */
  async #scanned(result: TimerRound): Promise<void> {
    const scopes: Array<string | null> = [null, ...(await this.store.tenants.list()).map((t) => t.tenantId)];
    for (const tenantId of scopes) {
      if (this.#state === 'stopping') break;
      try {
        const ctx: TenantContext = { tenantId, actor: ACTOR };
        const page = await this.store.query(ctx, {
          entityTypeId: TIMER_ENTITY_TYPE,
          // A tenant also sees global entities: global timers are fired in the global scope only.
          filter: { tenantId, 'attributes.status': 'scheduled', 'attributes.fireAt': { $lte: new Date(this.#now()).toISOString() } },
          sort: { 'attributes.fireAt': 1 },
          limit: this.#batchSize,
        });
        const before = result.fired + result.conflicts + (result.dead ?? 0);
        await this.#fireAll(page.items, result);
        if (page.items.length >= this.#batchSize && result.fired + result.conflicts + (result.dead ?? 0) > before) result.more = true;
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'CLOSED') throw error;
        this.options.logger.warn('timer scope failed; retrying next round', { tenantId, code: error.code, error: error.message });
      }
    }
  }

  async #fireAll(timers: readonly EntityVersion[], result: TimerRound): Promise<void> {
    for (const timer of timers) {
      if (this.#state === 'stopping') break;
      const key = `${timer.tenantId ?? ''}/${timer.entityId}`;
      const backoff = this.#backoff.get(key);
      if (backoff !== undefined && backoff.notBefore > this.#now()) {
        result.skipped++;
        continue;
      }
      const outcome = await this.#fire({ tenantId: timer.tenantId, actor: ACTOR }, timer);
      if (outcome === 'fired') result.fired++;
      else if (outcome === 'conflict') result.conflicts++;
      else if (outcome === 'dead') result.dead = (result.dead ?? 0) + 1;
      else result.skipped++;
      if (outcome !== 'skipped') this.#backoff.delete(key);
    }
  }

  async #fire(ctx: TenantContext, timer: EntityVersion): Promise<'fired' | 'conflict' | 'skipped' | 'dead'> {
    const fields = { tenantId: ctx.tenantId, timerId: timer.entityId, version: timer.version };
    const parsed = DueTimerSchema.safeParse(timer.attributes);
    if (!parsed.success) {
      return this.#deadLetter(ctx, timer, new UeeError('CORRUPT_DATA', `malformed timer record: ${parsed.error.message}`));
    }
    const t = parsed.data;
    const now = this.#now();
    try {
      const subject = await this.#subject(ctx, t.payload);
      await this.store.commit(ctx, {
        writes: [
          {
            entityId: timer.entityId,
            entityTypeId: TIMER_ENTITY_TYPE,
            expectedVersion: timer.version,
            attributes: { ...timer.attributes, status: 'fired', firedAt: new Date(now).toISOString() },
            metadata: timer.metadata,
            eventType: 'TimerFired',
          },
        ],
        events: [{ type: t.type, ...subject, payload: { ...t.payload, timerId: t.timerId ?? timer.entityId } }],
        ...(t.causation === undefined ? {} : { causation: t.causation }),
        source: { kind: 'timer', id: timer.entityId },
      });
    } catch (err) {
      const error = toUeeError(err);
      if (error.code === 'VERSION_CONFLICT') {
        this.#conflicts++;
        return 'conflict';
      }
      if (error.code === 'CLOSED') throw error;
      const key = `${ctx.tenantId ?? ''}/${timer.entityId}`;
      const attempts = (this.#backoff.get(key)?.attempts ?? 0) + 1;
      // A deterministic failure (too large, invalid) fails the same way every time: retire it now.
      if (!error.retryable || attempts >= this.#maxAttempts) return this.#deadLetter(ctx, timer, error);
      this.#backoff.set(key, { attempts, notBefore: now + this.#intervalMs * 2 ** attempts });
      this.options.logger.warn('timer commit failed; retrying after a back-off', { ...fields, attempts, code: error.code, error: error.message });
      return 'skipped';
    }
    this.#fired++;
    const lag = Math.max(0, now - Date.parse(t.fireAt));
    this.#lags.push(Number.isNaN(lag) ? 0 : lag);
    if (this.#lags.length > LAG_WINDOW) this.#lags.shift();
    return 'fired';
  }

  /**
   * Retires a timer that cannot fire: its next version is `dead` with the reason, without its payload
   * (the payload may be what made it unfireable), and a `TimerDeadLettered` event. It never fires.
   */
  async #deadLetter(ctx: TenantContext, timer: EntityVersion, error: UeeError): Promise<'dead' | 'conflict' | 'skipped'> {
    const a = timer.attributes;
    const keep = (k: string): JsonObject => (typeof a[k] === 'string' ? { [k]: a[k] } : {});
    const attributes: JsonObject = {
      ...keep('type'),
      ...keep('fireAt'),
      ...keep('timerId'),
      ...keep('pluginId'),
      ...keep('pluginName'),
      payload: {},
      status: 'dead',
      deadLetter: { code: error.code, message: error.message.slice(0, 500), at: new Date(this.#now()).toISOString() },
    };
    try {
      await this.store.commit(ctx, {
        writes: [{ entityId: timer.entityId, entityTypeId: TIMER_ENTITY_TYPE, expectedVersion: timer.version, attributes, eventType: 'TimerDeadLettered' }],
        source: { kind: 'timer', id: timer.entityId },
      });
    } catch (err) {
      const e = toUeeError(err);
      if (e.code === 'VERSION_CONFLICT') return 'conflict';
      if (e.code === 'CLOSED') throw e;
      const key = `${ctx.tenantId ?? ''}/${timer.entityId}`;
      const attempts = (this.#backoff.get(key)?.attempts ?? 0) + 1;
      this.#backoff.set(key, { attempts, notBefore: this.#now() + this.#intervalMs * 2 ** Math.min(attempts, 10) });
      this.options.logger.warn('dead-lettering a timer failed; retrying after a back-off', { tenantId: ctx.tenantId, timerId: timer.entityId, code: e.code, error: e.message });
      return 'skipped';
    }
    this.#dead++;
    this.options.logger.warn('timer dead-lettered', { tenantId: ctx.tenantId, timerId: timer.entityId, code: error.code, error: error.message });
    return 'dead';
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
