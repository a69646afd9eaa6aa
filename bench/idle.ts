/**
 * Idle cost: CPU an idle `uee start` (embedded default: SQLite store, embedded bus, runtime on, no
 * plugins, no traffic) spends while nothing happens, beside an idle Node HTTP server measured in the
 * same run (the baseline: what a Node process that only waits costs). A third process has 1,000
 * plugins deployed (global, each on an event type of its own, as bench/routing's `plugins1000`) and
 * no traffic either: what 1,000 idle queues cost (each polled for other processes' routing, claimed
 * from and pruned every `claimIdleMs / 2`, its lease renewed), which must not grow much with the
 * number of plugins deployed. All are separate processes; their CPU (user + system, every thread) is
 * read from /proc over the same window after a warm-up. The same pair — no plugins, and the plugins
 * deployed — runs on a Redis bus too (a key prefix of its own, deleted after), when Redis answers:
 * there each idle queue's claims and prunes are Redis round trips.
 * Run: npm run bench -- idle   (UEE_BENCH_IDLE_MS, default 10,000: the measured window;
 *      UEE_BENCH_IDLE_PLUGINS, default 1,000: the plugins deployed in the third process;
 *      UEE_BENCH_REDIS_URL, default redis://127.0.0.1:6379: the Redis pair, skipped — and said so — when it does not answer)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteRedisKeys } from '../test/router/app-site.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { printResult, printTable } from './_table.js';
import { procCpuUs } from './_proc.js';
import { SERVER_NODE_FLAGS } from '../src/cli/node-flags.js';
import { silentLogger } from '../src/core/index.js';
import { UeeApp } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { buildWat } from '../test/runtime/wat.js';

const WINDOW_MS = Number(process.env.UEE_BENCH_IDLE_MS ?? 10_000);
const PLUGINS = Number(process.env.UEE_BENCH_IDLE_PLUGINS ?? 1_000);
const REDIS_URL = process.env.UEE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** After the ready line: startup's own work (engine warm-up, first queries) is over. */
const SETTLE_MS = 5_000;

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
  const before = procCpuUs(`/proc/${child.pid!}/stat`);
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const usedUs = procCpuUs(`/proc/${child.pid!}/stat`) - before;
  // Percent of one core over the window.
  return (100 * usedUs) / 1000 / WINDOW_MS;
}

/** A data directory with `n` global no-op plugins deployed, each on an event type of its own (written by an app in this process, closed before the server opens it). */
async function deployedDir(n: number, bus: Record<string, string> = {}): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'uee-bench-idle-plugins-'));
  const app = await UeeApp.create(loadConfig({ dataDir, logLevel: 'error', runtime: 'off', ...bus }, {}), silentLogger);
  try {
    const wasm = await buildWat('noop');
    for (let i = 0; i < n; i++) await app.registry.deploy('bench', { manifest: { name: `Idle${i}`, subscribeTo: [`Idle${i}`] }, wasm });
  } finally {
    await app.close();
  }
  return dataDir;
}

/** Whether Redis answers at `url` (the Redis pair is skipped, and the output says so, when it does not). */
async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'uee-bench-idle-'));
const pluginsDir = await deployedDir(PLUGINS);
const onRedis = await redisAnswers(REDIS_URL);
if (!onRedis) console.log(`Redis does not answer at ${REDIS_URL}: the Redis rows are skipped`);
const prefixes = [`uee-bench-idle:${randomBytes(4).toString('hex')}:`, `uee-bench-idle:${randomBytes(4).toString('hex')}:`];
const redisDirs = onRedis ? [mkdtempSync(join(tmpdir(), 'uee-bench-idle-redis-')), await deployedDir(PLUGINS, { bus: REDIS_URL, redisPrefix: prefixes[1]! })] : [];
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
  const redisPair = await Promise.all(
    redisDirs.map((d, i) => start([...SERVER_NODE_FLAGS, join(import.meta.dirname, '..', 'bin', 'uee.mjs'), 'start', '--data-dir', d, '--port', '0', '--bus', REDIS_URL, '--redis-prefix', prefixes[i]!], /"ready":true/)),
  );
  // All measured over the same window.
  const [ueePct, pluginsPct, basePct, ...redisPct] = await Promise.all([measure(uee), measure(withPlugins), measure(baseline), ...redisPair.map(measure)]);
  await Promise.all([stop(uee), stop(withPlugins), stop(baseline), ...redisPair.map(stop)]);
  const plugins = PLUGINS.toLocaleString('en-US');
  printTable(
    ['process', 'CPU while idle, % of one core'],
    [
      ['idle Node HTTP server (baseline)', basePct.toFixed(2)],
      ['uee start (embedded, runtime on, no plugins)', ueePct.toFixed(2)],
      [`uee start, ${plugins} plugins deployed (as many idle queues)`, pluginsPct.toFixed(2)],
      ...(onRedis
        ? [
            ['uee start on Redis, no plugins', redisPct[0]!.toFixed(2)],
            [`uee start on Redis, ${plugins} plugins deployed`, redisPct[1]!.toFixed(2)],
          ]
        : []),
    ],
  );
  printResult('idle', {
    windowMs: WINDOW_MS,
    baselineCpuPct: Number(basePct.toFixed(2)),
    ueeCpuPct: Number(ueePct.toFixed(2)),
    ueeOverBaselinePct: Number((ueePct - basePct).toFixed(2)),
    plugins: PLUGINS,
    ueeWithPluginsCpuPct: Number(pluginsPct.toFixed(2)),
    ...(onRedis ? { redisCpuPct: Number(redisPct[0]!.toFixed(2)), redisWithPluginsCpuPct: Number(redisPct[1]!.toFixed(2)) } : {}),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(pluginsDir, { recursive: true, force: true });
  for (const d of redisDirs) rmSync(d, { recursive: true, force: true });
  if (onRedis) for (const p of prefixes) await deleteRedisKeys(p, REDIS_URL);
}
