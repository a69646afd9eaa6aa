/**
 * JS-REGEX-FAST: the regex speed patches (src/compiler/engine-patch-regex.ts) change no answer. Each
 * case drives one fast path at its edges — the C loop of a global match/replace (sticky, unicode,
 * lastIndex, empty matches, every `$` form, replacement functions, an overridden `exec` or
 * `Symbol.replace`, a lying `global` getter), the first-character scan (`\b`, classes, 16-bit strings,
 * surrogates), the in-place greedy loop and its no-give-back rule, the on-stack backtrack states —
 * and must answer exactly as Node 20 does.
 */
import { describeAgainstNode } from './battery/against-node.js';
import type { Case } from './battery/harness.js';

const TEXTS = String.raw`['', 'a', 'al am', ' u1@example.com alpha u22@ex.com x@y.org', 'u1@example.com', 'x u1@example.comx a@b.com_',
  '_a@b.com-c@d.com', 'Āal am ü@x.com v@w.com', 'é@é.com ab@cd.com', '\ud83d\ude00am\ud83d\ude00al', '\ud83dal\ude00',
  'al'.repeat(300) + 'am', 'x'.repeat(9000) + ' q@r.com ' + 'y'.repeat(5000) + 'am']`;

const CASES: readonly Case[] = [
  // the C loop of [Symbol.match] and [Symbol.replace], against the bench patterns
  ['loop', `${TEXTS}.map((s) => [s.match(/\\b\\w+@\\w+\\.com\\b/g), s.replace(/a(l|m)/g, 'A$1'), s.replace(/\\b\\w+@\\w+\\.com\\b/g, '<$&>')])`],
  ['loop', `['abc', '', '\\ud83d\\ude00\\ud83d\\ude00x', '\\ud83d', 'a\\ud83d\\ude00'].map((s) => [s.match(/(?:)/g), s.match(/(?:)/gu), s.replace(/(?:)/g, '-'),
     s.replace(/(?:)/gu, '-'), s.match(/x*/g), s.replace(/x*/gu, '[$&]'), s.replace(/\\B/g, '|'), s.split(/(?:)/u)])`],
  ['loop', `{ const r = /a/gy; const out = ['aaba'.match(r), r.lastIndex, 'baa'.match(r), r.lastIndex, 'aab'.replace(r, 'X'), r.lastIndex,
     'aab'.replace(/a|b/gy, (m, i) => m + i)]; r.lastIndex = 7; out.push('aaaa'.match(r), r.lastIndex); return out; }`],
  ['loop', `{ const r = /a(b)?/g; r.lastIndex = 5; const m = 'ab a ab'.match(r); const li = r.lastIndex; r.lastIndex = 3;
     const none = 'xyz'.match(r); return [m, li, none, r.lastIndex, 'ab a'.replace(r, '[$1|$2|$0|$00|$01|$10|$$|$&|$\\'|$\`|$<x>|$]'), r.lastIndex]; }`],
  ['loop', `{ const r = /(?<word>\\w)(?<num>\\d)?/g; return ['a1 b c2'.replace(r, '<$<word>:$<num>:$<nope>:$1$2>'), 'a1 b'.replace(r, '$<word'),
     'a1 b'.replace(r, '[$1]'), 'a1 b'.replace(/(\\w)(\\d)?/g, '$<word>'), 'a1 b'.replace(r, (...a) => JSON.stringify(a)),
     'a1b'.replace(/(\\w)/g, (m, p1, off, s) => p1.toUpperCase() + off + s.length)]; }`],
  ['loop', `{ const s = 'x'.repeat(30); const r = /(((((((((((x)))))))))))/g; return [s.replace(r, '$11$12$10-'), s.replace(r, '$111'),
     'ab'.replace(/(a)|(b)/g, '[$1,$2]'), 'ab'.replace(/(a)|(b)/g, (m, a, b) => String(a) + String(b))]; }`],
  ['loop', `{ let calls = 0; const r = /a/g; r.exec = function (s) { calls++; return RegExp.prototype.exec.call(this, s); };
     const a = ['aa'.match(r), 'aa'.replace(r, 'b'), 'aa'.replace(r, () => 'c')]; return [a, calls]; }`],
  ['loop', `{ const orig = RegExp.prototype.exec; let calls = 0; RegExp.prototype.exec = function (s) { calls++; return orig.call(this, s); };
     try { return ['aXa'.match(/a/g), 'aXa'.replace(/a/g, '_'), 'aXa'.replaceAll(/a/g, (m) => m + m), calls]; } finally { RegExp.prototype.exec = orig; } }`],
  ['loop', `{ class R extends RegExp { exec(s) { const m = super.exec(s); if (m) m[0] = m[0].toUpperCase(); return m; } }
     class Plain extends RegExp {}
     const r = /a/g; r[Symbol.replace] = (s, v) => 'own:' + v;
     return ['abab'.match(new R('a', 'g')), 'abab'.replace(new R('b', 'g'), '[$&]'), 'abab'.replace(new Plain('b', 'g'), '-'), 'ab'.replace(r, 'z')]; }`],
  ['loop', `{ let reads = 0; const r = /a/g; Object.defineProperty(r, 'global', { get() { reads++; return false; } });
     const lying = /(?:)/g; Object.defineProperty(lying, 'unicode', { get() { return true; } });
     const out = ['aa'.match(r), r.lastIndex, 'aa'.replace(r, 'b'), r.lastIndex];
     return [out, reads, '\\ud83d\\ude00'.replace(lying, '-'), 'a\\ud83d\\ude00a'.match(lying), 'aa'.replace(/(?:)/g, '.')]; }`],
  ['loop', `{ const r = /a/g; Object.defineProperty(r, 'lastIndex', { writable: false, value: 0 }); const out = [];
     for (const f of [() => 'aa'.match(r), () => 'aa'.replace(r, 'b'), () => 'aa'.replace(r, () => 'c')]) {
       try { out.push(f()); } catch (e) { out.push(e instanceof TypeError); } }
     const frozen = Object.freeze(/b/g); try { out.push('bb'.replace(frozen, 'c')); } catch (e) { out.push(e instanceof TypeError); }
     return out; }`],
  ['loop', `{ const r = /a/g; let seen = []; const out = 'aaa'.replace(r, (m, off) => { seen.push(r.lastIndex); r.lastIndex = 99; return String(off); });
     let thrown; try { 'aa'.replace(/a/g, () => { throw new RangeError('x'); }); } catch (e) { thrown = e instanceof RangeError; }
     return [out, seen, r.lastIndex, thrown, 'ab'.replace(/a|b/g, () => ({ toString() { return 'T'; } })), 'ab'.replace(/b/g, () => 7),
       RegExp.prototype[Symbol.replace].call(/a/g, 'banana', '$\`'), RegExp.prototype[Symbol.match].call(/n(a)/g, 'banana')]; }`],
  ['loop', `{ const big = 'ab'.repeat(5000); let h = 0; const out = big.replace(/b/g, (m, o) => { h = (h * 31 + o) | 0; return String(o % 7); });
     return [out.length, h, big.replace(/a/g, '$&$&').length, big.match(/ab/g).length, big.replace(/(a)(b)/g, '$2$1').slice(0, 20),
       'x'.repeat(100000).replace(/x/g, 'yy').length, big.match(/(?:)/g).length]; }`],
  ['loop', `['aXbxc'.replaceAll(/x/gi, '_'), (() => { try { return 'a'.replaceAll(/a/, 'b'); } catch (e) { return e instanceof TypeError; } })(),
     'abcabc'.replace(/(?<=a)b/g, 'X'), 'abcabc'.replace(/b(?=c)/g, 'Y'), 'Line1\\nline2\\nLINE3'.match(/^l\\w+/gim), 'a.b*c'.replace(/[.*]/g, '\\\\$&'),
     'ĀāĂ'.replace(/ā/g, 'x'), 'ĀāĂ'.match(/[Ā-ă]/g), 'aé😀'.replace(/./gu, (c) => c.codePointAt(0) + ','), 'x😀y'.match(/[😀]/gu),
     '😀'.match(/[\\ud800-\\udbff]/g), 'a😀b'.replace(/\\p{Emoji_Presentation}/gu, '?'), 'a😀b'.replace(/[\\p{L}--[b]]/gv, '_')]`],
  // RegExp.prototype.test without the result object
  ['test', `{ const g = /a/g; const y = /a/y; const out = [];
     for (let i = 0; i < 4; i++) out.push(g.test('aba'), g.lastIndex, y.test('aab'), y.lastIndex);
     const r = /b/g; let reads = 0; r.lastIndex = { valueOf() { reads++; return 1; } }; out.push(r.test('abc'), r.lastIndex, reads);
     const plain = /b/; plain.lastIndex = { valueOf() { reads++; return 9; } }; out.push(plain.test('abc'), plain.lastIndex === 9 ? 'kept' : plain.lastIndex, reads);
     const far = /a/g; far.lastIndex = 99; out.push(far.test('aaa'), far.lastIndex);
     const c = /x/g; c.lastIndex = { valueOf() { c.compile('y', 'g'); return 0; } }; out.push(c.test('xy'), c.lastIndex, c.source);
     const ro = /a/g; Object.defineProperty(ro, 'lastIndex', { writable: false, value: 0 }); try { out.push(ro.test('a')); } catch (e) { out.push(e instanceof TypeError); }
     const roy = /a/; Object.defineProperty(roy, 'lastIndex', { writable: false, value: 0 }); out.push(roy.test('a'));
     const own = /a/; let calls = 0; own.exec = function (s) { calls++; return null; }; out.push(own.test('a'), calls);
     out.push(RegExp.prototype.test.call({ exec() { return {}; } }, 'x'));
     try { RegExp.prototype.test.call('a', 'a'); } catch (e) { out.push(e instanceof TypeError); }
     const log = []; const lr = /a/; Object.defineProperty(lr, 'exec', { get() { log.push('exec'); return RegExp.prototype.exec; } });
     lr.test({ toString() { log.push('toString'); return 'a'; } }); out.push(log.join());
     out.push(/\\bfoo\\b/.test('a foo b'), /^\\d+$/.test('12a'), /é/u.test('xé'), /\\ud83d/u.test('\\ud83d\\ude00'), /(?<=a)b/.test('ab'), /a/.test());
     return out; }`],
  // the first-character scan, also on exec/test/search/split (every lre_exec)
  ['first', `['foo foofoo _foo -foo foo_', 'Āfoo éfoo ffoo', 'foo'].map((s) => [s.match(/\\bfoo/g), s.match(/\\b[^\\w\\s]+/g), s.match(/\\b\\w+/g),
     s.search(/\\bfoo\\b/), s.split(/\\b\\w\\w/), /\\Bfoo/.exec(s), s.match(/\\b(?:foo|_)/g)])`],
  ['first', `{ const r = /\\b\\w+/g; r.lastIndex = 2; const a = r.exec('abcd ef gh'); const b = r.exec('abcd ef gh'); const c = /\\w+@/.exec('ab c@d');
     const d = /\\b\\w+@\\w+/.exec('foo@bar x'); r.lastIndex = 0; const e = r.test('...'); return [a, a && a.index, b, r.lastIndex, c, d, e,
       /[a-c]+d/.exec('xxabcabcd'), /[^a]b/.exec('aab cb'), /\\d+(\\.\\d+)?%/.exec('v 12.5% 3%'), /[\\u0100-\\uffff]x/.exec('aĀx'), /[Ā]/.exec('aĀ')]; }`],
  ['first', `['ab@b', 'abcd@x', 'Xab:c ab: _x@@y', 'éab@b Āxy@xy', 'aa@ aaa@ aaaa@', '@@a@', 'x'.repeat(5000) + '@' + 'x'.repeat(5000)].map((s) => {
     const r = /\\w+@/g; r.lastIndex = 2; const rb = /\\b\\w+@/g; rb.lastIndex = 2;
     return JSON.stringify([s.match(/(\\w+)@\\1/), s.match(/\\w+@/g), r.exec(s), r.lastIndex, rb.exec(s), s.match(/\\b[a-z]+:/g), s.match(/[a-z]+:/g), s.match(/\\w{3,}@/g),
       s.match(/\\b\\w{2,}@(\\w+)/g), s.match(/\\w+(?:)@/g), s.match(/[^@]+@/g), s.match(/\\b[^a]+@/g), s.match(/b+@/g), s.match(/\\w+\\u0100/g), s.match(/\\b(\\w+)@/g), s.replace(/(\\b(\\w)\\w*)@/g, '<$2:$1>')])
       .replace(/x{30,}/g, (m) => 'x*' + m.length); })`],
  ['first', `['alpha', 'AL al', 'ſ K k'].map((s) => [s.match(/\\bal/gi), s.match(/[a-z]+/gi), s.match(/\\w+/giu), s.match(/k/giu), /\\bK/iu.exec(s)])`],
  // the in-place greedy loop and its no-give-back rule
  ['greedy', `['bbba', 'xay aab', 'aaa', 'a@b', 'ab@@cd@', 'a,b,,c', 'xx\\nyx', '\\ud83d\\ude00\\ud83d\\ude00x'].map((s) => [s.match(/\\w+a/g), s.match(/a*a/g),
     s.match(/\\w+@/g), s.match(/(\\w+)@/g), s.match(/\\w{2,3}@/g), s.match(/\\w*@/g), s.match(/[^,]*,/g), s.match(/.*x/g), s.match(/.+x/gs),
     s.match(/[^]*?x/g), s.match(/a+b/g), s.match(/\\w+\\w/g), s.match(/.+x/gu), s.match(/[\\ud83d\\ude00]+x/gu), s.match(/\\S+?@/g), s.match(/@+@/g)])`],
  ['greedy', `['AbC@x abc@y', 'KELVIN kelvin', '\\u212a@'].map((s) => [s.match(/[a-z]+@/gi), s.match(/[a-z]+@/g), s.match(/k+/giu), s.match(/\\w+@/giu), s.match(/[^@]+@/gi)])`],
  ['greedy', `{ const s = 'a'.repeat(5000) + 'b'; return [/a+b/.exec(s)[0].length, /a{0,4999}b/.exec(s)[0].length, /(a+)+b/.exec(s)[1].length, /a+c/.test(s),
     /(?:a|b)*c/.test('ab'.repeat(2000)), ('ab'.repeat(2000) + 'c').match(/(?:a|b)*c/)[0].length, ('ab'.repeat(300) + 'c').replace(/(x)?(?:a|b)*(c)/g, '[$1$2]').length]; }`],
];

describeAgainstNode('engine regex speed patches keep JavaScript answers', 'JS-REGEX-FAST-1 match/replace loop, first-char scan and greedy fast paths answer as Node 20 does', CASES);
