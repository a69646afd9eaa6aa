/**
 * Input stamps: a cheap "did any input change?" test for results that are expensive to key by
 * content. A stamp records each input file's size and mtime plus a `salt` (the in-code inputs: flags,
 * patches, PATH…) next to the value it keys; reading it back re-stats the files and returns the value
 * only when everything still matches. A missing, unreadable or mismatching stamp is a miss, and the
 * caller recomputes from content (so a stamp can make a result late, never wrong about content it hashed).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

interface StampFile<T> {
  salt: string;
  inputs: Array<[path: string, size: number, mtimeMs: number]>;
  value: T;
}

function statOf(path: string): [string, number, number] | undefined {
  try {
    const s = statSync(path);
    return [path, s.size, s.mtimeMs];
  } catch {
    return undefined;
  }
}

/**
 * The value stored by {@link writeStamp} under `stampPath` when `salt` and every input are unchanged
 * (and, when `expected` is given, the stamp covers exactly those paths: a stamp copied from another
 * checkout names that checkout's files and must not vouch for this one's).
 */
export function readStamp<T>(stampPath: string, salt: string, expected?: readonly string[]): T | undefined {
  let stamp: StampFile<T>;
  try {
    stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as StampFile<T>;
  } catch {
    return undefined;
  }
  if (stamp.salt !== salt || !Array.isArray(stamp.inputs) || stamp.inputs.length === 0) return undefined;
  if (expected !== undefined && (expected.length !== stamp.inputs.length || expected.some((p, i) => stamp.inputs[i]?.[0] !== p))) return undefined;
  for (const [path, size, mtimeMs] of stamp.inputs) {
    const now = statOf(path);
    if (now === undefined || now[1] !== size || now[2] !== mtimeMs) return undefined;
  }
  return stamp.value;
}

/** Records `value` keyed by `salt` and the current size and mtime of `inputs`; failures are ignored (it is only a cache). */
export function writeStamp<T>(stampPath: string, salt: string, inputs: readonly string[], value: T): void {
  const stats = inputs.map(statOf).filter((s) => s !== undefined);
  if (stats.length !== inputs.length) return;
  try {
    mkdirSync(dirname(stampPath), { recursive: true });
    const temp = `${stampPath}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(temp, JSON.stringify({ salt, inputs: stats, value } satisfies StampFile<T>));
    renameSync(temp, stampPath);
  } catch {
    // read-only install: recompute next time
  }
}
