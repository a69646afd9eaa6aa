/**
 * Idle cost: CPU an idle `uee start` (embedded default: SQLite store, embedded bus, runtime on, no
 * plugins, no traffic) spends while nothing happens, beside an idle Node HTTP server measured in the
 * same run (the baseline: what a Node process that only waits costs). A third process has 1,000
 * plugins deployed (global, each on an event type of its own, as bench/routing's `plugins1000`) and
 * no traffic either: what 1,000 idle queues cost (each polled for other processes' routing, claimed
 * from and pruned every `claimIdleMs / 2`, its lease renewed), which must not grow much with the
 * number of plugins deployed. All are separate processes; their CPU (user + system, every thread) is
 * read from /proc over the same window after a warm-up.
 * Run: npm run bench -- idle   (UEE_BENCH_IDLE_MS, default 10,000: the measured window;
 *      UEE_BENCH_IDLE_PLUGINS, default 1,000: the plugins deployed in the third process)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { printResult, printTable } from './_table.js';
import { SERVER_NODE_FLAGS } from '../src/cli/node-flags.js';
import { silentLogger } from '../src/core/index.js';
import { UeeApp } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { buildWat } from '../test/runtime/wat.js';

const WINDOW_MS = Number(process.env.UEE_BENCH_IDLE_MS ?? 10_000);
const PLUGINS = Number(process.env.UEE_BENCH_IDLE_PLUGINS ?? 1_000);
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

/** A data directory with `n` global no-op plugins deployed, each on an event type of its own (written by an app in this process, closed before the server opens it). */
async function deployedDir(n: number): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'uee-bench-idle-plugins-'));
  const app = await UeeApp.create(loadConfig({ dataDir, logLevel: 'error', runtime: 'off' }, {}), silentLogger);
  try {
    const wasm = await buildWat('noop');
    for (let i = 0; i < n; i++) await app.registry.deploy('bench', { manifest: { name: `Idle${i}`, subscribeTo: [`Idle${i}`] }, wasm });
  } finally {
    await app.close();
  }
  return dataDir;
}

const dir = mkdtempSync(join(tmpdir(), 'uee-bench-idle-'));
const pluginsDir = await deployedDir(PLUGINS);
const stop = (c: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (c.exitCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  });
try {
  const baseline = await start(['-e', "require('node:http').createServer().listen(0, () => console.log('ready'))"], /^ready$/);
  const uee = await start([...SERVER_NODE_FLAGS, join(import.meta.dirname, '..', 'bin', 'uee.mjs'), 'start', '--data-dir', dir, '--port', '0'], /"ready":true/);
  const withPlugins = await start([...SERVER_NODE_FLAGS, join(import.meta.dirname, '..', 'bin', 'uee.mjs'), 'start', '--data-dir', pluginsDir, '--port', '0'], /"ready":true/);
  // All measured over the same window.
  const [ueePct, pluginsPct, basePct] = await Promise.all([measure(uee), measure(withPlugins), measure(baseline)]);
  await Promise.all([stop(uee), stop(withPlugins), stop(baseline)]);
  printTable(
    ['process', 'CPU while idle, % of one core'],
    [
      ['idle Node HTTP server (baseline)', basePct.toFixed(2)],
      ['uee start (embedded, runtime on, no plugins)', ueePct.toFixed(2)],
      [`uee start, ${PLUGINS.toLocaleString('en-US')} plugins deployed (as many idle queues)`, pluginsPct.toFixed(2)],
    ],
  );
  printResult('idle', {
    windowMs: WINDOW_MS,
    baselineCpuPct: Number(basePct.toFixed(2)),
    ueeCpuPct: Number(ueePct.toFixed(2)),
    ueeOverBaselinePct: Number((ueePct - basePct).toFixed(2)),
    plugins: PLUGINS,
    ueeWithPluginsCpuPct: Number(pluginsPct.toFixed(2)),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(pluginsDir, { recursive: true, force: true });
}
