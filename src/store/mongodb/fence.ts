import { MongoError, type ClientSession, type Collection } from 'mongodb';
import { DUPLICATE_KEY } from './core.js';
import { fencedError, type CommitFence } from '../fence.js';

/** One fence per leased key (see {@link CommitFence}). */
export interface FenceDoc {
  _id: string;
  token: number;
}

/**
 * Checks (and raises) a commit's fence inside its snapshot transaction (see {@link CommitFence}). Every
 * fenced commit writes the fence document (`token` set to its own, matched only while the stored one
 * is not greater), so two transactions of one key always write-conflict: a new holder's raise and an
 * old holder's commit cannot both commit, whichever snapshot each read. A greater stored token makes
 * the upsert insert a second `_id`, which the duplicate key refuses: `FENCED`.
 */
export async function checkFence(fences: Collection<FenceDoc>, fence: CommitFence | undefined, session: ClientSession): Promise<void> {
  if (fence === undefined) return;
  try {
    await fences.updateOne({ _id: fence.key, token: { $lte: fence.token } }, { $set: { token: fence.token, at: new Date() } }, { upsert: true, session });
  } catch (err) {
    if (!(err instanceof MongoError) || err.code !== DUPLICATE_KEY) throw err;
    const current = await fences.findOne({ _id: fence.key }, { session });
    throw fencedError(fence, current?.token ?? fence.token + 1);
  }
}
