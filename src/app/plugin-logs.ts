import type { JsonObject } from '../core/index.js';

/** One line a plugin logged while handling an event. */
export interface StoredLogLine {
  at: string;
  pluginId: string;
  pluginName: string;
  eventId: string;
  correlationId: string;
  tenantId: string | null;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields?: JsonObject;
}

/**
 * The plugins' own log lines, kept per plugin version in a bounded ring (newest last) and
 * queryable by plugin, tenant, level and event. In-process: each process keeps what its own
 * runtime ran.
 */
export class PluginLogStore {
  readonly #rings = new Map<string, StoredLogLine[]>();

  constructor(private readonly perPlugin = 1000) {}

  /** Appends lines, dropping the oldest beyond the per-plugin cap. */
  append(lines: StoredLogLine[]): void {
    for (const line of lines) {
      let ring = this.#rings.get(line.pluginId);
      if (!ring) this.#rings.set(line.pluginId, (ring = []));
      ring.push(line);
      if (ring.length > this.perPlugin) ring.splice(0, ring.length - this.perPlugin);
    }
  }

  /** Lines of one plugin version (or all), newest first, filtered. */
  query(q: { pluginId?: string; pluginName?: string; tenantId?: string | null; level?: StoredLogLine['level']; eventId?: string; limit?: number }): StoredLogLine[] {
    const order = ['debug', 'info', 'warn', 'error'];
    const min = q.level === undefined ? 0 : order.indexOf(q.level);
    const rings = q.pluginId === undefined ? [...this.#rings.values()] : [this.#rings.get(q.pluginId) ?? []];
    return rings
      .flat()
      .filter(
        (l) =>
          (q.pluginName === undefined || l.pluginName === q.pluginName) &&
          (q.tenantId === undefined || l.tenantId === q.tenantId) &&
          (q.eventId === undefined || l.eventId === q.eventId) &&
          order.indexOf(l.level) >= min,
      )
      .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
      .slice(0, q.limit ?? 100);
  }
}
