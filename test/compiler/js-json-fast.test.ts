/**
 * JS-FAST-2: the JSON, number-conversion and sort speed patches (src/compiler/engine-patch-json.ts)
 * and the f64 remainder of `UEE_PERF_FMOD` change no answer (`UEE_JSON_INTEGERS` fixes one). Each
 * case drives one fast path at its edges (toJSON, getters, proxies, replacer, indentation, cycles,
 * -0, NaN, sparse arrays, Symbol keys, non-enumerable and prototype properties, escapes, ties and
 * carries of the shortest digits, wide decimals, decimal integers past 2^64, sort's stability and
 * comparator results) and must answer exactly as Node 20 does.
 */
import { expect, it } from 'vitest';
import { compileJs } from '../../src/compiler/index.js';
import { describeAgainstNode } from './battery/against-node.js';
import type { Case } from './battery/harness.js';
import { eventInput, FakeHost, load } from './plugin-host.js';

/** Deterministic doubles over every magnitude the table covers and beyond, shared by the cases. */
const PREAMBLE = String.raw`
const lcg = (seed) => () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const DOUBLES = (() => {
  // from bits, so both engines start from the same doubles (10 ** e may differ by an ulp between them)
  const r = lcg(3);
  const dv = new DataView(new ArrayBuffer(8));
  const out = [];
  for (let i = 0; i < 1500; i++) {
    const exp = i % 2 === 0 ? Math.floor(r() * 2047) : 1023 - 380 + Math.floor(r() * 760);
    dv.setUint32(0, ((r() < 0.5 ? 0x80000000 : 0) | (exp << 20) | Math.floor(r() * 0x100000)) >>> 0);
    dv.setUint32(4, Math.floor(r() * 4294967296));
    out.push(dv.getFloat64(0), i / 7, i * 0.1, (-i / 3) * 1e-9, (i * 1103515245) / 1e8, r());
  }
  out.push(0.1, 0.2, 0.3, 1 / 3, 2 / 3, 5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
    9007199254740993, 2 ** 53, 2 ** 53 - 1, 2 ** 64, 1e21, 1e-7, 1e15, 1e16, 1e17, 123456789012345680000, 4.35, 0.000001,
    1.5e-10, 2.5e-5, 9.999999999999999e22, 1e23, 5e-7, 2 ** -1022, 2 ** -1023, 2 ** 1023, 0.1 + 0.2, 100 / 3, -0, NaN,
    Infinity, -Infinity, 2 ** 52 + 0.5, 4503599627370497.5);
  return out;
})();
`;

const CASES: readonly Case[] = [
  // plain values, sparse arrays, -0, NaN, Symbol keys and values, functions, undefined
  ['stringify', `[JSON.stringify({ a: 1, b: 'x', c: [1, 2, { d: null }], e: true, f: false, g: -0, h: NaN, i: Infinity, j: -Infinity,
     k: undefined, l: () => 1, m: Symbol('s'), [Symbol('k')]: 1, n: 1.5, o: -2147483648, p: 2147483647, q: 2 ** 31, r: -(2 ** 53) }),
     JSON.stringify([undefined, () => 1, Symbol(), NaN, -0, , 3, null, [], {}]), JSON.stringify(-0), JSON.stringify('x'),
     JSON.stringify(undefined), JSON.stringify(Symbol()), JSON.stringify([new Array(3)]), JSON.stringify(Object.assign([1, 2], { extra: 3 }))]`],
  // key order: array indices ascending first, then strings in insertion order; deleted and re-added keys
  ['stringify', `{ const o = { a: 1, b: 2, c: 3 }; delete o.b; o.d = 4; o.b = 5;
     const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => ['k' + (i * 7919 % 100), i]));
     return [JSON.stringify({ b: 1, 2: 2, a: 3, 1: 4, '-1': 5, '01': 6, 4294967295: 7, 4294967294: 8, 1.5: 9 }), JSON.stringify(o), JSON.stringify(many)]; }`],
  // toJSON: own, inherited, on arrays' elements (the key is the index string), non-function, Date, BigInt
  ['stringify', `{ class P { toJSON(k) { return 'p:' + typeof k + ':' + k; } }
     const r = [JSON.stringify({ a: { toJSON(k) { return 'A' + k; } }, b: [{ toJSON(k) { return [typeof k, k]; } }, 5, { toJSON(k) { return k; } }], c: new Date(0), d: { toJSON: 5 } }),
       JSON.stringify({ x: new P(), y: [new P(), new P()] }), JSON.stringify(new P()), JSON.stringify([{ toJSON() { return undefined; } }, { toJSON() { return () => 1; } }])];
     BigInt.prototype.toJSON = function (k) { return this.toString() + '@' + k; };
     try { r.push(JSON.stringify({ a: 1n, b: [2n] })); } finally { delete BigInt.prototype.toJSON; }
     return r; }`],
  ['stringify', `JSON.stringify({ a: 1n })`],
  ['stringify', `JSON.stringify([1, 2n])`],
  // getters run once, in order; a key deleted by a getter or toJSON reads the prototype chain, an added one is not listed
  ['stringify', `{ const log = [];
     const o = { get a() { log.push('a'); delete this.b; return 1; }, b: 2, get c() { log.push('c'); this.z = 1; return undefined; }, d: 4 };
     const proto = { b: 'proto' }; const p = Object.create(proto); p.a = { toJSON() { delete p.b; return 1; } }; p.b = 2;
     return [JSON.stringify(o), log, JSON.stringify(p), JSON.stringify(o)]; }`],
  // non-enumerable, inherited, Symbol-keyed, null-prototype, class instances, Errors, arguments, wrappers
  ['stringify', `{ const o = Object.create({ inherited: 1 }); Object.defineProperty(o, 'hidden', { value: 1, enumerable: false }); o.shown = 2; o[Symbol.iterator] = 3;
     class A { constructor() { this.x = 1; } get y() { return 2; } }
     const e = new Error('boom'); e.code = 'E1';
     return [JSON.stringify(o), JSON.stringify(Object.create(null, { a: { value: 1, enumerable: true }, b: { value: 2 } })), JSON.stringify(new A()),
       JSON.stringify(e), (function () { return JSON.stringify(arguments); })(1, 'a'), JSON.stringify([new String('s'), new Number(5), new Boolean(false), Object('x')]),
       JSON.stringify({ m: new Map([[1, 2]]), s: new Set([1]), re: /x/g, u8: new Uint8Array([1, 2]) })]; }`],
  // proxies: the traps are called as for any other object
  ['stringify', `{ const log = [];
     const h = { ownKeys(t) { log.push('ownKeys'); return Reflect.ownKeys(t).reverse(); }, getOwnPropertyDescriptor(t, k) { log.push('gopd ' + String(k)); return Reflect.getOwnPropertyDescriptor(t, k); },
       get(t, k, r) { log.push('get ' + String(k)); return Reflect.get(t, k, r); } };
     const s = JSON.stringify({ p: new Proxy({ a: 1, b: [2], [Symbol('s')]: 3 }, h), q: new Proxy([1, 2], h) });
     return [s, log]; }`],
  // replacer function (holder, keys, values), replacer array (numbers, duplicates, wrappers), both with nesting
  ['stringify', `{ const seen = [];
     const out = JSON.stringify({ a: 1, b: [1, 2, { c: 3 }], d: 'x', e: undefined }, function (k, v) { seen.push([typeof k, k, Array.isArray(this) ? 'array' : typeof this]); return typeof v === 'number' ? v * 2 : v; });
     return [out, seen, JSON.stringify({ a: 1, b: 2, c: { a: 3, b: 4 }, 1: 'one' }, ['a', 'c', 1, 'a', new String('b')]),
       JSON.stringify([1, [2]], (k, v) => (Array.isArray(v) ? v : typeof k + ':' + k + ':' + v)),
       JSON.stringify({ a: 1 }, (k, v) => (k === '' ? [v, v] : v + 1)), JSON.stringify({ a: { b: 1 } }, (k, v) => (k === 'b' ? undefined : v))]; }`],
  // indentation: numbers (clamped to 10), strings (first 10 chars), wrappers, empty containers
  ['stringify', `{ const v = { a: [1, { b: 2 }], c: {}, d: [], e: 'x', f: [undefined, () => 1], g: { h: undefined } };
     return [JSON.stringify(v, null, 2), JSON.stringify(v, null, '\\t'), JSON.stringify(v, null, 'abcdefghijklmn'), JSON.stringify(v, null, 20),
       JSON.stringify(v, null, new Number(3)), JSON.stringify(v, null, new String('--')), JSON.stringify(v, null, 0), JSON.stringify(v, null, ''),
       JSON.stringify([[[]]], null, 1), JSON.stringify(v, ['a', 'b'], 1)]; }`],
  // cycles are TypeErrors, shared (non-cyclic) references are not
  ['stringify', `{ const a = { x: 1 }; a.self = a; return JSON.stringify(a); }`],
  ['stringify', `{ const b = [1]; b.push({ b }); return JSON.stringify(b); }`],
  ['stringify', `{ const s = { x: 1 }; const a = [s, s, { s }]; return JSON.stringify({ a, s, t: [a, a] }); }`],
  // escapes in keys and values: quotes, backslash, control characters, Latin-1, lone and paired surrogates, U+2028
  ['stringify', `[JSON.stringify(['"\\\\\\b\\f\\n\\r\\t', '\\u0000\\u0001\\u001f\\u007f\\u0080\\u00ff', 'é', '\\ud800', '\\udc00x', 'x\\ud83d', '😀', '\\u2028\\u2029', 'a'.repeat(1000) + '"', '']),
     JSON.stringify({ '"q"': 1, 'é': 2, '\\n': 3, '😀': 4, '\\ud800': 5, '': 6, 'a\\\\b': 7 }), JSON.stringify('\\u0000'.repeat(3) + 'ÿ' + 'Ā')]`],
  // numbers: shortest round-trip digits (ties, carries into a new digit, powers of two, subnormals, out of the table's range)
  ['dtoa', `DOUBLES.map(String).join(' ')`],
  ['dtoa', `JSON.stringify(DOUBLES)`],
  ['dtoa', `{ const back = JSON.parse(JSON.stringify(DOUBLES)); return back.filter((x, i) => !(Object.is(x, DOUBLES[i]) || (!Number.isFinite(DOUBLES[i]) && x === null))).length; }`],
  ['dtoa', `[0.5, 0.25, 0.125, 1.5, 2.5, 0.95, 0.995, 9.95, 99.5, 999999999999999.9, 9999999999999998, 0.30000000000000004, 1e-323, 1.2e-321,
     123456789.12345679, 1.0000000000000002, 0.9999999999999999, 4.940656458412465e-324].map((x) => [String(x), JSON.stringify(x), String(-x)])`],
  // decimals of up to 19 significant digits beyond Clinger's fast path, and ones that must still go to strtod
  ['strtod', `{ const r = lcg(11); const out = [];
     for (let i = 0; i < 1500; i++) { let digits = ''; const n = 1 + Math.floor(r() * 21); for (let k = 0; k < n; k++) digits += Math.floor(r() * 10);
       const e = Math.floor(r() * 260) - 130; const s = digits + 'e' + e; const t = '0.' + digits; out.push(Number(s), JSON.parse(t), parseFloat('-' + digits.slice(0, 10) + '.' + digits.slice(10) + 'e' + (e >> 1)), Number(digits), parseInt('-' + digits, 10)); }
     return out.map((x) => (Object.is(x, -0) ? '-0' : String(x))).join(' '); }`],
  ['strtod', `['0.14285714285714285', '1.7976931348623157e308', '1.7976931348623159e308', '2.2250738585072011e-308', '4.9406564584124654e-324',
     '9007199254740993', '9007199254740995', '18446744073709551615', '1844674407370955161.5', '0.1000000000000000055511151231257827',
     '123456789012345678e-30', '123456789012345678e100', '9999999999999999999', '1e-400', '1e400', '-0.0000000000000000000', '7e-10', '8.5e-5',
     '244674624048565600000', '244674624048565616640', '-18446744073709551616', '100000000000000000000000', '123456789012345678901234567890']
     .map((s) => [Number(s), JSON.parse(s), parseFloat(s)])`],
  // parse: reviver, __proto__ as data, big and tiny numbers, duplicate keys
  // UEE_JSON_PARSE_STRING: strings without escapes in one allocation; escapes, non-ASCII, DEL and errors as before
  ['parse', `[JSON.parse('"abc"'), JSON.parse('""'), JSON.parse('"a\\\\u0041\\\\n\\\\"\\\\\\\\"'), JSON.parse('"é😀x"'), JSON.parse('"\x7f~ !"'),
     JSON.parse('{"k":"v","":"e","a b":"c\\\\"d","k2":["x","y\\\\/z"]}'), 'lit' + "eral" + '\x7f' + "it's" + 'say "hi"', \`tpl\${1}\`]`],
  // UEE_JSON_PARSE_NUMBER: the strict JSON number grammar directly, everything else as before
  ['parse', `['0', '-0', '-0.0', '0.5', '-0.5e-3', '1E+2', '1e-2', '12345678901234567890', '1.7976931348623157e308', '2e308', '-2e-400', '123456789012345678901234567890e-10',
     '[1,-2,3.5,4e1,-0,0.1e1]', '{"a":-1.5E-3}', '9007199254740993', ' 42 ', '1'.repeat(70)].map((t) => { const v = JSON.parse(t); return typeof v === 'number' ? (Object.is(v, -0) ? '-0' : String(v)) : JSON.stringify(v); })`],
  ['parse', `JSON.parse('-01')`],
  ['parse', `JSON.parse('1.')`],
  ['parse', `JSON.parse('1e')`],
  ['parse', `JSON.parse('0x10')`],
  ['parse', `JSON.parse('.5')`],
  ['parse', `JSON.parse('+1')`],
  ['parse', `JSON.parse('1_000')`],
  ['parse', `JSON.parse('[1n]')`],
  // a key string is made only for a toJSON function or a replacer; toJSON is looked up once per value
  ['stringify', `{ const log = []; const t = { get toJSON() { log.push('lookup'); return undefined; }, v: 1 };
     const s = JSON.stringify({ a: t, b: [t, { toJSON(k) { log.push('call ' + typeof k + ' ' + k); return k; } }], c: { d: { toJSON(k) { return k + '!'; } } } });
     return [s, log]; }`],
  ['parse', `JSON.parse('"abc')`],
  ['parse', `JSON.parse('"a\tb"')`],
  ['parse', `JSON.parse("'single'")`],
  ['parse', `JSON.parse('{"a":1,}')`],
  // decimal integers past 2^64: literals, Number(), JSON.parse, parseInt (UEE_JSON_INTEGERS)
  ['strtod', `[244674624048565600000, 18446744073709551617, 1_000_000_000_000_000_000_001, 0x1fffffffffffff1, 0o7777777777777777777777,
     JSON.parse('[244674624048565600000, -36893488147419103232]'), parseInt('244674624048565600000'), parseInt('1e3'), Number('-0'), Number('0123')].map(String)`],
  ['parse', `{ const seen = []; const v = JSON.parse('{"a":[1,2,{"b":0.1}],"__proto__":{"x":1},"a":[3],"c":1e400,"d":-1e-400,"e":123456789012345678901234567890}', function (k, x) { seen.push(k); return typeof x === 'number' ? x * 2 : x; });
     return [Object.keys(v), v.__proto__, v.a, v.c, Object.is(v.d, -0), v.e, seen]; }`],
  // UEE_PERF_SORT: stability, comparator results of every type, holes and undefined last, presorted input
  ['sort', `{ const r = lcg(5); const xs = Array.from({ length: 2000 }, () => Math.floor(r() * 50));
     const recs = xs.map((k, i) => ({ k, i })); recs.sort((a, b) => a.k - b.k);
     const stable = recs.every((x, i) => i === 0 || recs[i - 1].k < x.k || (recs[i - 1].k === x.k && recs[i - 1].i < x.i));
     const asc = Array.from({ length: 1000 }, (_, i) => i); let calls = 0; asc.sort((a, b) => { calls++; return a - b; });
     const sparse = [3, , undefined, 1, , 2, undefined]; sparse.sort((a, b) => b - a);
     return [stable, recs.slice(0, 5).map((x) => x.k + ':' + x.i), asc.every((x, i) => x === i), calls < 2000, sparse, Object.keys(sparse), sparse.length,
       [5, 1, 4].sort((a, b) => String(a - b)), [5, 1, 4].sort(() => NaN), [5, 1, 4].sort((a, b) => ({ valueOf() { return b - a; } })), [3, 1, 2].sort(() => undefined),
       [0.5, -0, 0, -0.5, NaN, Infinity].sort((a, b) => a - b).map(String), ['b', 'a', 10, 9, 1].sort(), [true, false].sort(), xs.slice().sort((a, b) => a - b).join(','),
       Array.from({ length: 600 }, (_, i) => 600 - i).sort((a, b) => a - b).every((x, i) => x === i + 1), [].sort((a, b) => a - b), [1].sort((a, b) => a - b),
       Array.prototype.sort.call({ 0: 'b', 1: 'a', 2: 'c', length: 2 }, (a, b) => (a < b ? -1 : 1))]; }`],
  ['sort', `{ const a = [3, 2, 1, 0]; let n = 0; try { a.sort((x, y) => { if (++n === 3) throw new RangeError('cmp'); return x - y; }); } catch (e) { return [e.name, n]; } return 'no throw'; }`],
  ['sort', `[1, 2].sort(1)`],
  // UEE_PERF_FMOD's f64 remainder: integral operands up to 2^53 and beyond, signs, -0
  ['numbers', `[2 ** 52 + 1, 2 ** 53 - 1, 2 ** 53 - 2, -(2 ** 53 - 1), 1e15 + 7, 123456789012345, -0, 0, 4503599627370497, 2 ** 53, 2 ** 53 + 2, -(2 ** 60), 46341 * 46341, -7, 7]
     .flatMap((a) => [7, -7, 2 ** 52, 3, 1, -1, 2 ** 53 - 1, 1e15, 2 ** 53, 0, 0.5, 46341].map((b) => { const r = a % b; return Object.is(r, -0) ? '-0' : String(r); })).join(' ')`],
];

describeAgainstNode('engine JSON and number patches keep JavaScript answers', 'JS-FAST-2 JSON.stringify, JSON.parse, shortest digits, wide decimals and % answer as Node 20 does', CASES, {
  preamble: PREAMBLE,
  more: (engine) => {
    it('JS-FAST-3 the fast paths stay inside the budgets: a stringify larger than the heap is OUT_OF_MEMORY, a long sort FUEL_EXHAUSTED', async () => {
      const src = `export function handle(input: any) {
        if (input.event.type === 'Stringify') { const s = 'x'.repeat(1 << 20); return JSON.stringify({ a: Array.from({ length: 64 }, () => s) }).length; }
        if (input.event.type === 'Build') { (globalThis as any).xs = Array.from({ length: 200000 }, (_, i) => (i * 7919) % 200000); return 'built'; }
        if (input.event.type === 'Sort') { const xs = (globalThis as any).xs; xs.sort((a: number, b: number) => a - b); return xs[0]; }
        if (input.event.type === 'SortDefault') { const xs = (globalThis as any).xs; xs.sort(); return xs[0]; }
        return JSON.stringify({ ok: [1, 'two', 3.5] });
      }`;
      const { wasm } = await compileJs({ engine: engine(), entry: 'main.ts', files: { 'main.ts': src }, timeoutMs: 120_000 });
      const p = await load(wasm, new FakeHost());
      try {
        const big = await p.call(eventInput('Stringify', { context: { budget: { heapBytes: 8 * 1024 * 1024 } } }));
        expect(big.ok ? null : big.error.code).toBe('OUT_OF_MEMORY');
        // the array is built with the default fuel; only the sort's comparisons poll under fuel 3
        expect(await p.call(eventInput('Build'))).toEqual({ ok: true, output: 'built' });
        const sorted = await p.call(eventInput('Sort', { context: { budget: { fuel: 3 } } }));
        expect(sorted.ok ? null : sorted.error.code).toBe('FUEL_EXHAUSTED');
        const sortedDefault = await p.call(eventInput('SortDefault', { context: { budget: { fuel: 3 } } }));
        expect(sortedDefault.ok ? null : sortedDefault.error.code).toBe('FUEL_EXHAUSTED');
        expect(await p.call(eventInput('Fine'))).toEqual({ ok: true, output: '{"ok":[1,"two",3.5]}' });
      } finally {
        await p.close();
      }
    }, 10 * 60_000);
  },
});
