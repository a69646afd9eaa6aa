import { Redis, ReplyError } from 'ioredis';
import { UeeError, type Logger } from '../../core/index.js';

/** How long connecting may take before the bus reports the server unavailable. */
const CONNECT_TIMEOUT_MS = 3_000;
/** Keep at most this many idle blocking connections per bus. */
const MAX_IDLE_BLOCKING = 4;

/** The URL with its password replaced, safe for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * Creates and connects a client. Commands fail after two reconnection attempts instead of queueing
 * forever, so an unreachable server surfaces as `BACKEND_UNAVAILABLE` within seconds.
 */
export async function connectRedis(url: string, logger: Logger): Promise<Redis> {
  const safeUrl = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new UeeError('CONFIG_INVALID', `bus URL is not a valid URL: ${safeUrl}`, { details: { setting: 'bus url' }, cause: err, hint: 'use redis://[user:password@]host:port[/db]' });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new UeeError('CONFIG_INVALID', `bus URL must start with redis:// or rediss://, got ${safeUrl}`, { details: { setting: 'bus url', url: safeUrl } });
  }
  let lastError = '';
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(100 * 2 ** times, 2_000),
  });
  client.on('error', (err: Error) => {
    // ioredis emits every reconnection failure; log each distinct one once.
    if (err.message !== lastError) logger.warn('redis connection error', { url: safeUrl, error: err.message });
    lastError = err.message;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS + 1_000} ms`)), CONNECT_TIMEOUT_MS + 1_000);
      }),
    ]);
  } catch (err) {
    client.disconnect();
    throw new UeeError('BACKEND_UNAVAILABLE', `cannot connect to the Redis bus at ${safeUrl}: ${lastError || (err instanceof Error ? err.message : String(err))}`, {
      details: { setting: 'bus url', url: safeUrl },
      retryable: true,
      hint: 'check that Redis is running and reachable at that address',
      cause: err,
    });
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** An error reply of the server (`message`, e.g. one command's inside a script's answer) as a `UeeError`. */
export function replyError(message: string, safeUrl: string, cause?: unknown): UeeError {
  // Redis replies start with an error code word; matching it is Redis's protocol, not ours.
  if (message.startsWith('NOGROUP') || message.includes('no such key')) {
    return new UeeError('NOT_FOUND', `consumer group or stream not found: ${message}`, { hint: 'create the group with ensureGroup first', cause });
  }
  return new UeeError('INTERNAL', `redis bus: ${message}`, { cause, details: { url: safeUrl } });
}

/**
 * Maps a driver error to a `UeeError`: NOGROUP / missing stream → `NOT_FOUND`, other server
 * replies → `INTERNAL`, connection failures → retryable `BACKEND_UNAVAILABLE`.
 */
export function toBusError(err: unknown, safeUrl: string, closed: boolean): UeeError {
  if (err instanceof UeeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ReplyError) return replyError(message, safeUrl, err);
  if (closed) return new UeeError('CLOSED', 'the redis event bus is closed', { cause: err });
  return new UeeError('BACKEND_UNAVAILABLE', `redis bus at ${safeUrl} is unavailable: ${message}`, {
    retryable: true,
    details: { url: safeUrl },
    hint: 'check that Redis is running; the call can be retried',
    cause: err,
  });
}

/**
 * Dedicated connections for blocking reads, so an XREADGROUP BLOCK never holds up publishers or
 * other groups' reads on the shared connection. Connections are created on demand, reused, and all
 * disconnected by {@link BlockingPool.closeAll}, which breaks reads blocked on them.
 */
export class BlockingPool {
  readonly #all = new Set<Redis>();
  readonly #idle: Redis[] = [];
  #closed = false;

  constructor(private readonly main: Redis) {}

  acquire(): Redis {
    let conn = this.#idle.pop();
    if (!conn) {
      conn = this.main.duplicate();
      // Failures surface through the command that was blocked; the main client logs them.
      conn.on('error', () => undefined);
    }
    this.#all.add(conn);
    return conn;
  }

  release(conn: Redis): void {
    if (this.#closed || this.#idle.length >= MAX_IDLE_BLOCKING || conn.status !== 'ready') {
      this.#all.delete(conn);
      conn.disconnect();
      return;
    }
    this.#idle.push(conn);
  }

  /** A connection whose state is unknown (a call failed midway): closed, never reused. */
  discard(conn: Redis): void {
    this.#all.delete(conn);
    conn.disconnect();
  }

  closeAll(): void {
    this.#closed = true;
    for (const conn of this.#all) conn.disconnect();
    this.#all.clear();
    this.#idle.length = 0;
  }
}
