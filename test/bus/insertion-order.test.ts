import { describe, expect, it } from 'vitest';
import { InsertionOrder } from '../../src/bus/shared/insertion-order.js';

// A bounded map's oldest entry, found without walking its deleted slots: the oldest key still held,
// whatever was dropped elsewhere, also across the compaction of what was passed over — and the list
// stays bounded by the map when its entries leave elsewhere and it never fills.

describe('INSERTION-ORDER-1 the oldest key a map still holds', () => {
  it('skips keys the map dropped elsewhere, and forgets the oldest once shifted', () => {
    const held = new Set<number>();
    const order = new InsertionOrder<number>((k) => held.has(k));
    expect(order.oldest()).toBeUndefined();
    for (const k of [1, 2, 3, 4]) {
      held.add(k);
      order.push(k, held.size);
    }
    expect(order.oldest()).toBe(1);
    held.delete(1);
    held.delete(2);
    expect(order.oldest()).toBe(3);
    held.delete(3);
    order.shift();
    expect(order.oldest()).toBe(4);
    held.delete(4);
    expect(order.oldest()).toBeUndefined();
  });

  it('keeps its order through the compaction of thousands of keys passed over', () => {
    const held = new Set<number>();
    const order = new InsertionOrder<number>((k) => held.has(k));
    let next = 0;
    // A map of 100 entries evicted oldest first, 10,000 times.
    for (; next < 100; next++) {
      held.add(next);
      order.push(next, held.size);
    }
    for (let i = 0; i < 10_000; i++) {
      const oldest = order.oldest()!;
      expect(oldest).toBe(i);
      held.delete(oldest);
      order.shift();
      held.add(next);
      order.push(next++, held.size);
    }
    expect(order.oldest()).toBe(10_000);
  });

  it('lists at most about twice the map when its entries leave elsewhere and the oldest is never asked for', () => {
    const held = new Set<number>();
    const order = new InsertionOrder<number>((k) => held.has(k));
    // The hand-off at low load: each entry taken soon after it is kept, the map never full.
    for (let k = 0; k < 100_000; k++) {
      held.add(k);
      order.push(k, held.size);
      if (k >= 10) held.delete(k - 10);
      expect(order.length).toBeLessThanOrEqual(2 * 11 + 1024 + 1);
    }
    // What is left listed is still in order.
    expect(order.oldest()).toBe(99_990);
  });
});
