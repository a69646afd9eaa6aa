/**
 * Idle cost: CPU an idle `uee start` (embedded default: SQLite store, embedded bus, runtime on, no
 * plugins, no traffic) spends while nothing happens, beside an idle Node HTTP server measured in the
 * same run (the baseline: what a Node process that only waits costs). Both are separate processes;
 * their CPU (user + system, every thread) is read from /proc over the same window after a warm-up.
 * Run: npm run bench -- idle   (UEE_BENCH_IDLE_MS, default 10,000: the measured window)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { printResult, printTable } from './_table.js';
import { SERVER_NODE_FLAGS } from '../src/cli/node-flags.js';

const WINDOW_MS = Number(process.env.UEE_BENCH_IDLE_MS ?? 10_000);
/** After the ready line: startup's own work (engine warm-up, first queries) is over. */
const SETTLE_MS = 5_000;
const TICKS_PER_SECOND = 100;

/** CPU ticks (user + system, all threads) of a process so far. */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Starts `args` under node and resolves once a stdout line matches `ready`. */
function start(args: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (ready.test(line)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${String(code)}) before it was ready`)));
  });
}

async function measure(child: ChildProcess): Promise<number> {
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const before = cpuTicks(child.pid!);
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const used = cpuTicks(child.pid!) - before;
  // Percent of one core over the window.
  return (100 * used) / TICKS_PER_SECOND / (WINDOW_MS / 1000);
}

const dir = mkdtempSync(join(tmpdir(), 'uee-bench-idle-'));
const stop = (c: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (c.exitCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  });
try {
  const baseline = await start(['-e', "require('node:http').createServer().listen(0, () => console.log('ready'))"], /^ready$/);
  const uee = await start([...SERVER_NODE_FLAGS, join(import.meta.dirname, '..', 'bin', 'uee.mjs'), 'start', '--data-dir', dir, '--port', '0'], /"ready":true/);
  // Both measured over the same window.
  const [ueePct, basePct] = await Promise.all([measure(uee), measure(baseline)]);
  await Promise.all([stop(uee), stop(baseline)]);
  printTable(
    ['process', 'CPU while idle, % of one core'],
    [
      ['idle Node HTTP server (baseline)', basePct.toFixed(2)],
      ['uee start (embedded, runtime on, no plugins)', ueePct.toFixed(2)],
    ],
  );
  printResult('idle', { windowMs: WINDOW_MS, baselineCpuPct: Number(basePct.toFixed(2)), ueeCpuPct: Number(ueePct.toFixed(2)), ueeOverBaselinePct: Number((ueePct - basePct).toFixed(2)) });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
