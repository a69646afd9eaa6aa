/**
 * Measures the JS engine against a sample of the official ECMAScript suite, side by side with Node 20:
 * `node --import tsx scripts/test262-sample.ts <git dir of a tc39/test262 checkout> [tests per directory]`.
 * test262 is not on the npm registry and none of its files are in this repository: point the script at
 * a checkout (read with `git show`, no work tree needed). It takes an evenly spaced, deterministic
 * sample of each directory (built-ins/Array, String, JSON, RegExp, Date, Promise, Map, language),
 * skips module, sloppy-only and raw tests (plugins are strict ES modules), and runs each test — the
 * harness files it includes, then its source, in strict mode — through indirect eval inside one
 * compiled plugin (compileJs + Extism, a fresh instance per test) and inside a fresh `vm` context
 * on Node. Negative tests pass when they throw the named error. Prints a table and one JSON line;
 * `UEE_TEST262_FAILURES=1` lists the engine's failures and `UEE_TEST262_TRACE=1` each test as it starts
 * (on stderr); `UEE_TEST262_ONLY=<regex>` runs only the sampled tests whose path matches.
 */
import createPlugin from '@extism/extism';
import type { Plugin } from '@extism/extism';
import { execFileSync } from 'node:child_process';
import { createContext, runInContext } from 'node:vm';
import { compileJs, ensureEngine } from '../src/compiler/index.js';

// rejections a test leaves unhandled (in its vm context) must not end the run
process.on('unhandledRejection', () => undefined);
const [gitDir, perDirArg] = process.argv.slice(2);
if (!gitDir) throw new Error('usage: scripts/test262-sample.ts <test262 git dir> [tests per directory]');
const PER_DIR = Number(perDirArg ?? 60);
// UEE_TEST262_ONLY=<regex>: run only the sampled tests whose path matches (the sample itself is unchanged)
const ONLY = process.env.UEE_TEST262_ONLY ? new RegExp(process.env.UEE_TEST262_ONLY) : undefined;
const DIRS = ['built-ins/Array', 'built-ins/String', 'built-ins/JSON', 'built-ins/RegExp', 'built-ins/Date', 'built-ins/Promise', 'built-ins/Map', 'language'];
const git = (...args: string[]): string => execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
const show = (path: string): string => git('show', `HEAD:${path}`);

// The engine's core-js polyfills are bundled per plugin for the names its code mentions; a test's code
// arrives here at run time, so the runner mentions them all, as a plugin using them would.
const RUNNER = String.raw`
globalThis.__polyfillNames = 'a.at a.findLast a.toReversed a.toSorted a.toSpliced a.with a.fromAsync a.hasOwn a.groupBy a.isWellFormed a.cause a.withResolvers a.try a.union Iterator RegExp.escape a.sumPrecise a.rawJSON a.isRawJSON a.getOrInsert a.getOrInsertComputed atob btoa DOMException queueMicrotask structuredClone URL';
export async function handle(input) {
  const { src, negative, isAsync } = input.event.payload;
  const printed = [];
  globalThis.print = (m) => { printed.push(String(m)); };
  // the test runs in a strict indirect eval, where doneprintHandle's function $DONE stays local;
  // asyncHelpers' asyncTest looks for a global one (as in a script on Node)
  if (isAsync) globalThis.$DONE = (e) => { printed.push(e ? 'Test262:AsyncTestFailure:' + (e && e.name ? e.name + ': ' + e.message : 'Test262Error: ' + String(e)) : 'Test262:AsyncTestComplete'); };
  globalThis.$262 = { global: globalThis, evalScript: (s) => (0, eval)(s), gc: () => undefined, detachArrayBuffer: () => { throw new Error('detachArrayBuffer unsupported'); }, createRealm: () => { throw new Error('createRealm unsupported'); } };
  try {
    (0, eval)(src);
  } catch (e) {
    const name = e && e.constructor && e.constructor.name;
    if (negative) return name === negative ? 'pass' : 'fail: threw ' + name;
    return 'fail: ' + name + ': ' + (e && e.message);
  }
  if (negative) return 'fail: did not throw ' + negative;
  if (!isAsync) return 'pass';
  for (let i = 0; i < 100 && printed.length === 0; i++) await null;
  return printed[0] === 'Test262:AsyncTestComplete' ? 'pass' : 'fail: ' + (printed[0] || 'async test never finished');
}
`;

interface Test {
  dir: string;
  path: string;
  src: string;
  negative?: string;
  isAsync: boolean;
}

function meta(text: string): { flags: string[]; includes: string[]; negative?: string } {
  const block = /\/\*---([\s\S]*?)---\*\//.exec(text)?.[1] ?? '';
  const list = (key: string): string[] => {
    const inline = new RegExp(`^${key}:\\s*\\[([^\\]]*)\\]`, 'm').exec(block);
    if (inline) return (inline[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const multi = new RegExp(`^${key}:\\s*\\n((?:\\s+-\\s*.*\\n?)+)`, 'm').exec(block);
    return multi ? (multi[1] ?? '').split('\n').map((l) => l.replace(/^\s*-\s*/, '').trim()).filter(Boolean) : [];
  };
  const neg = /^negative:\s*\n(?:\s+\w+:.*\n)*?\s+type:\s*(\w+)/m.exec(block)?.[1];
  return { flags: list('flags'), includes: list('includes'), ...(neg ? { negative: neg } : {}) };
}

const harnessCache = new Map<string, string>();
const harness = (name: string): string => {
  let text = harnessCache.get(name);
  if (text === undefined) harnessCache.set(name, (text = show(`harness/${name}`)));
  return text;
};

const tests: Test[] = [];
const skipped: Record<string, number> = {};
const files = git('ls-tree', '-r', '--name-only', 'HEAD', ...DIRS.map((d) => `test/${d}`)).split('\n').filter((f) => f.endsWith('.js') && !f.includes('_FIXTURE'));
for (const dir of DIRS) {
  const mine = files.filter((f) => f.startsWith(`test/${dir}/`)).sort();
  const step = Math.max(1, Math.floor(mine.length / PER_DIR));
  let taken = 0;
  for (let i = 0; i < mine.length && taken < PER_DIR; i += step) {
    const path = mine[i] ?? '';
    const text = show(path);
    const m = meta(text);
    if (m.flags.some((f) => f === 'module' || f === 'noStrict' || f === 'raw')) {
      skipped[dir] = (skipped[dir] ?? 0) + 1;
      continue;
    }
    taken++;
    if (ONLY && !ONLY.test(path)) continue;
    const isAsync = m.flags.includes('async');
    const includes = ['assert.js', 'sta.js', ...(isAsync ? ['doneprintHandle.js'] : []), ...m.includes];
    const src = `"use strict";\n${includes.map(harness).join('\n')}\n${text}`;
    tests.push({ dir, path, src, isAsync, ...(m.negative ? { negative: m.negative } : {}) });
  }
}

const engine = await ensureEngine();
const { wasm } = await compileJs({ engine, entry: 'runner.js', files: { 'runner.js': RUNNER }, typeCheck: false });
const open = async (): Promise<Plugin> => {
  const p = await createPlugin({ wasm: [{ data: wasm }] }, { useWasi: false, functions: { 'extism:host/user': { log: (cp: { store(s: string): bigint }) => cp.store('{"ok":true,"value":{}}') } } });
  if (await p.functionExists('_initialize')) await p.call('_initialize');
  return p;
};
let plugin = await open();
const nodeRun = async (t: Test): Promise<string> => {
  const printed: string[] = [];
  const ctx = createContext({ print: (m: unknown) => printed.push(String(m)) });
  runInContext('globalThis.$262 = { global: globalThis, evalScript: (s) => (0, eval)(s), gc: () => undefined };', ctx);
  try {
    runInContext(t.src, ctx, { timeout: 5000 });
  } catch (e) {
    const name = (e as { constructor?: { name?: string } })?.constructor?.name;
    if (t.negative) return name === t.negative ? 'pass' : `fail: threw ${name}`;
    return `fail: ${name}`;
  }
  if (t.negative) return `fail: did not throw ${t.negative}`;
  if (!t.isAsync) return 'pass';
  for (let i = 0; i < 100 && printed.length === 0; i++) await Promise.resolve();
  return printed[0] === 'Test262:AsyncTestComplete' ? 'pass' : `fail: ${printed[0] ?? 'never finished'}`;
};

const byDir: Record<string, { engine: number; node: number; total: number; skipped: number }> = {};
for (const dir of DIRS) byDir[dir] = { engine: 0, node: 0, total: 0, skipped: skipped[dir] ?? 0 };
const failures: string[] = [];
for (const t of tests) {
  const c = byDir[t.dir]!;
  c.total++;
  if (process.env.UEE_TEST262_TRACE) process.stderr.write(`> ${t.path}\n`);
  const input = JSON.stringify({ event: { eventId: 'e', type: 'T', payload: { src: t.src, negative: t.negative, isAsync: t.isAsync } }, settings: {}, context: { now: '2026-12-01T00:00:00.000Z', randomSeed: '00' } });
  let ours: string;
  try {
    ours = JSON.parse((await plugin.call('handle', input))?.text() ?? '"fail: no output"') as string;
  } catch (err) {
    ours = `fail: ${(err as Error).message.slice(0, 120)}`;
  }
  // a test may replace or delete globals: the next one starts from the snapshot, as Node's starts in a new context
  await plugin.close();
  plugin = await open();
  if (ours === 'pass') c.engine++;
  else failures.push(`${t.path}: ${ours}`);
  if ((await nodeRun(t)) === 'pass') c.node++;
}
await plugin.close();
if (process.env.UEE_TEST262_FAILURES) process.stderr.write(failures.join('\n') + '\n');
const pct = (a: number, b: number): string => `${((a / Math.max(1, b)) * 100).toFixed(0)}%`;
process.stdout.write('| directory | sampled | engine | Node 20 |\n|---|---|---|---|\n');
let e = 0;
let n = 0;
let total = 0;
for (const [dir, c] of Object.entries(byDir)) {
  process.stdout.write(`| ${dir} | ${c.total} (+${c.skipped} skipped) | ${c.engine} (${pct(c.engine, c.total)}) | ${c.node} (${pct(c.node, c.total)}) |\n`);
  e += c.engine;
  n += c.node;
  total += c.total;
}
process.stdout.write(`${JSON.stringify({ bench: 'test262-sample', commit: git('rev-parse', '--short', 'HEAD').trim(), perDir: PER_DIR, total, engine: e, node: n, byDir })}\n`);
