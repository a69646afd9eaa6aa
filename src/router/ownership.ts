import { hash32 } from '../core/index.js';

/**
 * Which live process should own which queue, for splitting the queue leases among the processes
 * sharing a bus instead of all going to the first one. The router reads the members from the bus's
 * roster of routers (every quarter heartbeat) and each queue worker asks for its queue's lease only
 * when the split gives the queue to its process, handing it over when the split moves it away.
 *
 * Every process computes the same assignment from the same inputs — the live members (the bus's
 * heartbeat set) and the queues of the routing table — so they agree without talking: bounded-load
 * rendezvous hashing. Queues are taken in the order of their
 * hash; each goes to the member with the highest score for it (a hash of member and queue) among
 * those holding fewer than `ceil(queues / members)`. Each member gets a fair share (4 queues over 2
 * processes: 2 each, where plain rendezvous gives 4–0 one time in eight), and a member joining or
 * leaving moves mostly the queues that member gains or loses.
 *
 * A global plugin's lanes (one queue per tenant with events for it, see `laneGroup`) are split on
 * their own, each to the member of highest score for it with no load bound ({@link laneOwner}): a
 * process knows only the lanes it has met, so no two processes could count the same set, while the
 * members alone are known alike to all. Over many tenants that spreads one busy global plugin's
 * work over every process (before 2026-12-07 its lanes went with its queue: one process ran all of
 * it); with few lanes the split may be uneven.
 *
 * The assignment only says who should take a queue's lease; the lease alone decides who reads it.
 * While views differ (a member seen by one process and not yet by another) a queue may be wanted by
 * two processes — the lease arbitrates — or by none for up to a beat.
 */
export function assignQueues(members: readonly string[], queues: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  const ms = [...new Set(members)].sort();
  if (ms.length === 0) return out;
  const qs = [...new Set(queues)].map((q) => ({ q, h: hash32(q) })).sort((a, b) => a.h - b.h || (a.q < b.q ? -1 : a.q > b.q ? 1 : 0));
  const cap = Math.ceil(qs.length / ms.length);
  const load = new Array<number>(ms.length).fill(0);
  for (const { q } of qs) {
    const best = highestScore(ms, q, (i) => load[i]! < cap);
    load[best]!++;
    out.set(q, ms[best]!);
  }
  return out;
}

/**
 * The member a lane goes to: of `members`, the one of highest score for `lane` (the score
 * {@link assignQueues} ranks by, so a lane alone is assigned as a queue alone is); undefined with none.
 */
export function laneOwner(members: readonly string[], lane: string): string | undefined {
  const ms = [...new Set(members)].sort();
  return ms.length === 0 ? undefined : ms[highestScore(ms, lane, () => true)];
}

/** The index of the member of `sorted` with the highest score for `key` among those `open` lets in (the first on a tie). */
function highestScore(sorted: readonly string[], key: string, open: (i: number) => boolean): number {
  let best = -1;
  let bestScore = -1;
  for (let i = 0; i < sorted.length; i++) {
    if (!open(i)) continue;
    const score = hash32(`${sorted[i]!}\n${key}`);
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  }
  return best;
}

/** Lanes whose owner a share remembers at most; past it the memory starts again (a look-up is one hash per member). */
const LANE_OWNERS_KEPT = 65_536;


/** This process's current share: answers {@link owns} per queue from the last assignment. */
export class QueueShare {
  #owners = new Map<string, string>();
  #members: readonly string[] = [];
  #queues: readonly string[] = [];
  /** Whether each lane asked about is this process's, for the members of {@link generation}. */
  #lanes = new Map<string, boolean>();
  #generation = 0;

  constructor(readonly self: string) {}

  /**
   * Recomputes the assignment; returns the queues whose owner changed (to or from this process), or
   * none when nothing changed.
   */
  update(members: readonly string[], queues: Iterable<string>): string[] {
    const ms = members.includes(this.self) ? [...members] : [...members, this.self];
    const qs = [...queues];
    ms.sort();
    qs.sort();
    const sameMembers = same(ms, this.#members);
    if (sameMembers && same(qs, this.#queues)) return [];
    if (!sameMembers) {
      this.#generation++;
      this.#lanes.clear();
    }
    this.#members = ms;
    this.#queues = qs;
    const next = assignQueues(ms, qs);
    const changed: string[] = [];
    for (const q of qs) if ((next.get(q) === this.self) !== (this.#owners.get(q) === this.self)) changed.push(q);
    this.#owners = next;
    return changed;
  }

  /** Whether this process should hold queue `group` (a queue outside the last assignment: no). */
  owns(group: string): boolean {
    return this.#owners.get(group) === this.self;
  }

  /** Whether this process should hold lane `group` of a global plugin (see {@link laneOwner}): no before the first {@link update}. */
  ownsLane(group: string): boolean {
    let mine = this.#lanes.get(group);
    if (mine === undefined) {
      if (this.#lanes.size >= LANE_OWNERS_KEPT) this.#lanes.clear();
      mine = laneOwner(this.#members, group) === this.self;
      this.#lanes.set(group, mine);
    }
    return mine;
  }

  /** Counts the changes of the members: a change may move any lane (see {@link ownsLane}). */
  get generation(): number {
    return this.#generation;
  }

  /** The members the last assignment was made among. */
  get members(): readonly string[] {
    return this.#members;
  }
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
