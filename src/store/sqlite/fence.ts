import { fenceDecision, type CommitFence } from '../fence.js';
import type { SqliteCore } from './core.js';

const FENCE_GET_SQL = 'SELECT token FROM commit_fences WHERE key = ?';
const FENCE_PUT_SQL = 'INSERT INTO commit_fences (key, token) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET token = excluded.token WHERE excluded.token > commit_fences.token';

/**
 * Checks a commit's fence inside its transaction (see {@link CommitFence}) and answers the raise to
 * write, if any: reading only, so a commit refused here has written nothing (see `CommitGroup`).
 * SQLite has one writer at a time, so the read and the raise cannot interleave with another commit's.
 */
export function checkFence(core: SqliteCore, fence: CommitFence | undefined): (() => void) | undefined {
  if (fence === undefined) return undefined;
  const row = core.cache.get(FENCE_GET_SQL).get(fence.key) as { token: number } | undefined;
  return fenceDecision(fence, row?.token) === 'raise' ? () => void core.cache.get(FENCE_PUT_SQL).run(fence.key, fence.token) : undefined;
}
