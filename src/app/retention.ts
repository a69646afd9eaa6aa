import { toUeeError, type Logger } from '../core/index.js';

/** What a {@link Retention} purges: deletes at most `limit` items older than `before` (ISO time), oldest first, and says how many. */
export type PurgeBefore = (before: string, limit: number) => Promise<number>;

/** Between two batches of a purge, at least this long and three times what the batch took (see {@link Retention.purge}). */
const MIN_PAUSE_MS = 10;

/**
 * Retention of something the store keeps by age (the event journal, the delivery idempotency keys):
 * every `everyMs`, deletes what is older than `retentionMs` in batches of `batch`, until a batch comes
 * back short. An embedded store deletes on the main thread, so between batches the purge waits three
 * times what the batch took (at least {@link MIN_PAUSE_MS}): a backlog — the first purge after an
 * upgrade, millions of rows — takes at most a quarter of the main thread and holds it one batch at a
 * time, where back-to-back batches held it until the backlog was gone (every other tenant's routing
 * waiting meanwhile).
 */
export class Retention {
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly purgeBefore: PurgeBefore,
    private readonly options: { what: string; retentionMs: number; batch: number; everyMs?: number; logger: Logger },
  ) {}

  /** A purge now, then every `everyMs` (@default 600000). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const run = (): void => void this.purge().catch((err: unknown) => this.options.logger.warn(`purging ${this.options.what} failed`, { error: toUeeError(err).message }));
    run();
    this.#timer = setInterval(run, this.options.everyMs ?? 600_000);
    this.#timer.unref();
  }

  /** Deletes what is older than the retention at `now`; returns how many. */
  async purge(now = Date.now()): Promise<number> {
    const before = new Date(now - this.options.retentionMs).toISOString();
    const { batch } = this.options;
    let total = 0;
    for (;;) {
      const started = performance.now();
      const n = await this.purgeBefore(before, batch);
      total += n;
      if (n < batch || this.#closed) return total;
      await new Promise((resolve) => setTimeout(resolve, Math.max(MIN_PAUSE_MS, 3 * (performance.now() - started))));
      if (this.#closed) return total;
    }
  }

  /** Stops the loop. Idempotent. */
  stop(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }
}
