/**
 * JS-STD: module semantics and the standard library of JS/TS plugins, compiled with compileJs and run
 * on Extism with the fake host: strict mode, kept names, BigInt, stacks naming the author's files,
 * typings that declare only what the engine provides, seeded crypto, Node-like console output, and
 * core-js modules chosen by what a plugin names.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileJs, isUeeErrorLike } from './compile-helpers.js';
import { eventInput, FakeHost, load, sharedEngine } from './plugin-host.js';
import type { EngineArtifact } from '../../src/compiler/index.js';
import { ENGINE_LIBS, GLOBALS } from '../../src/compiler/typecheck-ts.js';

let engine: EngineArtifact;
beforeAll(async () => {
  engine = await sharedEngine();
}, 20 * 60_000);

async function run(files: Record<string, string>, input: unknown = eventInput('X'), entry = 'main.ts') {
  const host = new FakeHost();
  const { wasm } = await compileJs({ engine, entry, files });
  const p = await load(wasm, host);
  try {
    return { outcome: await p.call(input), host, size: wasm.length };
  } finally {
    await p.close();
  }
}

const logs = (host: FakeHost): string[] => host.calls.filter((c) => c.fn === 'log').map((c) => String(c.request.message));

describe('JS module semantics', () => {
  it('JS-STD-1 strict mode, names kept across files, BigInt literals', async () => {
    const { outcome } = await run({
      'main.ts': `import { Item as A } from './a';
        import { Item as B } from './b';
        export function handle() {
          const frozen = Object.freeze({ x: 1 });
          let write = 'silent';
          try { (frozen as { x: number }).x = 2; } catch (e) { write = (e as Error).name; }
          const self = (function (this: unknown) { return this; })();
          return { write, self: self === undefined, names: [A.name, B.name, new A().constructor.name], big: (2n ** 64n).toString(), kind: typeof 1n };
        }`,
      'a.ts': 'export class Item { a = 1; }',
      'b.ts': 'export class Item { b = 2; }',
    });
    expect(outcome).toEqual({
      ok: true,
      output: { write: 'TypeError', self: true, names: ['Item', 'Item', 'Item'], big: '18446744073709551616', kind: 'bigint' },
    });
  });

  it("JS-STD-2 an uncaught error names the author's file and line, not the bundle's", async () => {
    const { outcome } = await run({
      'main.ts': `import { score } from './lib/score';\nexport function handle() {\n  return score(-1);\n}\n`,
      'lib/score.ts': `// scoring\n\nexport function score(x: number): number {\n  if (x < 0) throw new RangeError('negative score');\n  return x;\n}\n`,
    });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe('UNCAUGHT_EXCEPTION');
    expect(outcome.error.message).toContain('RangeError: negative score');
    expect(outcome.error.message).toContain('lib/score.ts:4');
    expect(outcome.error.message).not.toContain('plugin.js');
  });

  it('JS-STD-3 every global the typings declare exists in the engine; what it lacks does not type-check', async () => {
    const libDir = dirname(createRequire(import.meta.url).resolve('typescript/lib/lib.es5.d.ts'));
    const names = new Set<string>();
    for (const text of [GLOBALS, ...ENGINE_LIBS.map((l) => readFileSync(join(libDir, l), 'utf8'))]) {
      for (const m of text.matchAll(/^declare (?:var|function|class) ([A-Za-z_$][\w$]*)/gm)) if (m[1]) names.add(m[1]);
    }
    expect(names.size).toBeGreaterThan(60);
    const list = [...names].sort();
    const { outcome } = await run(
      { 'main.js': `export function handle() { return [${list.map((n) => `typeof ${n} === 'undefined' ? ${JSON.stringify(n)} : null`).join(', ')}].filter(Boolean); }` },
      eventInput('X'),
      'main.js',
    );
    expect(outcome).toEqual({ ok: true, output: [] });
    const missing = await compileJs({ engine, entry: 'main.ts', files: { 'main.ts': 'export const handle = () => new SharedArrayBuffer(8).byteLength;' } }).catch((e: unknown) => e);
    expect(isUeeErrorLike(missing, 'COMPILE_FAILED')).toBe(true);
    const fine = await compileJs({ engine, entry: 'main.ts', files: { 'main.ts': 'export const handle = () => ["a-b".replaceAll("-", "+"), [1, 2].at(-1), Object.hasOwn({}, "x"), new TextEncoder().encode("é").length];' } });
    expect(fine.wasm.length).toBeGreaterThan(0);
  });

  it('JS-STD-8 intrinsics are captured before the plugin runs: replacing JSON or Date.parse changes neither the input, the output, the clock, the errors nor the logs', async () => {
    const files = {
      'main.ts': `import { readEntity } from 'uee:plugin';
        JSON.stringify = () => '"hijacked"';
        JSON.parse = () => ({ hijacked: true });
        Date.parse = () => 0;
        export function handle(input: { event: { type: string; payload: { fail?: boolean } } }) {
          console.log('seen', input.event.type);
          if (input.event.payload.fail) throw new RangeError('typed');
          return { type: input.event.type, now: new Date().toISOString(), entity: readEntity('task-1'), list: [1, 'two', null] };
        }`,
    };
    const host = new FakeHost();
    host.addEntity({ entityId: 'task-1', entityTypeId: 'task', version: 1, attributes: { title: 't' } });
    const { wasm } = await compileJs({ engine, entry: 'main.ts', files });
    const p = await load(wasm, host);
    const ok = await p.call(eventInput('TaskCreated'));
    const failed = await p.call(eventInput('TaskCreated', { event: { payload: { fail: true } } }));
    await p.close();
    expect(ok).toEqual({ ok: true, output: { type: 'TaskCreated', now: '2026-11-26T12:00:00.000Z', entity: { entityId: 'task-1', entityTypeId: 'task', version: 1, attributes: { title: 't' } }, list: [1, 'two', null] } });
    expect(failed.ok).toBe(false);
    if (!failed.ok) expect(failed.error.message).toContain('RangeError: typed');
    expect(logs(host)).toEqual(['seen TaskCreated', 'seen TaskCreated']);
  });
});

describe('JS standard library', () => {
  it('JS-STD-4 crypto is drawn from context.randomSeed: a replay draws the same values, another seed others', async () => {
    const src = { 'main.ts': 'export function handle() { return { uuid: crypto.randomUUID(), bytes: Array.from(crypto.getRandomValues(new Uint8Array(8))) }; }' };
    const { wasm } = await compileJs({ engine, entry: 'main.ts', files: src });
    const p = await load(wasm, new FakeHost());
    const a = await p.call(eventInput('X', { context: { randomSeed: 'aa'.repeat(16) } }));
    const b = await p.call(eventInput('X', { context: { randomSeed: 'aa'.repeat(16) } }));
    const c = await p.call(eventInput('X', { context: { randomSeed: 'bb'.repeat(16) } }));
    await p.close();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.ok && (a.output as { uuid: string }).uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('JS-STD-5 console formats like Node (specifiers, objects, errors with mapped stacks)', async () => {
    const { host } = await run({
      'main.ts': `export function handle() {
  console.log('%s has %d items', 'cart', 3, { ids: [1, 2], nested: { deep: { deeper: true } } });
  console.warn(new Map([['k', 1]]), [undefined, null, -0, 1n]);
  console.error(new Error('boom'));
}`,
    });
    const lines = logs(host);
    expect(lines[0]).toBe("cart has 3 items { ids: [ 1, 2 ], nested: { deep: { deeper: true } } }");
    expect(lines[1]).toBe("Map(1) { 'k' => 1 } [ undefined, null, -0, 1n ]");
    expect(lines[2]).toMatch(/^Error: boom\n\s+at handle \(main\.ts:4/);
  });

  it('JS-STD-6 Web APIs and newer built-ins are there when named; a plugin that names none does not carry them', async () => {
    const uses = await run({
      'main.ts': `export function handle() {
        const u = new URL('https://x.org/a?b=1');
        u.searchParams.append('c', 'd e');
        return { href: u.href, b64: btoa('hi'), back: atob('aGk='), clone: structuredClone(new Map([[1, { a: 1 }]])).get(1), last: [1, 2, 3].findLast((x) => x < 3), text: new TextDecoder().decode(new TextEncoder().encode('héllo')) };
      }`,
    });
    expect(uses.outcome).toEqual({
      ok: true,
      output: { href: 'https://x.org/a?b=1&c=d+e', b64: 'aGk=', back: 'hi', clone: { a: 1 }, last: 2, text: 'héllo' },
    });
    const bare = await run({ 'main.ts': 'export function handle() { return 1; }' });
    expect(bare.outcome).toEqual({ ok: true, output: 1 });
    expect(uses.size - bare.size).toBeGreaterThan(100_000);
  });

  it('JS-STD-9 JSON.rawJSON, JSON.isRawJSON and Map/WeakMap getOrInsert(Computed) are there when named, as the spec has them', async () => {
    const { outcome } = await run({
      'main.ts': `export function handle() {
        const J = JSON as any;
        const big = J.rawJSON('9007199254740993');
        const m = new Map<string, unknown>([['a', 1]]) as any;
        const w = new WeakMap() as any;
        const k = {};
        let bad = '';
        try { J.rawJSON(' 1'); } catch (e) { bad = (e as Error).name; }
        return { text: JSON.stringify({ big, list: [J.rawJSON('"x"'), 2] }), isRaw: [J.isRawJSON(big), J.isRawJSON({ rawJSON: '1' })], frozen: Object.isFrozen(big), bad,
          map: [m.getOrInsert('a', 9), m.getOrInsert('b', 2), m.getOrInsertComputed('c', (key: string) => key + '!'), [...m]],
          weak: [w.getOrInsert(k, 5), w.getOrInsertComputed(k, () => 6)] };
      }`,
    });
    expect(outcome).toEqual({
      ok: true,
      output: { text: '{"big":9007199254740993,"list":["x",2]}', isRaw: [true, false], frozen: true, bad: 'SyntaxError',
        map: [1, 2, 'c!', [['a', 1], ['b', 2], ['c', 'c!']]], weak: [5, 5] },
    });
  });

  it('JS-STD-7 Date.parse takes the common non-ISO formats; Number#toString(radix) prints fractions', async () => {
    const { outcome } = await run({
      'main.ts': `export function handle() {
        return [new Date('2024-01-15 10:30:00').toISOString(), new Date('Jan 15, 2024').toISOString(), Date.parse('Mon, 15 Jan 2024 10:30:00 GMT'),
                Number.isNaN(Date.parse('2020-02-30')), (0.5).toString(2), (255.5).toString(16)];
      }`,
    });
    expect(outcome).toEqual({ ok: true, output: ['2024-01-15T10:30:00.000Z', '2024-01-15T00:00:00.000Z', 1705314600000, true, '0.1', 'ff.8'] });
  });
});
