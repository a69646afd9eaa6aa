import type { Redis } from 'ioredis';
import type { Logger } from '../../core/index.js';
import type { SignalHandlers } from '../port.js';

/**
 * The listening side of `RedisBus.signal`: one connection in subscriber mode per bus, made on the
 * first `listen`. ioredis's own resubscription after a reconnect is off: this re-subscribes every
 * channel itself and only then calls the handlers' `ready`, so a listener that re-checks on `ready`
 * never misses a message signalled between the reconnect and the subscription.
 */
export class SignalListeners {
  readonly #channels = new Map<string, Set<SignalHandlers>>();
  #connecting: Promise<Redis> | undefined;
  #conn: Redis | undefined;
  /** The connection dropped since the channels were last subscribed. */
  #lost = false;
  #closed = false;

  constructor(
    private readonly main: Redis,
    private readonly log: Logger,
    /** The connection's client name (`CLIENT LIST` shows which bus it serves). */
    private readonly name: string,
  ) {}

  /** Subscribes `handlers` to the Redis channel `key`; resolves once the subscription is in place. */
  async listen(key: string, handlers: SignalHandlers): Promise<() => void> {
    const conn = await this.#connection();
    let set = this.#channels.get(key);
    if (set === undefined) {
      set = new Set();
      this.#channels.set(key, set);
    }
    set.add(handlers);
    if (set.size === 1) await conn.subscribe(key);
    handlers.ready?.();
    return () => {
      if (!set.delete(handlers) || set.size > 0) return;
      this.#channels.delete(key);
      void this.#conn?.unsubscribe(key).catch(() => undefined);
    };
  }

  close(): void {
    this.#closed = true;
    this.#conn?.disconnect();
  }

  #connection(): Promise<Redis> {
    this.#connecting ??= (async () => {
      const conn = this.main.duplicate({ autoResubscribe: false, lazyConnect: true, connectionName: this.name });
      conn.on('error', () => undefined); // the main client logs connection trouble
      conn.on('message', (channel: string, message: string) => {
        for (const h of this.#channels.get(channel) ?? []) {
          try {
            h.message(message);
          } catch (err) {
            this.log.warn('a bus signal listener failed', { error: err instanceof Error ? err.message : String(err) });
          }
        }
      });
      conn.on('close', () => {
        if (this.#closed || this.#lost) return;
        this.#lost = true;
        this.#each((h) => h.lost?.());
      });
      conn.on('ready', () => {
        if (!this.#lost || this.#closed) return;
        const keys = [...this.#channels.keys()];
        const subscribed = keys.length === 0 ? Promise.resolve() : conn.subscribe(...keys);
        subscribed.then(
          () => {
            this.#lost = false;
            this.#each((h) => h.ready?.());
          },
          (err: unknown) => this.log.warn('re-subscribing to bus signals failed', { error: err instanceof Error ? err.message : String(err) }),
        );
      });
      try {
        await conn.connect();
      } catch (err) {
        conn.disconnect();
        this.#connecting = undefined;
        throw err;
      }
      this.#conn = conn;
      if (this.#closed) conn.disconnect();
      return conn;
    })();
    return this.#connecting;
  }

  #each(fn: (h: SignalHandlers) => void): void {
    for (const set of this.#channels.values()) {
      for (const h of set) {
        try {
          fn(h);
        } catch (err) {
          this.log.warn('a bus signal listener failed', { error: err instanceof Error ? err.message : String(err) });
        }
      }
    }
  }
}
