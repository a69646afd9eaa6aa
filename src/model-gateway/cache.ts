import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level: equal inputs give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The cache key of a call: tenant, model, the resolved definition's routing, and the canonical input. */
export function cacheKey(parts: { tenantId: string | null; model: string; routing: unknown; input: unknown }): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('base64url');
}

/** Options of {@link ResultCache}. */
export interface ResultCacheOptions {
  /** Entries kept at most; the least recently used go first. @default 10000 */
  maxEntries?: number;
  clock?: () => number;
}

/**
 * Model results by key with a per-entry TTL, LRU-bounded, plus in-flight de-duplication: while a
 * computation for a key runs, identical calls join it instead of starting their own.
 */
export class ResultCache<T> {
  readonly #entries = new Map<string, { value: T; expiresAt: number }>();
  readonly #inflight = new Map<string, Promise<T>>();
  readonly #max: number;
  readonly #clock: () => number;
  hits = 0;
  misses = 0;
  joins = 0;

  constructor(options: ResultCacheOptions = {}) {
    this.#max = options.maxEntries ?? 10_000;
    this.#clock = options.clock ?? Date.now;
  }

  /** A fresh cached value, or undefined. */
  get(key: string): T | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.#clock()) {
      this.#entries.delete(key);
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.value;
  }

  set(key: string, value: T, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: this.#clock() + ttlMs });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  /**
   * Serves `key` from the cache, joins an in-flight computation, or runs `compute` (caching its
   * result for `ttlMs` when `shouldCache` accepts it). Failures are never cached.
   */
  async getOrCompute(key: string, ttlMs: number, compute: () => Promise<T>, shouldCache: (v: T) => boolean = () => true): Promise<{ value: T; source: 'hit' | 'inflight' | 'miss' }> {
    const cached = this.get(key);
    if (cached !== undefined) {
      this.hits++;
      return { value: cached, source: 'hit' };
    }
    const running = this.#inflight.get(key);
    if (running) {
      this.joins++;
      return { value: await running, source: 'inflight' };
    }
    this.misses++;
    const p = compute();
    this.#inflight.set(key, p);
    try {
      const value = await p;
      if (shouldCache(value)) this.set(key, value, ttlMs);
      return { value, source: 'miss' };
    } finally {
      this.#inflight.delete(key);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
