import { describe, expect, it } from 'vitest';
import { EventEnvelopeSchema, isEventEnvelope, newId } from '../../src/core/index.js';
import { checkEachBrokenField } from './fast-check.js';

// Bus readers decode every entry with isEventEnvelope and fall back to the zod schema only when it
// says no: it must never accept what the schema rejects or would change (strip), and it must accept
// the envelopes our producers write (else it saves nothing).

function envelope(): Record<string, unknown> {
  const eventId = newId();
  return {
    eventId,
    type: 'TaskCreated',
    tenantId: 'acme',
    entityId: 'task-1',
    entityTypeId: 'Task',
    entityVersion: 3,
    payload: { a: [1, { b: 'c' }], n: null },
    occurredAt: new Date().toISOString(),
    correlationId: eventId,
    causationId: null,
    hop: 2,
    source: { kind: 'plugin', id: 'plugin:x@1' },
    experiment: { id: 'exp-1', variant: 'b' },
  };
}

const BAD: Array<[string, unknown[]]> = [
  ['eventId', [undefined, '', 'x'.repeat(129), 7, null]],
  ['type', [undefined, '', '1abc', 'a b', 'x'.repeat(129), 3]],
  ['tenantId', [undefined, '', '-acme', 'a'.repeat(65), 'a b', 5]],
  ['entityId', ['', '.x', 'a/b', 'x'.repeat(129), null, 1]],
  ['entityTypeId', ['', '1Task', 'Ta sk', null]],
  ['entityVersion', [0, -1, 1.5, '3', null, Number.MAX_SAFE_INTEGER + 2]],
  ['payload', [undefined, null, [], 'x', { ['__proto__']: 1 }, { constructor: {} }, { deep: { prototype: 1 } }]],
  ['occurredAt', [undefined, null, 5]],
  ['correlationId', [undefined, '', 'x'.repeat(129), null]],
  ['causationId', [undefined, 'x'.repeat(129), 5]],
  ['hop', [undefined, -1, 1.5, '1', null]],
  ['source', [undefined, null, {}, { kind: 'alien', id: 'x' }, { kind: 'api' }, { kind: 'api', id: 'x'.repeat(257) }, { kind: 'api', id: 'x', extra: 1 }]],
  ['experiment', [null, {}, { id: 'e' }, { id: 'e', variant: 1 }, { id: 'e', variant: 'a', extra: 1 }]],
  ['unknownKey', ['anything']],
];

describe('isEventEnvelope: the bus readers\' fast envelope check', () => {
  it('CORE-ENV-1 accepts the envelopes producers write (with and without optional fields), exactly as the schema returns them', () => {
    const full = envelope();
    const minimal = envelope();
    for (const k of ['entityId', 'entityTypeId', 'entityVersion', 'experiment']) delete minimal[k];
    minimal.tenantId = null;
    minimal.causationId = 'cause';
    for (const e of [full, minimal]) {
      expect(isEventEnvelope(e)).toBe(true);
      expect(EventEnvelopeSchema.parse(e)).toEqual(e);
    }
  });

  it('CORE-ENV-2 never accepts what the schema rejects or would change: every field broken in turn falls back to the schema', () => {
    // A "__proto__" written as an object literal's key sets the prototype, not a key: nothing to check.
    const literalProto = (field: string, value: unknown): boolean =>
      field === 'payload' && typeof value === 'object' && value !== null && '__proto__' in value && !Object.hasOwn(value, '__proto__');
    const cases = checkEachBrokenField(EventEnvelopeSchema, isEventEnvelope, envelope, BAD, literalProto);
    // A forbidden key as JSON.parse makes it (an own "__proto__" property).
    const poisoned = JSON.parse(JSON.stringify(envelope()).replace('"payload":{', '"payload":{"__proto__":{"x":1},')) as unknown;
    expect(isEventEnvelope(poisoned)).toBe(false);
    expect(EventEnvelopeSchema.safeParse(poisoned).success).toBe(false);
    expect(cases).toBeGreaterThan(40);
  });
});
