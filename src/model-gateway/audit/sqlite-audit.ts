import Database from 'better-sqlite3';
import { UeeError } from '../../core/index.js';
import { walCheckpoints, type WalHold } from '../../core/wal-checkpointer.js';
import type { AuditLog, AuditQuery, AuditRecord, UsageGroup, UsageSummary } from './port.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS gateway_audit (
  id TEXT PRIMARY KEY,
  at TEXT NOT NULL,
  tenant_id TEXT,
  plugin_id TEXT,
  plugin_name TEXT,
  event_id TEXT,
  model TEXT NOT NULL,
  served_by TEXT,
  provider TEXT,
  source TEXT NOT NULL,
  latency_ms REAL NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cost REAL NOT NULL,
  cache TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  error_code TEXT,
  error_message TEXT
);
CREATE INDEX IF NOT EXISTS gateway_audit_tenant_at ON gateway_audit (tenant_id, at);
CREATE INDEX IF NOT EXISTS gateway_audit_plugin_at ON gateway_audit (plugin_name, at);
CREATE INDEX IF NOT EXISTS gateway_audit_model_at ON gateway_audit (model, at);
CREATE INDEX IF NOT EXISTS gateway_audit_at ON gateway_audit (at);
`;

interface Row {
  id: string; at: string; tenant_id: string | null; plugin_id: string | null; plugin_name: string | null; event_id: string | null;
  model: string; served_by: string | null; provider: string | null; source: AuditRecord['source']; latency_ms: number;
  input_tokens: number; output_tokens: number; cost: number; cache: AuditRecord['cache']; attempts: number;
  error_code: string | null; error_message: string | null;
}

/**
 * The durable audit log: table `gateway_audit` in a SQLite file (it may be the embedded `uee.db`;
 * this class opens its own connection in WAL mode). Owns that connection; `close()` is idempotent.
 * Its file's WAL checkpoints run on the process's checkpoint thread (core/wal-checkpointer.ts), as
 * the store's and the bus's do: one append per model call is a commit on the main thread, and on the
 * shared `uee.db` a commit that found the log past 1,000 pages copied it back then and there.
 */
export class SqliteAuditLog implements AuditLog {
  readonly kind = 'sqlite';
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #wal: WalHold;
  #closed = false;

  constructor(path: string) {
    try {
      this.#db = new Database(path);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('busy_timeout = 5000');
      this.#db.exec(SCHEMA);
    } catch (err) {
      throw new UeeError('BACKEND_UNAVAILABLE', `cannot open the gateway audit database`, { cause: err, details: { path } });
    }
    this.#insert = this.#db.prepare(
      `INSERT INTO gateway_audit VALUES (@id, @at, @tenant_id, @plugin_id, @plugin_name, @event_id, @model, @served_by, @provider, @source,
        @latency_ms, @input_tokens, @output_tokens, @cost, @cache, @attempts, @error_code, @error_message)`,
    );
    // Last: a constructor that threw above leaves nothing held.
    this.#wal = walCheckpoints.hold(this.#db, path);
  }

  append(r: AuditRecord): void {
    this.#insert.run({
      id: r.id, at: r.at, tenant_id: r.tenantId, plugin_id: r.pluginId, plugin_name: r.pluginName, event_id: r.eventId, model: r.model,
      served_by: r.servedBy, provider: r.provider, source: r.source, latency_ms: r.latencyMs, input_tokens: r.inputTokens,
      output_tokens: r.outputTokens, cost: r.cost, cache: r.cache, attempts: r.attempts, error_code: r.errorCode, error_message: r.errorMessage,
    });
  }

  query(filter: AuditQuery = {}): AuditRecord[] {
    const { where, params } = whereClause(filter);
    const limit = Math.min(filter.limit ?? 100, 10_000);
    const rows = this.#db.prepare(`SELECT * FROM gateway_audit ${where} ORDER BY at DESC, id DESC LIMIT ${limit}`).all(params) as Row[];
    return rows.map(fromRow);
  }

  summarize(by: UsageGroup, filter: Omit<AuditQuery, 'limit'> = {}): UsageSummary[] {
    const column = by === 'tenant' ? 'tenant_id' : by === 'plugin' ? 'COALESCE(plugin_name, plugin_id)' : 'model';
    const { where, params } = whereClause(filter);
    const rows = this.#db
      .prepare(
        `SELECT ${column} AS key, COUNT(*) AS calls, SUM(error_code IS NOT NULL) AS errors, SUM(cache != 'miss') AS cacheHits,
          SUM(input_tokens) AS inputTokens, SUM(output_tokens) AS outputTokens, SUM(cost) AS cost, AVG(latency_ms) AS avgLatencyMs
         FROM gateway_audit ${where} GROUP BY ${column} ORDER BY calls DESC`,
      )
      .all(params) as UsageSummary[];
    return rows.map((r) => ({ ...r, cost: Math.round(r.cost * 1e9) / 1e9, avgLatencyMs: Math.round(r.avgLatencyMs * 1000) / 1000 }));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Not awaited: the port's close is synchronous.
    void this.#wal.release();
    this.#db.close();
  }
}

function whereClause(q: AuditQuery): { where: string; params: Record<string, unknown> } {
  const parts: string[] = [];
  const params: Record<string, unknown> = {};
  if (q.tenantId !== undefined) {
    if (q.tenantId === null) parts.push('tenant_id IS NULL');
    else {
      parts.push('tenant_id = @tenantId');
      params.tenantId = q.tenantId;
    }
  }
  const eq = (col: string, name: string, v: unknown): void => {
    if (v === undefined) return;
    parts.push(`${col} = @${name}`);
    params[name] = v;
  };
  eq('plugin_id', 'pluginId', q.pluginId);
  eq('plugin_name', 'pluginName', q.pluginName);
  eq('model', 'model', q.model);
  if (q.since !== undefined) {
    parts.push('at >= @since');
    params.since = q.since;
  }
  if (q.until !== undefined) {
    parts.push('at < @until');
    params.until = q.until;
  }
  if (q.failed !== undefined) parts.push(q.failed ? 'error_code IS NOT NULL' : 'error_code IS NULL');
  return { where: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
}

function fromRow(r: Row): AuditRecord {
  return {
    id: r.id, at: r.at, tenantId: r.tenant_id, pluginId: r.plugin_id, pluginName: r.plugin_name, eventId: r.event_id, model: r.model,
    servedBy: r.served_by, provider: r.provider, source: r.source, latencyMs: r.latency_ms, inputTokens: r.input_tokens,
    outputTokens: r.output_tokens, cost: r.cost, cache: r.cache, attempts: r.attempts, errorCode: r.error_code, errorMessage: r.error_message,
  };
}
