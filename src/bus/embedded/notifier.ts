/**
 * In-process wake-ups for blocked reads: a publish through any embedded bus on the same file wakes
 * the readers of every bus instance on that file in this process at once. Readers in other processes
 * fall back to polling, so this is an optimisation, never a correctness requirement.
 */
const channels = new Map<string, Set<() => void>>();

/** Wakes every reader waiting on `key`. */
export function notifyPublished(key: string): void {
  const waiters = channels.get(key);
  if (!waiters) return;
  for (const wake of [...waiters]) wake();
}

/**
 * Resolves after `ms`, on a publish to `key`, or when `signal` aborts, whichever comes first: true
 * when woken by a publish.
 */
export function waitForPublish(key: string, ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    let waiters = channels.get(key);
    if (!waiters) channels.set(key, (waiters = new Set()));
    const set = waiters;
    const finish = (published: boolean): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      set.delete(wake);
      if (set.size === 0 && channels.get(key) === set) channels.delete(key);
      resolve(published);
    };
    const done = (): void => finish(false);
    const wake = (): void => finish(true);
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    set.add(wake);
  });
}
