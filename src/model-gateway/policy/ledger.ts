/** One counter a reservation checks and increments. Amounts are integers (cost in micro-credits). */
export interface LedgerLine {
  key: string;
  amount: number;
  /** The counter may not exceed this after adding `amount`. */
  limit: number;
  /** Lifetime of the counter from its first increment (window length + slack); 0 = no expiry. */
  ttlMs: number;
}

/** A counter change applied when a call settles (negative = refund). */
export interface LedgerDelta {
  key: string;
  delta: number;
  ttlMs: number;
}

/** The answer of {@link BudgetLedger.reserve}: on refusal, which line and what it held. */
export type ReserveOutcome = { ok: true } | { ok: false; index: number; used: number };

/**
 * Atomic multi-counter accounting behind quotas, rate limits and concurrency caps. `reserve` is
 * all-or-nothing: either every line fits under its limit and all are incremented, or nothing
 * changes — even with many processes racing. The in-memory ledger gets this from the event loop;
 * the Redis ledger from one Lua script per operation.
 */
export interface BudgetLedger {
  readonly kind: string;
  reserve(lines: readonly LedgerLine[]): Promise<ReserveOutcome>;
  /** Applies deltas; counters never go below zero. */
  adjust(deltas: readonly LedgerDelta[]): Promise<void>;
  /** Current values (0 for missing or expired counters). */
  read(keys: readonly string[]): Promise<number[]>;
  /** Releases connections the ledger owns. Idempotent. */
  close(): Promise<void>;
}

/** The embedded ledger: one process, counters in a Map, expiry checked lazily. */
export class InMemoryLedger implements BudgetLedger {
  readonly kind = 'memory';
  readonly #counters = new Map<string, { value: number; expiresAt: number }>();
  #ops = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  reserve(lines: readonly LedgerLine[]): Promise<ReserveOutcome> {
    const now = this.clock();
    for (const [index, line] of lines.entries()) {
      const used = this.#get(line.key, now);
      if (used + line.amount > line.limit) return Promise.resolve({ ok: false, index, used });
    }
    for (const line of lines) this.#add(line.key, line.amount, line.ttlMs, now);
    this.#sweep(now);
    return Promise.resolve({ ok: true });
  }

  adjust(deltas: readonly LedgerDelta[]): Promise<void> {
    const now = this.clock();
    for (const d of deltas) this.#add(d.key, d.delta, d.ttlMs, now);
    return Promise.resolve();
  }

  read(keys: readonly string[]): Promise<number[]> {
    const now = this.clock();
    return Promise.resolve(keys.map((k) => this.#get(k, now)));
  }

  close(): Promise<void> {
    this.#counters.clear();
    return Promise.resolve();
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
    this.#counters.set(key, { value, expiresAt: existing?.expiresAt ?? (ttlMs > 0 ? now + ttlMs : Number.POSITIVE_INFINITY) });
  }

  #sweep(now: number): void {
    if (++this.#ops % 1024 !== 0) return;
    for (const [k, c] of this.#counters) if (c.expiresAt <= now) this.#counters.delete(k);
  }
}
