import { tmpdir } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import { UeeError, type Logger } from '../../core/index.js';
import { bundleWorkerScript, oncePerProcess } from '../../core/worker-script.js';
import { INVOCATION_COLUMNS, type InvocationRecordDraft } from '../invocations.js';
import { packRecords, packedCount, type PackedRecords } from './records-codec.js';
import { INVOCATIONS_DDL, RECORDS_PAGE_SIZE } from './invocations-sql.js';
import { sqliteError } from './core.js';

/** What the records writer thread starts with. */
export interface RecordsWorkerData {
  /** The records file. */
  path: string;
  /** A module URL `better-sqlite3` resolves from. */
  resolveFrom: string;
  /** How long the thread holds what it took before writing it (see `RECORDS_GROUP_MS`). */
  groupMs: number;
}
/**
 * What the main thread asks the records writer thread (`packed`: the drafts as {@link packRecords}
 * packs them): `append` is answered once the thread has taken the records, `flush` once everything
 * taken before it is written, `close` after that and the connection closed.
 */
export type RecordsOp = { op: 'append'; packed: PackedRecords } | { op: 'flush' } | { op: 'purge'; before: string; limit: number } | { op: 'close' };
export type RecordsRequest = RecordsOp & { id: number };
/**
 * A request's answer (its `id`), or, with id 0, a group of taken records written — or lost, with
 * why: their appends were answered when taken (see `RECORDS_GROUP_SIZE`).
 */
export type RecordsReply =
  | { id: number; ok: true; n: number }
  | { id: number; ok: false; code: string | undefined; message: string }
  | { id: 0; written: number; lost: number; code?: string | undefined; message?: string };

/**
 * The records file of a file-backed SQLite store: `uee.db` keeps its invocation records in
 * `uee.records.db` beside it, so the records writer thread's write lock never holds the store's (or
 * the embedded bus's) writers.
 */
export function recordsPathOf(storePath: string): string {
  const ext = extname(storePath);
  return `${ext === '' ? storePath : storePath.slice(0, -ext.length)}.records${ext === '' ? '.db' : ext}`;
}

/**
 * Opens the main thread's connection to the records file (reads only: the writer thread writes),
 * creating the table, and moves the records an older UEE kept in the store file itself into it.
 */
export function openRecordsFile(open: (path: string) => Database, store: Database, storePath: string): Database {
  const path = recordsPathOf(storePath);
  const db = open(path);
  try {
    // Before the file is in WAL mode: a new file takes it, an existing one keeps its own.
    db.pragma(`page_size = ${RECORDS_PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(INVOCATIONS_DDL);
    const legacy = "SELECT 1 AS ok FROM main.sqlite_master WHERE type = 'table' AND name = 'invocations'";
    if (store.prepare(legacy).get() !== undefined) {
      store.prepare('ATTACH DATABASE ? AS records').run(path);
      try {
        store
          .transaction(() => {
            if (store.prepare(legacy).get() === undefined) return;
            store.exec(`INSERT OR IGNORE INTO records.invocations (${INVOCATION_COLUMNS}) SELECT ${INVOCATION_COLUMNS} FROM main.invocations; DROP TABLE main.invocations`);
          })
          .immediate();
      } finally {
        store.exec('DETACH DATABASE records');
      }
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The writer thread's script: the sibling `.js` in a build, an esbuild bundle (once per process) from sources (see core/worker-script.ts). */
const entry = oncePerProcess(async (): Promise<URL> => {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./records-worker.js', here);
  return (await bundleWorkerScript(fileURLToPath(new URL('./records-worker.ts', here)), tmpdir(), 'uee-records-worker')).url;
});

interface Pending {
  resolve: (n: number) => void;
  reject: (err: Error) => void;
  /** Records the request posted (an append's), not written if it fails. */
  records: number;
}

/**
 * The thread that writes a file-backed store's invocation records: appends (posted as a batch,
 * capped, serialised and inserted in the thread) and retention's deletes run there on
 * its own connection to the records file, in the order asked. An append is answered once the thread
 * has taken it; the thread writes what it took in groups (`RECORDS_GROUP_SIZE`), at once on
 * {@link flush} or close, and reports each group written or lost (logged, counted in {@link taken}).
 * Started on first use, and again after it died (its unanswered requests fail `BACKEND_UNAVAILABLE`,
 * what it had taken and not written is logged lost). While a request is unanswered or taken records
 * are not written yet the thread keeps the process alive, so nothing promised is cut short by the
 * event loop running dry.
 */
export class RecordsThread {
  #worker: Promise<Worker> | undefined;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #closing: Promise<void> | undefined;
  /** Records posted in appends and not reported written or lost yet. */
  #unwritten = 0;
  /** Records the thread took and then failed to write (each such group logged). */
  #lost = 0;

  /** Records posted and not written yet (taken, or on their way), and records taken then lost. */
  get taken(): { unwritten: number; lost: number } {
    return { unwritten: this.#unwritten, lost: this.#lost };
  }

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
    private readonly groupMs: number,
  ) {}

  /**
   * Inserts `drafts` (capped and serialised in the thread); settles once committed. The batch is
   * posted packed ({@link packRecords}: its numbers and string references moved, its strings named
   * once): a structured clone of the drafts' objects cost the main thread ~2 µs per record,
   * `JSON.stringify` of the batch about as much (bench/records).
   */
  async append(drafts: readonly InvocationRecordDraft[]): Promise<void> {
    await this.#request({ op: 'append', packed: packRecords(drafts) });
  }

  /** Settles once every record taken before it is written (or reported lost). */
  async flush(): Promise<void> {
    await this.#request({ op: 'flush' });
  }

  /** Runs one retention batch in the thread; answers how many records it deleted. */
  purge(before: string, limit: number): Promise<number> {
    return this.#request({ op: 'purge', before, limit });
  }

  /** Waits for every request asked so far, then closes the thread's connection and ends it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#worker === undefined) return;
      const worker = await this.#worker.catch(() => undefined);
      if (worker === undefined) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      await this.#send(worker, { op: 'close' }).catch(() => 0);
      // Held until it has ended: an unreferenced thread's exit would not keep the loop alive.
      worker.ref();
      await exited;
    })();
    return this.#closing;
  }

  async #request(msg: Exclude<RecordsOp, { op: 'close' }>): Promise<number> {
    if (this.#closing !== undefined) throw new UeeError('CLOSED', 'the SQLite store is closed', { hint: 'open the store again' });
    this.#worker ??= this.#spawn();
    let worker: Worker;
    try {
      worker = await this.#worker;
    } catch (err) {
      this.#worker = undefined;
      throw new UeeError('BACKEND_UNAVAILABLE', 'the invocation records writer thread could not start', { retryable: true, hint: 'retry shortly', cause: err });
    }
    return this.#send(worker, msg);
  }

  #send(worker: Worker, msg: RecordsOp): Promise<number> {
    const id = this.#next++;
    const records = msg.op === 'append' ? packedCount(msg.packed) : 0;
    return new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, records });
      this.#unwritten += records;
      this.#hold(worker);
      try {
        worker.postMessage({ ...msg, id } satisfies RecordsRequest, msg.op === 'append' ? [msg.packed.slots.buffer] : []);
      } catch (err) {
        // Not cloneable: answered here (its records uncounted), so the thread is not held for a reply that never comes.
        this.#settle(worker, { id, ok: false, code: undefined, message: err instanceof Error ? err.message : String(err) });
      }
    });
  }

  /** The thread keeps the process alive while a request is unanswered or taken records are unwritten. */
  #hold(worker: Worker): void {
    if (this.#pending.size > 0 || this.#unwritten > 0) worker.ref();
    else worker.unref();
  }

  #settle(worker: Worker, reply: RecordsReply): void {
    if ('written' in reply) {
      this.#unwritten -= reply.written + reply.lost;
      if (reply.lost > 0) {
        this.#lost += reply.lost;
        this.logger.warn('invocation records lost: the records thread could not write a group it had taken', { records: reply.lost, code: reply.code, error: reply.message });
      }
      return this.#hold(worker);
    }
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    if (!reply.ok && p.records > 0) this.#unwritten -= p.records;
    this.#hold(worker);
    if (reply.ok) p.resolve(reply.n);
    else p.reject(sqliteError(Object.assign(new Error(reply.message), { code: reply.code })));
  }

  async #spawn(): Promise<Worker> {
    const data: RecordsWorkerData = { path: this.path, resolveFrom: import.meta.url, groupMs: this.groupMs };
    const worker = new Worker(await entry(), {
      workerData: data,
      // Never inherit the parent's loaders (tsx, vitest): the script is plain JS.
      execArgv: ['--disable-warning=ExperimentalWarning'],
    });
    worker.unref();
    worker.on('message', (reply: RecordsReply) => this.#settle(worker, reply));
    worker.on('error', (err) => this.logger.warn('the invocation records writer thread failed', { error: err.message }));
    worker.on('exit', (code) => {
      if (this.#closing === undefined) this.logger.warn('the invocation records writer thread exited', { code });
      this.#worker = undefined;
      const unanswered = [...this.#pending.values()];
      this.#pending.clear();
      // Taken and answered, never written: lost with the thread (an unanswered append's fail below).
      const taken = this.#unwritten - unanswered.reduce((n, p) => n + p.records, 0);
      this.#unwritten = 0;
      if (taken > 0) {
        this.#lost += taken;
        this.logger.warn('invocation records lost: the records thread exited before writing what it had taken', { records: taken });
      }
      const err = new UeeError('BACKEND_UNAVAILABLE', 'the invocation records writer thread exited before answering', { retryable: true, hint: 'retry shortly' });
      for (const p of unanswered) p.reject(err);
    });
    return worker;
  }
}
