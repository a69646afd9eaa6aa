import type { Logger } from '../core/index.js';
import { toUeeError } from '../core/index.js';
import type { EventBus } from '../bus/port.js';

/**
 * This process's heartbeat on the bus ({@link EventBus.heartbeat}): one key per process with a short
 * TTL, beaten every quarter of it. Leases taken with `liveness` are this process's for as long as the
 * key lives — they need no renewing of their own — and another process takes them over, with the
 * entries this process's consumer held, once the key has lapsed (a crash: a few seconds, not the
 * lease TTL). Locally the process counts as alive only until half the TTL after the start of its
 * last successful beat, so it stops starting work well before anyone else may take it over; a beat
 * that finds the key gone (the process was paused, or cut off, longer than the TTL) bumps
 * {@link generation}, and every lease is asked for again before it is used.
 */
export class ProcessLiveness {
  #until = 0;
  #generation = 0;
  #beats = 0;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #stopped = false;

  private constructor(
    private readonly bus: EventBus & Required<Pick<EventBus, 'heartbeat'>>,
    readonly owner: string,
    readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  /** A started heartbeat, or undefined when the bus has none (the embedded bus: pids on one machine). */
  static async start(bus: EventBus, owner: string, ttlMs: number, log: Logger): Promise<ProcessLiveness | undefined> {
    if (bus.heartbeat === undefined || ttlMs <= 0) return undefined;
    const live = new ProcessLiveness(bus as EventBus & Required<Pick<EventBus, 'heartbeat'>>, owner, ttlMs, log);
    await live.beat();
    live.#timer = setInterval(() => void live.beat(), Math.max(10, Math.floor(ttlMs / 4)));
    live.#timer.unref();
    return live;
  }

  /** Whether this process may act on what its heartbeat holds now (a local check). */
  get alive(): boolean {
    return !this.#stopped && Date.now() < this.#until;
  }

  /** Bumped whenever the heartbeat was found lapsed: leases confirmed under an older generation are asked for again. */
  get generation(): number {
    return this.#generation;
  }

  /** One beat now (beats never overlap). */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  async #beat(): Promise<void> {
    if (this.#stopped) return;
    const started = Date.now();
    try {
      const lived = await this.bus.heartbeat(this.owner, this.ttlMs);
      if (this.#stopped) return;
      if (!lived && this.#beats > 0) {
        this.#generation++;
        this.log.warn('process heartbeat had lapsed: leases are checked again before use', { owner: this.owner, ttlMs: this.ttlMs });
      }
      this.#beats++;
      this.#until = started + Math.floor(this.ttlMs / 2);
    } catch (err) {
      this.log.warn('process heartbeat failed', { error: toUeeError(err).message });
    }
  }

  /** Ends the heartbeat (a clean stop: what this process still holds moves at once). Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#beating?.catch(() => undefined);
    await this.bus.heartbeat(this.owner, 0).catch(() => undefined);
  }
}
