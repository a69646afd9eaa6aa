/**
 * JS engine benchmark: `npm run bench -- js`. The same workloads (sort, JSON round trip, regex over
 * 100 KB, building a 1 MB string with +=, a 1e6-step arithmetic loop) run as one compiled plugin on
 * @extism/extism (main thread) and, in the same process, as the same ES module on Node 20. Prints
 * per-call medians (after every workload ran in turn for `UEE_BENCH_WARMUP_MS`, default 3,000, so V8
 * has tiered the engine up, and `UEE_BENCH_WARMUP`, default 3, unmeasured calls of each), the ratio to Node
 * for each, then what crossing the boundary costs a call with 8 KB each way (the Extism kernel vs
 * direct I/O, same run), then one JSON line. Goals: ≤ 3× Node on each, the 1 MB string build ≤ 50 ms. `UEE_BENCH_ENGINE=path/engine.wasm` benches that engine build instead.
 */
import createPlugin from '@extism/extism';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileJs, ensureEngine } from '../src/compiler/index.js';
import { DirectIo } from '../src/runtime/direct-io.js';
import { median, printResult, printTable } from './_table.js';
import { KINDS, WARMUP_MS, WORKLOADS, warmUp, workloadInput } from './_js-workloads.js';

const ROUNDS = Number(process.env.UEE_BENCH_ROUNDS ?? 15);
// unmeasured calls first, on both sides: V8 tiers the engine's wasm up to TurboFan in the background
// (slowly on a loaded machine, so without them the median could be Liftoff code) and Node's JIT warms up
const WARMUP = Number(process.env.UEE_BENCH_WARMUP ?? 3);
// …and before any of it, every workload in turn on both sides for WARMUP_MS (`warmUp`).

// UEE_BENCH_ENGINE=path/to/engine.wasm benches another engine build than the one the sources make
const enginePath = process.env.UEE_BENCH_ENGINE;
const engine = enginePath
  ? { hash: enginePath, wasmPath: enginePath, features: [], toolchain: 'given', buildMs: 0 }
  : await ensureEngine();
const { wasm } = await compileJs({ engine, entry: 'bench.js', files: { 'bench.js': WORKLOADS }, typeCheck: false });
const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { useWasi: false, functions: { 'extism:host/user': {} } });
if (await plugin.functionExists('_initialize')) await plugin.call('_initialize');

const dir = mkdtempSync(join(tmpdir(), 'uee-bench-js-'));
const file = join(dir, 'bench.mjs');
writeFileSync(file, WORKLOADS);
const mod = (await import(pathToFileURL(file).href)) as { handle: (i: unknown) => unknown };

/**
 * A young-generation collection before each timed call, on both sides: the calls alternate in one
 * process, so without it one side's garbage (Node's 100,000 rope pieces, the engine's input and
 * output buffers) was collected inside the other side's timing (the engine's string build read
 * 2.0–5.1 ms here against 1.14 ms alone). Only with `--expose-gc` (`npm run bench` passes it).
 */
const collectYoung = (): void => (globalThis as { gc?: (options: { type: 'minor'; execution: 'sync' }) => void }).gc?.({ type: 'minor', execution: 'sync' });

const rows: Array<Array<string | number>> = [];
const figures: Record<string, unknown> = {};
await warmUp([(kind) => plugin.call('handle', workloadInput(kind)), (kind) => mod.handle(JSON.parse(workloadInput(kind)))]);
for (const kind of KINDS) {
  const text = workloadInput(kind);
  const parsed = JSON.parse(text) as unknown;
  const ours: number[] = [];
  const node: number[] = [];
  let a: unknown;
  let b: unknown;
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    collectYoung();
    let t = performance.now();
    a = JSON.parse((await plugin.call('handle', text))?.text() ?? 'null');
    if (i >= WARMUP) ours.push(performance.now() - t);
    collectYoung();
    t = performance.now();
    b = mod.handle(parsed);
    if (i >= WARMUP) node.push(performance.now() - t);
  }
  if (a !== b) throw new Error(`${kind}: engine answered ${String(a)}, Node ${String(b)}`);
  const o = median(ours);
  const n = median(node);
  rows.push([kind, o, n, o / n]);
  figures[kind] = { engineMs: Math.round(o * 100) / 100, nodeMs: Math.round(n * 100) / 100, ratio: Math.round((o / n) * 10) / 10 };
}
await plugin.close();
rmSync(dir, { recursive: true, force: true });
printTable(['workload', 'engine ms/call', 'Node 20 ms/call', '× Node'], rows);

/**
 * What crossing the boundary costs a call (src/runtime/direct-io.ts): a handler echoing an 8 KB
 * payload (8 KB in, 8 KB out) through the Extism kernel — 8 bytes per host call, as any Extism host
 * runs the engine — and through direct I/O, as the runtime's workers run it; two instances of the
 * same module, calls alternating, µs per call (median of `IO_CALLS`).
 */
const IO_CALLS = Number(process.env.UEE_BENCH_IO_CALLS ?? 400);
const echo = (await compileJs({ engine, entry: 'echo.js', files: { 'echo.js': 'export function handle(input) { return input.event.payload.text; }' }, typeCheck: false })).wasm;
const ioText = JSON.stringify({ ...JSON.parse(workloadInput('io')), event: { eventId: 'e', type: 'Bench', tenantId: 't', payload: { text: 'x'.repeat(8 * 1024) } } });
const ioBytes = new TextEncoder().encode(ioText);
const kernelPlugin = await createPlugin({ wasm: [{ data: echo }] }, { useWasi: false, functions: { 'extism:host/user': {} } });
const directPlugin = await createPlugin({ wasm: [{ data: echo }] }, { useWasi: false, functions: { 'extism:host/user': {} } });
for (const p of [kernelPlugin, directPlugin]) if (await p.functionExists('_initialize')) await p.call('_initialize');
const io = DirectIo.of(((await directPlugin.getInstance()) as unknown as { exports: Record<string, unknown> }).exports);
if (io === null) throw new Error('the engine has no direct I/O exports');
io.enable();
const viaKernel: number[] = [];
const viaDirect: number[] = [];
// The echo module is compiled apart from the workloads' module: tiered up apart too.
const ioWarmStart = performance.now();
while (performance.now() - ioWarmStart < WARMUP_MS / 3) {
  await kernelPlugin.call('handle', ioText);
  await kernelPlugin.reset();
  io.stage(ioBytes);
  await directPlugin.call('handle', '');
  io.result();
  await directPlugin.reset();
}
for (let i = 0; i < WARMUP + IO_CALLS; i++) {
  let t = performance.now();
  const a = (await kernelPlugin.call('handle', ioText))?.text() ?? '';
  await kernelPlugin.reset();
  if (i >= WARMUP) viaKernel.push(performance.now() - t);
  t = performance.now();
  io.stage(ioBytes);
  await directPlugin.call('handle', '');
  const r = io.result();
  const b = r === null ? '' : new TextDecoder().decode(r.bytes);
  await directPlugin.reset();
  if (i >= WARMUP) viaDirect.push(performance.now() - t);
  if (a !== b || a.length < 8 * 1024) throw new Error(`echo differs: kernel ${a.length} bytes, direct ${b.length}`);
}
await kernelPlugin.close();
await directPlugin.close();
const kernelUs = median(viaKernel) * 1000;
const directUs = median(viaDirect) * 1000;
printTable(['call I/O (8 KB in, 8 KB out)', 'µs/call'], [['Extism kernel, 8 bytes per host call (baseline)', kernelUs], ['direct I/O (the runtime)', directUs], ['kernel ÷ direct', kernelUs / directUs]]);
figures.io = { kernelUs: Math.round(kernelUs), directUs: Math.round(directUs), speedup: Math.round((kernelUs / directUs) * 10) / 10 };
printResult('js', { rounds: ROUNDS, warmup: WARMUP, warmupMs: WARMUP_MS, ...figures });
