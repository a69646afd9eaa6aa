import { setPriority } from 'node:os';

/** Niceness of compiler processes: below the server's own threads, which route every tenant's events. */
export const COMPILER_NICENESS = 10;

/**
 * Lowers a compiler child process (Wizer, rustc) to {@link COMPILER_NICENESS}, so a burst of compiles
 * shares the cores the server's threads leave over instead of taking them. Best effort: a platform
 * without priorities (or a process already gone) keeps it as it is.
 */
export function lowerPriority(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    setPriority(pid, COMPILER_NICENESS);
  } catch {
    // gone already, or not permitted here: it runs at the default priority
  }
}
