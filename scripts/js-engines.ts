/**
 * Engine against engine on the `bench/js` workloads:
 * `node --import tsx scripts/js-engines.ts BASE.wasm [CANDIDATE.wasm] [--rounds N]` (the candidate
 * defaults to the engine the sources build now). Both engines compile the same bundle; their calls
 * alternate within each round, so load on a shared machine hits both alike and only the same-run
 * ratio is reported (candidate ÷ base; below 1 is faster); both are warmed up for 3 s first
 * (`UEE_BENCH_WARMUP_MS`). Ends with one JSON line.
 */
import createPlugin from '@extism/extism';
import { compileJs, ensureEngine } from '../src/compiler/index.js';
import { median, printResult, printTable } from '../bench/_table.js';
import { KINDS, WORKLOADS, warmUp, workloadInput } from '../bench/_js-workloads.js';

const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 9;
const WARMUP = 3;
const [basePath, candidatePath = (await ensureEngine()).wasmPath] = args;
if (basePath === undefined) throw new Error('usage: scripts/js-engines.ts BASE.wasm [CANDIDATE.wasm] [--rounds N]');

const load = async (wasmPath: string): Promise<(input: string) => Promise<unknown>> => {
  const { wasm } = await compileJs({
    engine: { hash: wasmPath, wasmPath, features: [], toolchain: 'compare', buildMs: 0 },
    entry: 'bench.js',
    files: { 'bench.js': WORKLOADS },
    typeCheck: false,
  });
  const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { useWasi: false, functions: { 'extism:host/user': {} } });
  if (await plugin.functionExists('_initialize')) await plugin.call('_initialize');
  return async (input) => JSON.parse((await plugin.call('handle', input))?.text() ?? 'null') as unknown;
};
const base = await load(basePath);
const candidate = await load(candidatePath);

// Every workload runs on both engines for WARMUP_MS before any is measured (see `warmUp`).
await warmUp([(kind) => base(workloadInput(kind)), (kind) => candidate(workloadInput(kind))]);

const rows: Array<Array<string | number>> = [];
const figures: Record<string, unknown> = {};
for (const kind of KINDS) {
  const input = workloadInput(kind);
  const times: [number[], number[]] = [[], []];
  const answers: unknown[] = [];
  for (let i = 0; i < rounds + WARMUP; i++) {
    // alternate which engine goes first
    const order = i % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const);
    for (const which of order) {
      const t = performance.now();
      answers[which] = await (which === 0 ? base : candidate)(input);
      if (i >= WARMUP) times[which].push(performance.now() - t);
    }
  }
  if (answers[0] !== answers[1]) throw new Error(`${kind}: base answered ${String(answers[0])}, candidate ${String(answers[1])}`);
  const b = median(times[0]);
  const c = median(times[1]);
  rows.push([kind, b, c, c / b]);
  figures[kind] = { baseMs: Math.round(b * 100) / 100, candidateMs: Math.round(c * 100) / 100, ratio: Math.round((c / b) * 100) / 100 };
}
printTable(['workload', 'base ms/call', 'candidate ms/call', 'candidate ÷ base'], rows);
printResult('js-engines', { rounds, base: basePath, candidate: candidatePath, ...figures });
