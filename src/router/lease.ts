import type { EventBus } from '../bus/port.js';
import type { ProcessLiveness } from './liveness.js';

/** What {@link Lease.keep} found: whether this process holds the lease, and whether it just took it. */
export interface LeaseState {
  held: boolean;
  /** Taken by this call (it was another's or nobody's): whatever the previous owner left pending comes first. */
  fresh: boolean;
}

/**
 * One bus lease as this process sees it (see {@link EventBus.lease}).
 *
 * With a {@link ProcessLiveness} (Redis) the lease is bound to the process heartbeat: once taken it
 * costs no bus call at all while the heartbeat is healthy, and is asked for again only after the
 * heartbeat lapsed locally or was found lapsed on the bus (a new generation); a non-owner tries
 * every half heartbeat TTL, so a crashed owner's lease moves within about 1.5 TTLs.
 *
 * Without (embedded), the lease has a TTL of its own: renewed when a third of it has passed, retried
 * by a non-owner at the same pace, answered locally in between — one bus call per `ttlMs / 3`. The
 * local view expires a fifth of the TTL early, so a process that stops renewing (stalled) stops
 * reading before another can take over.
 */
export class Lease {
  #until = 0;
  #lastTry = Number.NEGATIVE_INFINITY;
  /** Liveness generation under which the lease was last confirmed; -1 when not held. */
  #generation = -1;

  constructor(
    private readonly bus: EventBus,
    readonly name: string,
    private readonly owner: string,
    readonly ttlMs: number,
    private readonly liveness?: ProcessLiveness,
  ) {}

  /** Whether this process may act as the owner now (local check, no bus call). */
  get held(): boolean {
    const live = this.liveness;
    if (live !== undefined) return this.#generation === live.generation && live.alive;
    return Date.now() < this.#until;
  }

  /** How long a non-owner waits between attempts to take the lease. */
  get retryMs(): number {
    if (this.liveness !== undefined) return Math.max(10, Math.floor(this.liveness.ttlMs / 2));
    return Math.max(10, Math.floor(this.ttlMs / 3));
  }

  /** Renews the lease when due, or tries to take it when due; else answers from the local view. */
  async keep(): Promise<LeaseState> {
    const live = this.liveness;
    if (live !== undefined) {
      if (this.held) return { held: true, fresh: false };
      const now = Date.now();
      if (!live.alive || now - this.#lastTry < this.retryMs) return { held: false, fresh: false };
      this.#lastTry = now;
      // Held before under this generation: re-confirmed, not taken over (nobody could have taken it).
      const continued = this.#generation === live.generation;
      const generation = live.generation;
      const held = await this.bus.lease(this.name, this.owner, this.ttlMs, { liveness: true });
      this.#generation = held ? generation : -1;
      return { held, fresh: held && !continued };
    }
    const now = Date.now();
    const wasHeld = this.held;
    if (now - this.#lastTry < this.retryMs) return { held: wasHeld, fresh: false };
    this.#lastTry = now;
    const held = await this.bus.lease(this.name, this.owner, this.ttlMs);
    this.#until = held ? now + Math.floor(this.ttlMs * 0.8) : 0;
    return { held, fresh: held && !wasHeld };
  }

  /** Gives the lease up (a clean stop: another process takes over at once). */
  async release(): Promise<void> {
    this.#until = 0;
    this.#generation = -1;
    await this.bus.releaseLease(this.name, this.owner);
  }
}
