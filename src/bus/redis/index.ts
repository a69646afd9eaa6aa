import { silentLogger, type Logger } from '../../core/index.js';
import type { BusOptions, EventBus } from '../port.js';
import { resolveBusOptions } from '../shared/options.js';
import { connectRedis, redactUrl } from './connection.js';
import { RedisBus } from './redis-bus.js';

/** Options of {@link openRedisBus}. */
export interface RedisBusOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  /**
   * Prefix of every key: `<prefix>events` (the stream), `<prefix>dead` (dead letters),
   * `<prefix>dedupe:<eventId>` (de-duplication keys), `<prefix>q:<group>` (queues), `<prefix>lease:<name>` (leases), `<prefix>alive:<owner>` (process heartbeats), `<prefix>roster:<name>` (rosters of live processes), `<prefix>signal:<channel>` (pub/sub channels of `signal`). For Redis Cluster, put a hash tag in it
   * (e.g. `{uee}:`) so the scripts' keys share a slot. @default "uee:"
   */
  prefix?: string;
  /** Retention and de-duplication; defaults from `DEFAULT_BUS_OPTIONS`. */
  options?: Partial<BusOptions>;
  /** @default silentLogger */
  logger?: Logger;
}

/**
 * Connects to Redis and returns the Redis Streams event bus. Fails within a few seconds with a
 * retryable `BACKEND_UNAVAILABLE` (naming the URL without its password) when Redis does not answer.
 */
export async function openRedisBus(options: RedisBusOptions): Promise<EventBus> {
  const busOptions = resolveBusOptions(options.options);
  const prefix = options.prefix ?? 'uee:';
  const safeUrl = redactUrl(options.url);
  const logger = (options.logger ?? silentLogger).child({ component: 'bus', bus: 'redis' });
  const redis = await connectRedis(options.url, logger);
  const keys = { stream: `${prefix}events`, dead: `${prefix}dead`, deadIndexPrefix: `${prefix}dead-of:`, deadSizes: `${prefix}dead-tenants`, deadIndexedUpTo: `${prefix}dead-indexed`, dedupePrefix: `${prefix}dedupe:`, queuePrefix: `${prefix}q:`, queueIndex: `${prefix}queues`, advisory: `${prefix}advisory-groups`, leasePrefix: `${prefix}lease:`, counterPrefix: `${prefix}counter:`, alivePrefix: `${prefix}alive:`, rosterPrefix: `${prefix}roster:`, signalPrefix: `${prefix}signal:` };
  const bus = new RedisBus(redis, keys, busOptions, logger, safeUrl);
  try {
    const indexed = await bus.indexDeadLetters();
    if (indexed > 0) logger.info('dead letters indexed by tenant', { indexed });
    const queues = await bus.indexQueues();
    if (queues > 0) logger.info('queues made by an earlier version added to the queue index', { queues });
  } catch (err) {
    await bus.close();
    throw err;
  }
  return bus;
}
