/**
 * What one tenant's agent polling its invocation records costs everybody's records: 1,000 tenants'
 * records recorded at a steady 40,000/s into a file-backed SQLite store (the router's recorder, the
 * records thread writing in groups) while one tenant's reads flush the records — `invocation_list` /
 * `event_trace` in a loop. Quiet (nobody reads) is the baseline, in the same run; then the reads as
 * they flushed before 2026-12-07 (`flush()`: a forced write each, cutting every tenant's group short)
 * at the rate the front door lets one principal send (`UEE_REQUESTS_PER_SECOND`, 20/s) and back to
 * back (a tenant with several tokens, or a future door without the limit); then as they flush now
 * (`flushFor(tenant)`: at most one forced write per tenant per `RECORDS_TENANT_FLUSH_MS`), back to
 * back. Figures: CPU µs per record spent off the main thread (the records thread, mostly), and forced
 * writes per second. Each row is the median of 3 runs of 2 s; the scenarios alternate, each on a
 * store of its own.
 * Run: npm run bench -- records-poll
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/core/index.js';
import { InvocationRecords } from '../src/app/index.js';
import { openSqliteStore } from '../src/store/index.js';
import { procCpuUs } from './_proc.js';
import { noopRecords } from './_records.js';
import { median, printResult, printTable } from './_table.js';

const TENANTS = 1000;
const PER_TICK = 1000;
const TICK_MS = 25;
const RUN_MS = 2000;
const ROUNDS = 3;
type Mode = 'quiet' | 'flush20' | 'flush' | 'flushFor';
/** Requests per second the front door lets one principal send (`FrontDoorConfig.requestsPerSecond`'s default). */
const FRONT_DOOR_RATE = 20;

const mainCpuUs = (): number => procCpuUs(`/proc/self/task/${process.pid}/stat`);
const processCpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** One run: records in, `mode`'s reads meanwhile; µs per record off the main thread, on it, and reads' forced writes per second. */
async function run(mode: Mode): Promise<{ offMain: number; main: number; forcedPerSec: number; reads: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'uee-bench-records-poll-'));
  const store = await openSqliteStore({ path: join(dir, 'store.db') });
  const records = new InvocationRecords(store.invocations, { retentionMs: 3_600_000, logger: silentLogger });
  const source = noopRecords();
  let forced = 0;
  let reads = 0;
  let stop = false;
  const reader = (async () => {
    if (mode === 'quiet') return;
    while (!stop) {
      const asked = performance.now();
      if (mode === 'flush' || mode === 'flush20') {
        forced++;
        await records.flush();
      } else await records.flushFor('tenant-0');
      reads++;
      const pause = mode === 'flush20' ? asked + 1000 / FRONT_DOOR_RATE - performance.now() : 0;
      await new Promise((resolve) => (pause > 0 ? setTimeout(resolve, pause) : setImmediate(resolve)));
    }
  })();
  const cpu0 = processCpuUs();
  const main0 = mainCpuUs();
  const start = performance.now();
  let recorded = 0;
  while (performance.now() - start < RUN_MS) {
    for (let i = 0; i < PER_TICK; i++) records.record(source.next(TENANTS));
    recorded += PER_TICK;
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  stop = true;
  await reader;
  await records.flush();
  const elapsed = (performance.now() - start) / 1000;
  const cpu = processCpuUs() - cpu0;
  const main = mainCpuUs() - main0;
  if (mode === 'flushFor') forced = records.forcedWrites;
  const dropped = records.dropped;
  await records.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (dropped > 0) throw new Error(`${dropped} records dropped in a ${mode} run: the figures would not compare`);
  return { offMain: (cpu - main) / recorded, main: main / recorded, forcedPerSec: forced / elapsed, reads };
}

const modes: Mode[] = ['quiet', 'flush20', 'flush', 'flushFor'];
const runs = new Map<Mode, Array<Awaited<ReturnType<typeof run>>>>(modes.map((m) => [m, []]));
await run('quiet'); // warm-up, unreported
for (let r = 0; r < ROUNDS; r++) for (const m of modes) runs.get(m)!.push(await run(m));
const fig = (m: Mode, k: 'offMain' | 'main' | 'forcedPerSec' | 'reads'): number => median(runs.get(m)!.map((x) => x[k]));
const labels: Record<Mode, string> = {
  quiet: 'nobody reads (baseline)',
  flush20: "one tenant's reads at 20/s (one token's front-door rate), each a forced write (before)",
  flush: "one tenant's reads back to back, each a forced write (before)",
  flushFor: "one tenant's reads back to back, bounded per tenant (now)",
};
printTable(
  ['records of 1,000 tenants at 40,000/s', 'µs/record off main', 'vs quiet', 'µs/record main', 'forced writes/s', 'reads in 2 s'],
  modes.map((m) => [labels[m], fig(m, 'offMain').toFixed(1), (fig(m, 'offMain') / fig('quiet', 'offMain')).toFixed(2), fig(m, 'main').toFixed(1), fig(m, 'forcedPerSec').toFixed(0), String(fig(m, 'reads'))]),
);
printResult('records-poll', {
  quietOffMainUsPerRecord: Number(fig('quiet', 'offMain').toFixed(2)),
  flush20OffMainUsPerRecord: Number(fig('flush20', 'offMain').toFixed(2)),
  flushOffMainUsPerRecord: Number(fig('flush', 'offMain').toFixed(2)),
  flushForOffMainUsPerRecord: Number(fig('flushFor', 'offMain').toFixed(2)),
  ratioFlush20VsQuiet: Number((fig('flush20', 'offMain') / fig('quiet', 'offMain')).toFixed(2)),
  ratioFlushVsQuiet: Number((fig('flush', 'offMain') / fig('quiet', 'offMain')).toFixed(2)),
  ratioFlushForVsQuiet: Number((fig('flushFor', 'offMain') / fig('quiet', 'offMain')).toFixed(2)),
  flush20ForcedPerSec: Math.round(fig('flush20', 'forcedPerSec')),
  flushForcedPerSec: Math.round(fig('flush', 'forcedPerSec')),
  flushForForcedPerSec: Math.round(fig('flushFor', 'forcedPerSec')),
});
