/**
 * JS-STRCAT: building a string with `+=` / `s = s + x` appends in place when the variable holds the
 * string's only reference (src/compiler/engine-patch.ts: add_loc, uee_release_target, the slack
 * growth in JS_ConcatString; src/compiler/engine-patch-string.ts: `let` locals reach add_loc, inc_loc
 * and dec_loc through their TDZ-checked forms, and add_loc appends in place without a call). A
 * string another reference still holds (a variable, an array element, a property, a closure) must
 * never change; a right side whose valueOf or toString assigns the variable changes neither the sum
 * nor the stored result (src/compiler/engine-patch-string.ts: UEE_ADD_LOC_ORDER); every case answers
 * exactly as Node 20 does. The heap limit still stops a huge build.
 */
import { expect, it } from 'vitest';
import { compileJs } from '../../src/compiler/index.js';
import { describeAgainstNode } from './battery/against-node.js';
import type { Case } from './battery/harness.js';
import { eventInput, FakeHost, load } from './plugin-host.js';

/** Snapshots of a string as it grows, kept by length and tail, so a later in-place append shows. */
const SNAP = `const snap = (xs) => xs.map((x) => x.length + ':' + x.slice(-5) + ':' + x.slice(0, 3));`;

const CASES: readonly Case[] = [
  // aliasing: a second variable, array elements, across the 256-char slack threshold
  ['alias-let', `{ let s = ''; const kept = []; for (let i = 0; i < 3000; i++) { s += 'ab' + (i % 10); if (i % 37 === 0) kept.push(s); } let a = s; s += 'x'; return [snap(kept), a.length, a.slice(-3), s.length, s.slice(-3)]; }`],
  ['alias-let', `{ let s = 'q'.repeat(300); let a = s; s += 'x'; s += 'y'; let b = s; s += 7; s += 'zz'; return [a, b, s]; }`],
  ['alias-var', `{ var s = ''; var kept = []; for (var i = 0; i < 3000; i++) { s += 'cd'; if (i % 41 === 0) kept.push(s); } var a = s; s += 'x'; return [snap(kept), a.length, a.slice(-2), s.slice(-2)]; }`],
  ['alias-plus', `{ let s = ''; const kept = []; const t = 'ef'; for (let i = 0; i < 3000; i++) { s = s + t; if (i % 43 === 0) kept.push(s); } const a = s; s = s + 'x'; return [snap(kept), a.length, s.length]; }`],
  ['alias-self', `{ let s = 'ab'.repeat(200); s += s; let a = s; s = s + s; s += a; return [a.length, s.length, s === a + a + a]; }`],
  // closures: the variable captured by a closure, appended inside and outside it
  ['closure', `{ let s = ''; const add = (x) => { s += x; }; const get = () => s; const kept = []; for (let i = 0; i < 2000; i++) { add('gh'); if (i % 53 === 0) kept.push(get()); } const g = get(); s += 'x'; add('y'); return [snap(kept), g.length, g.slice(-2), s.slice(-3)]; }`],
  ['closure', `{ const fs = []; for (let i = 0; i < 3; i++) { let s = 'k'.repeat(300); fs.push(() => s); s += i; } const before = fs.map((f) => f()); return before.map((x) => x.length + x.slice(-1)); }`],
  // object properties: appended in place on a property, and a local whose string a property holds
  ['property', `{ const o = { s: '' }; const kept = []; for (let i = 0; i < 2000; i++) { o.s += 'ij'; if (i % 59 === 0) kept.push(o.s); } return [snap(kept), o.s.length]; }`],
  ['property', `{ let s = ''; const o = {}; const m = new Map(); for (let i = 0; i < 2000; i++) { s += 'kl'; if (i % 61 === 0) { o['p' + i] = s; m.set(i, s); } } s += 'zz'; return [Object.values(o).map((x) => x.length), [...m.values()].map((x) => x.slice(-2)), s.slice(-4)]; }`],
  // 16-bit strings, width changes, surrogate halves joined by separate appends
  ['wide', `{ let s = 'é'.repeat(300); let a = s; s += '😀'; let b = s; s += 'ab'; s += '\\ud83d'; let c = s; s += '\\ude00'; return [a.length, b.length, c.length, s.length, [...s].length, s.codePointAt(s.length - 2), c.charCodeAt(c.length - 1), a === 'é'.repeat(300)]; }`],
  ['wide', `{ let s = ''; const kept = []; for (let i = 0; i < 1500; i++) { s += i % 3 === 0 ? 'Ā' : 'ab'; if (i % 47 === 0) kept.push(s); } let t = 'x'.repeat(400); const u = t; t += '\\u0101'; t += 'y'; return [snap(kept), u.length, u.slice(-1), t.length, t.slice(-2)]; }`],
  ['wide', `{ let s = 'a'.repeat(260); const kept = []; for (let i = 0; i < 600; i++) { s += String.fromCharCode(0xd800 + (i % 4)); s += String.fromCharCode(0xdc00 + (i % 7)); if (i % 71 === 0) kept.push(s); } return [snap(kept).map(encodeURIComponent), [...s].length, s.normalize().length]; }`],
  // the rewritten let forms keep their results and their TDZ and const errors
  ['let-forms', `{ const f = (a) => { let s = 'p'; let t = 'q'; let n = 2147483647; let m = 1; let x = 1; let u; s += a; s += t; s += 3; n += 1; m += 5; x += 'a'; u += 1; let o = { valueOf() { return 5; } }; o += 1; return [s, n, m, x, u, o]; }; return [f('A'), f(7), f(null)]; }`],
  ['let-forms', `{ const r = []; try { (() => { s += 'x'; let s = 'b'; return s; })(); } catch (e) { r.push(e.name); } let k = 0; const inc = () => { k += 2; }; inc(); inc(); let w = 'v'; const g = () => 'w'; w += g(); return [r, k, w]; }`],
  ['let-forms', `{ let s = 'ab'.repeat(200); let seen = -1; const o = { toString() { seen = s.length; s = 'changed'; return 'o'; } }; s += o; return [seen, s.length, s.slice(0, 7), s.slice(-1)]; }`],
  // the right side's valueOf/toString assigns the variable: the sum and the stored result use the value read before it ran
  ['valueof', `{ var s = 'ab'; var o = { valueOf() { s = 'zz'; return 'o'; } }; var t = 'ab'; var p = { toString() { t = 'zz'; return 'p'; } }; s += o; t += p; return [s, t]; }`],
  ['valueof', `{ var s = 'ab'; var seen; var o = { valueOf() { seen = s; s += '!'; return 'o'; } }; var i = 0; for (; i < 3; i++) s += o; return [s, seen]; }`],
  ['valueof', `{ var s = 'x'.repeat(300); var keep; var o = { valueOf() { keep = s; s = 5; return 'o'; } }; s += o; var u = 'ab'; var q = { [Symbol.toPrimitive](h) { u = h; return 1; } }; u += q; return [s.length, s.slice(-2), keep.length, u]; }`],
  ['valueof', `{ var s = 'ab'; const f = () => { s = 'zz'; }; var o = { valueOf() { f(); return 'o'; } }; s += o; var t = 'ab'; var e = { valueOf() { t = 'zz'; throw new RangeError('x'); } }; try { t += e; } catch (err) { return [s, t, err.name]; } }`],
  ['valueof', `{ var s = 'ab'; var o = { valueOf() { s = 'zz'; return 'o'; } }; s = s + o; let t = 'ab'; const p = { valueOf() { t = 'zz'; return 'p'; } }; t += p; const g = ((a) => { var b = { valueOf() { a = 'zz'; return 'b'; } }; a += b; return a; }); return [s, t, g('ab')]; }`],
  ['valueof', `{ let s = 'ab'; const o = { valueOf() { s = 'zz'; return 'o'; } }; const g = () => { s += o; return s; }; var n = 1; var m = { valueOf() { n = 100; return 2; } }; n += m; return [g(), n]; }`],
  // the checked increments and decrements: TDZ errors, the int32 edges, strings, BigInts, valueOf
  ['let-forms', `{ const r = []; for (const f of [() => { i++; let i = 0; }, () => { --i; let i = 0; }, () => { i--; let i = 0; }, () => { s += 1; let s = 0; }]) { try { f(); r.push('none'); } catch (e) { r.push(e.name); } }
     let a = 2147483647, b = -2147483648, c = '5', d = 5n, e = { valueOf() { return 1.5; } }, f = 0, g = null, h; a++; ++a; b--; --b; c++; d--; ++d; ++d; e++; f++; ++f; f--; --f; --f; g++; h++;
     let n = 0; for (let i = 0; i < 5; ++i) for (let j = 5; j > 0; j--) n++; return [r, a, b, c, typeof c, String(d), e, f, g, h, n]; }`],
  // a constant appended to a local (append_atom_loc): every kind of left side, numeric and 16-bit
  // constants, a string shared or made a property key in between, below and above the slack threshold
  ['append-const', `{ let n = 1; n += 'a'; let u; u += 'b'; let z = null; z += 'c'; let o = { toString() { return 'o'; } }; o += 'd'; let v = { valueOf() { return 5; } }; v += 'e';
     let b = 2n; b += 'f'; let y = Symbol.iterator; let err = ''; try { y += 'g'; } catch (e) { err = e.name; } let w = true; w += 'h'; return [n, u, z, o, v, b, err, w]; }`],
  ['append-const', `{ let s = ''; const kept = []; for (let i = 0; i < 400; i++) { s += '123'; s += '4'; s += 'é'; s += 'xy'; if (i % 29 === 0) kept.push(s); } return [snap(kept), s.length, s.slice(-9)]; }`],
  ['append-const', `{ let s = 'é'.repeat(300); s += 'ab'; let t = 'a'.repeat(300); t += '😀'; t += 'cd'; var v = ''; for (var i = 0; i < 500; i++) v += 'var'; return [s.length, s.slice(-3), t.length, t.slice(-4), v.length, v.slice(-4)]; }`],
  ['append-const', `{ let s = 'k'.repeat(300); const o = {}; const kept = []; for (let i = 0; i < 200; i++) { s += 'q'; if (i % 50 === 0) { o[s] = i; kept.push(s); } } s += 'end'; const keys = Object.keys(o);
     const m = new Map([[s, 1]]); s += 'more'; return [keys.map((k) => k.length), snap(kept), m.has(s), [...m.keys()][0].slice(-3), s.slice(-7)]; }`],
  ['append-const', `{ let s = 'p'.repeat(300); const arr = [s]; s += 'x'; const fs = []; for (let i = 0; i < 3; i++) { let t = 'r'.repeat(260 + i); fs.push(() => t); t += 'z' + i; t += 'w'; } let c = 'a'.repeat(300); const g = () => c; c += 'b';
     return [arr[0].length, arr[0].slice(-1), s.slice(-2), fs.map((f) => f().slice(-3)), g().slice(-2)]; }`],
  // constants of up to 16 8-bit characters travel in the instruction (append_str_loc): 0, 1, 7, 8, 16
  // and 17 characters, a NUL and bytes above 0x7f inside, numeric constants, below and above the slack
  // threshold, and the same instruction run on a string that is shared in between
  ['append-const', `{ const r = []; for (const start of ['', 'z'.repeat(300)]) { let s = start; for (let i = 0; i < 40; i++) { s += ''; s += 'a'; s += '1234567'; s += '12345678'; s += '0123456789abcdef'; s += '0123456789abcdefg';
       s += 'a\\u0000b'; s += '\\xff\\xfeé'; s += '42'; s += '-0'; } r.push([s.length, s.slice(-60), [...s.slice(-8)].map((c) => c.charCodeAt(0))]); }
     let t = 'y'.repeat(300); const kept = []; for (let i = 0; i < 30; i++) { t += 'abcdefghij'; if (i % 7 === 0) kept.push(t); } return [r, snap(kept), t.length]; }`],
];

describeAgainstNode('string building appends in place without changing shared strings', 'JS-STRCAT-1 aliasing, closures, properties, 16-bit strings and let forms answer as Node 20 does', CASES, {
  preamble: SNAP,
  more: (engine) => {
    it('JS-STRCAT-2 a string built with += past the heap limit stops with OUT_OF_MEMORY', async () => {
      const src = `export function handle() { let s = ''; for (let i = 0; ; i++) s += 'abcdefghij'.repeat(50); }`;
      const { wasm } = await compileJs({ engine: engine(), entry: 'main.ts', files: { 'main.ts': src } });
      const p = await load(wasm, new FakeHost());
      try {
        const outcome = await p.call(eventInput('X', { context: { budget: { heapBytes: 4 * 1024 * 1024 } } }));
        expect(outcome.ok ? null : outcome.error.code).toBe('OUT_OF_MEMORY');
      } finally {
        await p.close();
      }
    }, 10 * 60_000);
  },
});
