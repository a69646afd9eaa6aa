import type { EventBus } from '../bus/port.js';
import type { CommitFence } from '../store/index.js';
import type { ProcessLiveness } from './liveness.js';

/**
 * The bus counter fencing tokens are drawn from: one for every lease, so no key is left behind per
 * queue, and strictly increasing per lease because it is strictly increasing overall.
 */
export const FENCE_COUNTER = 'uee.fence';

/** A lease's fence as a delivery carries it: the token to commit under, and how to report it stale. */
export interface HeldFence {
  readonly fence: CommitFence;
  /** The store refused this token (`FENCED`, a later holder committed `current`): the lease is treated as lost. */
  lost(current: number): void;
  /**
   * Whether the holding this fence was drawn for is still this process's, asked before each attempt
   * of a delivery: true at once (no bus call) while the lease's local view is valid and no later
   * holding replaced it; after a lapse of that view, a heartbeat-bound holding is waited out as in
   * {@link Lease.regained} (true once a beat confirms it under the same generation); false once the
   * holding is over — another process may have taken the queue and the entry, and runs it itself.
   */
  holding(stop: () => boolean): boolean | Promise<boolean>;
  /**
   * Whether the holding is certainly over, at once and with no bus call: a later holding replaced it,
   * the lease was lost or released, or its local view lapsed with no way back (a TTL lease, which
   * another process may take; a heartbeat found lapsed, a new generation). A heartbeat-bound holding
   * whose beat is only late is not over: work under it goes on in order once a beat confirms it.
   */
  ended(): boolean;
}

/** What one attempt found: whether this process holds the lease, and whether it just took it. */
interface LeaseState {
  held: boolean;
  /** Taken by this call (it was another's or nobody's): whatever the previous owner left pending comes first. */
  fresh: boolean;
}

/**
 * The TTL leases of one owner and TTL on one bus that can renew several at once
 * ({@link EventBus.renewLeases}: the embedded bus), renewed together: when one held lease is due,
 * every one held is renewed in the same bus call, so their renewals fall into step. A process with
 * 1,000 queues then renews its leases in one transaction per `ttlMs / 3` instead of 1,000 (each one
 * ~45 µs of the main thread: most of what 1,000 idle queues cost, bench/idle). A lease is renewed
 * with the others for as long as its local view holds (its own keep() need not come first); one
 * whose view lapsed (the process stalled) leaves the set and is taken again on its own, fresh.
 */
class HeldLeases {
  static readonly #byBus = new WeakMap<EventBus, Map<string, HeldLeases>>();

  /** The set `owner`'s leases of `ttlMs` join on `bus`; undefined when the bus renews one at a time. */
  static of(bus: EventBus, owner: string, ttlMs: number): HeldLeases | undefined {
    if (bus.renewLeases === undefined) return undefined;
    let sets = HeldLeases.#byBus.get(bus);
    if (sets === undefined) HeldLeases.#byBus.set(bus, (sets = new Map<string, HeldLeases>()));
    const key = `${owner}\u0000${ttlMs}`;
    let set = sets.get(key);
    if (set === undefined) sets.set(key, (set = new HeldLeases(bus, owner, ttlMs)));
    return set;
  }

  /** Leases held since their last take or renewal (a lease whose local view lapsed leaves at the next round). */
  readonly #leases = new Set<Lease>();
  #round: Promise<ReadonlySet<Lease>> | undefined;

  private constructor(
    private readonly bus: EventBus,
    private readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  add(lease: Lease): void {
    this.#leases.add(lease);
  }

  delete(lease: Lease): void {
    this.#leases.delete(lease);
  }

  /** Renews every lease held now (one round at a time; a caller during a round joins it); resolves whether `lease` was renewed. */
  async renew(lease: Lease): Promise<boolean> {
    this.#leases.add(lease);
    this.#round ??= this.#renewHeld().finally(() => (this.#round = undefined));
    return (await this.#round).has(lease);
  }

  async #renewHeld(): Promise<ReadonlySet<Lease>> {
    const at = Date.now();
    // Only leases held now: one whose local view lapsed is taken again on its own, and reports it fresh.
    const leases: Lease[] = [];
    for (const lease of this.#leases) {
      if (lease.held) leases.push(lease);
      else this.#leases.delete(lease);
    }
    let kept: Set<string>;
    try {
      kept = new Set(await this.bus.renewLeases!(this.owner, this.ttlMs, leases.map((l) => l.name)));
    } catch (err) {
      // Nothing known: each keeps its local view and tries again at its next due keep(), as a failed lease() leaves it.
      for (const lease of leases) lease.tried(at);
      throw err;
    }
    const renewed = new Set<Lease>();
    for (const lease of leases) {
      const held = kept.has(lease.name);
      lease.renewed(at, held);
      if (held) renewed.add(lease);
      else this.#leases.delete(lease);
    }
    return renewed;
  }
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
 * by a non-owner at the same pace, answered locally in between — one bus call per `ttlMs / 3`, or,
 * on a bus that renews several at once, one per process for all the leases it holds
 * ({@link HeldLeases}). The local view expires a fifth of the TTL early, so a process that stops
 * renewing (stalled) stops reading before another can take over.
 */
export class Lease {
  #until = 0;
  #lastTry = Number.NEGATIVE_INFINITY;
  /** Liveness generation under which the lease was last confirmed; -1 when not held. */
  #generation = -1;
  /** The fence of the current holding (fenced leases only). */
  #fence: HeldFence | undefined;
  /** The greatest token the store refused this lease with: the next token must be above it. */
  #refusedAt = 0;
  /** Taken fresh by some {@link keep} since the last {@link takeCatchUp}: a catch-up is owed. */
  #catchUpOwed = false;
  /** The TTL leases renewed together with this one, when the bus can (see {@link HeldLeases}). */
  readonly #together: HeldLeases | undefined;

  /**
   * @param fenced draw a fencing token ({@link fence}) each time the lease is taken, for the store to
   *   check on every commit made under it. @default false
   */
  constructor(
    private readonly bus: EventBus,
    readonly name: string,
    private readonly owner: string,
    readonly ttlMs: number,
    private readonly liveness?: ProcessLiveness,
    private readonly fenced = false,
  ) {
    this.#together = liveness === undefined ? HeldLeases.of(bus, owner, ttlMs) : undefined;
  }

  /**
   * The fence of the current holding: its token was drawn after the lease was taken and before it was
   * confirmed once more, so every holder that takes the lease later draws a greater one. Undefined when
   * not held or not fenced.
   */
  get fence(): HeldFence | undefined {
    return this.held ? this.#fence : undefined;
  }

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

  /**
   * Renews the lease when due, or tries to take it when due; else answers from the local view.
   * Returns whether this process holds it. Whichever caller takes it fresh (the loop or a renewal
   * timer), the catch-up it calls for is recorded here until {@link takeCatchUp}.
   */
  async keep(): Promise<boolean> {
    const state = await this.#keep();
    if (state.fresh) this.#catchUpOwed = true;
    return state.held;
  }

  /**
   * Whether the lease was taken fresh (it was another's or nobody's) since the last call — whatever
   * the previous owner left pending comes first — and clears that. The reading loop's to consume.
   */
  takeCatchUp(): boolean {
    const owed = this.#catchUpOwed;
    this.#catchUpOwed = false;
    return owed;
  }

  async #keep(): Promise<LeaseState> {
    const live = this.liveness;
    if (live !== undefined) {
      if (this.held) return { held: true, fresh: false };
      const now = Date.now();
      if (!live.alive || now - this.#lastTry < this.retryMs) return { held: false, fresh: false };
      this.#lastTry = now;
      // Held before under this generation: re-confirmed, not taken over (nobody could have taken it).
      const continued = this.#generation === live.generation;
      const generation = live.generation;
      let held = await this.bus.lease(this.name, this.owner, this.ttlMs, { liveness: true });
      if (held && !continued && this.fenced) held = await this.#drawToken(() => this.bus.lease(this.name, this.owner, this.ttlMs, { liveness: true }));
      this.#generation = held ? generation : -1;
      return { held, fresh: held && !continued };
    }
    const now = Date.now();
    const wasHeld = this.held;
    if (now - this.#lastTry < this.retryMs) return { held: wasHeld, fresh: false };
    // A renewal of a holding with its fence drawn: together with the process's other leases.
    if (wasHeld && this.#together !== undefined && (!this.fenced || this.#fence !== undefined)) return { held: await this.#together.renew(this), fresh: false };
    this.#lastTry = now;
    let held = await this.bus.lease(this.name, this.owner, this.ttlMs);
    if (held && (!wasHeld || this.#fence === undefined) && this.fenced) held = await this.#drawToken(() => this.bus.lease(this.name, this.owner, this.ttlMs));
    this.#until = held ? now + Math.floor(this.ttlMs * 0.8) : 0;
    if (held) this.#together?.add(this);
    else this.#together?.delete(this);
    return { held, fresh: held && !wasHeld };
  }

  /** {@link HeldLeases}: a renewal round that started at `at` renewed this lease, or found it another's. */
  renewed(at: number, held: boolean): void {
    this.#lastTry = at;
    this.#until = held ? at + Math.floor(this.ttlMs * 0.8) : 0;
  }

  /** {@link HeldLeases}: a renewal round that started at `at` failed; the next attempt is due a retry interval later. */
  tried(at: number): void {
    this.#lastTry = at;
  }

  /**
   * Draws a new token for a holding just taken, then confirms the lease once more: a token drawn
   * while the lease was still this process's is below whatever a later taker draws (that one draws
   * after taking it, so after this confirmation). A token not above one the store refused is raised
   * past it — the counter may have been reset (a new bus on an old store). Returns whether the lease
   * is held with a fence.
   */
  async #drawToken(confirm: () => Promise<boolean>): Promise<boolean> {
    this.#fence = undefined;
    let token = await this.bus.counter(FENCE_COUNTER, 1);
    if (token <= this.#refusedAt) token = await this.bus.counter(FENCE_COUNTER, this.#refusedAt - token + 1);
    if (!(await confirm())) return false;
    const fence: CommitFence = { key: this.name, token };
    this.#fence = {
      fence,
      lost: (current) => {
        if (this.#fence?.fence !== fence) return; // an older holding's refusal
        this.#refusedAt = Math.max(this.#refusedAt, current);
        this.#fence = undefined;
        this.#until = 0;
        this.#generation = -1;
      },
      holding: (stop) => {
        if (this.#fence?.fence !== fence) return false;
        if (this.held) return true;
        return this.regained(stop).then((held) => held?.fence === fence);
      },
      ended: () => {
        if (this.#fence?.fence !== fence) return true;
        if (this.held) return false;
        const live = this.liveness;
        return live === undefined || this.#generation === -1 || live.generation !== this.#generation;
      },
    };
    return true;
  }

  /**
   * Waits out a lapse of the local view of a heartbeat-bound holding (a beat came late: the event loop
   * or Redis was slow). Resolves with the holding's fence once a beat finds the heartbeat still alive
   * under the same generation — nobody can have taken the lease meanwhile, so work started under it
   * may go on, in order — or undefined once the holding is over (the heartbeat was found lapsed, the
   * lease was lost or released, or `stop()`). TTL leases resolve undefined at once: their lapse may
   * mean the lease moved.
   */
  async regained(stop: () => boolean): Promise<HeldFence | undefined> {
    const live = this.liveness;
    if (live === undefined) return undefined;
    const generation = this.#generation;
    while (generation !== -1 && this.#generation === generation && live.generation === generation && !stop()) {
      if (live.alive) return this.fence;
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, Math.floor(live.ttlMs / 20))));
    }
    return undefined;
  }

  /**
   * The bus refused a read or claim made under this lease (`FENCED`, see `ReadOptions.lease`): it
   * names another owner, or none. The local view is dropped — the holding is over, its fence too, so
   * work read under it stops — and the next {@link keep} asks the bus again, at once (not a retry
   * period after the last ask: a lease removed with its queue, the queue made again, is taken back
   * without waiting a third of its TTL).
   */
  forfeit(): void {
    this.#together?.delete(this);
    this.#lastTry = 0;
    this.#until = 0;
    this.#generation = -1;
    this.#fence = undefined;
  }

  /** Gives the lease up (a clean stop: another process takes over at once). */
  async release(): Promise<void> {
    this.#together?.delete(this);
    this.#until = 0;
    this.#generation = -1;
    this.#fence = undefined;
    await this.bus.releaseLease(this.name, this.owner);
  }
}
