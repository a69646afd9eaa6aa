import { toUeeError, type Logger } from '../core/index.js';
import { JOURNAL_PURGE_BATCH, type EventJournal } from '../store/index.js';

/**
 * Retention of the event journal: every `everyMs`, deletes entries older than `retentionMs` in
 * batches of {@link JOURNAL_PURGE_BATCH} (so one round never holds the store long). Only started when
 * a retention is configured (`--journal-retention-hours` above 0); projections rebuilt afterwards
 * see only what is retained.
 */
export class JournalRetention {
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly journal: EventJournal,
    private readonly options: { retentionMs: number; everyMs?: number; logger: Logger },
  ) {}

  /** A purge now, then every `everyMs` (@default 600000). */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    const run = (): void => void this.purge().catch((err: unknown) => this.options.logger.warn('purging the event journal failed', { error: toUeeError(err).message }));
    run();
    this.#timer = setInterval(run, this.options.everyMs ?? 600_000);
    this.#timer.unref();
  }

  /** Deletes entries older than the retention; returns how many. */
  async purge(now = Date.now()): Promise<number> {
    const before = new Date(now - this.options.retentionMs).toISOString();
    let total = 0;
    for (;;) {
      const n = await this.journal.purgeBefore(before, JOURNAL_PURGE_BATCH);
      total += n;
      if (n < JOURNAL_PURGE_BATCH || this.#closed) return total;
    }
  }

  /** Stops the loop. Idempotent. */
  stop(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }
}
