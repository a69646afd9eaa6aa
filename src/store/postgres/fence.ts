import type { PoolClient } from 'pg';
import { fenceDecision, fencedError, type CommitFence } from '../fence.js';

const FENCE_GET_SQL = 'SELECT token FROM commit_fences WHERE key = $1';
const FENCE_SHARE_SQL = 'SELECT token FROM commit_fences WHERE key = $1 FOR SHARE';
const FENCE_RAISE_SQL =
  'INSERT INTO commit_fences (key, token) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token WHERE commit_fences.token < EXCLUDED.token RETURNING token';

/**
 * Checks (and raises) a commit's fence inside its READ COMMITTED transaction (see {@link CommitFence}).
 *
 * The current holder's commits take the fence row FOR SHARE, so they run side by side; a new holder's
 * first commit raises the token with an exclusive row lock, which waits for every commit of the older
 * token still open (they commit before it) — and any commit of the older token that comes later
 * reads the raised token and is refused. No share lock is held before a raise (two first commits of
 * the new token would otherwise deadlock upgrading); ON CONFLICT locks the row even when its WHERE
 * does not update it, so the loser of two raises re-reads under a lock it already holds.
 */
export async function checkFence(client: PoolClient, fence: CommitFence | undefined, seen: FencesSeen): Promise<void> {
  if (fence === undefined) return;
  // Seen committed at this token: it is never lowered, so there is nothing to raise — only the shared
  // lock to take (one round trip instead of two, on every commit of a lease's holder).
  const known = seen.get(fence.key) === fence.token;
  if (!known) {
    const { rows } = await client.query<{ token: string }>(FENCE_GET_SQL, [fence.key]);
    const stored = rows[0] === undefined ? undefined : Number(rows[0].token);
    if (fenceDecision(fence, stored) === 'raise') {
      const raised = await client.query(FENCE_RAISE_SQL, [fence.key, fence.token]);
      // Raised in this transaction, which may still roll back: remembered at the next commit's read.
      if (raised.rows.length > 0) return;
    }
  }
  const locked = await client.query<{ token: string }>(FENCE_SHARE_SQL, [fence.key]);
  const current = Number(locked.rows[0]?.token ?? 0);
  if (fenceDecision(fence, current) === 'ok') {
    seen.remember(fence.key, current);
    return;
  }
  if (!known) throw fencedError(fence, current);
  // Below the token seen committed (cannot happen: tokens only rise): forget it and run the commit again the long way.
  seen.delete(fence.key);
  throw Object.assign(new Error(`fence ${fence.key} below the token seen`), { code: '40001' });
}

/**
 * The fence tokens this store has read committed, per lease key (bounded: forgotten all at once past
 * {@link FencesSeen.MAX} keys). A token once committed is never lowered, so a commit under the same
 * token needs no read before its shared lock.
 */
export class FencesSeen {
  static readonly MAX = 10_000;
  readonly #tokens = new Map<string, number>();

  get(key: string): number | undefined {
    return this.#tokens.get(key);
  }

  remember(key: string, token: number): void {
    if (this.#tokens.size >= FencesSeen.MAX && !this.#tokens.has(key)) this.#tokens.clear();
    this.#tokens.set(key, token);
  }

  delete(key: string): void {
    this.#tokens.delete(key);
  }
}
