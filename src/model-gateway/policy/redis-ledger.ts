import { Redis } from 'ioredis';
import { UeeError } from '../../core/index.js';
import type { BudgetLedger, LeaseRef, LedgerDelta, LedgerLine, ReserveOutcome } from './ledger.js';

// Redis server time in ms, so every gateway process measures lease expiry on one clock.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// KEYS: counters or lease sets; ARGV: [amount, limit, ttlMs, lease] per key (lease "" = a plain
// counter). All-or-nothing check, then increment / add the lease. A lease set is a sorted set of
// lease id → expiry; expired leases are dropped before counting.
const RESERVE = `${NOW}
for i = 1, #KEYS do
  local base = (i - 1) * 4
  local used
  local amount = tonumber(ARGV[base + 1])
  if ARGV[base + 4] ~= '' then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    used = redis.call('ZCARD', KEYS[i])
    amount = 1
  else
    used = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  if used + amount > tonumber(ARGV[base + 2]) then
    return {i, used}
  end
end
for i = 1, #KEYS do
  local base = (i - 1) * 4
  local ttl = tonumber(ARGV[base + 3])
  if ARGV[base + 4] ~= '' then
    redis.call('ZADD', KEYS[i], now + ttl, ARGV[base + 4])
    redis.call('PEXPIRE', KEYS[i], ttl * 2)
  else
    redis.call('INCRBY', KEYS[i], ARGV[base + 1])
    if ttl > 0 and redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
return {0, 0}
`;

// KEYS: counters; ARGV: [delta, ttlMs] per key. Never below zero.
const ADJUST = `
for i = 1, #KEYS do
  local v = redis.call('INCRBY', KEYS[i], ARGV[(i - 1) * 2 + 1])
  if v < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
  local ttl = tonumber(ARGV[(i - 1) * 2 + 2])
  if ttl > 0 and redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 0
`;

// KEYS: lease sets; ARGV: [lease, ttlMs] per key. Extends live leases only; returns how many were live.
const RENEW = `${NOW}
local held = 0
for i = 1, #KEYS do
  local lease = ARGV[(i - 1) * 2 + 1]
  local ttl = tonumber(ARGV[(i - 1) * 2 + 2])
  local at = redis.call('ZSCORE', KEYS[i], lease)
  if at and tonumber(at) > now then
    redis.call('ZADD', KEYS[i], 'XX', now + ttl, lease)
    if redis.call('PTTL', KEYS[i]) < ttl * 2 then redis.call('PEXPIRE', KEYS[i], ttl * 2) end
    held = held + 1
  end
end
return held
`;

// KEYS: counters or lease sets; returns each one's value (live leases for a lease set).
const READ = `${NOW}
local out = {}
for i = 1, #KEYS do
  if redis.call('TYPE', KEYS[i]).ok == 'zset' then
    out[i] = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf')
  else
    out[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
end
return out
`;

interface LuaCommands {
  ueeReserve(keys: number, ...args: string[]): Promise<[number, number]>;
  ueeAdjust(keys: number, ...args: string[]): Promise<number>;
  ueeRenew(keys: number, ...args: string[]): Promise<number>;
  ueeRead(keys: number, ...args: string[]): Promise<number[]>;
}

/** Options of {@link RedisLedger.create}. */
export interface RedisLedgerOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** Prepended to every counter key. @default "uee:gw:" */
  prefix?: string;
}

/**
 * The distributed ledger: counters in Redis, each reserve/adjust one Lua script, so reservations from
 * any number of gateway processes are atomic with respect to each other. Owns its connection.
 * Concurrency slots are leases in sorted sets scored by expiry on the Redis server's clock.
 * (Keys of one reservation must live on one node; on Redis Cluster use a hash-tagged prefix.)
 */
export class RedisLedger implements BudgetLedger {
  readonly kind = 'redis';
  #closed = false;

  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Connects and verifies the server answers. Throws `BACKEND_UNAVAILABLE`. */
  static async create(options: RedisLedgerOptions): Promise<RedisLedger> {
    const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true });
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new UeeError('BACKEND_UNAVAILABLE', `cannot connect the gateway ledger to Redis`, { cause: err, retryable: true, hint: 'check the Redis URL' });
    }
    redis.defineCommand('ueeReserve', { lua: RESERVE });
    redis.defineCommand('ueeAdjust', { lua: ADJUST });
    redis.defineCommand('ueeRenew', { lua: RENEW });
    redis.defineCommand('ueeRead', { lua: READ });
    return new RedisLedger(redis, options.prefix ?? 'uee:gw:');
  }

  async reserve(lines: readonly LedgerLine[]): Promise<ReserveOutcome> {
    if (lines.length === 0) return { ok: true };
    const args = lines.flatMap((l) => [String(Math.round(l.amount)), String(Math.floor(l.limit)), String(l.ttlMs), l.lease ?? '']);
    const [index, used] = await (this.redis as unknown as LuaCommands).ueeReserve(lines.length, ...lines.map((l) => this.prefix + l.key), ...args);
    return index === 0 ? { ok: true } : { ok: false, index: index - 1, used };
  }

  async adjust(deltas: readonly LedgerDelta[]): Promise<void> {
    const nonZero = deltas.filter((d) => Math.round(d.delta) !== 0);
    if (nonZero.length === 0) return;
    await (this.redis as unknown as LuaCommands).ueeAdjust(nonZero.length, ...nonZero.map((d) => this.prefix + d.key), ...nonZero.flatMap((d) => [String(Math.round(d.delta)), String(d.ttlMs)]));
  }

  async renew(leases: readonly LeaseRef[]): Promise<number> {
    if (leases.length === 0) return 0;
    return (this.redis as unknown as LuaCommands).ueeRenew(leases.length, ...leases.map((l) => this.prefix + l.key), ...leases.flatMap((l) => [l.lease, String(l.ttlMs)]));
  }

  async release(leases: readonly Omit<LeaseRef, 'ttlMs'>[]): Promise<void> {
    if (leases.length === 0) return;
    const multi = this.redis.multi();
    for (const l of leases) multi.zrem(this.prefix + l.key, l.lease);
    await multi.exec();
  }

  async read(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const values = await (this.redis as unknown as LuaCommands).ueeRead(keys.length, ...keys.map((k) => this.prefix + k));
    return values.map((v) => Number(v ?? 0));
  }

  /** Deletes every key under the prefix (tests and tenant removal). */
  async clear(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await this.redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
