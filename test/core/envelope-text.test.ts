import { describe, expect, it } from 'vitest';
import { envelopeText, type EntityVersion, type EventEnvelope } from '../../src/core/index.js';
import { checkPublishBatch, decodeEntry, isCorrupt } from '../../src/bus/shared/codec.js';
import { contextText, handleInputText, settingsText } from '../../src/runtime/host.js';
import { readEvent } from '../../src/store/shared.js';
import { makeEvent } from '../bus/conformance.js';

// A plugin's input splices in the text an envelope was decoded from instead of stringifying it again
// (a bus delivery's `text`; a store row's through src/core/envelope-text.ts). It must be byte for byte
// what JSON.stringify of the input object gives, for every envelope a publish can write, and never the
// text of an envelope that was then changed.

/** Encoded as a publish encodes it, decoded as a bus read decodes it. */
function roundTrip(event: EventEnvelope): { raw: string; decoded: EventEnvelope; text: string | undefined } {
  const [raw] = checkPublishBatch([event]);
  const entry = decodeEntry('1-1', raw, 1);
  if (isCorrupt(entry)) throw new Error(`corrupt: ${entry.reason}`);
  return { raw: raw!, decoded: entry.event, text: entry.text };
}

const entity: EntityVersion = {
  entityId: 'task-1',
  entityTypeId: 'Task',
  version: 2,
  tenantId: 'acme',
  attributes: { title: 'é', n: 1.5 },
  createdAt: '2026-12-04T00:00:00.000Z',
  createdBy: 'user:test',
  deleted: false,
} as unknown as EntityVersion;
const context = { now: '2026-12-04T00:00:00.000Z', randomSeed: 'ab', tenantId: 'acme', plugin: { id: 'p', name: 'P', version: 1 } };
const ctxText = contextText(context.now, context.randomSeed, context.tenantId, JSON.stringify(context.plugin));

const tricky: Array<[string, Partial<EventEnvelope>]> = [
  ['plain', {}],
  ['unicode, emoji, escapes', { payload: { t: 'é 😀 "q" \\ \n\t\u0001 \u2028', k: '</script>' } }],
  ['a lone surrogate', { payload: { s: 'a\ud800b', t: '\udfff' } }],
  ['numbers', { payload: { big: 1e21, small: 1e-7, neg0: -0, frac: 0.1 + 0.2, max: Number.MAX_VALUE, int: 2 ** 53 } }],
  ['nested, empty, null', { payload: { a: [[], {}, [null, [1, [2]]]], o: { z: 1, a: 2, '': 3, '10': 4, '2': 5 } } }],
  ['deep nesting, a long string', { payload: { deep: JSON.parse('['.repeat(40) + '"x"' + ']'.repeat(40)) as unknown, long: 'ab\u00e9'.repeat(20_000) } }],
  ['no entity fields', { entityId: undefined, entityTypeId: undefined, entityVersion: undefined }],
  ['tagged by an experiment', { experiment: { id: 'exp-1', variant: 'b' } }],
];

describe('envelope text spliced into plugin inputs', () => {
  for (const [name, overrides] of tricky) {
    it(`ENV-TEXT-1 ${name}: the decoded envelope's text and the input are byte for byte JSON.stringify's`, () => {
      const { raw, decoded, text } = roundTrip(makeEvent(overrides));
      expect(text).toBe(raw);
      expect(JSON.stringify(decoded)).toBe(raw);
      for (const e of [undefined, entity]) {
        for (const settings of [{}, { limit: 3, nested: { a: ['x'] } }]) {
          const want = JSON.stringify({ event: decoded, entity: e, settings, context });
          expect(handleInputText(decoded, e, settings, ctxText, text)).toBe(want);
          expect(handleInputText(decoded, e, settings, ctxText)).toBe(want);
        }
      }
    });
  }

  it('ENV-TEXT-2 a changed copy of a decoded envelope is stringified, not given the original text', () => {
    const { raw, decoded } = roundTrip(makeEvent());
    const copy = { ...decoded, experiment: { id: 'exp-1', variant: 'a' } };
    expect(copy).not.toHaveProperty('text');
    expect(envelopeText(copy)).toBe(JSON.stringify(copy));
    expect(envelopeText(copy)).not.toBe(raw);
    expect(JSON.parse(handleInputText(copy, undefined, {}, ctxText)).event.experiment).toEqual({ id: 'exp-1', variant: 'a' });
  });

  it('ENV-TEXT-3 an entry the schema had to change keeps no text: its input holds the envelope as checked', () => {
    // An unknown key: the fast check refuses it, the schema strips it. The stored text still holds it.
    const raw = JSON.stringify({ ...makeEvent(), smuggled: { admin: true } });
    const entry = decodeEntry('1-1', raw, 1);
    if (isCorrupt(entry)) throw new Error(`corrupt: ${entry.reason}`);
    expect(entry.event).not.toHaveProperty('smuggled');
    expect(entry.text).toBeUndefined();
    expect(envelopeText(entry.event)).toBe(JSON.stringify(entry.event));
    expect(handleInputText(entry.event, undefined, {}, ctxText)).not.toContain('smuggled');
  });

  it('ENV-TEXT-4 an envelope never decoded from the bus is stringified', () => {
    const event = makeEvent({ payload: { n: 1 } });
    expect(envelopeText(event)).toBe(JSON.stringify(event));
  });

  it('ENV-TEXT-5 an event read back from a store row is published as the text the commit wrote', () => {
    for (const [, overrides] of tricky) {
      const stored = JSON.stringify(makeEvent(overrides));
      const event = readEvent(stored, { table: 'outbox', seq: 1 });
      expect(checkPublishBatch([event])).toEqual([stored]);
    }
    // A row the schema had to change (an unknown key stripped) is published as checked, not as stored.
    const smuggled = JSON.stringify({ ...makeEvent(), smuggled: 1 });
    const cleaned = readEvent(smuggled, { table: 'outbox', seq: 2 });
    expect(checkPublishBatch([cleaned])[0]).toBe(JSON.stringify(cleaned));
    expect(checkPublishBatch([cleaned])[0]).not.toContain('smuggled');
    // A copy made from it carries its own fields.
    const event = readEvent(JSON.stringify(makeEvent()), { table: 'outbox', seq: 3 });
    expect(JSON.parse(checkPublishBatch([{ ...event, hop: 7 }])[0]!).hop).toBe(7);
  });

  it('ENV-TEXT-6 stored objects (PostgreSQL json, MongoDB documents) are checked and stringified as before', () => {
    const event = makeEvent();
    const read = readEvent(JSON.parse(JSON.stringify(event)) as unknown, { table: 'outbox', seq: 1 });
    expect(checkPublishBatch([read])).toEqual([JSON.stringify(read)]);
    expect(() => readEvent('{"eventId":', { table: 'outbox', seq: 2 })).toThrow(/stored event failed validation/);
    expect(() => readEvent(JSON.stringify({ ...event, hop: 'x' }), { table: 'outbox', seq: 3 })).toThrow(/stored event failed validation/);
  });

  it('ENV-TEXT-7 the context and settings texts are JSON.stringify of them, whatever they hold', () => {
    const plugins = [{ id: 'p', name: 'P', version: 1 }, { id: 'q"\\', name: 'é 😀 \u2028 </script>', version: 12 }];
    for (const plugin of plugins) {
      for (const tenantId of ['acme', null, 'a"b\\c']) {
        for (const [now, randomSeed] of [['2026-12-04T00:00:00.000Z', 'ab'], ['x\ny', '\ud800']]) {
          const want = JSON.stringify({ now, randomSeed, tenantId, plugin });
          expect(contextText(now!, randomSeed!, tenantId, JSON.stringify(plugin))).toBe(want);
        }
      }
    }
    // Kept per object: each object its own text, the same object the same text.
    const a = { limit: 3, nested: { a: ['x'] } };
    const b = { limit: 4 };
    expect(settingsText(a)).toBe(JSON.stringify(a));
    expect(settingsText(b)).toBe(JSON.stringify(b));
    expect(settingsText(a)).toBe(JSON.stringify(a));
    expect(settingsText({})).toBe('{}');
  });
});
