/** One gateway call as recorded: who, what, how long, how much, and how it ended. Never secrets. */
export interface AuditRecord {
  /** The call id (UUIDv7, time-ordered). */
  id: string;
  /** ISO time the call started. */
  at: string;
  tenantId: string | null;
  pluginId: string | null;
  pluginName: string | null;
  eventId: string | null;
  /** The model requested. */
  model: string;
  /** The model that answered (after fallbacks); null when none did. */
  servedBy: string | null;
  /** The provider connection that answered (or last failed). */
  provider: string | null;
  /** `plugin` (call_model), `api` (the OpenAI-compatible endpoint) or `admin` (test calls). */
  source: 'plugin' | 'api' | 'admin';
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  cache: 'miss' | 'hit' | 'inflight';
  /** Provider attempts made (retries and fallbacks included; 0 for cache hits). */
  attempts: number;
  /** Null on success. */
  errorCode: string | null;
  /** Scrubbed error message. */
  errorMessage: string | null;
}

/** Filters of {@link AuditLog.query}; all optional, combined with AND. */
export interface AuditQuery {
  tenantId?: string | null;
  pluginId?: string;
  pluginName?: string;
  model?: string;
  /** Inclusive ISO lower bound of `at`. */
  since?: string;
  /** Exclusive ISO upper bound of `at`. */
  until?: string;
  /** Only failed (`true`) or successful (`false`) calls. */
  failed?: boolean;
  /** Newest first; @default 100, max 10000. */
  limit?: number;
}

/** Totals of a group of calls. */
export interface UsageSummary {
  /** The group: a tenant id, plugin name or model name (`null` for the global scope / no plugin). */
  key: string | null;
  calls: number;
  errors: number;
  cacheHits: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
  avgLatencyMs: number;
}

/** Grouping of {@link AuditLog.summarize}. */
export type UsageGroup = 'tenant' | 'plugin' | 'model';

/** Where every gateway call is recorded. Writes are synchronous-cheap; queries newest first. */
export interface AuditLog {
  readonly kind: string;
  append(record: AuditRecord): void;
  query(filter?: AuditQuery): AuditRecord[];
  /** Totals grouped by tenant, plugin or model, over the calls matching `filter` (limit ignored). */
  summarize(by: UsageGroup, filter?: Omit<AuditQuery, 'limit'>): UsageSummary[];
  close(): void;
}

/** True when `r` passes `q` (shared by the in-memory log and tests). */
export function matchesQuery(r: AuditRecord, q: AuditQuery): boolean {
  if (q.tenantId !== undefined && r.tenantId !== q.tenantId) return false;
  if (q.pluginId !== undefined && r.pluginId !== q.pluginId) return false;
  if (q.pluginName !== undefined && r.pluginName !== q.pluginName) return false;
  if (q.model !== undefined && r.model !== q.model) return false;
  if (q.since !== undefined && r.at < q.since) return false;
  if (q.until !== undefined && r.at >= q.until) return false;
  if (q.failed !== undefined && (r.errorCode !== null) !== q.failed) return false;
  return true;
}

/** Groups records into summaries, sorted by calls (descending). */
export function summarizeRecords(records: Iterable<AuditRecord>, by: UsageGroup): UsageSummary[] {
  const groups = new Map<string | null, UsageSummary & { latency: number }>();
  for (const r of records) {
    const key = by === 'tenant' ? r.tenantId : by === 'plugin' ? r.pluginName ?? r.pluginId : r.model;
    let g = groups.get(key);
    if (!g) {
      g = { key, calls: 0, errors: 0, cacheHits: 0, inputTokens: 0, outputTokens: 0, cost: 0, avgLatencyMs: 0, latency: 0 };
      groups.set(key, g);
    }
    g.calls++;
    if (r.errorCode !== null) g.errors++;
    if (r.cache !== 'miss') g.cacheHits++;
    g.inputTokens += r.inputTokens;
    g.outputTokens += r.outputTokens;
    g.cost += r.cost;
    g.latency += r.latencyMs;
  }
  return [...groups.values()]
    .map(({ latency, ...g }) => ({ ...g, cost: Math.round(g.cost * 1e9) / 1e9, avgLatencyMs: g.calls === 0 ? 0 : Math.round((latency / g.calls) * 1000) / 1000 }))
    .sort((a, b) => b.calls - a.calls);
}
