import { describe, expect, it } from 'vitest';
import { EntityVersionSchema, isEntityVersion, newId } from '../../src/core/index.js';
import { readVersion } from '../../src/store/shared.js';
import { checkEachBrokenField } from './fast-check.js';

// The stores read every entity version back with isEntityVersion and fall back to the zod schema only
// when it says no: it must never accept what the schema rejects or would change (strip a key, add
// `deleted`), and it must accept the versions the stores write (else it saves nothing).

function version(): Record<string, unknown> {
  return {
    entityId: newId(),
    entityTypeId: 'Task',
    tenantId: 'acme',
    ownerId: 'user:ann',
    version: 3,
    attributes: { title: 'x', tags: ['a', { b: null }], n: 1.5 },
    metadata: { source: 'test' },
    createdAt: new Date().toISOString(),
    createdBy: 'plugin:p@1',
    causationId: newId(),
    deleted: false,
  };
}

const BAD: Array<[string, unknown[]]> = [
  ['entityId', [undefined, '', '.x', 'a/b', 'x'.repeat(129), null, 1]],
  ['entityTypeId', [undefined, '', '1Task', 'Ta sk', 'x'.repeat(129), null]],
  ['tenantId', [undefined, '', '-acme', 'a'.repeat(65), 'a b', 5]],
  ['ownerId', [undefined, 5, {}]],
  ['version', [undefined, 0, -1, 1.5, '3', null, Number.MAX_SAFE_INTEGER + 2]],
  ['attributes', [undefined, null, [], 'x', { constructor: {} }, { deep: { prototype: 1 } }, { n: Infinity }]],
  ['metadata', [undefined, null, [], 5, { ['__proto__']: 1 }]],
  ['createdAt', [undefined, null, 5]],
  ['createdBy', [undefined, null, 5]],
  ['causationId', [undefined, 5, {}]],
  ['deleted', [undefined, 'false', 0, null]],
  ['unknownKey', ['anything']],
];

describe('isEntityVersion: the stores\' fast entity version check', () => {
  it('CORE-VER-1 accepts the versions the stores write (nullable fields null or set, tombstones), exactly as the schema returns them', () => {
    const full = version();
    const minimal = { ...version(), tenantId: null, ownerId: null, causationId: null, deleted: true, attributes: {}, metadata: {} };
    for (const v of [full, minimal]) {
      expect(isEntityVersion(v)).toBe(true);
      expect(EntityVersionSchema.parse(v)).toEqual(v);
      // What a store reads back from its JSON text is the version it wrote.
      expect(readVersion(JSON.stringify(v), {})).toEqual(v);
    }
  });

  it('CORE-VER-2 never accepts what the schema rejects or would change: every field broken in turn falls back to the schema', () => {
    const cases = checkEachBrokenField(EntityVersionSchema, isEntityVersion, version, BAD);
    // A forbidden key as JSON.parse makes it (an own "__proto__" property), which readVersion reports.
    const poisoned = JSON.stringify(version()).replace('"attributes":{', '"attributes":{"__proto__":{"x":1},');
    expect(isEntityVersion(JSON.parse(poisoned))).toBe(false);
    expect(() => readVersion(poisoned, {})).toThrow(expect.objectContaining({ code: 'CORRUPT_DATA' }) as Error);
    // A version stored before `deleted` existed reads back with the schema's default.
    const { deleted: _deleted, ...old } = version();
    expect(readVersion(JSON.stringify(old), {})).toEqual({ ...old, deleted: false });
    expect(cases).toBeGreaterThan(40);
  });
});
