/** CPU time read from Linux's /proc, for the benches that measure processes and threads they do not run in. */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (`USER_HZ`, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system) so far, in µs, of what a /proc `stat` file describes: `/proc/<pid>/stat`
 * (a process, all its threads) or `/proc/self/task/<tid>/stat` (one thread). Throws when it cannot
 * be read (not Linux, or the process is gone).
 */
export function procCpuUs(statPath: string): number {
  // The command name in parentheses may hold spaces: the fields counted after its closing one.
  const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / TICKS_PER_SECOND;
}
