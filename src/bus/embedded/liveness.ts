import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who a process is, as far as another process sharing the bus file on the same machine can check:
 * the host, the machine's boot, the pid namespace (containers) and the pid.
 */
export interface ProcessIdentity {
  host: string;
  boot: string;
  pidns: string;
  pid: number;
}

function readOr(read: () => string, fallback = ''): string {
  try {
    return read().trim();
  } catch {
    return fallback;
  }
}

/** This process's identity ('' for what the platform does not tell, e.g. no /proc). */
export function thisProcess(): ProcessIdentity {
  return {
    host: hostname(),
    boot: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    pidns: readOr(() => readlinkSync('/proc/self/ns/pid')),
    pid: process.pid,
  };
}

/**
 * Whether the process `who` is certainly gone: same host and either the machine restarted since, or
 * the same pid namespace with no such pid. False whenever unsure (another host or container, no
 * /proc, this very process, a pid reused by a live process): the caller then waits for the lease or
 * the claim threshold to lapse, as it would without this check.
 */
export function isCertainlyGone(who: ProcessIdentity, me: ProcessIdentity): boolean {
  if (who.host === '' || who.host !== me.host) return false;
  if (who.boot !== '' && me.boot !== '' && who.boot !== me.boot) return true;
  if (who.pidns === '' || who.pidns !== me.pidns || who.pid === me.pid) return false;
  try {
    process.kill(who.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
