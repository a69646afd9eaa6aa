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

describe('TTL leases renewed together', () => {
  /** A bus that renews several leases at once (as the embedded bus), counting its calls; `lost` names leases another owner took. */
  function renewingBus(): { bus: EventBus; calls: { lease: number; renew: number; names: string[][] }; lost: Set<string> } {
    const calls = { lease: 0, renew: 0, names: [] as string[][] };
    const lost = new Set<string>();
    let token = 0;
    const bus = {
      lease: (name: string) => {
        calls.lease++;
        return Promise.resolve(!lost.has(name));
      },
      renewLeases: (_owner: string, _ttl: number, names: readonly string[]) => {
        calls.renew++;
        calls.names.push([...names].sort());
        return new Promise<string[]>((resolve) => setTimeout(() => resolve(names.filter((n) => !lost.has(n))), 2));
      },
      counter: (_name: string, add = 0) => Promise.resolve((token += add)),
    } as unknown as EventBus;
    return { bus, calls, lost };
  }
  // A 600 ms TTL: renewals due every 200 ms, the local view good for 480 ms. A wait of 250 ms makes
  // them due and leaves 230 ms before a view lapses, so a loaded machine's late timers do not.
  const TTL = 600;
  const due = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 250));

  it('ROUTER-LEASE-4 one bus call renews every lease the process holds (fenced ones too); one found another\'s is lost alone; a lapsed one is taken again on its own, fresh', async () => {
    const { bus, calls, lost } = renewingBus();
    const leases = Array.from({ length: 50 }, (_, i) => new Lease(bus, `q${i}`, 'me', TTL, undefined, i % 2 === 0));
    for (const lease of leases) expect(await lease.keep()).toBe(true);
    expect(calls.lease).toBe(50 + 25); // each taken once; a fenced one confirmed once more after its token
    for (const lease of leases) lease.takeCatchUp();
    const fences = leases.map((l) => l.fence?.fence.token);
    await due();
    // All due at once (the renewal timers): one call renews all 50.
    expect(await Promise.all(leases.map((l) => l.keep()))).toEqual(leases.map(() => true));
    expect(calls.renew).toBe(1);
    expect(calls.names[0]).toEqual(leases.map((l) => l.name).sort());
    expect(calls.lease).toBe(75);
    await due();
    // Due one by one (timers out of step): the first renews all, the rest answer locally.
    lost.add('q7');
    for (const lease of leases) await lease.keep();
    expect(calls.renew).toBe(2);
    expect(calls.lease).toBe(75);
    expect(leases[7]!.held).toBe(false); // another's now: lost, and alone
    expect(leases.filter((l) => l.held)).toHaveLength(49);
    expect(leases.map((l) => l.fence?.fence.token)).toEqual(fences.map((t, i) => (i === 7 ? undefined : t))); // renewals draw no new token
    expect(leases.some((l) => l.takeCatchUp())).toBe(false); // a renewal owes no catch-up
    // q7 stays out of the renewals; it tries on its own (and fails) while another's
    await due();
    expect(await leases[7]!.keep()).toBe(false);
    expect(calls.lease).toBe(76);
    for (const lease of leases) await lease.keep();
    expect(calls.names.at(-1)).not.toContain('q7');
    // One lease not kept while the others are: renewed with them all the same (the process is alive),
    // so its next keep() needs no bus call and owes no catch-up.
    for (let round = 0; round < 3; round++) {
      await due();
      for (const lease of leases) if (lease !== leases[3]) await lease.keep();
    }
    expect(leases[3]!.held).toBe(true);
    const quietLeases = calls.lease;
    expect(await leases[3]!.keep()).toBe(true);
    expect(calls.lease).toBe(quietLeases);
    expect(leases[3]!.takeCatchUp()).toBe(false);
    // A lapsed local view (a stalled process: no keep() for longer than the view) is taken again on
    // its own — the bus says whether it is still this owner's — and reported fresh.
    await new Promise((resolve) => setTimeout(resolve, TTL));
    const renewsBefore = calls.renew;
    const leasesBefore = calls.lease;
    expect(await leases[0]!.keep()).toBe(true);
    expect(calls.renew).toBe(renewsBefore);
    expect(calls.lease).toBe(leasesBefore + 2); // taken, then confirmed after a new token
    expect(leases[0]!.takeCatchUp()).toBe(true);
    // Its next renewal leaves the lapsed ones out: each is taken again by its own keep(), fresh.
    await due();
    expect(await leases[0]!.keep()).toBe(true);
    expect(calls.names.at(-1)).toEqual(['q0']);
    expect(leases[1]!.held).toBe(false);
    expect(await leases[1]!.keep()).toBe(true);
    expect(leases[1]!.takeCatchUp()).toBe(true);
  });

  it('ROUTER-LEASE-5 a released lease leaves the renewals; a failed renewal round keeps each local view and rejects its callers', async () => {
    const { bus, calls } = renewingBus();
    const [a, b] = [new Lease(bus, 'a', 'me', TTL), new Lease(bus, 'b', 'me', TTL)];
    (bus as unknown as { releaseLease: () => Promise<void> }).releaseLease = () => Promise.resolve();
    expect(await a.keep()).toBe(true);
    expect(await b.keep()).toBe(true);
    await a.release();
    await due();
    expect(await b.keep()).toBe(true);
    expect(calls.names.at(-1)).toEqual(['b']);
    (bus as unknown as { renewLeases: () => Promise<string[]> }).renewLeases = () => Promise.reject(new Error('disk full'));
    await due();
    await expect(b.keep()).rejects.toThrow('disk full');
    expect(b.held).toBe(true); // the local view stands until it lapses
  });
});
