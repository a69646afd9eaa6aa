/**
 * ROUTER-INHAND: the process-wide bound on deliveries in hand (read, not yet done) across every
 * queue, and how its room goes round the queues.
 */
import { describe, expect, it } from 'vitest';
import { InHandBudget } from '../../src/router/in-hand.js';

/** Lets queued microtasks (a round of grants after releases) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether `p` has resolved, and to what. */
function peek<T>(p: Promise<T>): { done: boolean; value?: T } {
  const state: { done: boolean; value?: T } = { done: false };
  void p.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

describe('InHandBudget', () => {
  it('ROUTER-INHAND-1 grants at once while there is room, never more than the capacity in all; a waiter is served when slots come back', async () => {
    const budget = new InHandBudget(100, 16, 100);
    const a = {};
    const b = {};
    expect(await budget.acquire(a, 64).granted).toBe(64);
    expect(await budget.acquire(b, 64).granted).toBe(36);
    expect(budget.free).toBe(0);
    const c = {};
    const waiting = peek(budget.acquire(c, 64).granted);
    await settle();
    expect(waiting.done).toBe(false);
    // Fewer than the smallest grant back: still waiting (a read of 1 costs as much as one of 64).
    budget.release(a, 10);
    await settle();
    expect(waiting.done).toBe(false);
    budget.release(a, 30);
    await settle();
    // Three holders: a share of 33 each; c holds none, so it gets its share of the 40 free.
    expect(waiting).toEqual({ done: true, value: 33 });
    expect(budget.heldBy(c)).toBe(33);
    expect(budget.heldBy(a)).toBe(24);
    expect(budget.free).toBe(7);
    expect(budget.heldBy(a) + budget.heldBy(b) + budget.heldBy(c) + budget.free).toBe(100);
  });

  it('ROUTER-INHAND-2 a holder over its share gets nothing back while one under its share waits: the slow queue\'s releases go to the others first', async () => {
    const budget = new InHandBudget(100, 4, 100);
    const slow = {};
    expect(await budget.acquire(slow, 100).granted).toBe(100);
    // The slow queue asks again (its next read) before the quiet one: it still comes second.
    const slowAgain = peek(budget.acquire(slow, 64).granted);
    const quiet = {};
    const quietWait = peek(budget.acquire(quiet, 64).granted);
    budget.release(slow, 30);
    await settle();
    // Two holders: a share of 50 each. The quiet queue (holding 0) is served first, up to what is free.
    expect(quietWait).toEqual({ done: true, value: 30 });
    expect(slowAgain.done).toBe(false);
    budget.release(slow, 40);
    await settle();
    // The slow queue holds 30, under its share of 50 now: it gets up to its share.
    expect(slowAgain).toEqual({ done: true, value: 20 });
    expect(budget.heldBy(quiet)).toBe(30);
  });

  it('ROUTER-INHAND-3 waiters are served in the order they asked, each up to its share; later ones do not overtake one that does not fit yet', async () => {
    const budget = new InHandBudget(60, 10, 60);
    const first = {};
    expect(await budget.acquire(first, 60).granted).toBe(60);
    const holders = [{}, {}, {}];
    const waits = holders.map((h) => peek(budget.acquire(h, 64).granted));
    budget.release(first, 60);
    await settle();
    // Four active holders (first holds nothing now but waits for nothing: three waiters share 60).
    expect(waits.map((w) => w.value)).toEqual([20, 20, 20]);
    // One that needs the smallest grant blocks those behind it.
    const big = {};
    const small = {};
    const bigWait = peek(budget.acquire(big, 30).granted);
    const smallWait = peek(budget.acquire(small, 30).granted);
    budget.release(holders[0]!, 5);
    await settle();
    expect(bigWait.done).toBe(false);
    expect(smallWait.done).toBe(false);
    budget.release(holders[1]!, 15);
    await settle();
    expect(bigWait.done).toBe(true);
  });

  it('ROUTER-INHAND-4 a cancelled wait resolves 0 and leaves its place to the next; take holds past the capacity and release brings it back', async () => {
    const budget = new InHandBudget(20, 10, 20);
    const a = {};
    expect(await budget.acquire(a, 20).granted).toBe(20);
    const b = {};
    const c = {};
    const bWait = budget.acquire(b, 20);
    const cWait = peek(budget.acquire(c, 10).granted);
    bWait.cancel();
    expect(await bWait.granted).toBe(0);
    expect(budget.waiting).toBe(1);
    budget.release(a, 10);
    await settle();
    expect(cWait).toEqual({ done: true, value: 10 });
    budget.take(a, 15);
    expect(budget.free).toBe(-15);
    const d = peek(budget.acquire({}, 5).granted);
    budget.release(a, 15);
    await settle();
    expect(d.done).toBe(false);
    budget.release(a, 10);
    await settle();
    expect(d).toEqual({ done: true, value: 5 });
    expect(budget.heldBy(a)).toBe(0);
  });

  it('ROUTER-INHAND-7 a group (a tenant\'s queues) never holds more than its cap, even with room free and nobody else asking; its waiters are served as the group gives back', async () => {
    const budget = new InHandBudget(100, 4);
    expect(budget.groupCap).toBe(50);
    const [q1, q2, q3] = [{}, {}, {}];
    expect(await budget.acquire(q1, 40, 'slow').granted).toBe(40);
    // Only 10 left under the cap, though 60 are free.
    expect(await budget.acquire(q2, 40, 'slow').granted).toBe(10);
    const third = peek(budget.acquire(q3, 40, 'slow').granted);
    await settle();
    expect(third.done).toBe(false);
    expect(budget.heldByGroup('slow')).toBe(50);
    // Another tenant still finds its room at once: its share, with four holders active.
    expect(await budget.acquire({}, 40, 'quiet').granted).toBe(25);
    budget.release(q1, 20);
    await settle();
    expect(third).toEqual({ done: true, value: 20 });
    expect(budget.heldByGroup('slow')).toBe(50);
    // Holders without a group are each their own.
    const loner = new InHandBudget(100, 4);
    expect(await loner.acquire({}, 50).granted).toBe(50);
    expect(await loner.acquire({}, 50).granted).toBe(50);
  });

  it('ROUTER-INHAND-10 within its group\'s cap a holder that holds a grant\'s worth is not served crumbs: it waits until a grant\'s worth came back; one holding less is served what there is', async () => {
    // A tenant's (or the global plugins') queues of slow deliveries fill their group's cap; results
    // come back a worker batch (a few calls) at a time.
    const budget = new InHandBudget(200, 16);
    const [q1, q2] = [{}, {}];
    expect(await budget.acquire(q1, 64, 'slow').granted).toBe(64);
    expect(await budget.acquire(q2, 64, 'slow').granted).toBe(36);
    const next = peek(budget.acquire(q1, 64, 'slow').granted);
    budget.release(q1, 5);
    await settle();
    // 5 of the group's cap free: q1 still holds 59, it waits (a read of 5 costs what one of 64 does).
    expect(next.done).toBe(false);
    budget.release(q2, 6);
    await settle();
    expect(next.done).toBe(false);
    budget.release(q1, 5);
    await settle();
    expect(next).toEqual({ done: true, value: 16 });
    // A holder with less than a grant in hand takes what there is (it must not starve behind the others).
    const q3 = {};
    budget.take(q3, 10, 'slow');
    const low = peek(budget.acquire(q3, 64, 'slow').granted);
    budget.release(q2, 12);
    budget.release(q3, 8);
    await settle();
    // q3 holds 2 and the group has 10 free under its cap: it gets them, less than a grant.
    expect(low).toEqual({ done: true, value: 10 });
  });
});
