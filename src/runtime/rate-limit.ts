/** A token-bucket rate: `ratePerSec` tokens refill per second, up to `burst`. */
export interface RateLimit {
  ratePerSec: number;
  burst: number;
}

/**
 * Rate limits on main-thread host calls, per plugin version and per tenant. A call over a limit is
 * slowed to it, never refused: its worker sleeps until the bucket has refilled and asks again.
 */
export interface RateLimitOptions {
  /** @default { ratePerSec: 50_000, burst: 5_000 } */
  perPlugin: RateLimit;
  /** @default { ratePerSec: 100_000, burst: 10_000 } */
  perTenant: RateLimit;
}

/** Defaults for {@link RateLimitOptions}: generous, so only a runaway plugin or tenant hits them. */
export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  perPlugin: { ratePerSec: 50_000, burst: 5_000 },
  perTenant: { ratePerSec: 100_000, burst: 10_000 },
};

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets keyed by string. `take` never waits: it answers 0 when it took the tokens, else how
 * long until the bucket holds them (and takes nothing), so the caller decides how to wait.
 */
export class TokenBuckets {
  readonly #limit: RateLimit;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    this.#limit = limit;
    this.#now = now;
  }

  /** Takes `n` tokens from `key`'s bucket and answers 0; else the ms until `n` are there (nothing taken). */
  take(key: string, n = 1): number {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.#limit.burst, at: now };
      this.#buckets.set(key, bucket);
      if (this.#buckets.size > 100_000) this.#evictFull(now);
    } else {
      bucket.tokens = Math.min(this.#limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#limit.ratePerSec);
      bucket.at = now;
    }
    if (bucket.tokens < n) return ((n - bucket.tokens) / this.#limit.ratePerSec) * 1000;
    bucket.tokens -= n;
    return 0;
  }

  /** Gives back tokens taken for a call that another limit then refused. */
  refund(key: string, n = 1): void {
    const bucket = this.#buckets.get(key);
    if (bucket !== undefined) bucket.tokens = Math.min(this.#limit.burst, bucket.tokens + n);
  }

  #evictFull(now: number): void {
    // Buckets that have refilled completely carry no state worth keeping.
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#limit.ratePerSec >= this.#limit.burst) this.#buckets.delete(key);
    }
  }
}
