import type { EventBus } from '../bus/port.js';

/** What {@link Lease.keep} found: whether this process holds the lease, and whether it just took it. */
export interface LeaseState {
  held: boolean;
  /** Taken by this call (it was another's or nobody's): whatever the previous owner left pending comes first. */
  fresh: boolean;
}

/**
 * One bus lease as this process sees it (see {@link EventBus.lease}): renewed when a third of its
 * time has passed, retried by a non-owner at the same pace, answered locally in between — so holding
 * a lease costs one bus call per `ttlMs / 3`, not one per read. The local view expires a fifth of the
 * TTL early, so a process that stops renewing (stalled) stops reading before another can take over.
 */
export class Lease {
  #until = 0;
  #lastTry = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly bus: EventBus,
    readonly name: string,
    private readonly owner: string,
    readonly ttlMs: number,
  ) {}

  /** Whether this process may act as the owner now (local check, no bus call). */
  get held(): boolean {
    return Date.now() < this.#until;
  }

  /** How long a non-owner waits between attempts to take the lease. */
  get retryMs(): number {
    return Math.max(10, Math.floor(this.ttlMs / 3));
  }

  /** Renews the lease when due, or tries to take it when due; else answers from the local view. */
  async keep(): Promise<LeaseState> {
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
    await this.bus.releaseLease(this.name, this.owner);
  }
}
