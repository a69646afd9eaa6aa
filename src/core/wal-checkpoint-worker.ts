// The WAL checkpoint thread (see wal-checkpointer.ts): one connection per SQLite file the process's
// store and embedded bus hold, on which it copies the write-ahead log back into the database file
// (PASSIVE: never waits for, nor blocks, a reader or a writer), so the main thread's commits no longer
// stop to do it themselves every 1,000 pages.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { CheckpointWorkerData, CheckpointerMessage, CheckpointerReport } from './wal-checkpointer.js';

/** How often a file is checkpointed: every `min` ms while its WAL grows, backing off to `max` while it does not. */
const CHECKPOINT_INTERVAL_MS = { min: 25, max: 1000 } as const;

const data = workerData as CheckpointWorkerData;
// Resolved from the checkpointer's own module: this script may run from a bundle in the OS temp dir.
const Database = createRequire(data.resolveFrom)('better-sqlite3') as typeof BetterSqlite3;
const port = parentPort!;

interface Watched {
  db: BetterSqlite3.Database;
  /** The last round's WAL size and frames copied: a round that changes neither found nothing new. */
  log: number;
  checkpointed: number;
  /** The wait before the next round: the shortest while the WAL moves, doubling while it does not. */
  waitMs: number;
  timer: NodeJS.Timeout;
}

const watched = new Map<string, Watched>();

function round(path: string): void {
  const w = watched.get(path);
  if (w === undefined) return;
  try {
    const [row] = w.db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    const moved = row !== undefined && (row.log !== w.log || row.checkpointed !== w.checkpointed);
    if (row !== undefined) {
      w.log = row.log;
      w.checkpointed = row.checkpointed;
    }
    w.waitMs = moved ? CHECKPOINT_INTERVAL_MS.min : Math.min(CHECKPOINT_INTERVAL_MS.max, w.waitMs * 2);
  } catch {
    // Another process checkpoints the file now, or it is being closed: try again later.
    w.waitMs = Math.min(CHECKPOINT_INTERVAL_MS.max, w.waitMs * 2);
  }
  w.timer = setTimeout(() => round(path), w.waitMs);
}

function unwatch(path: string): void {
  const w = watched.get(path);
  if (w === undefined) return;
  watched.delete(path);
  clearTimeout(w.timer);
  try {
    w.db.close();
  } catch {
    // Closing a connection that failed is not worth reporting: the file's own connections remain.
  }
}

port.on('message', (msg: CheckpointerMessage) => {
  if (msg.op === 'watch') {
    if (watched.has(msg.path)) return;
    try {
      const db = new Database(msg.path, { fileMustExist: true });
      const w: Watched = { db, log: -1, checkpointed: -1, waitMs: CHECKPOINT_INTERVAL_MS.min, timer: setTimeout(() => round(msg.path), CHECKPOINT_INTERVAL_MS.min) };
      watched.set(msg.path, w);
    } catch (err) {
      port.postMessage({ path: msg.path, failed: err instanceof Error ? err.message : String(err) } satisfies CheckpointerReport);
    }
  } else if (msg.op === 'unwatch') {
    unwatch(msg.path);
    port.postMessage({ path: msg.path, unwatched: true } satisfies CheckpointerReport);
  } else {
    for (const path of [...watched.keys()]) unwatch(path);
    port.close();
  }
});
