import { describe, expect, it } from 'vitest';
import { isCorrupt } from '../../src/bus/shared/codec.js';
import { DecodedTexts } from '../../src/bus/shared/decoded-texts.js';
import type { Delivery } from '../../src/bus/port.js';
import { makeEvent } from './conformance.js';

// A text decoded once is not parsed again: the same object for every entry of that text — but only
// for what decodes into an envelope as it is, and within its bounds.

/** A copy of `text` as another string object (as a reply read from a socket is). */
const copy = (text: string): string => Buffer.from(text).toString('utf8');

describe('DECODED-TEXTS-1 envelopes decoded by text', () => {
  it('the same text, read again as another string, gives the same object and its own id and count', () => {
    const texts = new DecodedTexts();
    const text = JSON.stringify(makeEvent());
    const first = texts.decode('1-1', text, 1) as Delivery;
    const again = texts.decode('2-7', copy(text), 3) as Delivery;
    expect(again.event).toBe(first.event);
    expect([again.id, again.deliveryCount, again.text]).toEqual(['2-7', 3, text]);
    expect(texts.decode('3-1', JSON.stringify(makeEvent()), 1)).not.toHaveProperty('event', first.event);
  });

  it('keeps nothing that is not an envelope as it is: corrupt text, a value the schema had to change', () => {
    const texts = new DecodedTexts();
    expect(isCorrupt(texts.decode('1-1', '{"not":"an event"}', 1))).toBe(true);
    expect(isCorrupt(texts.decode('1-2', 'not json', 1))).toBe(true);
    expect(texts.size).toBe(0);
    // A key the envelope does not have: the schema strips it, so that value is not the text's decoding.
    const text = JSON.stringify({ ...makeEvent(), extra: 1 });
    const a = texts.decode('1-3', text, 1) as Delivery;
    expect(a.event).not.toHaveProperty('extra');
    expect(a.text).toBeUndefined();
    expect(texts.size).toBe(0);
    expect((texts.decode('1-4', copy(text), 1) as Delivery).event).not.toBe(a.event);
  });

  it('is bounded: the oldest goes first past 16,384 envelopes, and a text over a quarter of the character bound is never kept', () => {
    const texts = new DecodedTexts();
    const all = Array.from({ length: 16_385 }, () => JSON.stringify(makeEvent()));
    const first = texts.decode('1-0', all[0]!, 1) as Delivery;
    const second = texts.decode('1-1', all[1]!, 1) as Delivery;
    for (let i = 2; i < all.length; i++) texts.decode(`1-${i}`, all[i]!, 1);
    expect(texts.size).toBe(16_384);
    expect((texts.decode('2-0', copy(all[0]!), 1) as Delivery).event).not.toBe(first.event);
    // Decoding the first again pushed the second out.
    expect((texts.decode('2-1', copy(all[1]!), 1) as Delivery).event).not.toBe(second.event);
    const big = JSON.stringify(makeEvent({ payload: { blob: 'x'.repeat(2_000_001) } }));
    const b = texts.decode('3-0', big, 1) as Delivery;
    expect((texts.decode('3-1', copy(big), 1) as Delivery).event).not.toBe(b.event);
  });
});
