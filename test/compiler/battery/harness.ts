/**
 * Runs the same battery module on the plugin engine (compiled, through the real execution host) and
 * on Node 20 (imported as an ES module), and compares their answers case by case.
 * The module's `handle` runs case `event.payload.i` and returns `{ result, logs }`: its answer
 * serialised (by a serializer of its own, identical on both sides) and what it logged through
 * `console.log`. One call per case, so a case that breaks its call (a trap, the heap limit) costs
 * only itself.
 */
import createPlugin from '@extism/extism';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { compileJs, type EngineArtifact } from '../../../src/compiler/index.js';

const run = promisify(execFile);

/** One case: its area and its source (an expression, or a `{ … }` block that returns). */
export type Case = readonly [area: string, source: string];

const SHOW = String.raw`
const show = (v, seen = []) => {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number': return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint': return v + 'n';
    case 'string': return JSON.stringify(v);
    case 'boolean': return String(v);
    case 'symbol': return v.toString();
    case 'function': return 'fn:' + v.name;
  }
  if (seen.includes(v)) return '<cycle>';
  seen = [...seen, v];
  if (Array.isArray(v)) {
    const out = [];
    for (let i = 0; i < v.length; i++) out.push(i in v ? show(v[i], seen) : '<hole>');
    return '[' + out.join(',') + ']';
  }
  if (v instanceof Date) return 'Date(' + (Number.isNaN(v.getTime()) ? 'NaN' : v.toISOString()) + ')';
  if (v instanceof RegExp) return String(v);
  if (v instanceof Error) return v.constructor.name + '(' + v.name + ': ' + v.message + ')';
  if (v instanceof Map) return 'Map{' + [...v].map(([k, x]) => show(k, seen) + '=>' + show(x, seen)).join(',') + '}';
  if (v instanceof Set) return 'Set{' + [...v].map((x) => show(x, seen)).join(',') + '}';
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return v.constructor.name + '[' + Array.from(v, (x) => show(x)).join(',') + ']';
  const proto = Object.getPrototypeOf(v);
  const name = proto === null ? 'null-proto' : proto === Object.prototype ? '' : (proto.constructor && proto.constructor.name) || '?';
  return name + '{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + show(v[k], seen)).join(',') + '}';
};
`;

/** The battery as one ES module exporting `handle`; `preamble` is code the cases share. */
export function batteryModule(cases: readonly Case[], preamble = ''): string {
  const fns = cases.map(([, src]) => (src.trim().startsWith('{') ? `() => ${src}` : `() => (${src})`));
  return `${SHOW}
${preamble}
const CASES = [
${fns.map((f) => `  ${f},`).join('\n')}
];
export async function handle(input) {
  const i = input.event.payload.i;
  const logs = [];
  globalThis.__batteryLog = (message) => { logs.push(message); };
  const host = globalThis.Host;
  const hostLog = host && host.log;
  if (host) host.log = (req) => { globalThis.__batteryLog(req.message); return { ok: true, value: {} }; };
  let result;
  try {
    let v = CASES[i]();
    if (v !== null && typeof v === 'object' && typeof v.then === 'function') v = await v;
    result = show(v);
  } catch (e) {
    result = 'throws ' + (e && typeof e === 'object' ? e.name : typeof e);
  } finally {
    if (host) host.log = hostLog;
  }
  return { result, logs };
}
`;
}

/** What one case answered: its serialised result, or how the call failed. */
export interface CaseOutput {
  result: string;
  logs: string[];
}

const NODE_RUNNER = `
import { format } from 'node:util';
process.on('unhandledRejection', () => undefined);
const mod = await import(process.argv[2]);
console.log = (...args) => globalThis.__batteryLog?.(format(...args));
const out = [];
for (let i = 0; i < Number(process.argv[3]); i++) out.push(await mod.handle({ event: { payload: { i } } }));
process.stdout.write(JSON.stringify(out));
`;

/**
 * Runs every case on Node 20 in a child process (plain Node ESM, strict, TZ=UTC), with `console.log`
 * formatted by util.format.
 */
export async function runOnNode(source: string, count: number, dir: string): Promise<CaseOutput[]> {
  const file = join(dir, `battery-${process.pid}-${Date.now()}.mjs`);
  const runner = join(dir, `runner-${process.pid}.mjs`);
  await writeFile(file, source);
  await writeFile(runner, NODE_RUNNER);
  const { stdout } = await run(process.execPath, [runner, pathToFileURL(file).href, String(count)], {
    env: { ...process.env, TZ: 'UTC' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as CaseOutput[];
}

/** Per-area counts of equal answers (result and logs both equal). */
export interface Comparison {
  byArea: Record<string, { equal: number; total: number }>;
  mismatches: { index: number; area: string; source: string; engine: string; node: string }[];
}

export function compare(cases: readonly Case[], engine: readonly CaseOutput[], node: readonly CaseOutput[]): Comparison {
  const text = (o: CaseOutput | undefined): string => (o ? `${o.result} ${JSON.stringify(o.logs)}` : 'missing');
  const byArea: Comparison['byArea'] = {};
  const mismatches: Comparison['mismatches'] = [];
  cases.forEach(([area, source], i) => {
    const a = byArea[area] ?? (byArea[area] = { equal: 0, total: 0 });
    a.total++;
    const e = text(engine[i]);
    const n = text(node[i]);
    if (e === n) a.equal++;
    else mismatches.push({ index: i, area, source, engine: e, node: n });
  });
  return { byArea, mismatches };
}

/**
 * Runs every case on `engine` as a bare Extism plugin on this thread (compiled without the type
 * check, one call per case, the runtime's input shape): the quick way the engine-patch tests compare
 * a patched path with Node, without a host or a store.
 */
export async function runOnEngine(engine: EngineArtifact, source: string, count: number): Promise<CaseOutput[]> {
  const { wasm } = await compileJs({ engine, entry: 'battery.js', files: { 'battery.js': source }, typeCheck: false, timeoutMs: 120_000 });
  const plugin = await createPlugin({ wasm: [{ data: wasm }] }, { useWasi: false, functions: { 'extism:host/user': {} } });
  try {
    if (await plugin.functionExists('_initialize')) await plugin.call('_initialize');
    const out: CaseOutput[] = [];
    for (let i = 0; i < count; i++) {
      const input = JSON.stringify({ event: { eventId: 'e', type: 'T', tenantId: 't', payload: { i } }, settings: {}, context: { now: '2026-11-26T12:00:00.000Z', randomSeed: '00', budget: { fuel: 1e9 } } });
      out.push(JSON.parse((await plugin.call('handle', input))?.text() ?? 'null') as CaseOutput);
    }
    return out;
  } finally {
    await plugin.close();
  }
}

/** The cases as one battery module (after `preamble`) on `engine` ({@link runOnEngine}) and on Node 20 in `dir`, compared. */
export async function engineAgainstNode(engine: EngineArtifact, cases: readonly Case[], dir: string, preamble = ''): Promise<Comparison> {
  const source = batteryModule(cases, preamble);
  const ours = await runOnEngine(engine, source, cases.length);
  return compare(cases, ours, await runOnNode(source, cases.length, dir));
}
