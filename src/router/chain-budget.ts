import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { UeeError } from '../core/index.js';

/** What a chain spends: plugin invocations, and events its plugins' commits produce. */
export type ChainResource = 'events' | 'invocations';

/** The answer of {@link ChainCounter.spend}: whether it fit, and the counter's value (after, or when refused, as it stands). */
export interface SpendOutcome {
  ok: boolean;
  used: number;
}

/**
 * Per-chain counters shared by every process of a deployment. `spend` is atomic: it adds `amount`
 * only when the counter stays ≤ `limit`, so processes racing on one chain can never spend more
 * than the limit between them. A counter lives `ttlMs` from its first spend, then starts over.
 */
export interface ChainCounter {
  readonly kind: string;
  spend(tenantId: string | null, correlationId: string, resource: ChainResource, amount: number, limit: number): Promise<SpendOutcome>;
  close(): Promise<void>;
}

/** How long a chain's counters live from its first spend: 24 h (a chain continued by timers later starts over). */
export const CHAIN_COUNTER_TTL_MS = 24 * 3600 * 1000;

function counterKey(tenantId: string | null, correlationId: string, resource: ChainResource): string {
  return `${tenantId ?? '-'}\u0000${correlationId}\u0000${resource === 'events' ? 'e' : 'i'}`;
}

/** One process's counters in a Map (a private embedded bus, tests). Expired counters are swept every minute. */
export class InMemoryChainCounter implements ChainCounter {
  readonly kind = 'memory';
  readonly #counters = new Map<string, { used: number; expiresAt: number }>();
  #nextSweep = 0;

  constructor(private readonly ttlMs = CHAIN_COUNTER_TTL_MS) {}

  spend(tenantId: string | null, correlationId: string, resource: ChainResource, amount: number, limit: number): Promise<SpendOutcome> {
    const now = Date.now();
    if (now >= this.#nextSweep) {
      this.#nextSweep = now + 60_000;
      for (const [k, c] of this.#counters) if (c.expiresAt <= now) this.#counters.delete(k);
    }
    const key = counterKey(tenantId, correlationId, resource);
    let c = this.#counters.get(key);
    if (c === undefined || c.expiresAt <= now) {
      c = { used: 0, expiresAt: now + this.ttlMs };
      this.#counters.set(key, c);
    }
    if (c.used + amount > limit) return Promise.resolve({ ok: false, used: c.used });
    c.used += amount;
    return Promise.resolve({ ok: true, used: c.used });
  }

  close(): Promise<void> {
    this.#counters.clear();
    return Promise.resolve();
  }
}

/**
 * Counters in a table of the embedded bus's SQLite file (`bus_chain_budget`), so several processes
 * sharing that file share the budgets: each spend is one immediate transaction. Expired rows are
 * deleted every minute.
 */
export class SqliteChainCounter implements ChainCounter {
  readonly kind = 'sqlite';
  #nextSweep = 0;
  readonly #spend: (key: string, amount: number, limit: number, now: number) => SpendOutcome;
  readonly #sweep: Database.Statement<[number]>;

  private constructor(
    private readonly db: Database.Database,
    private readonly ttlMs: number,
  ) {
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec('CREATE TABLE IF NOT EXISTS bus_chain_budget (k TEXT PRIMARY KEY, used INTEGER NOT NULL, expires_at INTEGER NOT NULL)');
    const get = db.prepare<[string], { used: number; expires_at: number }>('SELECT used, expires_at FROM bus_chain_budget WHERE k = ?');
    const put = db.prepare<[string, number, number]>('INSERT INTO bus_chain_budget (k, used, expires_at) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET used = excluded.used, expires_at = excluded.expires_at');
    this.#sweep = db.prepare<[number]>('DELETE FROM bus_chain_budget WHERE expires_at <= ?');
    const spend = db.transaction((key: string, amount: number, limit: number, now: number): SpendOutcome => {
      const row = get.get(key);
      const live = row !== undefined && row.expires_at > now;
      const used = live ? row.used : 0;
      if (used + amount > limit) return { ok: false, used };
      put.run(key, used + amount, live ? row.expires_at : now + this.ttlMs);
      return { ok: true, used: used + amount };
    });
    this.#spend = (key, amount, limit, now) => spend.immediate(key, amount, limit, now);
  }

  /** Opens the counters on the embedded bus file. Throws `BACKEND_UNAVAILABLE`. */
  static open(path: string, ttlMs = CHAIN_COUNTER_TTL_MS): SqliteChainCounter {
    try {
      return new SqliteChainCounter(new Database(path), ttlMs);
    } catch (err) {
      throw new UeeError('BACKEND_UNAVAILABLE', `cannot open the chain budget counters at ${path}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
        hint: 'check that the bus file (--bus) is writable',
      });
    }
  }

  spend(tenantId: string | null, correlationId: string, resource: ChainResource, amount: number, limit: number): Promise<SpendOutcome> {
    const now = Date.now();
    if (now >= this.#nextSweep) {
      this.#nextSweep = now + 60_000;
      this.#sweep.run(now);
    }
    return Promise.resolve(this.#spend(counterKey(tenantId, correlationId, resource), amount, limit, now));
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}

// KEYS[1]: the counter; ARGV: amount, limit, ttlMs. Adds only when the result stays ≤ limit; the TTL is set at the first spend.
const SPEND = `local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if used + amount > tonumber(ARGV[2]) then return {0, used} end
used = redis.call('INCRBY', KEYS[1], amount)
if used == amount then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, used}`;

/** Counters in Redis (next to the Redis bus, under its prefix): one Lua script per spend, atomic across processes. */
export class RedisChainCounter implements ChainCounter {
  readonly kind = 'redis';

  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  /** Connects. Throws `BACKEND_UNAVAILABLE`. */
  static async create(url: string, prefix: string, ttlMs = CHAIN_COUNTER_TTL_MS): Promise<RedisChainCounter> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true });
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new UeeError('BACKEND_UNAVAILABLE', 'cannot connect the chain budget counters to Redis', { cause: err, retryable: true, hint: 'check the Redis URL given with --bus' });
    }
    redis.defineCommand('ueeChainSpend', { numberOfKeys: 1, lua: SPEND });
    return new RedisChainCounter(redis, `${prefix}chain:`, ttlMs);
  }

  async spend(tenantId: string | null, correlationId: string, resource: ChainResource, amount: number, limit: number): Promise<SpendOutcome> {
    const key = `${this.prefix}${tenantId ?? '-'}:${resource === 'events' ? 'e' : 'i'}:${correlationId}`;
    const [ok, used] = await (this.redis as unknown as { ueeChainSpend(k: string, a: string, l: string, t: string): Promise<[number, number]> }).ueeChainSpend(
      key,
      String(amount),
      String(limit),
      String(this.ttlMs),
    );
    return { ok: ok === 1, used };
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Operator limits of one chain (all events with one correlation id in one tenant). */
export interface ChainLimits {
  /** Events the chain's plugin commits may produce in total. @default 1000 */
  maxEvents: number;
  /** Plugin invocations (attempts included) the chain may cause in total. @default 2000 */
  maxInvocations: number;
}

/** Defaults of {@link ChainLimits}. */
export const DEFAULT_CHAIN_LIMITS: ChainLimits = { maxEvents: 1000, maxInvocations: 2000 };

/**
 * The router's view of chain budgets: spends on the shared {@link ChainCounter}, and remembers
 * chains it saw exhausted (a counter never goes down within its lifetime), so the flood behind a
 * runaway chain is refused without a round trip.
 */
export class ChainBudget {
  readonly #exhausted = new Map<string, number>();

  constructor(
    readonly counter: ChainCounter,
    readonly limits: ChainLimits,
    private readonly ttlMs = CHAIN_COUNTER_TTL_MS,
  ) {}

  /** Spends `amount` of `resource` on the chain; throws `CHAIN_BUDGET_EXCEEDED` when it does not fit. */
  async spend(tenantId: string | null, correlationId: string, resource: ChainResource, amount: number): Promise<void> {
    if (amount <= 0) return;
    const limit = resource === 'events' ? this.limits.maxEvents : this.limits.maxInvocations;
    const key = counterKey(tenantId, correlationId, resource);
    const seen = this.#exhausted.get(key);
    if (seen !== undefined && seen > Date.now()) throw exceeded(resource, limit, correlationId);
    const outcome = await this.counter.spend(tenantId, correlationId, resource, amount, limit);
    if (outcome.ok) return;
    // Only a counter at its limit stays exhausted for every amount; a big batch that did not fit may leave room for a smaller one.
    if (outcome.used >= limit) {
      if (this.#exhausted.size >= 10_000) this.#exhausted.delete(this.#exhausted.keys().next().value!);
      this.#exhausted.set(key, Date.now() + Math.min(this.ttlMs, 3600_000));
    }
    throw exceeded(resource, limit, correlationId);
  }

  close(): Promise<void> {
    return this.counter.close();
  }
}

function exceeded(resource: ChainResource, limit: number, correlationId: string): UeeError {
  const setting = resource === 'events' ? '--chain-max-events (UEE_CHAIN_MAX_EVENTS)' : '--chain-max-invocations (UEE_CHAIN_MAX_INVOCATIONS)';
  return new UeeError(
    'CHAIN_BUDGET_EXCEEDED',
    resource === 'events'
      ? `the chain ${correlationId} would exceed its budget of ${limit} events; this invocation's effects were not committed`
      : `the chain ${correlationId} has used its budget of ${limit} plugin invocations`,
    { details: { correlationId, resource, limit }, hint: `a plugin's events keep triggering plugins; stop the loop in the plugin, or raise ${setting}` },
  );
}
