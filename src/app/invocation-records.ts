import { toUeeError, type Logger } from '../core/index.js';
import type { InvocationRecorder } from '../router/index.js';
import type { InvocationRecordDraft, InvocationRecordStore } from '../store/invocations.js';
import { PURGE_BATCH } from '../store/invocations.js';

/** Records buffered that start a write ({@link InvocationRecordsOptions.batchSize}'s default). */
export const RECORDS_BATCH_SIZE = 256;
/** Records one write takes at most ({@link InvocationRecordsOptions.maxBatchSize}'s default). */
export const RECORDS_MAX_BATCH_SIZE = 2048;

/** A tenant's reads force a write of the records at most this often ({@link InvocationRecordsOptions.tenantFlushMs}'s default). */
export const RECORDS_TENANT_FLUSH_MS = 500;
/** Forced writes start at most this often, whoever asks ({@link InvocationRecordsOptions.flushSpacingMs}'s default). */
export const RECORDS_FLUSH_SPACING_MS = 50;

/** Tuning of {@link InvocationRecords}. */
export interface InvocationRecordsOptions {
  /** Records older than this are purged. */
  retentionMs: number;
  /** Buffered records are written at least this often. @default 100 */
  flushMs?: number;
  /** A buffer this full is written at once. @default 256 */
  batchSize?: number;
  /**
   * What one write takes at most when more is buffered: the backlog that built up while the store
   * wrote the previous batch goes in one transaction, not in batches of `batchSize`. A transaction
   * costs the store per page it dirties, and the pages one tenant's records go to are shared by that
   * tenant's records in the same transaction: with 1,000 tenants' records, batches of 2,048 cost the
   * records thread about half what batches of 256 do per record (`npm run bench -- records-write`).
   * @default 2048
   */
  maxBatchSize?: number;
  /** Records buffered at most while the store is slow or down; beyond, new ones are dropped and counted. @default 40000 */
  maxBuffered?: number;
  /**
   * Records of one tenant buffered at most: beyond, that tenant's new ones are dropped and counted
   * (the buffer's fair sharing among several flooding tenants is {@link InvocationRecords}'). @default maxBuffered / 2
   */
  maxBufferedPerTenant?: number;
  /** How often retention runs. @default 600000 (10 min) */
  purgeEveryMs?: number;
  /**
   * A tenant's reads ({@link InvocationRecords.flushFor}) force a write at most once this often: a
   * read within it waits for the next. @default {@link RECORDS_TENANT_FLUSH_MS}
   */
  tenantFlushMs?: number;
  /** Forced writes asked for by reads start at most once this often; reads due meanwhile share the next. @default {@link RECORDS_FLUSH_SPACING_MS} */
  flushSpacingMs?: number;
  logger: Logger;
}

/**
 * The router's {@link InvocationRecorder}: `record` only appends to a buffer, and the buffer is written
 * to the store in batches (one transaction per batch, one batch at a time) off the delivery path, so
 * recording costs a delivery next to nothing. Bounded three ways: the buffer by `maxBuffered`, one
 * tenant's part of it by `maxBufferedPerTenant`, and the table by retention, which purges records
 * older than `retentionMs` in batches of {@link PURGE_BATCH}. Records beyond a bound are dropped and
 * counted in `dropped`, never blocking a delivery.
 *
 * Shared by every tenant, the buffer is kept per tenant and fills fairly: when it is full, a tenant
 * holding less than its fair part (`maxBuffered` over the tenants holding records) takes the place
 * of the newest buffered record of the tenant holding the most, so tenants flooding a slow store —
 * however many — lose their own records, never a quiet tenant's. A write starts once `batchSize`
 * records are buffered and takes at most `maxBatchSize` (a few of each tenant in turn), so most of a
 * full buffer can still make that room. A record goes to the store once the batch holding it is
 * flushed (≤ `flushMs` later; a store writing in groups of its own may hold it a little longer);
 * {@link flush} waits until everything recorded so far is stored.
 */
export class InvocationRecords implements InvocationRecorder {
  /** Records not yet handed to a write, per tenant ('' for the platform's own), in the order written next. */
  readonly #buffers = new Map<string, InvocationRecordDraft[]>();
  #buffered = 0;
  #timer: NodeJS.Timeout | undefined;
  #purgeTimer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** A write is chained and has not taken its batch yet; `#takeAll`: it takes everything ({@link flush}). */
  #queued = false;
  #takeAll = false;
  #closed = false;
  /** Records handed to a write not yet finished. */
  #inflight = 0;
  /** Records buffered or being written, per tenant ('' for the platform's own). */
  readonly #perTenant = new Map<string, number>();
  /** Records dropped here: a bound was reached, or the store refused their batch. */
  #dropped = 0;
  /** Records the store took: stored, or, for a store that writes in groups of its own, to be stored (see `InvocationRecordStore.append`). */
  written = 0;
  /** Forced writes started by {@link flushFor}, since start (tests read it). */
  forcedWrites = 0;
  /** Each tenant's latest slot for a forced write ({@link flushFor}; '' for the global scope), ms of `performance.now()`: the last, or the one pending. */
  readonly #tenantFlushes = new Map<string, number>();
  /** Reads asked for so far: the ticket of a {@link flushFor} call. */
  #tickets = 0;
  /** The last forced write: when it started, and the tickets it covers (every read asked before it started). */
  #forced: { at: number; covers: number; done: Promise<void> } | undefined;
  readonly #opts: Required<Omit<InvocationRecordsOptions, 'logger'>>;

  constructor(
    private readonly store: InvocationRecordStore,
    private readonly options: InvocationRecordsOptions,
  ) {
    const maxBuffered = options.maxBuffered ?? 40_000;
    const batchSize = options.batchSize ?? RECORDS_BATCH_SIZE;
    this.#opts = {
      retentionMs: options.retentionMs,
      flushMs: options.flushMs ?? 100,
      batchSize,
      maxBatchSize: Math.max(options.maxBatchSize ?? RECORDS_MAX_BATCH_SIZE, batchSize),
      maxBuffered,
      maxBufferedPerTenant: options.maxBufferedPerTenant ?? Math.floor(maxBuffered / 2),
      purgeEveryMs: options.purgeEveryMs ?? 600_000,
      tenantFlushMs: options.tenantFlushMs ?? RECORDS_TENANT_FLUSH_MS,
      flushSpacingMs: options.flushSpacingMs ?? RECORDS_FLUSH_SPACING_MS,
    };
  }

  /** Records waiting to be written: buffered, in a write not finished yet, or taken by the store and not written yet. */
  get waiting(): number {
    return this.#buffered + this.#inflight + (this.store.taken?.().unwritten ?? 0);
  }

  /** Records dropped: a bound was reached, the store refused their batch, or it lost them after taking them. */
  get dropped(): number {
    return this.#dropped + (this.store.taken?.().lost ?? 0);
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
    if (mine >= this.#opts.maxBufferedPerTenant) return this.#drop(tenant, 'its part of the buffer is full');
    if (this.#buffered + this.#inflight >= this.#opts.maxBuffered && !this.#makeRoom(tenant, mine)) return this.#drop(tenant, 'the buffer is full and it holds its fair part');
    this.#perTenant.set(tenant, mine + 1);
    let list = this.#buffers.get(tenant);
    if (list === undefined) this.#buffers.set(tenant, (list = []));
    list.push(draft);
    this.#buffered++;
    if (this.#buffered >= this.#opts.batchSize) this.#write();
    else this.#timer ??= setTimeout(() => this.#write(), this.#opts.flushMs);
  }

  /** Writes everything recorded so far; settles when it is stored (or failed and was logged). */
  async flush(): Promise<void> {
    if (this.#buffered > 0) this.#write(true);
    await this.#writing;
    // A store that takes appends before it writes them (the SQLite records thread) writes them now.
    await this.store.flush?.().catch((err: unknown) => this.options.logger.warn('flushing invocation records failed', { error: toUeeError(err).message }));
  }

  /**
   * {@link flush} for a read of `tenantId`'s records through a front door (`invocation_list`,
   * `event_trace`), bounded: settles once everything recorded before the call is stored, like
   * `flush`; but a forced write cuts short the batch the recorder is filling and the group the store
   * is holding for every tenant, so one tenant's agent polling these tools in a loop made everybody's
   * records cost more (`npm run bench -- records-poll`: 1.09× the records thread's CPU per record at
   * one token's 20 requests/s, 1.22–1.26× back to back). Here a tenant's reads force a write at most
   * once per `tenantFlushMs` (a read within it waits for the tenant's next slot, shared by every read
   * of the tenant asked until then), forced writes start at most once per `flushSpacingMs` whoever
   * asks, and a read is served by any forced write started after it was asked — so reads of many
   * tenants at once share one.
   */
  async flushFor(tenantId: string | null): Promise<void> {
    const asked = performance.now();
    const ticket = ++this.#tickets;
    const key = tenantId ?? '';
    // The tenant's slot: reads asked while one is pending share it; the next comes tenantFlushMs after it.
    const slot = this.#tenantFlushes.get(key) ?? -Infinity;
    const due = slot > asked ? slot : Math.max(asked, slot + this.#opts.tenantFlushMs);
    if (due !== slot) this.#tenantFlushes.set(key, due);
    if (this.#tenantFlushes.size > 10_000) this.#forgetFlushesBefore(asked - this.#opts.tenantFlushMs);
    let wait = due - asked;
    for (;;) {
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // Closed meanwhile: close() wrote everything.
      if (this.#closed) return;
      const forced = this.#forced;
      if (forced !== undefined && forced.covers >= ticket) return forced.done;
      const now = performance.now();
      wait = (forced?.at ?? -Infinity) + this.#opts.flushSpacingMs - now;
      if (wait <= 0) {
        this.forcedWrites++;
        const done = this.flush();
        this.#forced = { at: now, covers: this.#tickets, done };
        return done;
      }
    }
  }

  /** Forgets tenants whose reads may force a write again anyway (bounds {@link #tenantFlushes}). */
  #forgetFlushesBefore(at: number): void {
    for (const [tenant, due] of this.#tenantFlushes) if (due < at) this.#tenantFlushes.delete(tenant);
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

  /**
   * The buffer is full: a tenant under its fair part takes the place of the newest buffered record
   * of the tenant holding the most (which must hold at least two more than it, so two tenants never
   * trade places back and forth). False when it holds its fair part already, or nothing buffered can go.
   */
  #makeRoom(tenant: string, mine: number): boolean {
    const holders = this.#perTenant.size + (this.#perTenant.has(tenant) ? 0 : 1);
    if (mine >= this.#opts.maxBuffered / holders) return false;
    let victim: string | undefined;
    let most = mine + 1;
    for (const t of this.#buffers.keys()) {
      const held = this.#perTenant.get(t) ?? 0;
      if (held > most) {
        most = held;
        victim = t;
      }
    }
    if (victim === undefined) return false;
    const list = this.#buffers.get(victim)!;
    list.pop();
    if (list.length === 0) this.#buffers.delete(victim);
    this.#buffered--;
    this.#release(victim);
    this.#drop(victim, 'the buffer is full: its newest record made room for a tenant under its fair part');
    return true;
  }

  #drop(tenant: string, why: string): void {
    if (this.#dropped++ % 1000 === 0) this.options.logger.warn('invocation record buffer full; dropping records', { dropped: this.#dropped, tenantId: tenant === '' ? null : tenant, why });
  }

  /** One record of `tenant` is no longer buffered or being written. */
  #release(tenant: string): void {
    const left = (this.#perTenant.get(tenant) ?? 1) - 1;
    if (left > 0) this.#perTenant.set(tenant, left);
    else this.#perTenant.delete(tenant);
  }

  /** Chains a write (one at a time, in order: a slow store holds records in the buffer, never deliveries); `all` makes it take everything buffered. */
  #write(all = false): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (all) this.#takeAll = true;
    if (this.#queued) return;
    this.#queued = true;
    this.#writing = this.#writing.then(() => this.#writeNext());
  }

  async #writeNext(): Promise<void> {
    this.#queued = false;
    const batch = this.#take(this.#takeAll ? Infinity : this.#opts.maxBatchSize);
    this.#takeAll = false;
    if (batch.length === 0) return;
    this.#inflight += batch.length;
    try {
      await this.store.append(batch);
      this.written += batch.length;
    } catch (err) {
      this.#dropped += batch.length;
      this.options.logger.warn('writing invocation records failed; the batch is dropped', { records: batch.length, error: toUeeError(err).message });
    } finally {
      this.#inflight -= batch.length;
      for (const d of batch) this.#release(d.tenantId ?? '');
    }
    if (this.#buffered >= this.#opts.batchSize) this.#write();
    else if (this.#buffered > 0 && !this.#closed) this.#timer ??= setTimeout(() => this.#write(), this.#opts.flushMs);
  }

  /** Up to `limit` buffered records, tenant by tenant in turn (a tenant left with some goes to the back). */
  #take(limit: number): InvocationRecordDraft[] {
    const out: InvocationRecordDraft[] = [];
    for (const [tenant, list] of this.#buffers) {
      if (out.length >= limit) break;
      const n = Math.min(list.length, limit - out.length);
      this.#buffers.delete(tenant);
      if (n === list.length) {
        for (const d of list) out.push(d);
      } else {
        for (const d of list.splice(0, n)) out.push(d);
        this.#buffers.set(tenant, list);
      }
    }
    this.#buffered -= out.length;
    return out;
  }
}
