// The records writer thread of a file-backed SQLite store (see records-thread.ts): it owns the only
// writing connection to the store's records file and runs appends and retention there, so neither
// serialising records nor SQLite's inserts and deletes run on the main thread.
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { PURGE_SQL, RECORDS_GROUP_SIZE, RECORDS_WRITER_PRAGMAS, groupInserter } from './invocations-sql.js';
import { packedCount, preparedInKeyOrder, type PackedRecords } from './records-codec.js';
import type { RecordsReply, RecordsRequest, RecordsWorkerData } from './records-thread.js';

const data = workerData as RecordsWorkerData;
// Below the main thread and the plugin workers (Linux nices the calling thread only): on a busy
// machine records wait, deliveries do not; flush() still waits for them, the buffer bounds them.
try {
  setPriority(10);
} catch {
  // Not permitted here: the thread runs at the process's priority.
}
// Resolved from the store's own module: this script may run from a bundle in the OS temp dir.
const Database = createRequire(data.resolveFrom)('better-sqlite3') as typeof BetterSqlite3;
const db = new Database(data.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
for (const pragma of RECORDS_WRITER_PRAGMAS) db.pragma(pragma);
const insertGroup = groupInserter(db);
const purge = db.prepare(PURGE_SQL);
const port = parentPort!;

/** Appends taken and not written yet, as they came (packed: an array of numbers and one of strings each). */
let staged: PackedRecords[] = [];
let stagedRecords = 0;
let groupTimer: NodeJS.Timeout | undefined;

/**
 * Writes every staged append in one transaction, its records in key order, and tells the main thread
 * how many were written — or lost, with why: their appends were answered when taken.
 */
function writeStaged(): void {
  clearTimeout(groupTimer);
  groupTimer = undefined;
  if (stagedRecords === 0) return;
  const group = staged;
  const n = stagedRecords;
  staged = [];
  stagedRecords = 0;
  let notice: RecordsReply;
  try {
    insertGroup(preparedInKeyOrder(group));
    notice = { id: 0, written: n, lost: 0 };
  } catch (err) {
    notice = { id: 0, written: 0, lost: n, ...failure(err) };
  }
  port.postMessage(notice);
}

function failure(err: unknown): { code: string | undefined; message: string } {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e.code === 'string' ? e.code : undefined, message: String(e.message ?? err) };
}

port.on('message', (msg: RecordsRequest) => {
  let reply: RecordsReply;
  try {
    if (msg.op === 'append') {
      const n = packedCount(msg.packed);
      staged.push(msg.packed);
      stagedRecords += n;
      if (stagedRecords >= RECORDS_GROUP_SIZE) writeStaged();
      else groupTimer ??= setTimeout(writeStaged, data.groupMs);
      reply = { id: msg.id, ok: true, n };
    } else if (msg.op === 'flush') {
      writeStaged();
      reply = { id: msg.id, ok: true, n: 0 };
    } else if (msg.op === 'purge') {
      // In the order asked: what was taken before the purge is in the table it purges.
      writeStaged();
      reply = { id: msg.id, ok: true, n: purge.run(msg.before, msg.limit).changes };
    } else {
      writeStaged();
      db.close();
      port.postMessage({ id: msg.id, ok: true, n: 0 } satisfies RecordsReply);
      port.close();
      return;
    }
  } catch (err) {
    reply = { id: msg.id, ok: false, ...failure(err) };
  }
  port.postMessage(reply);
});
