/**
 * Compile benchmark: `node --import tsx bench/compile.ts`.
 * The same plugin (read the event's entity with one host call and output it) in JS/TS, AssemblyScript
 * and bare wasm (WAT): cold and warm compile time, module size, instantiate time and per-call latency
 * on @extism/extism (main thread), all in one run. Then the two first-compile figures of issue 11:
 * `first_compile_fresh_process_ms` (median of three fresh processes, engine and install-time caches
 * present, nothing warmed; goal ≤ 2 s) and `first_compile_after_start_ms` (the first plugin_compile
 * over MCP once `uee start` is ready on a fresh data dir; goal ≤ 5 s), each next to the same run's
 * baselines: the steady-state compile in this process and the server's second compile. Prints a
 * table, then one JSON line.
 */
import createPlugin from '@extism/extism';
import { readFile } from 'node:fs/promises';
import { compileAssemblyScript, compileJs, compileWat, ensureEngine } from '../src/compiler/index.js';
import type { CompileResult } from '../src/compiler/index.js';
import { warmCompilerThread } from '../src/compiler/worker-pool.js';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { EvalSession } from '../evals/session.js';
import { SERVER_NODE_FLAGS } from '../src/cli/node-flags.js';

/** `WebAssembly` as a value (the project's lib settings only declare its namespace). */
const Wasm = (globalThis as unknown as { WebAssembly: { compile(b: Uint8Array): Promise<object> } }).WebAssembly;

const JS_SRC = `import { readEntity } from 'uee:plugin';
export function handle(input: any) { return readEntity(input.event.entityId); }`;
const AS_SRC = `import { Value, on, dispatch, readEntity } from "uee-plugin";
on("*", (input: Value): Value | null => readEntity(input.get("event").get("entityId").str()).value);
export function handle(): i32 { return dispatch(); }`;
const WAT_SRC = await readFile(new URL('../test/fixtures/plugins/wat/echo-read.wat', import.meta.url), 'utf8');

const ENTITY = JSON.stringify({ ok: true, value: { entityId: 'e1', entityTypeId: 'task', version: 3, attributes: { title: 'x' } } });
const EVENT_INPUT = JSON.stringify({
  event: { eventId: 'ev1', type: 'TaskUpdated', tenantId: 't1', entityId: 'e1', payload: {} },
  settings: {},
  context: { now: '2026-11-26T12:00:00.000Z', randomSeed: '0123456789abcdef0123456789abcdef', tenantId: 't1' },
});
const WAT_INPUT = JSON.stringify({ entityId: 'e1' });

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const p95 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)] ?? NaN;

async function timeCompile(fn: () => Promise<CompileResult>): Promise<{ coldMs: number; warmMs: number; result: CompileResult }> {
  let t0 = performance.now();
  await fn();
  const coldMs = ms(t0);
  t0 = performance.now();
  const result = await fn();
  return { coldMs, warmMs: ms(t0), result };
}

async function measureCalls(wasm: Uint8Array, input: string) {
  let t0 = performance.now();
  const module = await Wasm.compile(wasm);
  const compileModuleMs = ms(t0);
  const functions = { 'extism:host/user': { read_entity: (cp: { store(s: string): bigint }) => cp.store(ENTITY) } };
  t0 = performance.now();
  const plugin = await createPlugin({ wasm: [{ module }] }, { useWasi: false, functions });
  // As the runtime does (docs/plugin-abi.md): `_initialize` once per instance, before the first call.
  if (await plugin.functionExists('_initialize')) await plugin.call('_initialize');
  const instantiateMs = ms(t0);
  const out = await plugin.call('handle', input);
  if (!out?.text().includes('"e1"')) throw new Error(`unexpected output: ${out?.text()}`);
  for (let i = 0; i < 3000; i++) await plugin.call('handle', input); // warm-up: lets V8 tier up
  const samples: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const s = performance.now();
    await plugin.call('handle', input);
    samples.push((performance.now() - s) * 1000);
  }
  await plugin.close();
  return { compileModuleMs, instantiateMs, callMedianUs: Math.round(median(samples) * 10) / 10, callP95Us: Math.round(p95(samples) * 10) / 10 };
}

let t0 = performance.now();
const engine = await ensureEngine();
const engineMs = ms(t0);
t0 = performance.now();
await warmCompilerThread(join(import.meta.dirname, '..', 'sdk'));
const threadWarmMs = ms(t0);

const js = await timeCompile(() => compileJs({ engine, entry: 'main.ts', files: { 'main.ts': JS_SRC } }));
const as = await timeCompile(() => compileAssemblyScript({ entry: 'main.ts', files: { 'main.ts': AS_SRC } }));
const wat = await timeCompile(() => compileWat({ source: WAT_SRC }));

const rows = [
  { lang: 'js', ...js, run: await measureCalls(js.result.wasm, EVENT_INPUT) },
  { lang: 'assemblyscript', ...as, run: await measureCalls(as.result.wasm, EVENT_INPUT) },
  { lang: 'wat', ...wat, run: await measureCalls(wat.result.wasm, WAT_INPUT) },
];
const baseline = rows[2]!.run.callMedianUs;

// First compile in a fresh process (engine and install-time caches present, nothing warmed): goal ≤ 2 s.
// Three processes, one after another; the median is reported (a loaded machine swings single runs).
const root = join(import.meta.dirname, '..');
type FreshRun = { firstCompileMs: number; processMs: number; timings: Record<string, number> };
const freshRuns: FreshRun[] = [];
for (let i = 0; i < 3; i++) {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'bench', 'compile-first.ts')], { cwd: root });
  freshRuns.push(JSON.parse(stdout.trim()) as FreshRun);
}
const fresh = [...freshRuns].sort((a, b) => a.firstCompileMs - b.firstCompileMs)[1]!;

// First plugin_compile over MCP right after `uee start` is ready on a fresh data dir (as after npm ci + npm start): goal ≤ 5 s.
async function firstCompileAfterStart(): Promise<{ readyMs: number; compileMs: number; totalMs: number; secondCompileMs: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'uee-bench-start-'));
  const t0 = performance.now();
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, join(root, 'bin', 'uee.mjs'), 'start', '--port', '0', '--data-dir', dataDir, '--log-level', 'warn'], {
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UEE_'))),
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (l) => l.includes('"ready":true') && resolve((JSON.parse(l) as { port: number }).port));
      child.once('exit', (code) => reject(new Error(`uee start exited with ${code}`)));
    });
    const readyMs = ms(t0);
    const token = readFileSync(join(dataDir, 'local-admin-token'), 'utf8').trim();
    const session = await EvalSession.connect({ transport: 'http', url: `http://127.0.0.1:${port}`, token });
    const t1 = performance.now();
    await session.must('plugin_compile', { source: { language: 'ts', files: { 'main.ts': JS_SRC }, entry: 'main.ts' } });
    const compileMs = ms(t1);
    const t2 = performance.now();
    await session.must('plugin_compile', { source: { language: 'ts', files: { 'main.ts': `${JS_SRC}\n// second\n` }, entry: 'main.ts' } });
    const secondCompileMs = ms(t2);
    await session.close();
    return { readyMs, compileMs, totalMs: ms(t0), secondCompileMs };
  } finally {
    const exit = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exit;
    rmSync(dataDir, { recursive: true, force: true });
  }
}
const afterStart = await firstCompileAfterStart();

const header = ['plugin', 'cold compile ms', 'warm compile ms', 'size KB', 'wasm compile ms', 'instantiate ms', 'call median µs', 'call p95 µs', 'vs bare wasm'];
const table = rows.map((r) => [
  r.lang, r.coldMs, r.warmMs, (r.result.wasm.length / 1024).toFixed(1), r.run.compileModuleMs, r.run.instantiateMs,
  r.run.callMedianUs, r.run.callP95Us, `${(r.run.callMedianUs / baseline).toFixed(2)}x`,
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => String(row[i]).length)));
const line = (cells: unknown[]): string => `| ${cells.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(' | ')} |`;
process.stdout.write(
  [
    `engine ${engine.hash} (${engine.toolchain}) ready in ${engineMs} ms${engine.buildMs > 0 ? ` (built: ${engine.buildMs} ms)` : ' (cached)'}; compiler thread with TypeScript warm in ${threadWarmMs} ms`,
    `JS warm compile phases: ${JSON.stringify(js.result.report.timings)}`,
    `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${availableParallelism()} cores); baseline: steady-state JS compile in this process ${js.warmMs} ms`,
    `first JS compile in a fresh process: median ${fresh.firstCompileMs} ms of ${freshRuns.map((r) => r.firstCompileMs).join(', ')} (goal ≤ 2000; ${(fresh.firstCompileMs / js.warmMs).toFixed(1)}× steady state; phases ${JSON.stringify(fresh.timings)})`,
    `first plugin_compile after uee start (fresh data dir, engine cached): ${afterStart.compileMs} ms (goal ≤ 5000), second ${afterStart.secondCompileMs} ms; server ready after ${afterStart.readyMs} ms`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...table.map(line),
    '',
  ].join('\n'),
);
process.stdout.write(
  JSON.stringify({
    bench: 'compile',
    engine: { hash: engine.hash, toolchain: engine.toolchain, readyMs: engineMs, buildMs: engine.buildMs },
    threadWarmMs,
    loadavg1: Math.round(loadavg()[0]! * 10) / 10,
    steady_state_compile_ms: js.warmMs,
    first_compile_fresh_process_ms: fresh.firstCompileMs,
    first_compile_fresh_process_runs_ms: freshRuns.map((r) => r.firstCompileMs),
    first_compile_fresh_process_phases: fresh.timings,
    first_compile_after_start_ms: afterStart.compileMs,
    second_compile_after_start_ms: afterStart.secondCompileMs,
    start_ready_ms: afterStart.readyMs,
    results: Object.fromEntries(
      rows.map((r) => [r.lang, { coldCompileMs: r.coldMs, warmCompileMs: r.warmMs, sizeBytes: r.result.wasm.length, ...r.run }]),
    ),
  }) + '\n',
);
