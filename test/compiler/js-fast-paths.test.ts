/**
 * JS-FAST: the engine's speed patches (src/compiler/engine-patch-perf.ts) change no answer. Each
 * case exercises one patched path at its edges (-0, NaN, ±2^53, int32 overflow, subnormals,
 * surrogates, lastIndex, int comparisons that branch…) and must answer exactly as Node 20 does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineArtifact } from '../../src/compiler/index.js';
import { tempDir } from '../helpers.js';
import { engineAgainstNode, type Case } from './battery/harness.js';
import { sharedEngine } from './plugin-host.js';

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
  // an int comparison branching at once: each operator both ways at the int32 edges, a float or a
  // string operand (no fusion), an if_false with a 32-bit offset (a body of over 127 bytes), break
  ['cmp-branch', `{ const xs = [-2147483648, -1, 0, 1, 2147483647]; const r = []; for (const a of xs) for (const b of xs) { let n = 0;
     if (a < b) n += 1; if (a <= b) n += 2; if (a > b) n += 4; if (a >= b) n += 8; if (a == b) n += 16; if (a != b) n += 32; r.push(n); }
     let m = 0; for (let i = 0; i < 3.5; i += 0.5) m++; let k = 0; while (k < 300) { k++; if (k == 150) break; } let t = 0; for (let i = 'a'; i < 'd'; i = String.fromCharCode(i.charCodeAt(0) + 1)) t++;
     let big = 0; for (let i = 0; i < 4; i++) { big += i * 3 + 1; big ^= i << 2; big += i % 3; big -= i >> 1; big += i * 5 + 2; big ^= i << 3; big += i % 5;
       big -= i >> 2; big += i * 7 + 3; big ^= i << 4; big += i % 7; big -= i >> 3; big += i * 9 + 4; big ^= i << 5; big += i % 9; }
     return [r.join(), m, k, t, big]; }`],
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

let engine: EngineArtifact;
const dir = tempDir('uee-fast-paths');

beforeAll(async () => {
  engine = await sharedEngine();
}, 20 * 60_000);
afterAll(() => {
  dir[Symbol.dispose]();
});

describe('engine speed patches keep JavaScript answers', () => {
  it('JS-FAST-1 number, dtoa, strtod and regex fast paths answer as Node 20 does', async () => {
    expect((await engineAgainstNode(engine, CASES, dir.path)).mismatches).toEqual([]);
  }, 10 * 60_000);
});
