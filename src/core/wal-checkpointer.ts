import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import type { Logger } from './logger.js';
import { bundleWorkerScript, oncePerProcess } from './worker-script.js';

/** SQLite's default: a connection whose commit leaves the WAL past this many pages checkpoints it then and there. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
/**
 * While the thread checkpoints a file, the file's own connections do so only past this many pages
 * (~40 MB of 4 KiB pages): the WAL's bound if the thread falls behind.
 */
export const HELD_AUTOCHECKPOINT_PAGES = 10_000;
/** How long the thread stays up after the last file is released (a store closed and another opened soon after reuses it). */
const LINGER_MS = 2000;

export interface CheckpointWorkerData {
  /** A module URL `better-sqlite3` resolves from. */
  resolveFrom: string;
}
export type CheckpointerMessage = { op: 'watch'; path: string } | { op: 'unwatch'; path: string } | { op: 'close' };
/** The thread could not open `path` (its connections checkpoint themselves again), or it has closed its connection to `path` after an `unwatch`. */
export type CheckpointerReport = { path: string; failed: string } | { path: string; unwatched: true };

/**
 * A connection's place in the checkpointer; `release()` before closing it. It settles once no thread
 * of the checkpointer has the file open any more (at once when other connections still hold it): a
 * caller that awaits its close and then removes the file's directory finds nothing re-created there.
 */
export interface WalHold {
  release(): Promise<void>;
}

/** The thread's script: the sibling `.js` in a build, an esbuild bundle (once per process) from sources (see worker-script.ts). */
const entry = oncePerProcess(async (): Promise<URL> => {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL('./wal-checkpoint-worker.js', here);
  return (await bundleWorkerScript(fileURLToPath(new URL('./wal-checkpoint-worker.ts', here)), tmpdir(), 'uee-wal-checkpoint-worker')).url;
});

/**
 * Takes the WAL checkpoints of the process's SQLite files off the main thread. In WAL mode SQLite
 * copies the log back into the database file whenever a commit leaves it past 1,000 pages, on the
 * thread that committed, with an fsync: on the embedded default every store commit and bus write is
 * on the main thread, so every ~1,000 pages one of them stopped the event loop for 5–11 ms
 * (`bench/checkpoints`, 2026-12-03: commits over 5 ms 187 → 24 per round, p99 6.07 → 1.10 ms, 1.15×
 * commits/s; the remaining ones are the held bound below). While a connection is held here, one
 * thread checkpoints its file PASSIVE (never waiting for a reader or a writer) every 25 ms while the
 * log grows, and the connection itself only past {@link HELD_AUTOCHECKPOINT_PAGES}. If the thread
 * cannot start, cannot open a file or dies, the connections go back to SQLite's default.
 *
 * One thread per process, whatever the number of files; a file held by several connections (the
 * store and the embedded bus share `uee.db`) is checkpointed once. Several processes on one file each
 * run their own; SQLite lets one checkpoint run at a time and the others try again later.
 */
export class WalCheckpointer {
  #worker: Promise<Worker> | undefined;
  readonly #held = new Map<string, Set<Database>>();
  #failed = false;
  #linger: NodeJS.Timeout | undefined;
  #logger: Logger | undefined;
  /** Threads told to close after the last file was released: their exit is not a failure. */
  readonly #closed = new WeakSet<Worker>();
  /** Per file, the releases waiting for the thread to close its connection, in the order their unwatch was posted (no empty lists). */
  readonly #unwatching = new Map<string, Array<() => void>>();

  /** Checkpoints `path` (the file `db` is open on) in the thread while held. A no-op for `:memory:`. `logger` is told if the thread fails. */
  hold(db: Database, path: string, logger?: Logger): WalHold {
    if (path === ':memory:' || path === '' || this.#failed) return { release: () => Promise.resolve() };
    if (logger !== undefined) this.#logger = logger;
    const file = resolve(path);
    let dbs = this.#held.get(file);
    const first = dbs === undefined;
    if (dbs === undefined) this.#held.set(file, (dbs = new Set()));
    dbs.add(db);
    db.pragma(`wal_autocheckpoint = ${HELD_AUTOCHECKPOINT_PAGES}`);
    clearTimeout(this.#linger);
    if (first) this.#post({ op: 'watch', path: file });
    let released: Promise<void> | undefined;
    return {
      release: () => (released ??= this.#release(file, db)),
    };
  }

  /** The thread, once started (for tests: whether one runs, and to stop it as a crash would). */
  get thread(): Promise<Worker> | undefined {
    return this.#worker;
  }

  /** The files the thread checkpoints now. */
  get files(): string[] {
    return [...this.#held.keys()];
  }

  #release(file: string, db: Database): Promise<void> {
    const dbs = this.#held.get(file);
    if (dbs === undefined || !dbs.delete(db)) return Promise.resolve();
    autocheckpoint(db, DEFAULT_AUTOCHECKPOINT_PAGES);
    if (dbs.size > 0) return Promise.resolve();
    this.#held.delete(file);
    const closed = this.#failed ? Promise.resolve() : this.#untilUnwatched(file);
    this.#post({ op: 'unwatch', path: file });
    this.#lingerIfIdle();
    return closed;
  }

  /** Settles when the thread reports it closed `file` (or is gone). Holds the process open meanwhile. */
  #untilUnwatched(file: string): Promise<void> {
    return new Promise<void>((resolve) => {
      // The first waiter refs the thread, the last one settled unrefs it (see #unwatched).
      if (this.#unwatching.size === 0) void this.#worker?.then((w) => w.ref(), () => {});
      let list = this.#unwatching.get(file);
      if (list === undefined) this.#unwatching.set(file, (list = []));
      list.push(resolve);
    });
  }

  #unwatched(file: string): void {
    const list = this.#unwatching.get(file);
    const resolve = list?.shift();
    if (resolve === undefined) return;
    if (list!.length === 0) this.#unwatching.delete(file);
    resolve();
    if (this.#unwatching.size === 0) void this.#worker?.then((w) => w.unref(), () => {});
  }

  /** Every release waiting on the thread settles (it is gone, or falls back). */
  #settleAll(): void {
    for (const list of this.#unwatching.values()) for (const resolve of list) resolve();
    this.#unwatching.clear();
  }

  #lingerIfIdle(): void {
    if (this.#held.size > 0) return;
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => {
      const worker = this.#worker;
      if (this.#held.size > 0 || worker === undefined) return;
      this.#worker = undefined;
      worker.then(
        (w) => {
          this.#closed.add(w);
          w.postMessage({ op: 'close' } satisfies CheckpointerMessage);
        },
        () => {},
      );
    }, LINGER_MS);
    this.#linger.unref();
  }

  #post(msg: CheckpointerMessage): void {
    if (this.#failed) return;
    this.#worker ??= this.#spawn();
    // One promise: messages reach the thread in the order posted.
    this.#worker.then(
      (w) => w.postMessage(msg),
      () => {},
    );
  }

  async #spawn(): Promise<Worker> {
    let worker: Worker;
    try {
      const data: CheckpointWorkerData = { resolveFrom: import.meta.url };
      // Never inherit the parent's loaders (tsx, vitest): the script is plain JS.
      worker = new Worker(await entry(), { workerData: data, execArgv: ['--disable-warning=ExperimentalWarning'] });
    } catch (err) {
      this.#fallBack(`the WAL checkpoint thread could not start: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    worker.on('message', (report: CheckpointerReport) => {
      if ('unwatched' in report) return this.#unwatched(report.path);
      this.#logger?.warn('the WAL checkpoint thread cannot open a file: its connections checkpoint it themselves', { path: report.path, error: report.failed });
      for (const db of this.#held.get(report.path) ?? []) autocheckpoint(db, DEFAULT_AUTOCHECKPOINT_PAGES);
    });
    worker.on('error', (err) => this.#fallBack(`the WAL checkpoint thread failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (!this.#closed.has(worker)) this.#fallBack(`the WAL checkpoint thread exited (code ${code})`);
      this.#settleAll();
    });
    // Never what keeps the process alive (a checkpoint not taken is taken by the last connection to
    // close the file). After the listeners: adding a 'message' listener refs the thread's port again.
    worker.unref();
    return worker;
  }

  /** The thread is gone: every held connection checkpoints its file itself again, from now on. */
  #fallBack(reason: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#settleAll();
    this.#logger?.warn(`${reason}; SQLite connections checkpoint their own WAL from now on`);
    for (const dbs of this.#held.values()) for (const db of dbs) autocheckpoint(db, DEFAULT_AUTOCHECKPOINT_PAGES);
  }
}

function autocheckpoint(db: Database, pages: number): void {
  try {
    if (db.open) db.pragma(`wal_autocheckpoint = ${pages}`);
  } catch {
    // A connection busy closing keeps what it had; it checkpoints when it closes.
  }
}

/** The process's checkpointer, shared by the SQLite store and the embedded bus. */
export const walCheckpoints = new WalCheckpointer();

/** Holds `db`'s file in `checkpointer` (the process's by default); with `false`, the connection checkpoints it itself. */
export function holdWal(checkpointer: WalCheckpointer | false | undefined, db: Database, path: string, logger: Logger): WalHold | undefined {
  if (checkpointer === false) return undefined;
  return (checkpointer ?? walCheckpoints).hold(db, path, logger);
}
