import { UeeError } from './errors.js';
import type { Principal } from './schemas.js';

/** The identity limits are kept per: one token (or the stdio identity), with its tenant and mode. */
export function principalKey(p: Principal): string {
  return p.kind === 'tenant' ? `tenant:${p.tenantId}:${p.readOnly ? 'ro' : 'rw'}:${p.id}` : `admin:${p.id}`;
}

/** A limit and the operator setting that sets it (named in every refusal's hint). */
export interface NamedLimit {
  limit: number;
  /** The environment variable (or flag) that sets it. */
  setting: string;
}

/** Options of {@link PrincipalPool}. */
export interface PrincipalPoolOptions {
  /** What is held, for messages: "MCP sessions", "SSE streams", "sandbox memory (MiB)". */
  what: string;
  perPrincipal: NamedLimit;
  /** Cap over every non-admin principal together. */
  total: NamedLimit;
  /** What the refused caller should do besides waiting. */
  advice: string;
  /** Suggested wait in a refusal. @default 1000 */
  retryAfterMs?: number;
}

/** A held share of a {@link PrincipalPool}; `release()` is idempotent. */
export interface PoolHold {
  readonly amount: number;
  release(): void;
}

/**
 * Counted shares of a shared resource (sessions, streams, sandboxes, sandbox memory) with a cap per
 * principal and a cap in total. Admin principals count against their own per-principal cap but not
 * against the total, so no tenant can lock the operator out. Synchronous: a check and its take
 * cannot interleave with another request.
 */
export class PrincipalPool {
  readonly #held = new Map<string, number>();
  #total = 0;

  constructor(private readonly options: PrincipalPoolOptions) {}

  /** Takes `amount` for `principal`, or throws `LIMIT_EXCEEDED` naming the limit and its setting. */
  acquire(principal: Principal, amount = 1): PoolHold {
    const key = principalKey(principal);
    const mine = this.#held.get(key) ?? 0;
    const o = this.options;
    const admin = principal.kind === 'admin';
    if (mine + amount > o.perPrincipal.limit) throw this.#refusal('perPrincipal', mine, amount);
    if (!admin && this.#total + amount > o.total.limit) throw this.#refusal('total', this.#total, amount);
    this.#held.set(key, mine + amount);
    if (!admin) this.#total += amount;
    let released = false;
    return {
      amount,
      release: () => {
        if (released) return;
        released = true;
        const now = (this.#held.get(key) ?? 0) - amount;
        if (now <= 0) this.#held.delete(key);
        else this.#held.set(key, now);
        if (!admin) this.#total = Math.max(0, this.#total - amount);
      },
    };
  }

  /** What `principal` holds now. */
  heldBy(principal: Principal): number {
    return this.#held.get(principalKey(principal)) ?? 0;
  }

  /** What non-admin principals hold together. */
  get total(): number {
    return this.#total;
  }

  #refusal(scope: 'perPrincipal' | 'total', used: number, requested: number): UeeError {
    const o = this.options;
    const limit = o[scope];
    const retryAfterMs = o.retryAfterMs ?? 1000;
    const whose = scope === 'perPrincipal' ? 'this token' : 'the server (all tenants together)';
    return new UeeError('LIMIT_EXCEEDED', `${whose} holds ${used} ${o.what} of at most ${limit.limit} (${requested} more requested)`, {
      retryable: true,
      details: { limit: scope, what: o.what, max: limit.limit, used, requested, setting: limit.setting, retryAfterMs },
      hint: `${o.advice}, or retry after ${retryAfterMs} ms; the operator sets the limit with ${limit.setting}`,
    });
  }
}

/** Options of {@link PrincipalRateLimiter}. */
export interface PrincipalRateOptions {
  /** Tokens added per second. */
  perSecond: NamedLimit;
  /** Bucket size. */
  burst: NamedLimit;
  clock?: () => number;
}

/**
 * A token bucket per principal: `burst` requests at once, then `perSecond` sustained. A principal
 * that empties its bucket is refused with `RATE_LIMITED` and `retryAfterMs`; nobody else notices.
 */
export class PrincipalRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #clock: () => number;

  constructor(private readonly options: PrincipalRateOptions) {
    this.#clock = options.clock ?? Date.now;
  }

  /** Takes one token for `principal`, or throws `RATE_LIMITED`. */
  take(principal: Principal): void {
    const key = principalKey(principal);
    const now = this.#clock();
    const { perSecond, burst } = this.options;
    const b = this.#buckets.get(key) ?? { tokens: burst.limit, at: now };
    b.tokens = Math.min(burst.limit, b.tokens + ((now - b.at) / 1000) * perSecond.limit);
    b.at = now;
    if (b.tokens < 1) {
      this.#buckets.set(key, b);
      const retryAfterMs = Math.max(1, Math.ceil(((1 - b.tokens) / perSecond.limit) * 1000));
      throw new UeeError('RATE_LIMITED', `this token sends more than ${perSecond.limit} requests per second (burst ${burst.limit})`, {
        retryable: true,
        details: { limit: 'requestsPerSecond', max: perSecond.limit, burst: burst.limit, setting: perSecond.setting, burstSetting: burst.setting, retryAfterMs },
        hint: `slow down and retry after ${retryAfterMs} ms; the operator sets the rate with ${perSecond.setting} and the burst with ${burst.setting}`,
      });
    }
    b.tokens -= 1;
    this.#buckets.set(key, b);
    if (this.#buckets.size > 10_000) this.#sweep(now);
  }

  /** Forgets full buckets (principals idle long enough to have refilled). */
  #sweep(now: number): void {
    const { perSecond, burst } = this.options;
    for (const [k, b] of this.#buckets) if (b.tokens + ((now - b.at) / 1000) * perSecond.limit >= burst.limit) this.#buckets.delete(k);
  }
}
