/**
 * Baselines for latency claims, measured in the same test under the same load: a test compares a
 * delay with how late the machine itself is over the same window, never with an absolute bound.
 */

/**
 * How late a plain `ms` timer started at `started` fires: the machine's own delay, the baseline a
 * deadline is compared with (under load both wait for the same busy cores).
 */
export function lateness(ms: number, started: number): Promise<number> {
  return new Promise((resolve) => setTimeout(() => resolve(Math.max(0, performance.now() - started - ms)), Math.max(0, ms - (performance.now() - started))));
}

/**
 * A ticker of plain `tickMs` timers; stop() answers the worst lateness of one tick while it ran:
 * how long the machine alone could hold anything back during that window.
 */
export function ticker(tickMs = 20): { stop(): number } {
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - tickMs);
    last = now;
  }, tickMs);
  return {
    stop(): number {
      clearInterval(timer);
      worst = Math.max(worst, performance.now() - last - tickMs);
      return Math.max(0, worst);
    },
  };
}
