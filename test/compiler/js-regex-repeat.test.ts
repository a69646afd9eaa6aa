/**
 * JS-REGEX-REPEAT: quantified atoms repeat as the spec's RepeatMatcher says (src/compiler/
 * engine-patch-conformance.ts): each iteration starts with the atom's captures undefined, and an
 * iteration past the minimum that matches the empty string fails. Every form of loop the compiler
 * emits (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, greedy and lazy, forwards and in a lookbehind) and
 * every path a match takes (exec, the C loop of match/replace, the first-character scan, matchAll,
 * `d` indices, named groups, split, whose result holds an unmatched capture as undefined) must answer
 * exactly as Node 20 does, and a match result's keys come in the spec's order.
 */
import { describeAgainstNode } from './battery/against-node.js';
import type { Case } from './battery/harness.js';

/** [pattern, subject] pairs, each answered by `exec`. */
const EXEC: readonly (readonly [string, string])[] = [
  // captures reset per iteration, in every loop form
  ['/((a)|(b))*c/', 'abc'], ['/(?:(a)|b)*/', 'ab'], ['/(?:(a)|(b)|(c))*/', 'abcabc'], ['/(?:(a)|(b))*?c/', 'abc'],
  ['/(?:(a)|(b))+/', 'abab'], ['/(?:(a)|(b))+?c/', 'abc'], ['/(?:(a)|(b)){2}c/', 'abc'], ['/(?:(a)|(b)){1,3}/', 'abab'],
  ['/(?:(a)|(b)){2,}c/', 'abbac'], ['/(?:(a)|(b)){3,5}?/', 'ababab'], ['/(?:(a)|b){0,2}c/', 'abc'], ['/(?:(a)|b)?c/', 'bc'],
  ['/(?:(a)|(b)){0}c/', 'c'], ['/(z)((a+)?(b+)?(c))*/', 'zaacbbbcac'], ['/(?:(a)|(b)|x)*c/', 'axbxc'], ['/^(?:(\\d+)\\.)*(\\d+)$/', '1.22.333'],
  // back references see the reset
  ['/(?:(a)|b)*\\1/', 'aba'], ['/(?:(a)\\1|b)*/', 'aab'], ['/(\\2a|(b))*/', 'bba'], ['/(?:(a)|\\1b)*/', 'ab'], ['/(?:(a)|(b))*\\2/', 'abb'],
  // an empty iteration past the minimum fails: other choices of the atom, or the captures from before it
  ['/(a*)*/', 'b'], ['/(a*)+/', 'b'], ['/(?:|a)*/', 'a'], ['/(?:x|(?=(a)))*/', 'xa'], ['/(?:(?=(a))a?)*/', 'aa'], ['/(?:|a){0,2}/', 'a'],
  ['/(?:|a){1,2}/', 'a'], ['/(?:|a){2}/', 'a'], ['/(a*){0,3}/', 'b'], ['/(a*){2,3}/', 'b'], ['/(?:(a)|b|){2,3}/', 'ab'], ['/(?:|a)?/', 'a'],
  ['/(a*)?/', 'b'], ['/(a*)??b/', 'b'], ['/(?:|a)??$/', 'a'], ['/(a?)*?b/', 'ab'], ['/(a*?){1,3}?b/', 'ab'],
  // loops upstream repeated until the heap was full: lazy, and an atom reading its own capture
  ['/(?:a?)*?b/', 'ac'], ['/(?:(x)|)*?y/', 'z'], ['/(?:()\\1)*/', 'a'], ['/(?:(a)|\\1)*?$/', 'ab'],
  // in a lookbehind (matched backwards), under u, i and y
  ['/(?<=(?:(a)|b)*)c/', 'abc'], ['/(?<=((a)|(b))*)c/', 'bac'], ['/(?<=(?:|a)*)b/', 'ab'], ['/(?:(a)|(b))*c/u', 'abc'], ['/(?:(a)|(b))*c/i', 'ABC'],
  ['/(?:(\\u{1F600})|(b))*c/u', '\u{1F600}bc'], ['/(?:(a)|(b))*/y', 'ab'],
];

const CASES: readonly Case[] = [
  ...EXEC.map(([re, s]): Case => ['exec', `${re}.exec(${JSON.stringify(s)})`]),
  // named groups and d indices of a reset capture
  ['groups', `[/(?:(?<x>a)|(?<y>b))*/.exec('ab').groups, /(?:(?<x>a)|(?<y>b))+/d.exec('ab').indices, /((a)|(b))*c/d.exec('abc').indices,
     'ab'.replace(/(?:(?<x>a)|(?<y>b))*/, '[$<x>|$<y>]')]`],
  // the C loop of a global match/replace, matchAll, split, and the first-character scan (patterns that start with a class)
  ['loop', `['abab ba', 'aabb', ''].map((s) => [s.match(/(?:(a)|(b))+/g), s.replace(/(?:(a)|(b))+/g, '[$1|$2]'),
     s.replace(/(?:(a)|(b))+/g, (m, a, b, o) => [m, a, b, o].join(':')), [...s.matchAll(/(?:(a)|(b))+/g)].map((m) => [...m, m.index]),
     s.split(/(?:(a)|(b))+/), s.replace(/(?:(a)|(b))*/g, '<$1$2>')])`],
  ['first', `['x1 y22 z', 'ab12cd3'].map((s) => [/[a-z](?:(\\d)|(\\w))+/.exec(s), s.match(/[a-z](?:(\\d)|([a-z]))*/g),
     s.replace(/\\b\\w(?:(\\d)|(\\w))*/g, '($1,$2)'), /(?:(\\d)|([a-z]))+/.exec(s)])`],
  // split keeps an unmatched capture undefined
  ['split', `['ab', 'abab ba', ''].map((s) => [s.split(/(x)?b/), s.split(/(a)|(b)/), s.split(/(a)|(b)/, 3), s.split(/(?<n>x)?(?=a)/)])`],
  // the result's own keys in the spec's order, on exec, match, matchAll and with d
  ['keys', `[Object.keys(/a/.exec('a')), Object.keys(/(?<x>a)(b)?/d.exec('a')), Object.keys([...'aa'.matchAll(/a/g)][1]), JSON.stringify({ ...'ab'.match(/(?<x>a)/) })]`],
  // a long subject: the reset and the empty check cost no correctness at depth
  ['long', `{ const s = 'ab'.repeat(3000) + 'c'; const m = /(?:(a)|(b))*c/.exec(s); const e = /(?:x?)*$/.exec('y'.repeat(2000));
     return [m[0].length, m[1], m[2], e[0], e.index, /(?:(a)|(b)|)*$/.exec(s.slice(0, 2000))]; }`],
];

describeAgainstNode('RegExp quantifiers repeat as the spec says', 'JS-REGEX-REPEAT-1 captures reset each iteration and empty iterations fail, in every loop form and match path, as on Node 20', CASES);
