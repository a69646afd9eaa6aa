import { describe, expect, it } from 'vitest';
import { isUeeError } from '../../src/core/index.js';
import { decodeCursor, encodeCursor, queryHash } from '../../src/store/cursor.js';
import { prefixFilter, validateFilter } from '../../src/store/filter.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return isUeeError(err) ? err.code : 'not a UeeError';
  }
}

describe('filter allow-list', () => {
  it('F01 accepts every allow-listed operator in its place', () => {
    const filter = {
      a: { $eq: 1, $ne: 2, $gt: 0, $gte: 0, $lt: 9, $lte: 9 },
      b: { $in: [1, 2], $nin: [3] },
      c: { $exists: true },
      d: { $regex: '^x', $options: 'i' },
      e: { $size: 2, $all: ['x'] },
      f: { $elemMatch: { g: { $gt: 1 } } },
      h: { $type: 'string' },
      i: { $mod: [2, 0] },
      j: { $not: { $gt: 5 } },
      'k.l': { m: 1 },
      $and: [{ a: 1 }],
      $or: [{ a: 1 }, { $nor: [{ b: 2 }] }],
    };
    expect(validateFilter(filter)).toBe(filter);
    expect(validateFilter(undefined)).toEqual({});
  });

  it('F02 refuses operators that run code or are unknown, naming them', () => {
    for (const [filter, op] of [
      [{ $where: 'true' }, '$where'],
      [{ a: { $function: {} } }, '$function'],
      [{ $expr: {} }, '$expr'],
      [{ a: { $near: [0, 0] } }, '$near'],
      [{ $text: { $search: 'x' } }, '$text'],
    ] as const) {
      try {
        validateFilter(filter);
        expect.unreachable();
      } catch (err) {
        expect(isUeeError(err, 'INVALID_FILTER')).toBe(true);
        expect((err as { details: Record<string, unknown> }).details.operator).toBe(op);
      }
    }
  });

  it('F03 refuses bad shapes: arrays, empty paths, $options alone, non-finite values', () => {
    for (const filter of [[], 'x', { 'a..b': 1 }, { a: { $options: 'i' } }, { a: Number.POSITIVE_INFINITY }, { a: { $mod: [0, 1] } }, { $and: [] }, { a: { $regex: '(' } }]) {
      expect(codeOf(() => validateFilter(filter))).toBe('INVALID_FILTER');
    }
  });

  it('F04 prefixes field paths but not logical operators or operands', () => {
    expect(prefixFilter({ a: { $elemMatch: { b: 1 } }, $or: [{ c: 1 }] }, 'doc.')).toEqual({ 'doc.a': { $elemMatch: { b: 1 } }, $or: [{ 'doc.c': 1 }] });
  });
});

describe('cursors', () => {
  it('F05 round-trip, and refuse other queries or tampering', () => {
    const h = queryHash({ b: 1, a: [1, { c: 2 }] });
    expect(queryHash({ a: [1, { c: 2 }], b: 1 })).toBe(h);
    const c = encodeCursor(h, [3, 'x', null]);
    expect(decodeCursor(c, h, 3)).toEqual([3, 'x', null]);
    expect(codeOf(() => decodeCursor(c, queryHash({ other: true }), 3))).toBe('INVALID_CURSOR');
    expect(codeOf(() => decodeCursor(c, h, 2))).toBe('INVALID_CURSOR');
    expect(codeOf(() => decodeCursor(c.slice(0, -3), h, 3))).toBe('INVALID_CURSOR');
    expect(codeOf(() => decodeCursor('', h, 3))).toBe('INVALID_CURSOR');
  });
});
