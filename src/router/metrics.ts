/** Counters and a latency reservoir for one plugin version. */
export interface PluginMetricsSnapshot {
  pluginId: string;
  name: string;
  invocations: number;
  successes: number;
  errors: Record<string, number>;
  timeouts: number;
  budgetBreaches: number;
  deadLettered: number;
  retries: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; samples: number };
}

const RESERVOIR = 2048;

/** Per-plugin metrics: cheap to record on the hot path, percentiles computed on read. */
export class RouterMetrics {
  #invocations = 0;
  readonly #plugins = new Map<string, { name: string; counts: Omit<PluginMetricsSnapshot, 'pluginId' | 'name' | 'latencyMs' | 'errors'>; errors: Map<string, number>; latencies: Float64Array; next: number; filled: number; max: number }>();

  #entry(pluginId: string, name: string) {
    let e = this.#plugins.get(pluginId);
    if (!e) {
      e = {
        name,
        counts: { invocations: 0, successes: 0, timeouts: 0, budgetBreaches: 0, deadLettered: 0, retries: 0 },
        errors: new Map(),
        latencies: new Float64Array(RESERVOIR),
        next: 0,
        filled: 0,
        max: 0,
      };
      this.#plugins.set(pluginId, e);
    }
    return e;
  }

  /** Records one invocation's outcome and latency. */
  record(pluginId: string, name: string, durationMs: number, errorCode?: string): void {
    const e = this.#entry(pluginId, name);
    e.counts.invocations++;
    this.#invocations++;
    if (errorCode === undefined) e.counts.successes++;
    else {
      e.errors.set(errorCode, (e.errors.get(errorCode) ?? 0) + 1);
      if (errorCode === 'TIMEOUT') e.counts.timeouts++;
      if (errorCode === 'BUDGET_EXCEEDED') e.counts.budgetBreaches++;
    }
    e.latencies[e.next] = durationMs;
    e.next = (e.next + 1) % RESERVOIR;
    e.filled = Math.min(e.filled + 1, RESERVOIR);
    e.max = Math.max(e.max, durationMs);
  }

  /** Counts a retry of a failed delivery. */
  retried(pluginId: string, name: string): void {
    this.#entry(pluginId, name).counts.retries++;
  }

  /** Counts a dead-lettered delivery. */
  deadLettered(pluginId: string, name: string): void {
    this.#entry(pluginId, name).counts.deadLettered++;
  }

  /** Redeliveries acked without running the plugin: their effects had committed already (the ack was lost). */
  get alreadyCommitted(): number {
    return this.#alreadyCommitted;
  }

  /** Counts a redelivery found committed before it ran. */
  skippedCommitted(): void {
    this.#alreadyCommitted++;
  }

  #alreadyCommitted = 0;

  /** Invocations of every plugin version since start: O(1), for progress polling (a snapshot sorts every reservoir). */
  get invocations(): number {
    return this.#invocations;
  }

  /** Snapshot of one plugin version, or of all when `pluginId` is omitted. */
  snapshot(pluginId?: string): PluginMetricsSnapshot[] {
    const out: PluginMetricsSnapshot[] = [];
    for (const [id, e] of this.#plugins) {
      if (pluginId !== undefined && id !== pluginId) continue;
      const sorted = Array.from(e.latencies.subarray(0, e.filled)).sort((a, b) => a - b);
      const pick = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
      out.push({
        pluginId: id,
        name: e.name,
        ...e.counts,
        errors: Object.fromEntries(e.errors),
        latencyMs: { p50: pick(0.5), p95: pick(0.95), p99: pick(0.99), max: e.max, samples: e.filled },
      });
    }
    return out;
  }
}
