/**
 * ROUTER-SHARE-0: the queue assignment among live processes (src/router/ownership.ts) is fair and
 * stable: every member gets ⌊n/m⌋ or ⌈n/m⌉ of n queues (four queues over two processes: two each,
 * whatever the names), and a member joining takes about its share, moving hardly anything between
 * the others. ROUTER-SHARE-0c: a global plugin's lanes are split on their own, by the members alone
 * (each process knows different lanes): about evenly over many lanes, a member joining takes about
 * its share and nothing moves between the others, and a share's answers follow its members.
 */
import { describe, expect, it } from 'vitest';
import { assignQueues, laneOwner, QueueShare } from '../../src/router/ownership.js';

describe('queue share among live processes (assignment)', () => {
  it('ROUTER-SHARE-0 each member gets floor or ceil of queues/members; a member joining moves about its share, hardly anything between the others', () => {
    const queues = Array.from({ length: 1000 }, (_, i) => `plugin:*:P${i}`);
    for (const n of [1, 2, 3, 5, 7]) {
      const members = Array.from({ length: n }, (_, i) => `host:${1000 + i}:ab${i}`);
      const counts = new Map<string, number>();
      for (const owner of assignQueues(members, queues).values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
      expect(counts.size).toBe(n);
      const cap = Math.ceil(1000 / n);
      // Filled in hash order up to the cap: every member but the last filled has exactly the cap.
      expect([...counts.values()].every((c) => c <= cap && c >= 1000 - (n - 1) * cap)).toBe(true);
    }
    for (let k = 0; k < 50; k++) {
      const owners = [...assignQueues([`a${k}`, `b${k * 7}`], ['p0', 'p1', 'p2', 'p3']).values()];
      expect(owners.filter((o) => o === `a${k}`)).toHaveLength(2);
    }
    const two = assignQueues(['a', 'b'], queues);
    const three = assignQueues(['a', 'b', 'c'], queues);
    const moved = queues.filter((q) => two.get(q) !== three.get(q));
    const toNewcomer = moved.filter((q) => three.get(q) === 'c');
    expect(toNewcomer.length).toBeGreaterThanOrEqual(1000 - 2 * Math.ceil(1000 / 3));
    expect(moved.length - toNewcomer.length).toBeLessThan(20);
    // Every process computes the same: the order members or queues are given in does not matter.
    expect([...assignQueues(['c', 'a', 'b'], [...queues].reverse())].sort()).toEqual([...three].sort());
  });

  it('ROUTER-SHARE-0b a process\'s share names the queues that moved to or from it', () => {
    const queues = Array.from({ length: 20 }, (_, i) => `plugin:*:P${i}`);
    const share = new QueueShare('a');
    expect(share.update(['a'], queues)).toHaveLength(20);
    expect(queues.every((q) => share.owns(q))).toBe(true);
    expect(share.update(['a'], queues)).toEqual([]);
    const lost = share.update(['a', 'b'], queues);
    expect(lost).toHaveLength(10);
    expect(lost.every((q) => !share.owns(q))).toBe(true);
    expect(queues.filter((q) => share.owns(q))).toHaveLength(10);
    // Not in the assignment: not owned.
    expect(share.owns('plugin:*:Other')).toBe(false);
  });

  it('ROUTER-SHARE-0c lanes are split by the members alone: about evenly, a member joining takes about its share and moves nothing between the others; a share answers for the current members', () => {
    const lanes = Array.from({ length: 3000 }, (_, i) => `lane:t${i}:Audit`);
    const two = new Map(lanes.map((l) => [l, laneOwner(['a', 'b'], l)]));
    const three = new Map(lanes.map((l) => [l, laneOwner(['c', 'a', 'b'], l)]));
    for (const [owners, n] of [[two, 2], [three, 3]] as const) {
      const counts = new Map<string | undefined, number>();
      for (const o of owners.values()) counts.set(o, (counts.get(o) ?? 0) + 1);
      expect(counts.size).toBe(n);
      for (const c of counts.values()) expect(Math.abs(c - 3000 / n)).toBeLessThan(0.1 * (3000 / n));
    }
    const moved = lanes.filter((l) => two.get(l) !== three.get(l));
    // Every lane that moved went to the newcomer.
    expect(moved.every((l) => three.get(l) === 'c')).toBe(true);
    expect(moved.length).toBeGreaterThan(0.9 * 1000);
    // A lane alone is assigned as a queue alone is.
    for (const l of lanes.slice(0, 50)) expect(laneOwner(['a', 'b'], l)).toBe(assignQueues(['b', 'a'], [l]).get(l));
    expect(laneOwner([], 'lane:t0:Audit')).toBeUndefined();

    const share = new QueueShare('a');
    expect(share.ownsLane(lanes[0]!)).toBe(false);
    share.update(['a'], []);
    expect(lanes.every((l) => share.ownsLane(l))).toBe(true);
    const generation = share.generation;
    // Other queues, the same members: no lane moves.
    share.update(['a'], ['plugin:*:P0']);
    expect(share.generation).toBe(generation);
    share.update(['a', 'b'], ['plugin:*:P0']);
    expect(share.generation).toBe(generation + 1);
    expect(lanes.filter((l) => share.ownsLane(l))).toEqual(lanes.filter((l) => two.get(l) === 'a'));
  });
});
