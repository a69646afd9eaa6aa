/** A wait for room in the budget; {@link InHandBudget.acquire} returns it. */
export interface Acquisition {
  /** Resolves the slots granted (1 to the number asked for), or 0 once cancelled. */
  readonly granted: Promise<number>;
  /** Ends the wait with 0 granted, or does nothing if it was already granted. */
  cancel(): void;
}

interface Waiter {
  holder: object;
  want: number;
  resolve: (n: number) => void;
}

/**
 * How many deliveries one process holds in memory at once, across every queue: read from the bus
 * and not yet done (waiting for their turn on their entity, for the host, running, committing).
 * Each queue worker (a holder) asks for room before it reads and gives a slot back per delivery
 * finished or left.
 *
 * Without it the bound was per queue (`concurrency`), so the total grew with the number of queues:
 * 1,000 tenants' queues each read their share of a burst at once, and every event of a 20,000-event
 * run sat parsed in the host's queue together — objects that outlived several young-generation
 * collections and were copied through each (scavenges 10.1 ms on average against 2.2 ms with one
 * queue, 31% of the main thread). Beyond speed, a tenant with a backlog in many queues held the
 * process's heap for every tenant.
 *
 * Room goes round: waiters are served in the order they asked, each up to its fair share (the
 * capacity divided among the holders holding or waiting), so a queue whose deliveries are slow —
 * and stay in hand long — cannot keep the room the others need. Slots nobody under their share
 * can use go to the rest in the same order (nothing is left idle while a queue waits).
 */
export class InHandBudget {
  #free: number;
  readonly #waiters: Waiter[] = [];
  /** Per holder holding slots or waiting (its count is the number of active holders, among which the capacity is shared). */
  readonly #holders = new Map<object, { held: number; waits: number }>();
  /** The smallest grant (slots come back a worker batch at a time; a read of 1 costs as much as one of 64). */
  readonly #minGrant: number;
  /** A round of grants is queued (see {@link release}). */
  #granting = false;

  constructor(
    /** Slots in all. */
    readonly capacity: number,
    minGrant = 16,
  ) {
    this.#free = capacity;
    this.#minGrant = Math.max(1, Math.min(minGrant, capacity));
  }

  /** Slots not held now (negative after {@link take} went past the capacity). */
  get free(): number {
    return this.#free;
  }

  /** Holders waiting for room now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Slots `holder` holds now. */
  heldBy(holder: object): number {
    return this.#holders.get(holder)?.held ?? 0;
  }

  /**
   * Up to `want` slots for `holder`: at once when nobody waits and at least `min(want, minGrant)`
   * are free; else in turn (see the class). Slots granted and not used go back through {@link release}.
   */
  acquire(holder: object, want: number): Acquisition {
    want = Math.max(1, Math.floor(want));
    if (this.#waiters.length === 0 && this.#free >= Math.min(want, this.#minGrant)) {
      const n = Math.min(want, this.#free);
      this.#hold(holder, n);
      return { granted: Promise.resolve(n), cancel: () => undefined };
    }
    let waiter!: Waiter;
    const granted = new Promise<number>((resolve) => (waiter = { holder, want, resolve }));
    this.#waiters.push(waiter);
    this.#entry(holder).waits++;
    // A newcomer may be under its share where the head is not.
    this.#grant();
    return {
      granted,
      cancel: () => {
        const i = this.#waiters.indexOf(waiter);
        if (i < 0) return;
        this.#waiters.splice(i, 1);
        this.#unwait(holder);
        waiter.resolve(0);
        // The shares changed: someone else may fit now.
        this.#grant();
      },
    };
  }

  /** Holds `n` slots for `holder` without waiting (deliveries that came without asking: claims of stale entries); may go past the capacity. */
  take(holder: object, n: number): void {
    if (n > 0) this.#hold(holder, n);
  }

  /** `holder` gives `n` slots back; the waiters are served. */
  release(holder: object, n: number): void {
    if (n <= 0) return;
    const entry = this.#holders.get(holder);
    if (entry !== undefined) {
      entry.held = Math.max(0, entry.held - n);
      if (entry.held === 0 && entry.waits === 0) this.#holders.delete(holder);
    }
    this.#free += n;
    // A worker batch's results come back together: one round of grants for all of them.
    if (this.#waiters.length > 0 && !this.#granting) {
      this.#granting = true;
      queueMicrotask(() => {
        this.#granting = false;
        this.#grant();
      });
    }
  }

  #hold(holder: object, n: number): void {
    this.#free -= n;
    this.#entry(holder).held += n;
  }

  #entry(holder: object): { held: number; waits: number } {
    let entry = this.#holders.get(holder);
    if (entry === undefined) this.#holders.set(holder, (entry = { held: 0, waits: 0 }));
    return entry;
  }

  #unwait(holder: object): void {
    const entry = this.#holders.get(holder)!;
    entry.waits--;
    if (entry.held === 0 && entry.waits === 0) this.#holders.delete(holder);
  }

  #grant(): void {
    if (this.#free <= 0 || this.#waiters.length === 0) return;
    // Holders holding or waiting share the capacity.
    const share = Math.max(this.#minGrant, Math.floor(this.capacity / Math.max(1, this.#holders.size)));
    // First round: in order, each up to its share; the first that does not fit yet stops it (no overtaking).
    let blocked = false;
    for (let i = 0; i < this.#waiters.length && this.#free > 0; ) {
      const w = this.#waiters[i]!;
      const room = Math.min(w.want, share - this.heldBy(w.holder));
      if (room <= 0) {
        i++;
        continue;
      }
      if (this.#free < Math.min(room, this.#minGrant)) {
        blocked = true;
        break;
      }
      this.#serve(i, Math.min(room, this.#free));
    }
    if (blocked) return;
    // Nobody under their share waits for what is free: the rest, in order (no room left idle).
    while (this.#waiters.length > 0 && this.#free >= Math.min(this.#waiters[0]!.want, this.#minGrant)) this.#serve(0, Math.min(this.#waiters[0]!.want, this.#free));
  }

  #serve(i: number, n: number): void {
    const w = i === 0 ? this.#waiters.shift()! : this.#waiters.splice(i, 1)[0]!;
    this.#hold(w.holder, n);
    this.#unwait(w.holder);
    w.resolve(n);
  }
}
