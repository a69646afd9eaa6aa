// The records writer thread of a file-backed SQLite store (see records-thread.ts): it owns the only
// writing connection to the store's records file and runs appends and retention there, so neither
// serialising records nor SQLite's inserts and deletes run on the main thread.
import { createRequire } from 'node:module';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { prepareInvocationRecord } from '../invocations.js';
import { PURGE_SQL, RECORDS_WRITER_PRAGMAS, recordInserter } from './invocations-sql.js';
import { unpackRecords } from './records-codec.js';
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
const insert = recordInserter(db);
const purge = db.prepare(PURGE_SQL);
const port = parentPort!;

port.on('message', (msg: RecordsRequest) => {
  let reply: RecordsReply;
  try {
    if (msg.op === 'append') {
      const drafts = unpackRecords(msg.packed);
      insert(drafts.map(prepareInvocationRecord));
      reply = { id: msg.id, ok: true, n: drafts.length };
    } else if (msg.op === 'purge') {
      reply = { id: msg.id, ok: true, n: purge.run(msg.before, msg.limit).changes };
    } else {
      db.close();
      port.postMessage({ id: msg.id, ok: true, n: 0 } satisfies RecordsReply);
      port.close();
      return;
    }
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    reply = { id: msg.id, ok: false, code: typeof e.code === 'string' ? e.code : undefined, message: String(e.message ?? err) };
  }
  port.postMessage(reply);
});
