/**
 * WAL checkpoints off the main thread: `npm run bench -- checkpoints`. The SQLite store commits
 * `COMMITS` commits of 10 entities each (yielding to the event loop every 50, as a server does between
 * batches), once with the file's WAL checkpointed by the process's checkpoint thread (the default) and
 * once by the connection itself on the main thread (SQLite's default, the baseline), alternating for
 * `ROUNDS` rounds, each on a fresh file. Reports the best round's commits/s and, over all rounds, the
 * commit latency tail and the number of commits that took over 5 ms — a commit's time is the main
 * thread's, so a slow one holds every tenant's events. Ends with one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TenantContext } from '../src/core/index.js';
import { walCheckpoints } from '../src/core/wal-checkpointer.js';
import { openSqliteStore } from '../src/store/index.js';
import { percentile, printResult, printTable } from './_table.js';

const COMMITS = Number(process.env.UEE_BENCH_COMMITS ?? 10_000);
const ROUNDS = Number(process.env.UEE_BENCH_ROUNDS ?? 3);
const STALL_MS = 5;

interface Round {
  perSec: number;
  latencies: number[];
}

async function round(thread: boolean): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), 'uee-bench-checkpoints-'));
  try {
    const store = await openSqliteStore({ path: join(dir, 'uee.db'), ...(thread ? {} : { checkpoints: false }) });
    // The thread starts in the background: measure once it runs (a server starts it at boot).
    await walCheckpoints.thread;
    await store.tenants.create('bench');
    const ctx: TenantContext = { tenantId: 'bench', actor: 'user:bench' };
    const latencies: number[] = [];
    const start = performance.now();
    for (let i = 0; i < COMMITS; i++) {
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      const t = performance.now();
      await store.commit(ctx, { writes: Array.from({ length: 10 }, (_, k) => ({ entityTypeId: 'Task', attributes: { title: `task ${i}.${k}`, body: 'x'.repeat(300) } })) });
      latencies.push(performance.now() - t);
    }
    const perSec = COMMITS / ((performance.now() - start) / 1000);
    await store.close();
    return { perSec, latencies };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const modes = { thread: [] as Round[], mainThread: [] as Round[] };
for (let r = 0; r < ROUNDS; r++) {
  modes.thread.push(await round(true));
  modes.mainThread.push(await round(false));
}

const figures: Record<string, number> = { commits: COMMITS, rounds: ROUNDS };
const rows: Array<Array<string | number>> = [];
for (const [key, label] of [
  ['mainThread', 'main thread (SQLite default, baseline)'],
  ['thread', 'checkpoint thread'],
] as const) {
  const rs = modes[key];
  const all = rs.flatMap((r) => r.latencies);
  const best = Math.max(...rs.map((r) => r.perSec));
  const stalls = all.filter((ms) => ms > STALL_MS).length / rs.length;
  const p99 = percentile(all, 99);
  const p999 = percentile(all, 99.9);
  const max = Math.max(...all);
  rows.push([label, best, p99, p999, max, stalls]);
  Object.assign(figures, {
    [`${key}CommitsPerSec`]: Math.round(best),
    [`${key}P99Ms`]: Number(p99.toFixed(2)),
    [`${key}P999Ms`]: Number(p999.toFixed(2)),
    [`${key}MaxMs`]: Number(max.toFixed(1)),
    [`${key}CommitsOver5msPerRound`]: Math.round(stalls),
  });
}
figures.threadVsMainThread = Number((figures.threadCommitsPerSec! / figures.mainThreadCommitsPerSec!).toFixed(2));
printTable(['WAL checkpoints by', 'commits/s (best)', 'p99 ms', 'p99.9 ms', 'max ms', `commits > ${STALL_MS} ms per round`], rows);
printResult('checkpoints', figures);
