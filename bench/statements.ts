// SQLite statements with a bound LIMIT: `npm run bench -- statements`. SQLite lets a bound `LIMIT ?`
// shape the query plan, so each bind expires the prepared statement and its next step parses and
// plans it again; the platform's statements write `LIMIT +?` (the same limit, evaluated when the
// statement runs). Each statement below is the embedded bus's own (read from its prepared statements)
// beside the same text with a bare `LIMIT ?` (the baseline, same database, rounds alternating):
// µs per call (median of the rounds), then one JSON line.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { applyBusSchema, prepareBusStatements } from '../src/bus/embedded/schema.js';
import { median, printResult, printTable } from './_table.js';

const QUEUES = 100;
const ENTRIES = 20_000;
const CALLS = 20_000;
const ROUNDS = 7;

const dir = mkdtempSync(join(tmpdir(), 'uee-bench-statements-'));
const path = join(dir, 'bus.db');
const db = new Database(path);
try {
  applyBusSchema(db, path);
  const st = prepareBusStatements(db);
  const queues = Array.from({ length: QUEUES }, (_, i) => `plugin:t${i}:Bench`);
  const envelope = JSON.stringify({ eventId: '0'.repeat(36), type: 'Tick', tenantId: 'acme', payload: { i: 1 } });
  db.transaction(() => {
    for (const q of queues) st.createQueue.run(q, 0, 0);
    for (let n = 1; n <= ENTRIES; n++) {
      st.insertEntry.run(1_700_000_000_000, envelope);
      st.enqueue.run(queues[n % QUEUES]!, n, 1_700_000_000_000);
    }
  })();
  // A queue read of a few rows (the 1,000-tenant shape) and a dispatcher read of a batch.
  const cases = [
    { name: 'queue read (4 rows)', key: 'queueRead', stmt: st.queuedAfter, args: (i: number) => [queues[i % QUEUES]!, (i * 37) % (ENTRIES - 500), 4] },
    { name: 'dispatcher read (64 rows)', key: 'dispatcherRead', stmt: st.entriesAfter, args: (i: number) => [(i * 37) % (ENTRIES - 500), 64] },
  ];
  const rows: Array<Array<string | number>> = [];
  const figures: Record<string, number> = { calls: CALLS, rounds: ROUNDS };
  for (const c of cases) {
    if (!c.stmt.source.includes('LIMIT +?')) throw new Error(`${c.name}: the bus's statement has no LIMIT +? any more: ${c.stmt.source}`);
    const bare = db.prepare(c.stmt.source.replace('LIMIT +?', 'LIMIT ?'));
    const time = (stmt: { all: (...a: unknown[]) => unknown[] }): number => {
      const start = performance.now();
      for (let i = 0; i < CALLS; i++) stmt.all(...c.args(i));
      return ((performance.now() - start) * 1000) / CALLS;
    };
    time(c.stmt as never);
    time(bare);
    const plus: number[] = [];
    const baseline: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      baseline.push(time(bare));
      plus.push(time(c.stmt as never));
    }
    const b = median(baseline);
    const p = median(plus);
    rows.push([c.name, b.toFixed(2), p.toFixed(2), (b / p).toFixed(2)]);
    figures[`${c.key}BareLimitUs`] = Number(b.toFixed(2));
    figures[`${c.key}PlusLimitUs`] = Number(p.toFixed(2));
    figures[`${c.key}Speedup`] = Number((b / p).toFixed(2));
  }
  printTable(['statement', 'LIMIT ? µs/call (baseline)', 'LIMIT +? µs/call', 'speed-up'], rows);
  printResult('statements', figures);
} finally {
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
