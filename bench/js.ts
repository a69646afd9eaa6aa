/**
 * JS engine benchmark: `npm run bench -- js`. The same workloads (sort, JSON round trip, regex over
 * 100 KB, building a 1 MB string with +=, a 1e6-step arithmetic loop) run as one compiled plugin on
 * @extism/extism (main thread) and, in the same process, as the same ES module on Node 20. Prints
 * per-call medians, the ratio to Node for each, then one JSON line. Goals: ≤ 3× Node on each, the
 * 1 MB string build ≤ 50 ms.
 */
import createPlugin from '@extism/extism';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileJs, ensureEngine } from '../src/compiler/index.js';
import { median, printResult, printTable } from './_table.js';

const WORKLOADS = String.raw`
const lcg = (seed) => () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const TEXT = (() => {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'mail', 'user', 'example'];
  const r = lcg(7);
  let s = '';
  while (s.length < 100000) s += r() < 0.05 ? ' u' + Math.floor(r() * 1000) + '@example.com' : ' ' + words[Math.floor(r() * words.length)];
  return s;
})();
const RECORDS = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: 'task ' + i, tags: ['a', 'b'], done: i % 2 === 0, score: i / 7 }));
export const work = {
  sort() {
    const r = lcg(1);
    const xs = Array.from({ length: 10000 }, () => r());
    xs.sort((a, b) => a - b);
    return xs[5000];
  },
  json() {
    const text = JSON.stringify(RECORDS);
    return JSON.parse(text).length + text.length;
  },
  regex() {
    const mails = TEXT.match(/\b\w+@\w+\.com\b/g).length;
    return mails + TEXT.replace(/a(l|m)/g, 'A$1').length;
  },
  string() {
    let s = '';
    for (let i = 0; i < 100000; i++) s += 'abcdefghij';
    return s.length;
  },
  arith() {
    let acc = 0;
    for (let i = 0; i < 1000000; i++) acc = (acc + ((i * i) % 7)) | 0;
    return acc;
  },
};
export function handle(input) {
  return work[input.event.payload.kind]();
}
`;
const KINDS = ['sort', 'json', 'regex', 'string', 'arith'] as const;
const ROUNDS = Number(process.env.UEE_BENCH_ROUNDS ?? 15);

const input = (kind: string): string =>
  JSON.stringify({ event: { eventId: 'e', type: 'Bench', tenantId: 't', payload: { kind } }, settings: {}, context: { now: '2026-11-26T12:00:00.000Z', randomSeed: '00', budget: { fuel: 1e9 } } });

const engine = await ensureEngine();
const { wasm } = await compileJs({ engine, entry: 'bench.js', files: { 'bench.js': WORKLOADS }, typeCheck: false });
const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { useWasi: false, functions: { 'extism:host/user': {} } });
if (await plugin.functionExists('_initialize')) await plugin.call('_initialize');

const dir = mkdtempSync(join(tmpdir(), 'uee-bench-js-'));
const file = join(dir, 'bench.mjs');
writeFileSync(file, WORKLOADS);
const mod = (await import(pathToFileURL(file).href)) as { handle: (i: unknown) => unknown };

const rows: Array<Array<string | number>> = [];
const figures: Record<string, unknown> = {};
for (const kind of KINDS) {
  const text = input(kind);
  const parsed = JSON.parse(text) as unknown;
  const ours: number[] = [];
  const node: number[] = [];
  let a: unknown;
  let b: unknown;
  for (let i = 0; i < ROUNDS; i++) {
    let t = performance.now();
    a = JSON.parse((await plugin.call('handle', text))?.text() ?? 'null');
    ours.push(performance.now() - t);
    t = performance.now();
    b = mod.handle(parsed);
    node.push(performance.now() - t);
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
printResult('js', { rounds: ROUNDS, ...figures });
