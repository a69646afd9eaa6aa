/**
 * ROUTER-LEASE: a queue lease bound to the process heartbeat. A beat that comes late (the local view
 * of liveness lapses) does not end the holding: work under it waits and goes on with the same fence
 * once a beat finds the heartbeat still alive. A heartbeat found lapsed ends it: nothing goes on.
 * Whichever keep() takes a lease fresh, the catch-up it owes is latched in the lease until the
 * reading loop takes it.
 */
import { describe, expect, it } from 'vitest';
import type { EventBus } from '../../src/bus/index.js';
import { Lease } from '../../src/router/lease.js';
import type { ProcessLiveness } from '../../src/router/liveness.js';

/** A heartbeat whose local view the test sets. */
function fakeLiveness(): { alive: boolean; generation: number; ttlMs: number } {
  return { alive: true, generation: 0, ttlMs: 100 };
}

/** A bus that grants every lease and counts fencing tokens. */
function grantingBus(): EventBus {
  let token = 0;
  return { lease: () => Promise.resolve(true), counter: (_name: string, add = 0) => Promise.resolve((token += add)) } as unknown as EventBus;
}

describe('heartbeat-bound lease', () => {
  it('ROUTER-LEASE-1 a late beat is waited out with the same fence; a heartbeat found lapsed ends the holding', async () => {
    const live = fakeLiveness();
    const lease = new Lease(grantingBus(), 'q', 'me', 1000, live as unknown as ProcessLiveness, true);
    expect(await lease.keep()).toBe(true);
    expect(lease.takeCatchUp()).toBe(true);
    const fence = lease.fence;
    expect(fence).toBeDefined();

    live.alive = false; // a beat is late
    expect(lease.fence).toBeUndefined();
    const waiting = lease.regained(() => false);
    setTimeout(() => (live.alive = true), 30); // the next beat finds the heartbeat alive
    expect(await waiting).toBe(fence);

    live.alive = false;
    const ended = lease.regained(() => false);
    setTimeout(() => {
      live.generation++; // the next beat finds the heartbeat had lapsed: the lease may have moved
      live.alive = true;
    }, 30);
    expect(await ended).toBeUndefined();
    expect(lease.fence).toBeUndefined();
  });

  it('ROUTER-LEASE-3 ended() is true only once the holding is certainly over: not while a beat is late, yes after a new generation or a later holding', async () => {
    const live = fakeLiveness();
    const lease = new Lease(grantingBus(), 'q', 'me', 1000, live as unknown as ProcessLiveness, true);
    expect(await lease.keep()).toBe(true);
    const first = lease.fence!;
    expect(first.ended()).toBe(false);
    live.alive = false; // a late beat: the holding may go on
    expect(first.ended()).toBe(false);
    live.generation++; // found lapsed: over
    live.alive = true;
    expect(first.ended()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 60)); // the next attempt is due (every TTL / 2)
    expect(await lease.keep()).toBe(true); // taken again, under a new fence
    const second = lease.fence!;
    expect(second).not.toBe(first);
    expect([first.ended(), second.ended()]).toEqual([true, false]);
    // A TTL lease (embedded) whose local view lapsed may be another's by now.
    const ttl = new Lease(grantingBus(), 'q2', 'me', 30, undefined, true);
    expect(await ttl.keep()).toBe(true);
    const held = ttl.fence!;
    expect(held.ended()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(held.ended()).toBe(true);
  });
});

describe('catch-up latch', () => {
  it('ROUTER-LEASE-2 a lease taken fresh by any keep() owes one catch-up until the reader takes it; a renewal does not clear it', async () => {
    let granted = true;
    const bus = { lease: () => Promise.resolve(granted), counter: () => Promise.resolve(1) } as unknown as EventBus;
    // TTL lease (embedded): a 30 ms TTL, so attempts are due every 10 ms.
    const lease = new Lease(bus, 'q', 'me', 30);
    const due = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 15));
    expect(lease.takeCatchUp()).toBe(false);
    expect(await lease.keep()).toBe(true); // taken fresh (say, by the renewal timer)
    await due();
    expect(await lease.keep()).toBe(true); // renewed (the loop): not fresh, and the latch stays
    expect(lease.takeCatchUp()).toBe(true);
    expect(lease.takeCatchUp()).toBe(false); // owed once
    granted = false;
    await due();
    expect(await lease.keep()).toBe(false); // lost
    granted = true;
    await due();
    expect(await lease.keep()).toBe(true); // taken fresh again
    expect(lease.takeCatchUp()).toBe(true);
  });
});
