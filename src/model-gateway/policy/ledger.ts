/**
 * One counter a reservation checks and increments. Amounts are integers (cost in micro-credits).
 * With `lease`, the line is a slot in a lease set instead: the set counts its live leases, the
 * reservation adds the lease `lease` (amount 1) that expires `ttlMs` from now unless renewed.
 */
export interface LedgerLine {
  key: string;
  amount: number;
  /** The counter may not exceed this after adding `amount`. */
  limit: number;
  /** Lifetime of the counter from its first increment (window length + slack), or of the lease from its last renewal; 0 = no expiry. */
  ttlMs: number;
  /** The lease id of a slot line (concurrency): unique per reservation. */
  lease?: string | undefined;
}

/** A counter change applied when a call settles (negative = refund). */
export interface LedgerDelta {
  key: string;
  delta: number;
  ttlMs: number;
}

/** One held lease: renewed while its call runs, released when it ends. */
export interface LeaseRef {
  key: string;
  lease: string;
  ttlMs: number;
}

/** The answer of {@link BudgetLedger.reserve}: on refusal, which line and what it held. */
export type ReserveOutcome = { ok: true } | { ok: false; index: number; used: number };

/**
 * Atomic multi-counter accounting behind quotas, rate limits and concurrency caps. `reserve` is
 * all-or-nothing: either every line fits under its limit and all are incremented, or nothing
 * changes — even with many processes racing. The in-memory ledger gets this from the event loop;
 * the Redis ledger from one Lua script per operation.
 *
 * Concurrency slots are leases, not counters: a slot belongs to one reservation, lives `ttlMs`
 * from its last {@link BudgetLedger.renew}, and is gone at {@link BudgetLedger.release}. A holder
 * that dies stops renewing and its slot frees itself after one TTL; a holder that runs long keeps
 * its slot as long as it renews, so no fixed expiry can let the cap be exceeded.
 */
export interface BudgetLedger {
  readonly kind: string;
  reserve(lines: readonly LedgerLine[]): Promise<ReserveOutcome>;
  /** Applies deltas; counters never go below zero. */
  adjust(deltas: readonly LedgerDelta[]): Promise<void>;
  /** Extends live leases to `ttlMs` from now; returns how many were still held (an expired lease is not revived). */
  renew(leases: readonly LeaseRef[]): Promise<number>;
  /** Frees leases. Idempotent. */
  release(leases: readonly Omit<LeaseRef, 'ttlMs'>[]): Promise<void>;
  /** Current values (0 for missing or expired counters; the number of live leases for a lease set). */
  read(keys: readonly string[]): Promise<number[]>;
  /** Releases connections the ledger owns. Idempotent. */
  close(): Promise<void>;
}

/** The embedded ledger: one process, counters and lease sets in Maps, expiry checked lazily. */
export class InMemoryLedger implements BudgetLedger {
  readonly kind = 'memory';
  readonly #counters = new Map<string, { value: number; expiresAt: number }>();
  readonly #leases = new Map<string, Map<string, number>>();
  #ops = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  reserve(lines: readonly LedgerLine[]): Promise<ReserveOutcome> {
    const now = this.clock();
    for (const [index, line] of lines.entries()) {
      const used = line.lease === undefined ? this.#get(line.key, now) : this.#live(line.key, now);
      const amount = line.lease === undefined ? line.amount : 1;
      if (used + amount > line.limit) return Promise.resolve({ ok: false, index, used });
    }
    for (const line of lines) {
      if (line.lease === undefined) this.#add(line.key, line.amount, line.ttlMs, now);
      else this.#leaseSet(line.key).set(line.lease, expiry(now, line.ttlMs));
    }
    this.#sweep(now);
    return Promise.resolve({ ok: true });
  }

  adjust(deltas: readonly LedgerDelta[]): Promise<void> {
    const now = this.clock();
    for (const d of deltas) this.#add(d.key, d.delta, d.ttlMs, now);
    return Promise.resolve();
  }

  renew(leases: readonly LeaseRef[]): Promise<number> {
    const now = this.clock();
    let held = 0;
    for (const l of leases) {
      const set = this.#leases.get(l.key);
      const at = set?.get(l.lease);
      if (set === undefined || at === undefined || at <= now) continue;
      set.set(l.lease, expiry(now, l.ttlMs));
      held++;
    }
    return Promise.resolve(held);
  }

  release(leases: readonly Omit<LeaseRef, 'ttlMs'>[]): Promise<void> {
    for (const l of leases) {
      const set = this.#leases.get(l.key);
      set?.delete(l.lease);
      if (set?.size === 0) this.#leases.delete(l.key);
    }
    return Promise.resolve();
  }

  read(keys: readonly string[]): Promise<number[]> {
    const now = this.clock();
    return Promise.resolve(keys.map((k) => (this.#leases.has(k) ? this.#live(k, now) : this.#get(k, now))));
  }

  close(): Promise<void> {
    this.#counters.clear();
    this.#leases.clear();
    return Promise.resolve();
  }

  #leaseSet(key: string): Map<string, number> {
    let set = this.#leases.get(key);
    if (!set) {
      set = new Map<string, number>();
      this.#leases.set(key, set);
    }
    return set;
  }

  /** Live leases of a set (expired ones are dropped on the way). */
  #live(key: string, now: number): number {
    const set = this.#leases.get(key);
    if (!set) return 0;
    for (const [lease, at] of set) if (at <= now) set.delete(lease);
    if (set.size === 0) this.#leases.delete(key);
    return set.size;
  }

  #get(key: string, now: number): number {
    const c = this.#counters.get(key);
    if (!c) return 0;
    if (c.expiresAt <= now) {
      this.#counters.delete(key);
      return 0;
    }
    return c.value;
  }

  #add(key: string, delta: number, ttlMs: number, now: number): void {
    const value = Math.max(0, this.#get(key, now) + delta);
    const existing = this.#counters.get(key);
    this.#counters.set(key, { value, expiresAt: existing?.expiresAt ?? expiry(now, ttlMs) });
  }

  #sweep(now: number): void {
    if (++this.#ops % 1024 !== 0) return;
    for (const [k, c] of this.#counters) if (c.expiresAt <= now) this.#counters.delete(k);
    for (const k of [...this.#leases.keys()]) this.#live(k, now);
  }
}

function expiry(now: number, ttlMs: number): number {
  return ttlMs > 0 ? now + ttlMs : Number.POSITIVE_INFINITY;
}
