import { describe, expect, it } from 'vitest';
import { EntityWriteSchema, JsonObjectSchema, UeeError, eventSeed, idTimestamp, isId, newId, parseOrThrow, toUeeError } from '../../src/core/index.js';
import { formatUuidV7 } from '../../src/core/ids.js';

describe('core', () => {
  it('CORE-1: ids are UUIDv7, strictly increasing within a process even in the same millisecond', () => {
    const now = Date.now();
    const ids = Array.from({ length: 5000 }, () => newId(now));
    for (const id of ids) expect(isId(id)).toBe(true);
    expect(ids.slice().sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Math.abs(idTimestamp(ids[0]!) - now)).toBeLessThan(1000);
    expect(ids[0]![14]).toBe('7');
    // RFC 9562 variant bits (10xx) in every id; the random tail differs.
    for (const id of ids) expect('89ab').toContain(id[19]);
    expect(new Set(ids.map((id) => id.slice(19))).size).toBe(ids.length);
  });

  it('CORE-1c: an id\'s text is its timestamp, version, counter, variant and random bytes, digit for digit, and one id\'s text never changes with the next', () => {
    const hex = (b: number): string => b.toString(16).padStart(2, '0');
    const reference = (ms: number, counter: number, r: number[]): string => {
      const t = ms.toString(16).padStart(12, '0');
      return `${t.slice(0, 8)}-${t.slice(8)}-7${counter.toString(16).padStart(3, '0')}-${hex(0x80 | (r[0]! & 0x3f))}${hex(r[1]!)}-${r.slice(2).map(hex).join('')}`;
    };
    const randoms = [[0, 0, 0, 0, 0, 0, 0, 0], [255, 255, 255, 255, 255, 255, 255, 255], [0x3f, 0x40, 1, 0x23, 0x45, 0x67, 0x89, 0xab]];
    const made: Array<[string, string]> = [];
    for (const ms of [0, 1, 0xffffff, 0x1000000, 0xff000000, 0x0123456789ab, 2 ** 48 - 1, Date.now()]) {
      for (const counter of [0, 1, 0xabc, 0xfff]) {
        for (const r of randoms) {
          const padded = new Uint8Array([9, 9, ...r, 9]);
          const id = formatUuidV7(ms, counter, padded, 2);
          expect(id).toBe(reference(ms, counter, r));
          expect(isId(id)).toBe(true);
          expect(idTimestamp(id)).toBe(ms);
          made.push([id, reference(ms, counter, r)]);
        }
      }
    }
    for (const [id, expected] of made) expect(id).toBe(expected);
  });

  it('CORE-1b: an event seed is 32 hex digits, a function of (event id, plugin id) only', () => {
    expect(eventSeed('e1', 'p1')).toBe('3ea807e6e4a964c8f0ae750604cda731');
    expect(eventSeed('e1', 'p2')).not.toBe(eventSeed('e1', 'p1'));
    for (let i = 0; i < 200; i++) expect(eventSeed(`event-${i}`, 'plugin')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('CORE-2: UeeError serialises code, message, hint and details but never the cause or stack', () => {
    const err = new UeeError('VERSION_CONFLICT', 'expected 1, found 2', { details: { expected: 1, actual: 2 }, hint: 'reload and retry', cause: new Error('db') });
    const wire = JSON.parse(JSON.stringify(err)) as Record<string, unknown>;
    expect(wire).toEqual({ code: 'VERSION_CONFLICT', message: 'expected 1, found 2', hint: 'reload and retry', details: { expected: 1, actual: 2 }, retryable: false });
    expect(toUeeError(new TypeError('x')).code).toBe('INTERNAL');
    expect(toUeeError(err)).toBe(err);
  });

  it('CORE-3: JSON objects reject prototype-polluting keys, non-finite numbers and absurd nesting', () => {
    expect(JsonObjectSchema.safeParse(JSON.parse('{"a":{"__proto__":{"x":1}}}')).success).toBe(false);
    expect(JsonObjectSchema.safeParse({ constructor: 1 }).success).toBe(false);
    expect(JsonObjectSchema.safeParse(JSON.parse('{"__proto__":{"polluted":true}}')).success).toBe(false);
    expect(JsonObjectSchema.safeParse({ n: Infinity }).success).toBe(false);
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(JsonObjectSchema.safeParse(deep).success).toBe(false);
    expect(JsonObjectSchema.safeParse({ ok: [1, 'two', { three: null }] }).success).toBe(true);
  });

  it('CORE-4: parseOrThrow reports the offending field path as VALIDATION_FAILED', () => {
    try {
      parseOrThrow(EntityWriteSchema, { entityTypeId: 'Task', attributes: 'nope' }, 'entity write');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UeeError);
      expect((err as UeeError).code).toBe('VALIDATION_FAILED');
      expect((err as UeeError).message).toContain('attributes');
    }
    expect(() => parseOrThrow(EntityWriteSchema, { entityTypeId: 'Task', attributes: {}, extra: 1 }, 'entity write')).toThrow(/extra|unrecognized/i);
  });
});
