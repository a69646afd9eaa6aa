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

/** Bounds of a {@link PluginLogStore}. */
export interface PluginLogLimits {
  /** Lines kept per plugin version. @default 1000 */
  lines: number;
  /** Bytes (message and fields as JSON) kept per plugin version. @default 1 MiB */
  bytesPerPlugin: number;
  /** Bytes kept over all plugin versions; the plugin versions written least recently lose lines first. @default 64 MiB */
  totalBytes: number;
}

const DEFAULT_LOG_LIMITS: PluginLogLimits = { lines: 1000, bytesPerPlugin: 1024 * 1024, totalBytes: 64 * 1024 * 1024 };

interface Ring {
  lines: StoredLogLine[];
  sizes: number[];
  bytes: number;
}

/** Bytes a line holds, approximately: what it costs as JSON. */
function lineBytes(line: StoredLogLine): number {
  return 200 + line.message.length + (line.fields === undefined ? 0 : JSON.stringify(line.fields).length);
}

/**
 * The plugins' own log lines, kept per plugin version in a ring (newest last) bounded in lines and
 * bytes, with a byte bound over all versions, and queryable by plugin, tenant, level and event.
 * In-process: each process keeps what its own runtime ran.
 */
export class PluginLogStore {
  /** Rings in least-recently-written order (a Map keeps insertion order). */
  readonly #rings = new Map<string, Ring>();
  readonly #limits: PluginLogLimits;
  #bytes = 0;

  constructor(limits: Partial<PluginLogLimits> | number = {}) {
    this.#limits = { ...DEFAULT_LOG_LIMITS, ...(typeof limits === 'number' ? { lines: limits } : limits) };
  }

  /** Bytes held over all plugin versions. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends lines, dropping the oldest beyond the per-plugin and total bounds. */
  append(lines: StoredLogLine[]): void {
    for (const line of lines) {
      let ring = this.#rings.get(line.pluginId);
      if (ring) this.#rings.delete(line.pluginId);
      else ring = { lines: [], sizes: [], bytes: 0 };
      this.#rings.set(line.pluginId, ring);
      const size = lineBytes(line);
      if (size > this.#limits.bytesPerPlugin) continue;
      ring.lines.push(line);
      ring.sizes.push(size);
      ring.bytes += size;
      this.#bytes += size;
      while (ring.lines.length > this.#limits.lines || ring.bytes > this.#limits.bytesPerPlugin) this.#shift(ring);
    }
    for (const [id, ring] of this.#rings) {
      if (this.#bytes <= this.#limits.totalBytes) break;
      while (ring.lines.length > 0 && this.#bytes > this.#limits.totalBytes) this.#shift(ring);
      if (ring.lines.length === 0) this.#rings.delete(id);
    }
  }

  /** Forgets the lines of a plugin version. */
  drop(pluginId: string): void {
    const ring = this.#rings.get(pluginId);
    if (ring === undefined) return;
    this.#bytes -= ring.bytes;
    this.#rings.delete(pluginId);
  }

  #shift(ring: Ring): void {
    ring.lines.shift();
    const size = ring.sizes.shift() ?? 0;
    ring.bytes -= size;
    this.#bytes -= size;
  }

  /** Lines of one plugin version (or all), newest first, filtered. */
  query(q: { pluginId?: string; pluginName?: string; tenantId?: string | null; level?: StoredLogLine['level']; eventId?: string; limit?: number }): StoredLogLine[] {
    const order = ['debug', 'info', 'warn', 'error'];
    const min = q.level === undefined ? 0 : order.indexOf(q.level);
    const rings = q.pluginId === undefined ? [...this.#rings.values()].map((r) => r.lines) : [this.#rings.get(q.pluginId)?.lines ?? []];
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
