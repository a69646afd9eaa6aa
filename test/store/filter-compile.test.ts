import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import { isUeeError, type UeeError } from '../../src/core/index.js';
import { compileFilter, matchesSubscription } from '../../src/store/filter-compile.js';
import { validateFilter } from '../../src/store/filter.js';

function errorOf(fn: () => unknown): UeeError {
  try {
    fn();
  } catch (err) {
    if (isUeeError(err)) return err;
    throw err;
  }
  throw new Error('expected a UeeError');
}

const DOCS: unknown[] = [
  {}, { a: 1 }, { a: 2 }, { a: '1' }, { a: null }, { a: [1, 2, 3] }, { a: [] }, { a: { b: 1 } }, { a: [{ b: 1 }, { b: 2 }] },
  { a: 'hello World' }, { a: ['x', 'Hello'] }, { a: true }, { a: false }, { a: { b: { c: 'z' } } }, { a: 1.5 }, { a: -3 },
  { a: [null] }, { a: [{ c: 1 }] }, { a: { b: null } }, { a: { b: [] } }, { a: [{ b: 1, c: 2 }, { b: 2, c: 1 }] }, { a: { c: 2, b: 1 } },
];

/** Filters whose results must equal the previous evaluator's (mingo) on every document above. */
const SAME_AS_MINGO: Array<Record<string, unknown>> = [
  { a: 1 }, { a: null }, { a: [1, 2, 3] }, { 'a.b': 1 }, { 'a.0': 1 }, { 'a.0.b': 1 }, { 'a.1': 2 },
  { a: { $ne: 1 } }, { a: { $ne: null } }, { a: { $gt: 1 } }, { a: { $gte: 1 } }, { a: { $lt: 2 } }, { a: { $gt: null } }, { a: { $gt: '0' } }, { a: { $gt: false } },
  { a: { $in: [1, null] } }, { a: { $in: [2, '1'] } }, { a: { $nin: [1, 2] } }, { a: { $in: [] } }, { a: { $exists: true } }, { a: { $exists: false } }, { 'a.b': { $exists: true } },
  { a: { $regex: '^h', $options: 'i' } }, { a: { $regex: 'o' } }, { a: { $not: { $regex: '^h' } } }, { a: { $not: { $gt: 1 } } }, { a: { $size: 0 } }, { a: { $size: 3 } },
  { a: { $all: [1, 2] } }, { a: { $elemMatch: { $gt: 1, $lt: 3 } } }, { a: { $type: 'string' } }, { a: { $type: 'array' } }, { a: { $type: ['bool', 'string'] } },
  { $or: [{ a: 1 }, { a: 2 }] }, { $and: [{ a: { $gt: 0 } }, { a: { $lt: 2 } }] }, { $nor: [{ a: 1 }] }, { a: { b: 1 } }, { 'a.b.c': 'z' }, { a: { $eq: [1, 2, 3] } },
  { a: { $regex: /world/i } }, { a: /^x/ }, { a: { $in: [/^H/] } }, { a: { $all: [] } },
];

describe('compiled filters (the one evaluator of every filter path)', () => {
  it('FC01 gives the previous evaluator’s answers on the common operators', () => {
    for (const filter of SAME_AS_MINGO) {
      const compiled = compileFilter(filter);
      const query = new Query(filter);
      for (const doc of DOCS) expect(compiled.matches(doc), `${JSON.stringify(filter)} on ${JSON.stringify(doc)}`).toBe(query.test(doc as Record<string, unknown>));
    }
  });

  it('FC02 follows MongoDB where the previous evaluator did not', () => {
    const m = (filter: Record<string, unknown>, doc: unknown): boolean => compileFilter(filter).matches(doc);
    expect(m({ a: { $mod: [2, 0] } }, { a: null })).toBe(false); // JS coerced null to 0
    expect(m({ a: { $mod: [2, 1] } }, { a: '1' })).toBe(false);
    expect(m({ a: { $elemMatch: { b: 1 } } }, { a: [1, 2, 3] })).toBe(false);
    expect(m({ a: { $lte: null } }, {})).toBe(true); // null comparisons also match a missing field
    expect(m({ 'a.b': [1, 2] }, { a: [{ b: 1 }, { b: 2 }] })).toBe(false); // an array literal equals one value, not the collected ones
    expect(m({ 'a.b': 2 }, { a: [{ b: 1 }, { b: 2 }] })).toBe(true);
  });

  it('FC03 a catastrophic-backtracking pattern runs in linear time', () => {
    const text = `${'a'.repeat(27)}b`;
    const benign = compileFilter({ s: { $regex: '^a+b$' } });
    const hostile = compileFilter({ s: { $regex: '^(a+)+$' } });
    const time = (fn: () => void): number => {
      const t = performance.now();
      for (let i = 0; i < 20; i++) fn();
      return performance.now() - t;
    };
    const base = time(() => expect(benign.matches({ s: text })).toBe(true));
    const attack = time(() => expect(hostile.matches({ s: text })).toBe(false));
    // A backtracking engine needs seconds for one of these 20 tests; the linear one is in the benign's range.
    expect(attack).toBeLessThan(Math.max(250, base * 20));
  });

  it('FC04 patterns RE2 cannot run, and flags it does not know, are INVALID_FILTER with a hint', () => {
    for (const [filter, operator] of [
      [{ s: { $regex: '(a)\\1' } }, '$regex'],
      [{ s: { $regex: '(?=a)b' } }, '$regex'],
      [{ s: { $regex: '(?<!a)b' } }, '$regex'],
      [{ s: { $regex: 'a', $options: 'x' } }, '$options'],
      [{ s: { $not: /(a)\1/ } }, '$regex'],
      [{ s: { $in: [/(?=x)/] } }, '$regex'],
    ] as const) {
      const err = errorOf(() => compileFilter(filter));
      expect(err.code, JSON.stringify(filter)).toBe('INVALID_FILTER');
      expect(err.details.operator).toBe(operator);
      expect(err.hint).toMatch(/RE2|flags/);
    }
  });

  it('FC05 operators outside the allow-list are refused, aggregation ones included', () => {
    for (const filter of [{ $expr: { $gt: [{ $size: { $range: [0, 1e9] } }, 0] } }, { a: { $range: [0, 10] } }, { $where: 'sleep(1)' }, { a: { $function: {} } }, { a: { $text: 'x' } }]) {
      expect(errorOf(() => compileFilter(filter)).code).toBe('INVALID_FILTER');
    }
  });

  it('FC06 shape limits name the limit: depth, nodes, array items, string and pattern length', () => {
    let deep: Record<string, unknown> = { a: 1 };
    for (let i = 0; i < 12; i++) deep = { $and: [deep] };
    const cases: Array<[unknown, string]> = [
      [deep, 'maxDepth'],
      [{ $or: Array.from({ length: 900 }, (_, i) => ({ [`f${i}`]: i, [`g${i}`]: i, [`h${i}`]: i })) }, 'maxNodes'],
      [{ a: { $in: Array.from({ length: 1001 }, (_, i) => i) } }, 'maxArrayItems'],
      [{ a: 'x'.repeat(4097) }, 'maxStringLength'],
      [{ a: { $regex: 'x'.repeat(513) } }, 'maxRegexLength'],
    ];
    for (const [filter, limit] of cases) {
      const err = errorOf(() => validateFilter(filter));
      expect(err.code).toBe('INVALID_FILTER');
      expect(err.details.limit).toBe(limit);
      expect(err.hint).toContain(limit);
    }
  });

  it('FC07 evaluation is metered: a document over maxStepsPerDocument is QUERY_TOO_COSTLY', () => {
    const doc = { a: Array.from({ length: 1000 }, (_, i) => `v${i}`) };
    const filter = { a: { $in: Array.from({ length: 500 }, (_, i) => `w${i}`) } };
    const err = errorOf(() => compileFilter(filter).matches(doc));
    expect(err.code).toBe('QUERY_TOO_COSTLY');
    expect(err.details.limit).toBe('maxStepsPerDocument');
    expect(compileFilter(filter, { maxStepsPerDocument: 2_000_000 }).matches(doc)).toBe(false);
    // Long strings cost their length under a regular expression.
    const long = { s: 'a'.repeat(1_000_000) };
    expect(errorOf(() => compileFilter({ s: { $regex: 'b' } }).matches(long)).details.limit).toBe('maxStepsPerDocument');
  });

  it('FC08 a scan is bounded per query: steps, documents and bytes examined', () => {
    const steps = compileFilter({ a: { $in: [1, 2, 3, 4, 5, 6, 7, 8, 9] } }, { maxStepsPerQuery: 1000 }).scan();
    expect(errorOf(() => { for (let i = 0; i < 1000; i++) steps.test({ a: 0 }); }).details.limit).toBe('maxStepsPerQuery');
    const docs = compileFilter({ a: 1 }, { maxDocumentsExamined: 10 }).scan();
    for (let i = 0; i < 10; i++) docs.test({ a: 0 });
    expect(docs.stats.documents).toBe(10);
    expect(errorOf(() => docs.test({ a: 1 })).details.limit).toBe('maxDocumentsExamined');
    const bytes = compileFilter({ a: 1 }, { maxBytesExamined: 100 }).scan();
    bytes.test({ a: 0 }, 60);
    expect(errorOf(() => bytes.test({ a: 0 }, 60)).code).toBe('QUERY_TOO_COSTLY');
    // Main-thread time is bounded too (checked every 16 documents).
    const slow = compileFilter({ a: 1 }, { maxScanMs: 5 }).scan();
    const t = performance.now();
    while (performance.now() - t < 10);
    expect(errorOf(() => { for (let i = 0; i < 16; i++) slow.test({ a: 0 }); }).details.limit).toBe('maxScanMs');
  });

  it('FC09 subscription filters: compiled once, invalid or over-budget ones match nothing and say why', () => {
    const refused: string[] = [];
    const onRefused = (err: UeeError): void => void refused.push(`${err.code}:${String(err.details.limit ?? err.details.operator)}`);
    expect(matchesSubscription({ 'payload.n': { $gt: 1 } }, { payload: { n: 2 } }, onRefused)).toBe(true);
    expect(matchesSubscription({ $expr: { $eq: [1, 1] } }, { payload: {} }, onRefused)).toBe(false);
    expect(matchesSubscription({ 'payload.s': { $regex: '(a)\\1' } }, { payload: { s: 'aa' } }, onRefused)).toBe(false);
    expect(matchesSubscription({ 'payload.s': { $regex: 'b' } }, { payload: { s: 'a'.repeat(1_000_000) } }, onRefused)).toBe(false);
    expect(refused).toEqual(['INVALID_FILTER:$expr', 'INVALID_FILTER:$regex', 'QUERY_TOO_COSTLY:maxStepsPerDocument']);
  });
});
