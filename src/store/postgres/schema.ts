import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { UeeError } from '../../core/index.js';
import { INVOCATIONS_DDL } from './invocations.js';
import { JOURNAL_DDL } from './journal.js';
import { QUERY_STATS_DDL } from './query-index.js';

/** Schema version recorded in `uee_schema`. */
export const SCHEMA_VERSION = 1;

/** Latest versions of one type across scopes, a page after (entity id, tenant key) (see {@link EntityStore.latestOfType}). */
export const LATEST_OF_TYPE_SQL = `SELECT doc FROM entity_versions
  WHERE entity_type_id = $1 AND is_latest AND NOT deleted AND (entity_id, tenant_key) > ($2, $3)
  ORDER BY entity_id, tenant_key LIMIT $4`;

/** {@link LATEST_OF_TYPE_SQL}'s rows as heads (see {@link EntityStore.headsOfType}). */
export const HEADS_OF_TYPE_SQL = `SELECT entity_id, tenant_key, version FROM entity_versions
  WHERE entity_type_id = $1 AND is_latest AND NOT deleted AND (entity_id, tenant_key) > ($2, $3)
  ORDER BY entity_id, tenant_key LIMIT $4`;

/** One cross-tenant view's documents, a page after (tenant key, id) (see {@link EntityStore.viewAcrossTenants}); its \`IN\` is the partial index's own condition, which a parameter alone would not prove. */
export const VIEW_ACROSS_TENANTS_SQL = `SELECT tenant_key, id, doc FROM read_models
  WHERE view IN ('uee.plugin-pins', 'uee.experiments') AND view = $1 AND (tenant_key, id) > ($2, $3)
  ORDER BY tenant_key, id LIMIT $4`;

/** Due timers across scopes, answered from the `timer_due` partial index (see {@link EntityStore.dueTimers}). */
export const TIMER_DUE_SQL = `SELECT doc FROM entity_versions
  WHERE is_latest AND NOT deleted AND entity_type_id = 'uee.timer' AND (doc->'attributes'->>'status') = 'scheduled'
    AND ((doc->'attributes'->>'fireAt') COLLATE "C") <= $1
  ORDER BY ((doc->'attributes'->>'fireAt') COLLATE "C"), entity_id LIMIT $2`;

/** Allowed schema names: plain lower-case identifiers, so they never need quoting rules beyond "…". */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Tables of the PostgreSQL store, in the instance's schema. They mirror the SQLite store's:
 * `tenant_key` is the tenant id or '' for global data; `entity_versions` keeps every version and
 * `is_latest` marks the one type queries read (a unique partial index proves there is at most one);
 * `doc` is the whole {@link EntityVersion}, so filters and sorts address the same paths on every
 * adapter. Text keys use the "C" collation so they order by code point, like JavaScript and SQLite.
 * Outbox events and idempotency results are `json` (kept byte for byte); documents are `jsonb`.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS uee_schema (version integer NOT NULL);
-- The store's identity (EntityStore.identity): one row, written by the first open of the schema.
CREATE TABLE IF NOT EXISTS store_identity (id integer PRIMARY KEY CHECK (id = 1), uid text NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
  tenant_id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  created_at text NOT NULL
);
CREATE TABLE IF NOT EXISTS entity_versions (
  tenant_key text COLLATE "C" NOT NULL,
  entity_id text COLLATE "C" NOT NULL,
  version integer NOT NULL,
  entity_type_id text COLLATE "C" NOT NULL,
  is_latest boolean NOT NULL,
  deleted boolean NOT NULL,
  doc jsonb NOT NULL,
  PRIMARY KEY (tenant_key, entity_id, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS entity_latest ON entity_versions (tenant_key, entity_id) WHERE is_latest;
CREATE INDEX IF NOT EXISTS entity_latest_by_type ON entity_versions (entity_type_id, entity_id, tenant_key) WHERE is_latest;
-- Scheduled timers by due time (EntityStore.dueTimers): superseded, fired, cancelled and dead
-- timers are not in it, so they cost the poll nothing. Must match TIMER_DUE_SQL.
CREATE INDEX IF NOT EXISTS timer_due ON entity_versions (((doc->'attributes'->>'fireAt') COLLATE "C"), entity_id)
  WHERE is_latest AND NOT deleted AND entity_type_id = 'uee.timer' AND (doc->'attributes'->>'status') = 'scheduled';
CREATE TABLE IF NOT EXISTS read_models (
  tenant_key text COLLATE "C" NOT NULL,
  view text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  doc jsonb NOT NULL,
  updated_at text NOT NULL,
  PRIMARY KEY (tenant_key, view, id)
);
-- The views the platform reads across tenants (CROSS_TENANT_VIEWS, EntityStore.viewAcrossTenants),
-- by view: a partial index, so no other view's writes maintain it. Must match VIEW_ACROSS_TENANTS_SQL.
CREATE INDEX IF NOT EXISTS read_models_cross_tenant ON read_models (view, tenant_key, id) WHERE view IN ('uee.plugin-pins', 'uee.experiments');
CREATE TABLE IF NOT EXISTS tenant_config (
  tenant_key text COLLATE "C" PRIMARY KEY,
  settings jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS plugin_config (
  tenant_key text COLLATE "C" NOT NULL,
  plugin_name text COLLATE "C" NOT NULL,
  settings jsonb NOT NULL,
  PRIMARY KEY (tenant_key, plugin_name)
);
CREATE TABLE IF NOT EXISTS config_revision (
  id integer PRIMARY KEY CHECK (id = 1),
  rev bigint NOT NULL
);
-- Which tenant each of the last CONFIG_CHANGES_KEPT settings writes was (TenantConfigStore.changesSince).
CREATE TABLE IF NOT EXISTS config_changes (
  rev bigint PRIMARY KEY,
  tenant_key text COLLATE "C" NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event json NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
  sha256 text COLLATE "C" PRIMARY KEY,
  bytes bytea NOT NULL,
  created_at text NOT NULL
);
CREATE TABLE IF NOT EXISTS query_indexes (
  name text COLLATE "C" PRIMARY KEY,
  tenant_key text COLLATE "C" NOT NULL,
  target text NOT NULL,
  scope text COLLATE "C" NOT NULL,
  field text NOT NULL,
  created_at text NOT NULL
);
CREATE INDEX IF NOT EXISTS query_indexes_by_scope ON query_indexes (tenant_key, target, scope);
CREATE TABLE IF NOT EXISTS idempotency (
  tenant_key text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  result json NOT NULL,
  created_at text NOT NULL,
  PRIMARY KEY (tenant_key, key)
);
-- Keys by age, for their retention (EntityStore.purgeIdempotency).
CREATE INDEX IF NOT EXISTS idempotency_by_created ON idempotency (created_at);
CREATE TABLE IF NOT EXISTS commit_fences (
  key text COLLATE "C" PRIMARY KEY,
  token bigint NOT NULL
);
`;

/** Quotes a validated schema name. */
export function quoteSchema(schema: string): string {
  return `"${schema}"`;
}

/**
 * Creates the schema and its tables if missing, once across processes (an advisory lock serialises
 * concurrent openers), and refuses a schema written by a newer UEE.
 */
export async function applySchema(pool: Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`uee-schema:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteSchema(schema)}`);
    await client.query(`SET LOCAL search_path TO ${quoteSchema(schema)}`);
    await client.query(DDL);
    await client.query(INVOCATIONS_DDL);
    await client.query(JOURNAL_DDL);
    await client.query(QUERY_STATS_DDL);
    const { rows } = await client.query<{ version: number }>('SELECT max(version) AS version FROM uee_schema');
    const current = rows[0]?.version ?? null;
    if (current !== null && current > SCHEMA_VERSION) {
      throw new UeeError('CONFIG_INVALID', `PostgreSQL schema "${schema}" has UEE schema version ${current}, newer than this UEE (${SCHEMA_VERSION})`, {
        details: { setting: 'store URL (--store / UEE_STORE)', schema, schemaVersion: current },
        hint: 'upgrade UEE or point the store at another schema (?schema=name in the store URL)',
      });
    }
    if (current === null) await client.query('INSERT INTO uee_schema (version) VALUES ($1)', [SCHEMA_VERSION]);
    await client.query('INSERT INTO store_identity (id, uid) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [randomUUID()]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
