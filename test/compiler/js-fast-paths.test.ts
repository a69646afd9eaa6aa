/**
 * JS-FAST: the engine's speed patches (src/compiler/engine-patch-perf.ts, engine-patch-speed.ts, and engine-patch-string.ts's int comparisons and loop jumps) change no answer. Each
 * case exercises one patched path at its edges (-0, NaN, ±2^53, int32 overflow, subnormals,
 * surrogates, lastIndex, int comparisons that branch…) and must answer exactly as Node 20 does.
 */
import { describeAgainstNode } from './battery/against-node.js';
import type { Case } from './battery/harness.js';

const PAIRS = `[[1, 0.5], [0.5, 1], [2147483647, 1], [-2147483648, 1], [2147483647, 0.5], [-0, 0], [0, -0], [-0, -0],
  [-1, 0.5], [2 ** 53, 1], [-7, 2], [7, -2], [-7, -2], [-2147483648, -1], [5, 0], [-5, 0], [0, 5], [-0, 5],
  [1e308, 10], [0.1, 0.2], [2 ** 60, 7], [-(2 ** 60), 7], [2 ** 63, 10], [-(2 ** 63), 10], [2 ** 64, 3],
  [9007199254740993, 3], [1e300, 7], [1e-300, 7], [5.5, 2], [-5.5, 2], [Infinity, 3], [3, Infinity],
  [-3, Infinity], [NaN, 2], [2, NaN], [7, 2 ** 53], [7, 2 ** 54], [-14, 7], [14, -7], [1.5, -0], ['6', 4]]`;

const CASES: readonly Case[] = [
  ['numbers', `{ const ops = (a, b) => [a + b, a - b, a * b, a / b, a % b]; return ${PAIRS}.map(([a, b]) => ops(a, b)); }`],
  ['numbers', `{ let acc = 0; for (let i = 46000; i < 47000; i++) acc = (acc + ((i * i) % 7)) | 0; let s = 1; for (let i = 0; i < 100; i++) s = (s * 1103515245 + 12345) % 2147483648; return [acc, s]; }`],
  ['numbers', `{ let i = 2147483646; const a = [i++, i++, i, i--, i--, i]; let j = -2147483647; const b = [j--, j--, j, j++]; let k = 1.5; const c = [k++, k, k--, k];
     let s = '5'; const d = [s++, s]; let o = { valueOf() { return 9; } }; const e = [o++, o]; let z = -0; const f = [z++, z]; let n = null; const g = [n--, n];
     const arr = [1]; const h = [arr[0]++, arr[0]]; return [a, b, c, d, e, f, g, h]; }`],
  // a loop's step taken by the instruction that ends the body (UEE_PERF_STEP_PEEK, engine-patch-string.ts):
  // put_loc, drop and a constant append before i++ / i--, across the int32 edges, a counter made a
  // float, a string or left uninitialized in between, continue, nested loops, a while loop's i++,
  // and a step with no back jump after it
  ['step-peek', `{ let a = 0, d = 0, f = 0, g = 0, cnt = 0; const r = [];
     let c1 = 0; for (let i = 2147483644; i < 2147483647 + 3 && c1 < 9; i++) { c1 = c1 + 1; a = i; } for (let i = -2147483644; i > -2147483648 - 3 && c1 < 18; i--) { c1 = c1 + 1; d = i; }
     for (let i = 0; i < 5; i++) { r.push(i); i = i + 0.5; } for (let i = 0; i < 10; i++) { if (i % 2) continue; f = i; }
     for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) g = g + i * j; let k = 0; while (k < 5) { cnt = cnt + 1; k++; }
     let s = ''; for (let i = 0; i < 300; i++) s += 'ab'; let t = 'é'; for (let i = 3; i > 0; i--) t += 'x';
     let q = 0; q = '5'; q++; let w = 1; w = 2147483647; w++; let z = 0; z = -0; z--; let v = 1; v = 3; v++; let u = 0; [1, 2].map((x) => x); u++;
     const m = []; for (let i = 0; i < 3; i++) { Math.abs(i); m.push(i); } let n = 0; for (let i = 0; i < 6; i++) Math.max(n, i), n = i;
     const e = []; for (const f of [() => { let p = 0; p = 1; y++; let y = 0; }, () => { let p = 0; p = 1; y--; let y = 0; }]) { try { f(); e.push('none'); } catch (x) { e.push(x.name); } }
     return [a, d, c1, r, f, g, k, cnt, s.length, s.slice(-3), t, q, typeof q, w, z, v, u, m, n, e]; }`],
  // an int comparison branching at once: each operator both ways at the int32 edges, a float or a
  // string operand (no fusion), an if_false with a 32-bit offset (a body of over 127 bytes), break
  ['cmp-branch', `{ const xs = [-2147483648, -1, 0, 1, 2147483647]; const r = []; for (const a of xs) for (const b of xs) { let n = 0;
     if (a < b) n += 1; if (a <= b) n += 2; if (a > b) n += 4; if (a >= b) n += 8; if (a == b) n += 16; if (a != b) n += 32; r.push(n); }
     let m = 0; for (let i = 0; i < 3.5; i += 0.5) m++; let k = 0; while (k < 300) { k++; if (k == 150) break; } let t = 0; for (let i = 'a'; i < 'd'; i = String.fromCharCode(i.charCodeAt(0) + 1)) t++;
     let big = 0; for (let i = 0; i < 4; i++) { big += i * 3 + 1; big ^= i << 2; big += i % 3; big -= i >> 1; big += i * 5 + 2; big ^= i << 3; big += i % 5;
       big -= i >> 2; big += i * 7 + 3; big ^= i << 4; big += i % 7; big -= i >> 3; big += i * 9 + 4; big ^= i << 5; big += i % 9; }
     return [r.join(), m, k, t, big]; }`],
  // a comparison with an int constant (lt_i32 … gte_i32), taken as a branch or as a value, on ints at
  // the edges and on what is not an int (floats, strings, null, undefined, BigInts, valueOf with side
  // effects, a throwing valueOf), and loop counters whose i++ / i-- takes the back jump (goto8, goto16)
  ['cmp-i32', `{ const xs = [-2147483648, -2147483647, -1, -0, 0, 1, 4, 5, 6, 2147483646, 2147483647, 0.5, 4.999, 5.001, NaN, Infinity, -Infinity, '5', '4', '10', 'x', null, undefined, true, 5n, 4n, [5], { valueOf() { return 4; } }];
     const r = xs.map((a) => { let n = 0; if (a < 5) n += 1; if (a <= 5) n += 2; if (a > 5) n += 4; if (a >= 5) n += 8; if (a < -2147483648) n += 16; if (a <= 2147483647) n += 32; if (a > -1) n += 64; if (a >= 0) n += 128;
       const v = [a < 5, a <= -1, a > 2147483646, a >= 100000]; return [n, v.join()]; });
     const log = []; const o = { valueOf() { log.push('v'); return 3; } }; const w = [o < 5, o > 2, o >= 3, o <= 2]; let t = ''; try { if ({ valueOf() { throw new RangeError('cmp'); } } < 5) t = 'no'; } catch (e) { t = e.name; }
     return [r, log.join(''), w, t]; }`],
  ['cmp-i32', `{ let a = 0; for (let i = 0; i < 10; i++) { if (i === 3) continue; a += i; } let b = 0; for (let i = 10; i > 0; i--) b = b * 3 + i; let c = 0; for (let i = 0; i <= 5; ++i) for (let j = 5; j >= 0; --j) c += i * j;
     let d = 0; for (let i = 2147483640; i < 2147483647 + 3; i++) d++; let e = 0; for (let i = -2147483640; i > -2147483648 - 3; i--) e++; let f = 0; let k = 0; while (true) { k++; if (k >= 1000) break; f += k % 3; }
     const fs = []; for (let i = 0; i < 4; i++) fs.push(() => i); let g = 0; for (let i = 0; i < 50; i++) { g += i * 3 + 1; g ^= i << 2; g += i % 3; g -= i >> 1; g += i * 5 + 2; g ^= i << 3; g += i % 5; g -= i >> 2; g += i * 7 + 3; g ^= i << 4; g += i % 7; g -= i >> 3; g += i * 9 + 4; g ^= i << 5; g += i % 9; g |= 0; }
     let h = 0; let m = 10; while (m-- > 0) h += m; let q = 0; for (let i = 0.5; i < 4; i++) q += i; let p = 0; for (let i = 0; i < 3; i++) { p++; } return [a, b, c, d, e, f, fs.map((x) => x()), g, h, q, p]; }`],
  // a counter's step taking the loop's test with the back jump (UEE_PERF_LOOP_TEST): each comparison
  // and direction, exits at the int32 edges (the step past 2^31 - 1 leaves ints: the test runs
  // generically), a test of another variable than the one stepped, a counter the body also changes,
  // while loops stepping last, continue, nested counters, a captured per-iteration binding, a body
  // past 127 bytes (a 32-bit if_false), a test against a float or a string (not fused)
  ['loop-test', `{ const r = []; let n = 0; for (let i = 0; i < 7; i++) n += i; r.push(n); n = 0; for (let i = 0; i <= 7; i++) n += i; r.push(n);
     n = 0; for (let i = 9; i > 2; i--) n = n * 2 + i; r.push(n); n = 0; for (let i = 9; i >= 2; i--) n = n * 2 + i; r.push(n);
     n = 0; for (let i = 2147483644; i < 2147483647; i++) n++; r.push(n); n = 0; for (let i = 2147483644; i <= 2147483647; i++) n++; r.push(n);
     n = 0; for (let i = -2147483645; i > -2147483648; i--) n++; r.push(n); n = 0; for (let i = -2147483645; i >= -2147483648; i--) n++; r.push(n);
     n = 0; let j = 0; for (let i = 0; j < 10; i++) { j += 3; n += i; } r.push(n, j); n = 0; for (let i = 0; i < 20; i++) { i += 2; n += i; } r.push(n);
     let w = 0; n = 0; while (w < 5) { n += w; w++; } r.push(n, w); w = 10; n = 0; while (w > 0) { n += w; w--; } r.push(n, w);
     n = 0; for (let i = 0; i < 10; i++) { if (i % 3 === 0) continue; n += i; } r.push(n);
     n = 0; for (let i = 0; i < 4; i++) for (let k = 0; k < 3; k++) n += i * k; r.push(n);
     const fs = []; for (let i = 0; i < 3; i++) fs.push(() => i * 10); r.push(fs.map((f) => f()));
     let g = 0; for (let i = 0; i < 30; i++) { g += i * 3 + 1; g ^= i << 2; g += i % 3; g -= i >> 1; g += i * 5 + 2; g ^= i << 3; g += i % 5; g -= i >> 2; g += i * 7 + 3; g ^= i << 4; g += i % 7; g -= i >> 3; g += i * 9 + 4; g ^= i << 5; g += i % 9; g |= 0; } r.push(g);
     n = 0; for (let i = 0; i < 2.5; i++) n++; r.push(n); n = 0; for (let i = 0; i < '4'; i++) n++; r.push(n); n = 0; for (let i = 0; i != 5; i++) n++; r.push(n);
     for (let i = 0; i < 5; i++) { if (i === 3) { r.push('brk', i); break; } } let last = -1; for (var v = 0; v < 6; v++) last = v; r.push(last, v); return r; }`],
  // i++ and the back jump to the loop's test i < k fused into one instruction (UEE_PERF_FOR_STEP,
  // engine-patch-string.ts): a counter the body sets to INT32_MAX - 1 and INT32_MAX (the step leaves
  // ints), to a string, a float, -0, null or an object; a loop never entered; negative counters; the
  // last int below k; an empty body; a shadowed counter; continue to an outer label; a generator; a
  // throw from the body; a var counter read after the loop; a step inside an if, so a jump lands between
  // the step and the back jump (not fused); a body past 127 bytes (a 32-bit back jump)
  ['for-step', `{ const r = []; let n = 0;
     for (let i = 0; i < 10; i++) { if (i === 2) i = 2147483646; n++; } r.push(n); n = 0; for (let i = 0; i < 10; i++) { if (i === 2) i = 2147483647; n++; if (n > 50) break; } r.push(n);
     n = 0; for (let i = 0; i < 10; i++) { if (i === 3) i = '7'; n++; } r.push(n); n = 0; for (let i = 0; i < 10; i++) { if (i === 3) i = 6.5; n += i; } r.push(n);
     n = 0; for (let i = 0; i < 10; i++) { if (i === 3) i = -0; n++; if (n > 50) break; } r.push(n); n = 0; for (let i = 0; i < 10; i++) { if (i === 3) i = null; n++; if (n > 50) break; } r.push(n);
     n = 0; for (let i = 0; i < 10; i++) { if (i === 3) i = { valueOf() { return 8; } }; n++; } r.push(n); n = 0; for (let i = 0; i < 0; i++) n++; r.push(n);
     n = 0; for (let i = -5; i < -2; i++) n += i; r.push(n); n = 0; for (let i = 0; i < 2147483647; i++) { n++; if (i === 5) i = 2147483640; } r.push(n);
     let x = 0; for (let i = 0; i < 5; i++); for (x = 0; x < 5; x++); r.push(x); n = 0; for (let i = 0; i < 3; i++) { for (let i = 0; i < 4; i++) n++; } r.push(n);
     n = 0; outer: for (let i = 0; i < 5; i++) { for (let j = 0; j < 5; j++) { if (j === 2) continue outer; n++; } } r.push(n);
     function* gen() { for (let i = 0; i < 4; i++) yield i; } r.push([...gen()]);
     let t = 'ok'; try { for (let i = 0; i < 5; i++) { if (i === 3) throw new Error('at ' + i); } } catch (e) { t = e.message; } r.push(t);
     var vv = 0; for (vv = 0; vv < 4; vv++) {} r.push(vv); let wi = 0; n = 0; while (wi < 10) { n++; if (n % 2) wi++; } r.push(n, wi);
     let wj = 0; n = 0; while (wj < 10) { n++; if (n % 3) { wj++; } else { n++; } } r.push(n, wj);
     n = 0; for (let i = 0; i < 300; i++) { n = (n + i * 7) % 1000; n ^= i; n += i >> 2; n -= i % 11; n = n | 0; n += i * 3; n ^= i << 1; n -= i >> 3; n += i % 13; n = n | 0; } r.push(n);
     return r; }`],
  ['dtoa', `[1/3, 2/3, 0.1, 0.1 + 0.2, 1e21, 1e-7, 123456789012345680000, 5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
     1.7976931348623157e308, 4.35, 0.000001, 1.5e-10, 100, 1/7, 12345.678, -0.1, 9007199254740993, 0.3, 1e15, 1e16, 123e-20,
     -1.5e-7, 2 ** -1074 * 3, 2 ** -1022 * 1.5].map(String)`],
  ['dtoa', `Array.from({ length: 400 }, (_, i) => String(i / 7 + i * 1e-3) + ',' + String(Math.sqrt(i) * 1e-5) + ',' + String(i * 1.1))`],
  ['dtoa', `[JSON.stringify([1/3, 0.1, -0, 1e21, 5e-324]), (1/3).toPrecision(5), (123.456).toExponential(), (0.1).toExponential(),
     (1e21).toFixed(2), (1/3).toFixed(10), (2.5).toFixed(0), (-1.5e-7).toString(), (255).toString(16)]`],
  ['strtod', `['0.5', '1.25', '3.14159', '1e22', '1e23', '123456789012345678', '9007199254740993', '0.1e-22', '1e-22', '4.9e-324',
     '.5', '5.', '-0', '-0.0', '00012', '1.7976931348623157e308', '1e309', '12345678901234567890', '0.30000000000000004',
     '2.5e-5', '123e-20', '1e+5', '0x10', '1_000', '  7  ', '', '0.000000000000000000000000001', '9007199254740992.5',
     '1e-5', '000000000000000000000001.5', '1.00000000000000011102230246251565404236316680908203125', '-.5e1', '5e', 'Infinity'].map((s) => [Number(s), parseFloat(s)])`],
  ['strtod', `[JSON.parse('[0.5, 1e22, 123456789012345678, -0, 1.5e-10, 0.1, 1E3, 2.5e+2]'), 0.1 + 0.7, 1e-7 * 3, Number('1.5e3') + .25]`],
  ['regex', `['alpha gamma', 'xxala', '', 'a', 'am', '\\ud83d\\ude00am', 'éal', 'ĀalĀam', 'x'.repeat(9000) + 'al' + 'y'.repeat(5000) + 'am']
     .map((s) => [s.replace(/a(l|m)/g, '<$1>').length, s.replace(/a(l|m)/g, '<$1>').slice(0, 40), s.search(/am/), s.match(/a(l|m)/g)])`],
  ['regex', `{ const r = /a(l|m)/g; r.lastIndex = 3; const m = r.exec('al al al'); const m2 = r.exec('al al al'); const m3 = r.exec('al al al');
     return [m.index, m2 && m2.index, m3, r.lastIndex, /a(l|m)/.exec('xx al am'), '😀am😀al'.replace(/a(l|m)/gu, '[$&]'),
       '\\ud83d\\ude00a\\ud83d'.replace(/a/gu, '!'), 'ALal'.replace(/al/gi, '_'), /al/y.exec('xal'), [...'al am ax'.matchAll(/a(l|m)?/g)].map((x) => x[0] + x.index),
       'abc'.match(/Ā/g), /ü/.test('xü'), 'aaaa'.split(/a/), 'xAy'.replace(/A/g, '$\`'), 'banana'.lastIndexOf('a'), /a(?=l)/.exec('amal').index]; }`],
];

// UEE_PERF_TDZ: every TDZ error that can happen still happens (a reference before the declaration,
// a jump over it, a loop entering its scope again, a derived constructor's this), and the checks it
// drops (references after the initialization) answer as before
const TDZ_CASES: readonly Case[] = [
  // a reference before the declaration, in the same function and through a closure
  ['tdz', `{ const r = []; try { x; } catch (e) { r.push(e.name); } try { x = 2; } catch (e) { r.push(e.name); } try { typeof x; } catch (e) { r.push(e.name); } let x = 1; x++; r.push(x); return r; }`],
  ['tdz', `{ const f = () => v; let r; try { f(); } catch (e) { r = e.name; } let v = 2; v += 3; return [r, f(), v]; }`],
  ['tdz', `{ try { let x = x + 1; return x; } catch (e) { return e.name; } }`],
  ['tdz', `{ try { const [a, b = a, c = d, d] = [1]; return [a, b, c, d]; } catch (e) { return e.name; } }`],
  // a jump over the declaration: switch cases share one scope
  ['tdz', `[0, 1, 2].map((k) => { try { switch (k) { case 0: let y = 10; y++; return y; case 1: return y; default: y = 5; return y; } } catch (e) { return e.name; } })`],
  ['tdz', `[0, 1].map((k) => { switch (k) { case 0: let y = 1; case 1: try { return y; } catch (e) { return e.name; } } })`],
  // labelled break and continue around a declaration, loops that enter the scope again
  ['tdz', `{ const r = []; out: for (let i = 0; i < 4; i++) { if (i === 1) continue; if (i === 3) break out; let w = i * 2; w += 1; r.push(w); } return r; }`],
  ['tdz', `{ const r = []; for (let j = 0; j < 3; j++) { try { if (j > 0) r.push(z); } catch (e) { r.push(e.name); } let z = j; z *= 3; r.push(z); } return r; }`],
  ['tdz', `{ const fns = []; for (let i = 0; i < 3; i++) { fns.push(() => i); i += 0; } let k = 0; while (k < 3) { let c = k; fns.push(() => c); k++; } return fns.map((f) => f()); }`],
  ['tdz', `{ let s = 0; for (const v of [1, 2, 3]) { let t = v; t *= 2; s += t; } for (const k in { a: 1, b: 2 }) { const u = k + k; s += u.length; } return s; }`],
  ['tdz', `{ let n = 0; do { let a = n; a += 2; n = a; } while (n < 9); let m = 0; while (true) { let b = m; if (b > 4) break; m = b + 1; } return [n, m]; }`],
  // try/catch/finally around declarations
  ['tdz', `{ const r = []; try { let t = 1; t++; r.push(t); throw new Error('e'); } catch (e) { let q = e.message; q += '!'; r.push(q); } finally { let f = 3; f--; r.push(f); } return r; }`],
  ['tdz', `{ const r = []; try { r.push(g); } catch (e) { r.push(e.name); } let g = (() => { try { throw 1; } catch { return 7; } })(); g++; r.push(g); return r; }`],
  ['tdz', `{ let c = 0; const r = []; for (;;) { c++; try { if (c === 2) throw new Error('x'); let h = c; if (c > 3) break; r.push(h); } catch (e) { r.push(e.message); } } return r; }`],
  // the data flow: locals declared in one branch of an if chain (the branch's if_false jumps over the
  // declaration to code after it) lose their checks and answer as before; a switch case reached past a
  // declaration in an earlier case, in a loop that enters the scope again each step, still throws
  ['tdz', `[0, 1, 2, 3].map((k) => { if (k === 0) { let s = ''; for (let i = 0; i < 3; i++) s += i; return s; } else if (k === 1) { let t = 5; t += 1; return t; }
     if (k === 2) { let u = []; for (let i = 3; i > 0; i--) u.push(i); return u.join(); } let last = 'none'; return last; })`],
  ['tdz', `{ let n = 0; for (let a = 0; a < 4; a++) { switch (a) { case 0: let q = a + 1; q++; n += q; break; case 2: try { n += q; } catch (e) { n += 100; } break; default: n += 1000; } } return n; }`],
  ['tdz', `{ const r = []; for (let a = 0; a < 3; a++) { if (a === 1) { try { r.push(typeof later, later); } catch (e) { r.push(e.name); } continue; } let later = a; later++; r.push(later); } return r; }`],
  // conditional initializers, class bindings, generators, derived constructors
  ['tdz', `{ const f = (c) => { let m = c && c + 1; let o = c ?? 5; let p = c ? 'y' : 'n'; return [m, o, p]; }; return [f(0), f(2), f(null)]; }`],
  ['tdz', `{ const r = []; try { new C(); } catch (e) { r.push(e.name); } class C { m() { return C.name; } } r.push(new C().m()); return r; }`],
  ['tdz', `{ function* g() { let a = 1; yield a; a++; const b = yield a; yield b * 2; } const it = g(); return [it.next().value, it.next().value, it.next(21).value]; }`],
  ['tdz', `{ class A { constructor() { this.a = 1; } } let r; class B extends A { constructor() { try { this.x = 1; } catch (e) { r = e.name; } super(); this.b = 2; } } const o = new B(); return [r, o.a, o.b]; }`],
  ['tdz', `{ let acc = 0; for (let i = 46000; i < 46100; i++) acc = (acc + ((i * i) % 7)) | 0; return acc; }`],
];

// UEE_PERF_SORT_SUB: sort with (a, b) => a - b or b - a on numbers at their edges (-0 and 0 keep their
// order, ±Infinity, subnormals, 2^53), on values that are not numbers (calls the comparator:
// valueOf, BigInt's TypeError), and other two-argument bodies that must not be taken for it
const SORT_PREAMBLE = `const key = (x) => (Object.is(x, -0) ? '-0' : typeof x === 'object' && x !== null ? 'o' + x.valueOf() : String(x));
const called = (f) => (a, b) => { const d = f(a, b); return d; };
const same = (xs, f) => xs.slice().sort(f).map(key).join() === xs.slice().sort(called(f)).map(key).join();
const NUMS = [3, 1, 2.5, -0, 0, -0, 0, Infinity, -Infinity, 1e308, -1e308, 5e-324, -5e-324, 2 ** 53, 2 ** 53 + 2, 0.1, 2147483647, -2147483648, 2 ** 31, -(2 ** 31) - 1, 7, 7, 1.5];`;
const SORT_CASES: readonly Case[] = [
  ['sort-sub', `NUMS.slice().sort((a, b) => a - b).map(key)`],
  ['sort-sub', `NUMS.slice().sort((a, b) => b - a).map(key)`],
  ['sort-sub', `NUMS.slice().sort((b, a) => a - b).map(key)`],
  ['sort-sub', `NUMS.slice().sort(function (a, b) { return a - b; }).map(key)`],
  ['sort-sub', `NUMS.slice().sort((a, b, c) => a - b).map(key)`],
  ['sort-sub', `[0, -0, 0, -0, 1, -0].sort((a, b) => a - b).map(key)`],
  ['sort-sub', `[3, '10', 2, '9', 1, '1', true, null, false, [4], '2.5'].sort((a, b) => a - b).map(key)`],
  ['sort-sub', `[{ valueOf: () => 3 }, 1, { valueOf: () => 0 }, 2, { valueOf: () => -1 }].sort((a, b) => a - b).map(key)`],
  ['sort-sub', `[5, undefined, 3, , 1, undefined, 2].sort((a, b) => a - b).map(key)`],
  ['sort-sub', `{ try { return [3n, 1n, 2n].sort((a, b) => a - b).map(String); } catch (e) { return e.name; } }`],
  ['sort-sub', `{ try { return [3, 1n].sort((a, b) => a - b).map(String); } catch (e) { return e.name; } }`],
  ['sort-sub', `Array.from({ length: 300 }, (_, i) => ((i * 7919) % 301) / 3 - 40).sort((a, b) => a - b).join()`],
  // NaN makes a comparator inconsistent (engines order it differently): compared with calling it
  ['sort-sub', `[same([3, NaN, 1, -0, 0, NaN, 2, Infinity, -Infinity, Infinity, 5], (a, b) => a - b), same([NaN, 1, NaN, 0, -1], (a, b) => b - a)]`],
  // other two-argument bodies are not taken for a subtraction
  ['sort-sub', `[same([3, 1, 2, 5, 4, 0], (a, b) => a * b), same([3, 1, 2, 5, 4, 0], (a, b) => a + b), same([3, 1, 2, 5, 4, 0], (a, b) => b / a), same([3, 1, 2, 5, 4, 0], (a, b) => a % b), same([3, 1, 2, 5, 4, 0, 9, 8], (a, b) => a - a), same([3, 1, 2, 5, 4, 0, 9, 8], (a, b) => b - b)]`],
  ['sort-sub', `{ const o = [1, 2, 3]; const r = o.sort((a, b) => a - b); return [r === o, Object.keys(o).length]; }`],
  ['sort-sub', `{ const al = { length: 4, 0: 9, 1: -0, 2: 0, 3: -1 }; Array.prototype.sort.call(al, (a, b) => a - b); return [al[0], key(al[1]), key(al[2]), al[3]]; }`],
];

// UEE_PERF_EXEC_RESULT: exec results made from the context's shape answer as before: keys, order and
// attributes, groups, d-flag indices, many or unmatched captures, and results changed after the fact
// (a property added, deleted or redefined, a frozen one) leave the next results as they were
const EXEC_PREAMBLE = `const desc = (o) => Object.entries(Object.getOwnPropertyDescriptors(o)).map(([k, d]) => k + ':' + (d.writable ? 'w' : '') + (d.enumerable ? 'e' : '') + (d.configurable ? 'c' : ''));`;
const EXEC_CASES: readonly Case[] = [
  ['exec-result', `{ const m = /a(l|m)/.exec('xx al'); return [m, m.length, m.index, m.input, m.groups, Object.keys(m), Array.isArray(m), desc(m)]; }`],
  ['exec-result', `{ const m = /(?<w>\\w+)@(?<d>\\w+)/.exec('to u1@ex.com'); return [m, Object.keys(m), Object.keys(m.groups), Object.getPrototypeOf(m.groups), m.groups.w]; }`],
  ['exec-result', `[/(a)|(b)/.exec('b'), /(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)/.exec('xabcdefghijk'), /x*/.exec('abc'), /b/.exec('abc'), /z/.exec('abc'), /é(l)/.exec('xél'), /(\\ud83d)?\\ude00/u.exec('a😀')]`],
  // results share a shape: changing one leaves the others as they were
  ['exec-result', `{ const r1 = /a/.exec('ba'), r2 = /a/.exec('ca'); r1.extra = 1; delete r2.index; Object.defineProperty(r1, 'input', { enumerable: false }); const r3 = /a/.exec('da');
     return [Object.keys(r1), Object.keys(r2), r1.index, r2.index, Object.keys(r3), desc(r3), r3.index, r3.input]; }`],
  ['exec-result', `{ const r1 = /a(b)/.exec('ab'); Object.freeze(r1); const r2 = /a(b)/.exec('xab'); r2.push('z'); r2.length = 1; let e; try { r1.q = 1; } catch (x) { e = x.name; }
     return [Object.isFrozen(r1), Object.isExtensible(r2), Object.isFrozen(/a/.exec('a')), r2, r2.length, e, r1, JSON.stringify(r1), r1.map((x) => x + '!'), [...r1], r1.slice(1)]; }`],
  ['exec-result', `{ const m = /a(?<x>b)?/d.exec('zab'); const n = /a(c)?/d.exec('a'); return [Object.keys(m), m.indices, m.indices.groups, Object.keys(n), n.indices]; }`],
  ['exec-result', `[...'al am ax'.matchAll(/a(l|m)?/g)].map((m) => [m.length, m.index, m.input, m[1], Object.keys(m), m.groups])`],
  ['exec-result', `['x al am'.match(/a(l)/), 'x al am'.match(/a(l)/g), 'x al'.replace(/a(l)/, (...a) => JSON.stringify(a)), 'a-b_c'.split(/([-_])/), 'aXbX'.replace(/X/g, (m, i) => i)]`],
  ['exec-result', `{ const re = /a(l|m)/g; const out = []; let m; while ((m = re.exec('al am al')) !== null) out.push([m.index, m[0], m[1], re.lastIndex, m.length]); const y = /a/y; y.lastIndex = 1; return [out, y.exec('ba'), y.lastIndex, y.exec('ba'), y.lastIndex]; }`],
  ['exec-result', `{ class R extends RegExp { exec(s) { const m = super.exec(s); if (m) m.sub = true; return m; } } const m = new R('a(b)').exec('ab'); return [m, Object.keys(m), 'ab'.replace(new R('a(b)'), '$1$1'), [...'abab'.matchAll(new R('a(b)', 'g'))].map((x) => x.sub)]; }`],
  ['exec-result', `{ const ms = []; for (let i = 0; i < 50; i++) ms.push(/(\\d+)-(\\d+)/.exec('n ' + i + '-' + (i * 2))); return ms.map((m) => m[1] + ':' + m[2] + '@' + m.index + '/' + m.length).join(); }`],
];

describeAgainstNode('engine speed patches keep JavaScript answers', 'JS-FAST-1 number, dtoa, strtod and regex fast paths answer as Node 20 does', CASES, {
  also: [
    { name: 'JS-FAST-5 locals without TDZ checks still throw before their initialization, as Node 20 does', cases: TDZ_CASES },
    { name: 'JS-FAST-6 sort with a subtraction comparator orders as calling it does', cases: SORT_CASES, preamble: SORT_PREAMBLE },
    { name: 'JS-FAST-7 RegExp exec results made from a kept shape answer as Node 20 does', cases: EXEC_CASES, preamble: EXEC_PREAMBLE },
  ],
});
