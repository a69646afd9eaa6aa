import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { UeeError } from '../../core/index.js';
import { INVOCATIONS_DDL } from './invocations-sql.js';
import { JOURNAL_DDL } from './journal.js';
import { applyQueryStatsSchema } from './query-index.js';

/** Schema version stored in `PRAGMA user_version` (2 added the `timer_due` index, 3 the `query_indexes` registry; `IF NOT EXISTS` upgrades older files). */
export const SCHEMA_VERSION = 3;

/** Latest versions of one type across scopes, a page after (entity id, tenant key) (see {@link EntityStore.latestOfType}). */
export const LATEST_OF_TYPE_SQL = `SELECT doc FROM entity_versions INDEXED BY entity_latest_by_type
  WHERE entity_type_id = ? AND is_latest = 1 AND deleted = 0 AND (entity_id, tenant_key) > (?, ?)
  ORDER BY entity_id, tenant_key LIMIT +?`;

/** {@link LATEST_OF_TYPE_SQL}'s rows as heads (see {@link EntityStore.headsOfType}): the row's leading columns, never its document's pages. */
export const HEADS_OF_TYPE_SQL = `SELECT entity_id, tenant_key, version FROM entity_versions INDEXED BY entity_latest_by_type
  WHERE entity_type_id = ? AND is_latest = 1 AND deleted = 0 AND (entity_id, tenant_key) > (?, ?)
  ORDER BY entity_id, tenant_key LIMIT +?`;

/** One cross-tenant view's documents, a page after (tenant key, id) (see {@link EntityStore.viewAcrossTenants}); its \`IN\` is the partial index's own condition. */
export const VIEW_ACROSS_TENANTS_SQL = `SELECT tenant_key, id, doc FROM read_models INDEXED BY read_models_cross_tenant
  WHERE view IN ('uee.plugin-pins', 'uee.experiments') AND view = ? AND (tenant_key, id) > (?, ?)
  ORDER BY tenant_key, id LIMIT +?`;

/** Due timers across scopes, answered from the `timer_due` partial index (see {@link EntityStore.dueTimers}). */
export const TIMER_DUE_SQL = `SELECT doc FROM entity_versions INDEXED BY timer_due
  WHERE is_latest = 1 AND deleted = 0 AND entity_type_id = 'uee.timer' AND json_extract(doc, '$.attributes.status') = 'scheduled'
    AND json_extract(doc, '$.attributes.fireAt') <= ?
  ORDER BY json_extract(doc, '$.attributes.fireAt'), entity_id LIMIT +?`;

/**
 * Tables of the embedded store. `tenant_key` is the tenant id, or '' for global data.
 * `entity_versions` keeps every version; the latest is the highest version under the primary key
 * (one index probe), and `is_latest` marks it for the partial index type queries scan, so they
 * touch only latest rows. `doc` is the whole
 * {@link EntityVersion} as JSON, so filters and sorts address the same paths as on MongoDB.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS tenants (
  tenant_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entity_versions (
  tenant_key TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  entity_type_id TEXT NOT NULL,
  is_latest INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  doc TEXT NOT NULL,
  PRIMARY KEY (tenant_key, entity_id, version)
);
CREATE INDEX IF NOT EXISTS entity_latest_by_type ON entity_versions (entity_type_id, entity_id, tenant_key) WHERE is_latest = 1;
-- Scheduled timers by due time (EntityStore.dueTimers): a timer leaves the index when a newer
-- version supersedes it or its status stops being 'scheduled', so fired, cancelled and dead timers
-- cost the poll nothing. The WHERE and the indexed expression must match TIMER_DUE_SQL exactly.
CREATE INDEX IF NOT EXISTS timer_due ON entity_versions (json_extract(doc, '$.attributes.fireAt'), entity_id)
  WHERE is_latest = 1 AND deleted = 0 AND entity_type_id = 'uee.timer' AND json_extract(doc, '$.attributes.status') = 'scheduled';
CREATE TABLE IF NOT EXISTS read_models (
  tenant_key TEXT NOT NULL,
  view TEXT NOT NULL,
  id TEXT NOT NULL,
  doc TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant_key, view, id)
);
-- The views the platform reads across tenants (CROSS_TENANT_VIEWS, EntityStore.viewAcrossTenants),
-- by view: a partial index, so no other view's writes maintain it. Must match VIEW_ACROSS_TENANTS_SQL.
CREATE INDEX IF NOT EXISTS read_models_cross_tenant ON read_models (view, tenant_key, id) WHERE view IN ('uee.plugin-pins', 'uee.experiments');
CREATE TABLE IF NOT EXISTS tenant_config (
  tenant_key TEXT PRIMARY KEY,
  settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS plugin_config (
  tenant_key TEXT NOT NULL,
  plugin_name TEXT NOT NULL,
  settings TEXT NOT NULL,
  PRIMARY KEY (tenant_key, plugin_name)
);
CREATE TABLE IF NOT EXISTS config_revision (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  rev INTEGER NOT NULL
);
-- Which tenant each of the last CONFIG_CHANGES_KEPT settings writes was (TenantConfigStore.changesSince).
CREATE TABLE IF NOT EXISTS config_changes (
  rev INTEGER PRIMARY KEY,
  tenant_key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
  sha256 TEXT PRIMARY KEY,
  bytes BLOB NOT NULL,
  created_at TEXT NOT NULL
);
-- Per-tenant query indexes (query-index.ts); each row names one SQLite index.
CREATE TABLE IF NOT EXISTS query_indexes (
  name TEXT PRIMARY KEY,
  tenant_key TEXT NOT NULL,
  target TEXT NOT NULL,
  scope TEXT NOT NULL,
  field TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS query_indexes_by_scope ON query_indexes (tenant_key, target, scope);
CREATE TABLE IF NOT EXISTS idempotency (
  tenant_key TEXT NOT NULL,
  key TEXT NOT NULL,
  result TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_key, key)
);
-- Keys by age, for their retention (EntityStore.purgeIdempotency): commit times only grow, so new keys append.
CREATE INDEX IF NOT EXISTS idempotency_by_created ON idempotency (created_at);
CREATE TABLE IF NOT EXISTS commit_fences (
  key TEXT PRIMARY KEY,
  token INTEGER NOT NULL
);
-- The store's identity (EntityStore.identity): one row, written by the first open of the file.
CREATE TABLE IF NOT EXISTS store_identity (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  uid TEXT NOT NULL
);
`;

/**
 * Durability: WAL with `synchronous = NORMAL`. A committed transaction is in the WAL file before
 * `COMMIT` returns (and an entity commit answers only after its group's `COMMIT`: see `CommitGroup`),
 * so killing the process (SIGKILL, crash) never loses it; only an OS crash or power
 * loss can drop the last few transactions, which is outside our threat model (FULL would fsync on
 * every commit and cost most of the write throughput). `busy_timeout` lets the embedded bus and
 * other processes share the file.
 */
export function applySchema(db: Database, path: string): void {
  if (path !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = OFF');
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new UeeError('CONFIG_INVALID', `store file ${path} has schema version ${current}, newer than this UEE (${SCHEMA_VERSION})`, {
      details: { setting: 'store path', path, schemaVersion: current },
      hint: 'upgrade UEE or point the store at another file',
    });
  }
  db.transaction(() => {
    db.exec(DDL);
    // Added without a version bump: an older UEE ignores the table. A file-backed store keeps its
    // records in its records file instead (see records-thread.ts), an in-memory one here.
    if (path === ':memory:') db.exec(INVOCATIONS_DDL);
    db.exec(JOURNAL_DDL);
    db.prepare('INSERT OR IGNORE INTO store_identity (id, uid) VALUES (1, ?)').run(randomUUID());
    applyQueryStatsSchema(db);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
