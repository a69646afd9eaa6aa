import { UeeError } from '../core/index.js';

/**
 * A fencing token a commit carries (Kleppmann's fencing token; ZooKeeper's zxid-checked writes):
 * `key` names what is leased (a router queue, `q:<queue>`) and `token` is the number the bus handed
 * the holder when it took the lease — strictly greater for every later taker. The store remembers the
 * greatest token it has committed under each key, in the commit's own transaction, and refuses a
 * commit with a smaller one (`FENCED`): a holder that was paused (GC, SIGSTOP, a network cut) past
 * its lease and woke after another process took the lease over cannot commit anything more under it.
 */
export interface CommitFence {
  /** What is leased; one fence per key, shared by every tenant's commits under it. */
  key: string;
  /** The holder's token: a positive integer, strictly increasing per key across holders. */
  token: number;
}

/**
 * The decision every adapter takes with the greatest token stored under the key (`undefined` when
 * none): `ok` (equal: the current holder), `raise` (greater, or the first: store it, then commit),
 * or a thrown `FENCED` (smaller: a later holder has committed, so this holder's lease is gone).
 */
export function fenceDecision(fence: CommitFence, stored: number | undefined): 'ok' | 'raise' {
  if (stored === undefined || stored < fence.token) return 'raise';
  if (stored === fence.token) return 'ok';
  throw fencedError(fence, stored);
}

/** The refusal of a stale holder's commit: nothing was applied; the delivery must stay unacknowledged. */
export function fencedError(fence: CommitFence, current: number): UeeError {
  return new UeeError('FENCED', `commit refused: the lease ${fence.key} was taken over (token ${fence.token}, now ${current})`, {
    details: { key: fence.key, token: fence.token, current },
    hint: 'nothing was committed; the process that holds the lease now handles the delivery',
  });
}
