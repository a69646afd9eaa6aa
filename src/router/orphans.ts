import type { Logger } from '../core/index.js';
import type { EventBus } from '../bus/port.js';
import { queuePlugin } from '../registry/index.js';

/**
 * Finds and removes the queues no plugin routes to any more — those of plugins deleted or disabled
 * while no process that could remove their queue was running, or parked by a process that was not
 * the dispatcher then (`Router` removes a queue itself only when it parks the route as dispatcher).
 *
 * Safe against a plugin being deployed meanwhile: the bus's queues are listed *before* the plugins
 * that exist are read, so a queue whose plugin is committed by then is kept; a queue is removed only
 * when it was found orphaned by two sweeps at least `graceMs` apart (a deploy creates its queue a
 * moment before it commits the plugin entity: that moment is far shorter than the grace); and the
 * caller runs the sweep under its table lock, so a route it adds meanwhile recreates its queue after
 * the removal, before it is routed to. A queue that held entries is removed with them: no plugin is
 * left to handle them (its dead letters stay).
 */
export class OrphanSweeper {
  /** Queues found orphaned, with when they were first found so. */
  readonly #suspects = new Map<string, number>();

  constructor(
    private readonly bus: EventBus,
    /** How long a queue must stay orphaned before it is removed. */
    readonly graceMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * One sweep over the plugin queues (`pluginGroup`) and global plugins' lanes (`laneGroup`, which
   * belong to their plugin's queue): nothing else on the bus is ever swept. `routed(queue)`: whether
   * this process's routing table routes to the queue now; `wanted()`: the queues of every plugin
   * with an enabled version, read from the registry (called
   * after the bus is listed, and only when some queue is not routed here: a sweep that finds nothing
   * costs one bus call). Returns the queues removed.
   */
  async sweep(routed: (group: string) => boolean, wanted: () => Promise<ReadonlySet<string>>): Promise<string[]> {
    if (this.bus.queues === undefined) return [];
    const unrouted = (await this.bus.queues()).filter((q) => queuePlugin(q) !== null && !routed(q));
    // Steady state (every queue routed here): no registry read at all.
    const keep = unrouted.length === 0 ? new Set<string>() : await wanted();
    const now = Date.now();
    const orphans = new Set(unrouted.filter((q) => !keep.has(queuePlugin(q)!.group)));
    for (const q of this.#suspects.keys()) if (!orphans.has(q)) this.#suspects.delete(q);
    const removed: string[] = [];
    for (const q of orphans) {
      const since = this.#suspects.get(q);
      if (since === undefined) {
        this.#suspects.set(q, now);
        continue;
      }
      if (now - since < this.graceMs) continue;
      await this.bus.deleteQueue(q);
      this.#suspects.delete(q);
      removed.push(q);
    }
    if (removed.length > 0) this.log.info('removed the queues of plugins that no longer exist or are disabled', { queues: removed });
    return removed;
  }
}
