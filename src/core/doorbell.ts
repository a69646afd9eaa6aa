/**
 * The wait of a polling loop that others can cut short: a relay told of a commit, a worker told that
 * its queue received something, a loop being stopped.
 *
 * A ring is never lost: one that comes while nobody waits (the loop is reading) ends the next wait at
 * once, so a loop that read "nothing" just before something arrived does not sleep past it. A loop
 * that must not read twice for one ring calls {@link clear} when it starts reading. One loop waits on a
 * bell at a time (a second concurrent wait would take the first one's wake-up).
 */
export class Doorbell {
  #rung = false;
  #wake: (() => void) | undefined;

  /** Ends the current wait now, or the next one at once. */
  ring(): void {
    this.#rung = true;
    this.#wake?.();
  }

  /** Whether it rang since the last {@link clear} or wait. */
  get rung(): boolean {
    return this.#rung;
  }

  /** Forgets the rings so far (the loop is about to look at everything they were for). */
  clear(): void {
    this.#rung = false;
  }

  /**
   * Waits `ms`, or until a ring (one since the last clear or wait ends it at once). Resolves `true`
   * when a ring ended it; either way the rings so far are forgotten.
   */
  wait(ms: number): Promise<boolean> {
    return this.#waitUntil((end) => {
      const timer = setTimeout(end, ms);
      return () => clearTimeout(timer);
    });
  }

  /**
   * Like {@link wait}, but until `timeout` settles instead of a timer of its own: many waiters can
   * share one timer (see `QueueIo.tick`), so what they do next happens in the same turn.
   */
  waitFor(timeout: Promise<void>): Promise<boolean> {
    return this.#waitUntil((end) => {
      let cancelled = false;
      void timeout.then(() => {
        if (!cancelled) end();
      });
      return () => (cancelled = true);
    });
  }

  /** The wait of {@link wait} and {@link waitFor}: `arm(end)` makes `end` run when the wait is over, and returns how to cancel that. */
  async #waitUntil(arm: (end: () => void) => () => void): Promise<boolean> {
    if (this.#rung) {
      this.#rung = false;
      return true;
    }
    const rung = await new Promise<boolean>((resolve) => {
      const cancel = arm(() => {
        this.#wake = undefined;
        resolve(false);
      });
      this.#wake = () => {
        cancel();
        this.#wake = undefined;
        resolve(true);
      };
    });
    this.#rung = false;
    return rung;
  }

  /** Waits the whole `ms` — rings do not end it — unless `stopped()` is true at a ring (or at the start). */
  async waitOut(ms: number, stopped: () => boolean): Promise<void> {
    const until = Date.now() + ms;
    while (!stopped() && Date.now() < until) await this.wait(until - Date.now());
  }
}
