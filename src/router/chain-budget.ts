import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { UeeError } from '../core/index.js';
import { walCheckpoints, type WalHold } from '../core/wal-checkpointer.js';

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
  /**
   * Many chains in one round trip, each granted as much of its `amount` as fits under `limit`
   * (possibly 0); answers the granted amounts in order. Atomic per line like {@link spend}.
   */
  spendUpTo(lines: readonly SpendLine[]): Promise<number[]>;
  close(): Promise<void>;
}

/** One line of {@link ChainCounter.spendUpTo}. */
export interface SpendLine {
  tenantId: string | null;
  correlationId: string;
  resource: ChainResource;
  amount: number;
  limit: number;
}

/**
 * How long a chain's counters live from its first spend: 1 h. A runaway chain exhausts its budget in
 * seconds; a chain kept alive longer (timers) gets a fresh budget each hour, so its volume is bounded
 * per hour. Counters exist only for chains that went past their root (see {@link ChainBudget}), so the
 * counters held are the chains of the last hour that had follow-ups.
 */
export const CHAIN_COUNTER_TTL_MS = 3600 * 1000;

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
    const c = this.#counter(counterKey(tenantId, correlationId, resource));
    if (c.used + amount > limit) return Promise.resolve({ ok: false, used: c.used });
    c.used += amount;
    return Promise.resolve({ ok: true, used: c.used });
  }

  spendUpTo(lines: readonly SpendLine[]): Promise<number[]> {
    return Promise.resolve(
      lines.map((l) => {
        const c = this.#counter(counterKey(l.tenantId, l.correlationId, l.resource));
        const granted = Math.max(0, Math.min(l.amount, l.limit - c.used));
        c.used += granted;
        return granted;
      }),
    );
  }

  #counter(key: string): { used: number; expiresAt: number } {
    const now = Date.now();
    if (now >= this.#nextSweep) {
      this.#nextSweep = now + 60_000;
      for (const [k, c] of this.#counters) if (c.expiresAt <= now) this.#counters.delete(k);
    }
    let c = this.#counters.get(key);
    if (c === undefined || c.expiresAt <= now) {
      c = { used: 0, expiresAt: now + this.ttlMs };
      this.#counters.set(key, c);
    }
    return c;
  }

  close(): Promise<void> {
    this.#counters.clear();
    return Promise.resolve();
  }
}

/** Expired counters one sweep of {@link SqliteChainCounter} deletes at most. */
export const CHAIN_SWEEP_BATCH = 1000;

/**
 * The sweep of expired counters: the oldest {@link CHAIN_SWEEP_BATCH} expired, found through the
 * index on `expires_at` — not a scan of every live counter (an hour of chains of every tenant).
 */
export const CHAIN_SWEEP_SQL = `DELETE FROM bus_chain_budget WHERE rowid IN (SELECT rowid FROM bus_chain_budget WHERE expires_at <= ? ORDER BY expires_at LIMIT ${CHAIN_SWEEP_BATCH})`;

/**
 * Counters in a table of the embedded bus's SQLite file (`bus_chain_budget`), so several processes
 * sharing that file share the budgets: each spend is one immediate transaction. Expired rows are
 * deleted by the spends, at most {@link CHAIN_SWEEP_BATCH} at a time through an index: once a
 * minute, or at the next spend while a sweep found a full batch. (Until 2026-12-07 one `DELETE …
 * WHERE expires_at <= ?` a minute scanned every counter — at 1,000 chains a second with follow-ups,
 * over 7 million rows — on the main thread, holding the bus file's write lock.)
 */
export class SqliteChainCounter implements ChainCounter {
  readonly kind = 'sqlite';
  #nextSweep = 0;
  readonly #spend: (key: string, amount: number, limit: number, now: number) => SpendOutcome;
  readonly #spendUpTo: (lines: readonly SpendLine[], now: number) => number[];
  readonly #sweep: Database.Statement<[number]>;
  /** The bus file's place in the WAL checkpoint thread: this connection's commits do not checkpoint it on the main thread either. */
  readonly #wal: WalHold;

  private constructor(
    private readonly db: Database.Database,
    private readonly ttlMs: number,
    path: string,
  ) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec('CREATE TABLE IF NOT EXISTS bus_chain_budget (k TEXT PRIMARY KEY, used INTEGER NOT NULL, expires_at INTEGER NOT NULL)');
    db.exec('CREATE INDEX IF NOT EXISTS bus_chain_budget_expiry ON bus_chain_budget (expires_at)');
    const get = db.prepare<[string], { used: number; expires_at: number }>('SELECT used, expires_at FROM bus_chain_budget WHERE k = ?');
    const put = db.prepare<[string, number, number]>('INSERT INTO bus_chain_budget (k, used, expires_at) VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET used = excluded.used, expires_at = excluded.expires_at');
    this.#sweep = db.prepare<[number]>(CHAIN_SWEEP_SQL);
    const spend = db.transaction((key: string, amount: number, limit: number, now: number): SpendOutcome => {
      const row = get.get(key);
      const live = row !== undefined && row.expires_at > now;
      const used = live ? row.used : 0;
      if (used + amount > limit) return { ok: false, used };
      put.run(key, used + amount, live ? row.expires_at : now + this.ttlMs);
      return { ok: true, used: used + amount };
    });
    this.#spend = (key, amount, limit, now) => spend.immediate(key, amount, limit, now);
    const upTo = db.transaction((lines: readonly SpendLine[], now: number): number[] =>
      lines.map((l) => {
        const key = counterKey(l.tenantId, l.correlationId, l.resource);
        const row = get.get(key);
        const live = row !== undefined && row.expires_at > now;
        const used = live ? row.used : 0;
        const granted = Math.max(0, Math.min(l.amount, l.limit - used));
        if (granted > 0) put.run(key, used + granted, live ? row.expires_at : now + this.ttlMs);
        return granted;
      }),
    );
    this.#spendUpTo = (lines, now) => upTo.immediate(lines, now);
    // Last: a constructor that threw above leaves nothing held.
    this.#wal = walCheckpoints.hold(db, path);
  }

  /** Opens the counters on the embedded bus file. Throws `BACKEND_UNAVAILABLE`. */
  static open(path: string, ttlMs = CHAIN_COUNTER_TTL_MS): SqliteChainCounter {
    try {
      return new SqliteChainCounter(new Database(path), ttlMs, path);
    } catch (err) {
      throw new UeeError('BACKEND_UNAVAILABLE', `cannot open the chain budget counters at ${path}: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
        hint: 'check that the bus file (--bus) is writable',
      });
    }
  }

  spend(tenantId: string | null, correlationId: string, resource: ChainResource, amount: number, limit: number): Promise<SpendOutcome> {
    return Promise.resolve(this.#spend(counterKey(tenantId, correlationId, resource), amount, limit, this.#now()));
  }

  spendUpTo(lines: readonly SpendLine[]): Promise<number[]> {
    return Promise.resolve(lines.length === 0 ? [] : this.#spendUpTo(lines, this.#now()));
  }

  #now(): number {
    const now = Date.now();
    if (now >= this.#nextSweep) {
      const { changes } = this.#sweep.run(now);
      // A full batch: more may be due, swept by the next spend (a batch at a time, never a long stall).
      this.#nextSweep = changes >= CHAIN_SWEEP_BATCH ? now : now + 60_000;
    }
    return now;
  }

  close(): Promise<void> {
    // Settles once the checkpoint thread has let go of the file too.
    const released = this.#wal.release();
    if (this.db.open) this.db.close();
    return released;
  }
}

// KEYS[1]: the counter; ARGV: amount, limit, ttlMs. Adds only when the result stays ≤ limit; the TTL is set at the first spend.
const SPEND = `local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if used + amount > tonumber(ARGV[2]) then return {0, used} end
used = redis.call('INCRBY', KEYS[1], amount)
if used == amount then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, used}`;

// KEYS: counters; ARGV[1]: ttlMs, then amount, limit per key. Grants each what fits (maybe 0).
const SPEND_UP_TO = `local out = {}
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  local granted = math.min(tonumber(ARGV[i * 2]), tonumber(ARGV[i * 2 + 1]) - used)
  if granted > 0 then
    if redis.call('INCRBY', KEYS[i], granted) == granted then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  else
    granted = 0
  end
  out[i] = granted
end
return out`;

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
    redis.defineCommand('ueeChainSpendUpTo', { lua: SPEND_UP_TO });
    return new RedisChainCounter(redis, `${prefix}chain:`, ttlMs);
  }

  #key(tenantId: string | null, correlationId: string, resource: ChainResource): string {
    return `${this.prefix}${tenantId ?? '-'}:${resource === 'events' ? 'e' : 'i'}:${correlationId}`;
  }

  async spendUpTo(lines: readonly SpendLine[]): Promise<number[]> {
    if (lines.length === 0) return [];
    const keys = lines.map((l) => this.#key(l.tenantId, l.correlationId, l.resource));
    const args = [String(this.ttlMs), ...lines.flatMap((l) => [String(l.amount), String(l.limit)])];
    return (this.redis as unknown as { ueeChainSpendUpTo(n: number, ...a: string[]): Promise<number[]> }).ueeChainSpendUpTo(keys.length, ...keys, ...args);
  }

  async spend(tenantId: string | null, correlationId: string, resource: ChainResource, amount: number, limit: number): Promise<SpendOutcome> {
    const key = this.#key(tenantId, correlationId, resource);
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

/** What the budget needs of an event: its chain and its depth. */
export interface ChainEvent {
  tenantId: string | null;
  correlationId: string;
  hop: number;
}

/**
 * The router's view of chain budgets: spends on the shared {@link ChainCounter}, and remembers
 * chains it saw exhausted (a counter never goes down within its lifetime), so the flood behind a
 * runaway chain is refused without a round trip.
 *
 * Handling a chain's root event (hop 0) is free: its invocations are bounded by the plugins
 * subscribed to it and its commits by their manifests' emit budgets, and most events never chain,
 * so they cost no counter (no round trip, no stored key). Everything from hop 1 on is counted:
 * a chain may cause at most `maxInvocations` invocations and `maxEvents` events beyond its root's
 * own handlers.
 */
export class ChainBudget {
  readonly #exhausted = new Map<string, number>();

  constructor(
    readonly counter: ChainCounter,
    readonly limits: ChainLimits,
    private readonly ttlMs = CHAIN_COUNTER_TTL_MS,
  ) {}

  /** Spends the events a commit caused by `event` produces (see {@link spend}); free at the root, like its invocations. */
  events(event: ChainEvent, amount: number): Promise<void> {
    return event.hop === 0 ? Promise.resolve() : this.spend(event.tenantId, event.correlationId, 'events', amount);
  }

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
    if (outcome.used >= limit) this.#markExhausted(key);
    throw exceeded(resource, limit, correlationId);
  }

  /**
   * Spends one invocation for each event of a batch about to be handled, in ONE counter round trip
   * (the hot path: not one per delivery). Answers the invocations granted per chain (see
   * {@link take}); a chain granted less than asked is remembered as exhausted. A granted invocation
   * the router then does not use (the event was filtered out, hop-limited) stays spent.
   */
  async prepay(events: ReadonlyArray<ChainEvent>): Promise<Prepaid> {
    const wanted = new Map<string, { tenantId: string | null; correlationId: string; amount: number }>();
    const now = Date.now();
    for (const e of events) {
      if (e.hop === 0) continue;
      const key = counterKey(e.tenantId, e.correlationId, 'invocations');
      if ((this.#exhausted.get(key) ?? 0) > now) continue;
      const w = wanted.get(key);
      if (w) w.amount++;
      else wanted.set(key, { tenantId: e.tenantId, correlationId: e.correlationId, amount: 1 });
    }
    const prepaid: Prepaid = new Map();
    if (wanted.size === 0) return prepaid;
    const lines = [...wanted.values()].map((w) => ({ ...w, resource: 'invocations' as const, limit: this.limits.maxInvocations }));
    const granted = await this.counter.spendUpTo(lines);
    let i = 0;
    for (const [key, w] of wanted) {
      const g = granted[i++] ?? 0;
      if (g > 0) prepaid.set(key, g);
      if (g < w.amount) this.#markExhausted(key);
    }
    return prepaid;
  }

  /** Spends one invocation of the chain: from `prepaid` when it holds one, else on the counter. Throws `CHAIN_BUDGET_EXCEEDED`. */
  invocation(event: ChainEvent, prepaid: Prepaid | undefined): Promise<void> | undefined {
    // Nothing to wait for (a root event, or paid for in advance): no promise on the per-delivery path.
    if (event.hop === 0) return undefined;
    const { tenantId, correlationId } = event;
    if (prepaid !== undefined) {
      const key = counterKey(tenantId, correlationId, 'invocations');
      const left = prepaid.get(key) ?? 0;
      if (left > 0) {
        prepaid.set(key, left - 1);
        return undefined;
      }
    }
    return this.spend(tenantId, correlationId, 'invocations', 1);
  }

  #markExhausted(key: string): void {
    if (this.#exhausted.size >= 10_000) this.#exhausted.delete(this.#exhausted.keys().next().value!);
    this.#exhausted.set(key, Date.now() + Math.min(this.ttlMs, 3600_000));
  }

  close(): Promise<void> {
    return this.counter.close();
  }
}

/** Invocations a batch's chains were granted in advance ({@link ChainBudget.prepay}), spent by {@link ChainBudget.invocation}. */
export type Prepaid = Map<string, number>;

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
