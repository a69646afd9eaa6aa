import { describe, expect, it } from 'vitest';
import { InsertionOrder } from '../../src/bus/shared/insertion-order.js';

// A bounded map's oldest entry, found without walking its deleted slots: the oldest key still held,
// whatever was dropped elsewhere, also across the compaction of what was passed over.

describe('INSERTION-ORDER-1 the oldest key a map still holds', () => {
  it('skips keys the map dropped elsewhere, and forgets the oldest once shifted', () => {
    const held = new Set<number>();
    const order = new InsertionOrder<number>();
    const has = (k: number): boolean => held.has(k);
    expect(order.oldest(has)).toBeUndefined();
    for (const k of [1, 2, 3, 4]) {
      held.add(k);
      order.push(k);
    }
    expect(order.oldest(has)).toBe(1);
    held.delete(1);
    held.delete(2);
    expect(order.oldest(has)).toBe(3);
    held.delete(3);
    order.shift();
    expect(order.oldest(has)).toBe(4);
    held.delete(4);
    expect(order.oldest(has)).toBeUndefined();
  });

  it('keeps its order through the compaction of thousands of keys passed over', () => {
    const held = new Set<number>();
    const order = new InsertionOrder<number>();
    const has = (k: number): boolean => held.has(k);
    let next = 0;
    // A map of 100 entries evicted oldest first, 10,000 times.
    for (; next < 100; next++) {
      held.add(next);
      order.push(next);
    }
    for (let i = 0; i < 10_000; i++) {
      const oldest = order.oldest(has)!;
      expect(oldest).toBe(i);
      held.delete(oldest);
      order.shift();
      held.add(next);
      order.push(next++);
    }
    expect(order.oldest(has)).toBe(10_000);
    order.clear();
    expect(order.oldest(has)).toBeUndefined();
  });
});
