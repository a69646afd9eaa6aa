/**
 * JS/TS toolchain: the JS semantics plugins rely on, run on Extism with a fake host.
 * The engine is built once per content hash (first run: ~2 min with @yowasp/clang) and cached.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compileJs, isUeeErrorLike } from './compile-helpers.js';
import { eventInput, FakeHost, load, sharedEngine } from './plugin-host.js';
import type { EngineArtifact } from '../../src/compiler/index.js';

let engine: EngineArtifact;
beforeAll(async () => {
  engine = await sharedEngine();
}, 20 * 60_000);

async function run(source: string, input: unknown, host = new FakeHost()) {
  const { wasm, report } = await compileJs({ engine, entry: 'main.ts', files: { 'main.ts': source } });
  const p = await load(wasm, host);
  try {
    return { outcome: await p.call(input), report, host };
  } finally {
    await p.close();
  }
}

describe('compileJs semantics', () => {
  it('JS-1 round-trips JSON input to JSON output; toFixed rounds ties away from zero', async () => {
    const { outcome } = await run(
      `export function handle(input: any) {
         return { type: input.event.type, nested: JSON.parse(JSON.stringify({ a: [1, 'x', null] })),
                  fixed: [(2.5).toFixed(0), (-2.5).toFixed(0), (1.005).toFixed(2), (0.125).toFixed(2), (1.45).toFixed(1)],
                  prec: (2.5).toPrecision(1) };
       }`,
      eventInput('Ping'),
    );
    expect(outcome).toEqual({
      ok: true,
      output: { type: 'Ping', nested: { a: [1, 'x', null] }, fixed: ['3', '-3', '1.00', '0.13', '1.4'], prec: '3' },
    });
  });

  it('JS-2 Date comes from context.now, not a wall clock', async () => {
    const src = `export function handle() { return { now: Date.now(), iso: new Date().toISOString() }; }`;
    const { outcome } = await run(src, eventInput('Ping', { context: { now: '2030-01-02T03:04:05.678Z' } }));
    expect(outcome).toEqual({ ok: true, output: { now: Date.parse('2030-01-02T03:04:05.678Z'), iso: '2030-01-02T03:04:05.678Z' } });
  });

  it('JS-3 Math.random is seeded by context.randomSeed: same seed, same sequence; other seed, other sequence', async () => {
    const src = `export function handle() { return [Math.random(), Math.random(), Math.random()]; }`;
    const { wasm } = await compileJs({ engine, entry: 'main.ts', files: { 'main.ts': src } });
    const p = await load(wasm, new FakeHost());
    const a = await p.call(eventInput('X', { context: { randomSeed: 'aa'.repeat(16) } }));
    const b = await p.call(eventInput('X', { context: { randomSeed: 'aa'.repeat(16) } }));
    const c = await p.call(eventInput('X', { context: { randomSeed: 'bb'.repeat(16) } }));
    await p.close();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    if (!a.ok) throw new Error('call failed');
    const xs = a.output as number[];
    expect(new Set(xs).size).toBe(3);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('JS-4 async handlers and promise chains settle within the call', async () => {
    const src = `import { readEntity } from 'uee:plugin';
      const later = (v: number) => Promise.resolve(v).then((x) => x * 2);
      export async function handle(input: any) {
        const e = readEntity(input.event.entityId);
        const n = await later(21);
        const all = await Promise.all([later(1), later(2)]);
        return { n, all, version: e?.version };
      }`;
    const host = new FakeHost();
    host.addEntity({ entityId: 'task-1', version: 7, attributes: {}, metadata: {} });
    const { outcome } = await run(src, eventInput('X'), host);
    expect(outcome).toEqual({ ok: true, output: { n: 42, all: [2, 4], version: 7 } });
  });

  it('JS-5 thrown errors become typed plugin errors { code, message }', async () => {
    const typed = await run(
      `import { PluginError } from 'uee:plugin';
       export function handle() { throw new PluginError('OUT_OF_STOCK', 'no widgets left'); }`,
      eventInput('X'),
    );
    expect(typed.outcome).toEqual({ ok: false, error: { code: 'OUT_OF_STOCK', message: 'no widgets left' } });
    const plain = await run(`export async function handle() { (null as any).x; }`, eventInput('X'));
    expect(plain.outcome.ok).toBe(false);
    if (plain.outcome.ok) return;
    expect(plain.outcome.error.code).toBe('UNCAUGHT_EXCEPTION');
    expect(plain.outcome.error.message).toMatch(/^TypeError: /);
  });

  it('JS-6 a denied host call answers ok:false; the SDK throws HostError with the host code', async () => {
    const src = `import { hostCall, HostError, emitEvent } from 'uee:plugin';
      export function handle() {
        const raw = hostCall('spawn_workflow', { workflow: 'w' });
        try { emitEvent({ type: 'T' }); } catch (e) { return { raw, caught: e instanceof HostError ? e.code : 'other' }; }
      }`;
    const host = new FakeHost();
    // a host that denies emit_event, as the runtime does without the emitEvents capability
    const orig = host.functions.bind(host);
    host.functions = (imports) => {
      const fns = orig(imports);
      fns['extism:host/user']!.emit_event = (cp, _off) =>
        cp.store(JSON.stringify({ ok: false, error: { code: 'CAPABILITY_DENIED', message: 'emitEvents not granted' } }));
      return fns;
    };
    const { outcome, report } = await run(src, eventInput('X'), host);
    expect(outcome).toEqual({ ok: true, output: { raw: { ok: true, value: { eventId: 'ev-1' } }, caught: 'CAPABILITY_DENIED' } });
    // hostCall names functions dynamically, so every host import stays linked
    expect(report.hostFunctions.length).toBe(12);
  });

  it('JS-7 a syntax error is reported with file:line:col', async () => {
    const err = await compileJs({
      engine,
      entry: 'main.ts',
      files: { 'main.ts': 'import { f } from "./lib";\nexport const handle = () => f();\n', 'lib.ts': 'export function f() {\n  return 1 +;\n}\n' },
    }).catch((e: unknown) => e);
    expect(isUeeErrorLike(err, 'COMPILE_FAILED')).toBe(true);
    const d = (err as { details: { diagnostics: { file: string; line: number; col: number; message: string }[] } }).details.diagnostics[0]!;
    expect({ file: d.file, line: d.line, col: d.col }).toEqual({ file: 'lib.ts', line: 2, col: 13 });
    expect(d.message).toMatch(/Unexpected/);
  });

  it('JS-8 an infinite loop is stopped by the interrupt handler (FUEL_EXHAUSTED) and the instance stays usable', async () => {
    // besides for (;;): counted loops whose back jump takes the loop's test in the same dispatch
    // (UEE_PERF_LOOP_TEST, engine-patch-string.ts), counting up and down, loops whose step the body's
    // last instruction takes (UEE_PERF_STEP_PEEK), and the fused step of `i < k` (UEE_PERF_FOR_STEP,
    // alone or taken by an append), each ~2e9 steps unstopped
    const src = `export function handle(input: any) {
      let n = 0;
      if (input.event.type === 'Loop') { for (;;) {} }
      if (input.event.type === 'Up') { for (let i = 0; i < 2000000000; i++) {} }
      if (input.event.type === 'Down') { for (let i = 2000000000; i >= 0; i--) n++; }
      if (input.event.type === 'While') { let i = 0; while (i < 2000000000) { n++; i++; } }
      if (input.event.type === 'Put') { for (let i = 0; i < 2000000000; i++) n = i; }
      if (input.event.type === 'Drop') { for (let i = 2000000000; i >= 0; i--) Math.abs(i); }
      if (input.event.type === 'Str') { let s = ''; for (let i = 0; i < 2000000000; i++) s += 'ab'; n = s.length; }
      return 'ok' + n; }`;
    const { wasm } = await compileJs({ engine, entry: 'main.ts', files: { 'main.ts': src } });
    const p = await load(wasm, new FakeHost());
    for (const type of ['Loop', 'Up', 'Down', 'While', 'Put', 'Drop', 'Str']) {
      const started = Date.now();
      const stopped = await p.call(eventInput(type, { context: { budget: { fuel: 50 } } }));
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(stopped.ok ? null : stopped.error.code).toBe('FUEL_EXHAUSTED');
    }
    expect(await p.call(eventInput('Fine'))).toEqual({ ok: true, output: 'ok0' });
    await p.close();
  });

  it('JS-9 a heap bomb is stopped by the memory limit (OUT_OF_MEMORY)', async () => {
    const src = `export function handle() { const keep: string[] = []; for (let i = 0; ; i++) keep.push('x'.repeat(1 << 16) + i); }`;
    const { outcome } = await run(src, eventInput('X', { context: { budget: { heapBytes: 4 * 1024 * 1024 } } }));
    expect(outcome.ok ? null : outcome.error.code).toBe('OUT_OF_MEMORY');
  });

  it('JS-11 a TypeScript plugin type-checks and runs the RegExp d and v flags (indices, set difference, \\q{} strings, getters)', async () => {
    const { outcome } = await run(
      String.raw`export function handle() {
         const m = /(?<key>\w+)=(?<value>\w*)/d.exec(' a=12')!;
         const vowelless = /^[[a-z]--[aeiou]]+$/v;
         return { whole: m.indices![0], value: m.indices!.groups!['value'], flags: /x/dv.flags, sets: [vowelless.unicodeSets, vowelless.unicode],
                  matches: [vowelless.test('rhythm'), vowelless.test('rhyme'), /^[\q{ch|sh}a-z]+$/v.test('chash')] };
       }`,
      eventInput('T'),
    );
    expect(outcome).toEqual({ ok: true, output: { whole: [1, 5], value: [3, 5], flags: 'dv', sets: [true, false], matches: [true, false, true] } });
  });

  it('JS-10 top-level code runs at compile time and may not call the host', async () => {
    const err = await compileJs({
      engine,
      entry: 'main.ts',
      files: { 'main.ts': `import { log } from 'uee:plugin';\nlog('info', 'too early');\nexport function handle() {}` },
    }).catch((e: unknown) => e);
    expect(isUeeErrorLike(err, 'COMPILE_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/top level/);
  });
});
