import { Redis } from 'ioredis';
import { UeeError } from '../../core/index.js';
import type { BudgetLedger, LedgerDelta, LedgerLine, ReserveOutcome } from './ledger.js';

// KEYS: counters; ARGV: [amount, limit, ttlMs] per key. All-or-nothing check then increment.
const RESERVE = `
for i = 1, #KEYS do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used + tonumber(ARGV[(i - 1) * 3 + 1]) > tonumber(ARGV[(i - 1) * 3 + 2]) then
    return {i, used}
  end
end
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[(i - 1) * 3 + 1])
  local ttl = tonumber(ARGV[(i - 1) * 3 + 3])
  if ttl > 0 and redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
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

interface LuaCommands {
  ueeReserve(keys: number, ...args: string[]): Promise<[number, number]>;
  ueeAdjust(keys: number, ...args: string[]): Promise<number>;
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
    return new RedisLedger(redis, options.prefix ?? 'uee:gw:');
  }

  async reserve(lines: readonly LedgerLine[]): Promise<ReserveOutcome> {
    if (lines.length === 0) return { ok: true };
    const args = lines.flatMap((l) => [String(Math.round(l.amount)), String(Math.floor(l.limit)), String(l.ttlMs)]);
    const [index, used] = await (this.redis as unknown as LuaCommands).ueeReserve(lines.length, ...lines.map((l) => this.prefix + l.key), ...args);
    return index === 0 ? { ok: true } : { ok: false, index: index - 1, used };
  }

  async adjust(deltas: readonly LedgerDelta[]): Promise<void> {
    const nonZero = deltas.filter((d) => Math.round(d.delta) !== 0);
    if (nonZero.length === 0) return;
    await (this.redis as unknown as LuaCommands).ueeAdjust(nonZero.length, ...nonZero.map((d) => this.prefix + d.key), ...nonZero.flatMap((d) => [String(Math.round(d.delta)), String(d.ttlMs)]));
  }

  async read(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const values = await this.redis.mget(...keys.map((k) => this.prefix + k));
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
