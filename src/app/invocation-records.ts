import { toUeeError, type Logger } from '../core/index.js';
import type { InvocationRecorder } from '../router/index.js';
import type { InvocationRecordDraft, InvocationRecordStore } from '../store/invocations.js';
import { PURGE_BATCH } from '../store/invocations.js';

/** Tuning of {@link InvocationRecords}. */
export interface InvocationRecordsOptions {
  /** Records older than this are purged. */
  retentionMs: number;
  /** Buffered records are written at least this often. @default 100 */
  flushMs?: number;
  /** A buffer this full is written at once. @default 256 */
  batchSize?: number;
  /** Records buffered at most while the store is slow or down; beyond, new ones are dropped and counted. @default 40000 */
  maxBuffered?: number;
  /**
   * Records of one tenant buffered at most: beyond, that tenant's new ones are dropped and counted,
   * so a tenant's flood cannot fill the buffer and cost every other tenant its records. @default maxBuffered / 2
   */
  maxBufferedPerTenant?: number;
  /** How often retention runs. @default 600000 (10 min) */
  purgeEveryMs?: number;
  logger: Logger;
}

/**
 * The router's {@link InvocationRecorder}: `record` only appends to a buffer, and the buffer is written
 * to the store in batches (one transaction per batch) off the delivery path, so recording costs a
 * delivery next to nothing. Bounded twice: the buffer by `maxBuffered`, one tenant's part of it by
 * `maxBufferedPerTenant` (records beyond are dropped and counted in `dropped`, never blocking a
 * delivery; a tenant at its part loses only its own) and the table by retention, which purges
 * records older than `retentionMs` in batches of {@link PURGE_BATCH}. A record is written once the
 * batch holding it is flushed (≤ `flushMs` later); {@link flush} waits for everything recorded so far.
 */
export class InvocationRecords implements InvocationRecorder {
  #buffer: InvocationRecordDraft[] = [];
  #timer: NodeJS.Timeout | undefined;
  #purgeTimer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  /** Records handed to a write not yet finished. */
  #inflight = 0;
  /** Records buffered or being written, per tenant ('' for the platform's own). */
  readonly #perTenant = new Map<string, number>();
  /** Records dropped because the buffer was full. */
  dropped = 0;
  /** Records written to the store. */
  written = 0;
  readonly #opts: Required<Omit<InvocationRecordsOptions, 'logger'>>;

  constructor(
    private readonly store: InvocationRecordStore,
    private readonly options: InvocationRecordsOptions,
  ) {
    const maxBuffered = options.maxBuffered ?? 40_000;
    this.#opts = {
      retentionMs: options.retentionMs,
      flushMs: options.flushMs ?? 100,
      batchSize: options.batchSize ?? 256,
      maxBuffered,
      maxBufferedPerTenant: options.maxBufferedPerTenant ?? Math.floor(maxBuffered / 2),
      purgeEveryMs: options.purgeEveryMs ?? 600_000,
    };
  }

  /** Starts the retention loop (a purge now, then every `purgeEveryMs`). */
  start(): void {
    if (this.#purgeTimer !== undefined || this.#closed) return;
    const run = (): void => void this.purge().catch((err: unknown) => this.options.logger.warn('purging invocation records failed', { error: toUeeError(err).message }));
    run();
    this.#purgeTimer = setInterval(run, this.#opts.purgeEveryMs);
    this.#purgeTimer.unref();
  }

  record(draft: InvocationRecordDraft): void {
    if (this.#closed) return;
    const tenant = draft.tenantId ?? '';
    const mine = this.#perTenant.get(tenant) ?? 0;
    if (this.#buffer.length + this.#inflight >= this.#opts.maxBuffered || mine >= this.#opts.maxBufferedPerTenant) {
      if (this.dropped++ % 1000 === 0) this.options.logger.warn('invocation record buffer full; dropping records', { dropped: this.dropped, tenantId: draft.tenantId, tenantFull: mine >= this.#opts.maxBufferedPerTenant });
      return;
    }
    this.#perTenant.set(tenant, mine + 1);
    this.#buffer.push(draft);
    if (this.#buffer.length >= this.#opts.batchSize) this.#write();
    else this.#timer ??= setTimeout(() => this.#write(), this.#opts.flushMs);
  }

  /** Writes everything recorded so far; settles when it is stored (or failed and was logged). */
  flush(): Promise<void> {
    this.#write();
    return this.#writing;
  }

  /** Deletes records older than the retention, batch by batch; returns how many. */
  async purge(now = Date.now()): Promise<number> {
    const before = new Date(now - this.#opts.retentionMs).toISOString();
    let total = 0;
    for (;;) {
      const n = await this.store.purgeBefore(before, PURGE_BATCH);
      total += n;
      if (n < PURGE_BATCH || this.#closed) return total;
    }
  }

  /** Flushes and stops the timers. Idempotent. */
  async close(): Promise<void> {
    clearInterval(this.#purgeTimer);
    await this.flush();
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #write(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buffer.length === 0) return;
    const batch = this.#buffer;
    this.#buffer = [];
    this.#inflight += batch.length;
    // One batch at a time, in order: a slow store holds records in the buffer, never deliveries.
    this.#writing = this.#writing.then(async () => {
      try {
        await this.store.append(batch);
        this.written += batch.length;
      } catch (err) {
        this.dropped += batch.length;
        this.options.logger.warn('writing invocation records failed; the batch is dropped', { records: batch.length, error: toUeeError(err).message });
      } finally {
        this.#inflight -= batch.length;
        for (const d of batch) {
          const tenant = d.tenantId ?? '';
          const left = (this.#perTenant.get(tenant) ?? 1) - 1;
          if (left > 0) this.#perTenant.set(tenant, left);
          else this.#perTenant.delete(tenant);
        }
      }
    });
  }
}
