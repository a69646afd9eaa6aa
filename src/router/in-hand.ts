/** The budget group of a queue of `tenantId`'s plugins (null: the global plugins, together). */
export function inHandGroup(tenantId: string | null): string {
  return tenantId === null ? '\u0000global' : tenantId;
}

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

interface Holder {
  held: number;
  waits: number;
  /** The group it counts towards (its tenant; itself when none was named). */
  group: string | object;
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
 * can use go to the rest in the same order (nothing is left idle while a queue waits). Holders
 * belong to a group (a queue to its tenant), and no group ever holds more than `groupCap`
 * (default half): deliveries in hand cannot be taken back, so without it a tenant with several
 * slow queues could fill the room before anyone else asked, and every other tenant would then
 * wait for its slow deliveries to end.
 */
export class InHandBudget {
  #free: number;
  readonly #waiters: Waiter[] = [];
  /** Per holder holding slots or waiting (its count is the number of active holders, among which the capacity is shared). */
  readonly #holders = new Map<object, Holder>();
  /** Slots held per group (groups holding none are not kept). */
  readonly #groups = new Map<string | object, number>();
  /** Most slots one group holds. */
  readonly groupCap: number;
  /** The smallest grant (slots come back a worker batch at a time; a read of 1 costs as much as one of 64). */
  readonly #minGrant: number;
  /** A round of grants is queued (see {@link release}). */
  #granting = false;

  constructor(
    /** Slots in all. */
    readonly capacity: number,
    minGrant = 16,
    /** Most slots one group holds. @default half the capacity (at least one grant) */
    groupCap?: number,
  ) {
    this.#free = capacity;
    this.#minGrant = Math.max(1, Math.min(minGrant, capacity));
    this.groupCap = Math.max(this.#minGrant, Math.floor(groupCap ?? capacity / 2));
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

  /** Slots the holders of `group` hold now. */
  heldByGroup(group: string): number {
    return this.#groups.get(group) ?? 0;
  }

  /**
   * Up to `want` slots for `holder` (of `group`): at once when nobody waits and at least
   * `min(want, minGrant)` are free within the group's cap; else in turn (see the class). Slots
   * granted and not used go back through {@link release}. A holder stays in the group it first asked in.
   */
  acquire(holder: object, want: number, group?: string): Acquisition {
    want = Math.max(1, Math.floor(want));
    const entry = this.#entry(holder, group);
    if (this.#waiters.length === 0) {
      const room = Math.min(want, this.#groupRoom(entry), this.#free);
      if (room >= Math.min(want, this.#minGrant)) {
        this.#hold(entry, room);
        return { granted: Promise.resolve(room), cancel: () => undefined };
      }
    }
    let waiter!: Waiter;
    const granted = new Promise<number>((resolve) => (waiter = { holder, want, resolve }));
    this.#waiters.push(waiter);
    entry.waits++;
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

  /** Holds `n` slots for `holder` (of `group`) without waiting (deliveries that came without asking: claims of stale entries); may go past the capacity and the group's cap. */
  take(holder: object, n: number, group?: string): void {
    if (n > 0) this.#hold(this.#entry(holder, group), n);
  }

  /** `holder` gives `n` slots back; the waiters are served. */
  release(holder: object, n: number): void {
    if (n <= 0) return;
    const entry = this.#holders.get(holder);
    if (entry !== undefined) {
      const back = Math.min(n, entry.held);
      entry.held -= back;
      const groupHeld = (this.#groups.get(entry.group) ?? 0) - back;
      if (groupHeld > 0) this.#groups.set(entry.group, groupHeld);
      else this.#groups.delete(entry.group);
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

  #hold(entry: Holder, n: number): void {
    this.#free -= n;
    entry.held += n;
    this.#groups.set(entry.group, (this.#groups.get(entry.group) ?? 0) + n);
  }

  #entry(holder: object, group: string | undefined): Holder {
    let entry = this.#holders.get(holder);
    if (entry === undefined) this.#holders.set(holder, (entry = { held: 0, waits: 0, group: group ?? holder }));
    return entry;
  }

  /** Slots the holder's group may still take. */
  #groupRoom(entry: Holder): number {
    return this.groupCap - (this.#groups.get(entry.group) ?? 0);
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
    // First each up to its share; then, when nobody under their share waits for what is free, the
    // rest (no room left idle while a queue that may take it waits).
    if (this.#round((entry) => share - entry.held)) return;
    this.#round(() => Number.POSITIVE_INFINITY);
  }

  /**
   * One round over the waiters in the order they asked, each served up to `limit` and its group's
   * cap. Returns true when one that may take room does not fit yet: it stops the round (those behind
   * it do not overtake).
   */
  #round(limit: (entry: Holder) => number): boolean {
    for (let i = 0; i < this.#waiters.length && this.#free > 0; ) {
      const w = this.#waiters[i]!;
      const entry = this.#holders.get(w.holder)!;
      const room = Math.min(w.want, limit(entry), this.#groupRoom(entry));
      // Less than a grant's worth within its share or its group's cap, while it holds a grant's worth:
      // it waits for more (its own deliveries come back). Served in crumbs, a group's queues of slow
      // deliveries read a few entries at a time — a bus read, a settings check and a worker message
      // each — and a second host worker added 1.0–1.2× instead of 1.6×.
      if (room <= 0 || (room < Math.min(w.want, this.#minGrant) && entry.held >= this.#minGrant)) {
        i++;
        continue;
      }
      if (this.#free < Math.min(room, this.#minGrant)) return true;
      this.#serve(i, entry, Math.min(room, this.#free));
    }
    return false;
  }

  #serve(i: number, entry: Holder, n: number): void {
    const w = i === 0 ? this.#waiters.shift()! : this.#waiters.splice(i, 1)[0]!;
    this.#hold(entry, n);
    this.#unwait(w.holder);
    w.resolve(n);
  }
}
