import { TenantIdSchema, parseOrThrow, type JsonObject, type Page, type ReadModelOp } from '../../core/index.js';
import { CONFIG_CHANGES_KEPT, type BlobStore, type Outbox, type ReadModelDoc, type ReadModelStore, type TenantConfigStore, type TenantRecord, type TenantRegistry } from '../port.js';
import { decodeCursor } from '../cursor.js';
import { normaliseReadModelQuery, toPage } from '../query.js';
import {
  blobAddress,
  deleteViewLimit,
  blobNotFound,
  checkBlob,
  configChanges,
  prepareReadModelOp,
  preparePluginName,
  prepareSettings,
  prepareViewKey,
  readEvent,
  readJsonObject,
  readModelNotFound,
  unknownTenant,
} from '../shared.js';
import type { PgCore, Queryable } from './core.js';
import type { PgIndexes } from './query-index.js';
import type { QueryPlan } from '../query-index.js';
import { Params, pgKeys, runKeyset } from './keyset.js';

/** The tenant registry, read models, config, outbox and blobs of the PostgreSQL adapter. */

interface TenantRow {
  tenant_id: string;
  name: string;
  created_at: string;
}
const toTenant = (r: TenantRow): TenantRecord => ({ tenantId: r.tenant_id, name: r.name, createdAt: r.created_at });

/** The tenants table. Creating is idempotent, also between processes racing on one id. */
export function pgTenants(core: PgCore): TenantRegistry {
  return {
    create: (tenantId, name) =>
      core.run(async () => {
        const id = parseOrThrow(TenantIdSchema, tenantId, 'tenant id');
        await core.pool.query('INSERT INTO tenants (tenant_id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO NOTHING', [id, name ?? id, new Date().toISOString()]);
        const { rows } = await core.pool.query<TenantRow>('SELECT tenant_id, name, created_at FROM tenants WHERE tenant_id = $1', [id]);
        core.rememberTenant(id);
        return toTenant(rows[0]!);
      }),
    get: (tenantId) =>
      core.run(async () => {
        const { rows } = typeof tenantId === 'string' ? await core.pool.query<TenantRow>('SELECT tenant_id, name, created_at FROM tenants WHERE tenant_id = $1', [tenantId]) : { rows: [] };
        const row = rows[0];
        if (row === undefined) throw unknownTenant(String(tenantId));
        return toTenant(row);
      }),
    list: () =>
      core.run(async () => {
        const { rows } = await core.pool.query<TenantRow>('SELECT tenant_id, name, created_at FROM tenants ORDER BY tenant_id');
        return rows.map(toTenant);
      }),
  };
}

/** Applies one validated read-model op (inside a commit's transaction, or on the pool). */
export async function applyReadModelOp(db: Queryable, tenantKey: string, op: ReadModelOp, now: string): Promise<boolean> {
  if (op.op === 'upsert') {
    await db.query(
      'INSERT INTO read_models (tenant_key, view, id, doc, updated_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_key, view, id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at',
      [tenantKey, op.view, op.id, JSON.stringify(op.doc), now],
    );
    return true;
  }
  const { rowCount } = await db.query('DELETE FROM read_models WHERE tenant_key = $1 AND view = $2 AND id = $3', [tenantKey, op.view, op.id]);
  return (rowCount ?? 0) > 0;
}

const UPSERT_MANY_SQL =
  'INSERT INTO read_models (tenant_key, view, id, doc, updated_at) SELECT $1, v, i, d, $5 FROM unnest($2::text[], $3::text[], $4::jsonb[]) AS u(v, i, d) ' +
  'ON CONFLICT (tenant_key, view, id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at';

/**
 * Applies a commit's read-model ops in order, with one statement per run of upserts of distinct
 * documents (a commit refolding a projection page writes hundreds): the same effect as one
 * statement per op, since a run holds each document once and deletes split runs.
 */
export async function applyReadModelOps(db: Queryable, tenantKey: string, ops: ReadModelOp[], now: string): Promise<void> {
  let run: Array<Extract<ReadModelOp, { op: 'upsert' }>> = [];
  let keys = new Set<string>();
  const flush = async (): Promise<void> => {
    if (run.length === 1) await applyReadModelOp(db, tenantKey, run[0]!, now);
    else if (run.length > 1) await db.query(UPSERT_MANY_SQL, [tenantKey, run.map((o) => o.view), run.map((o) => o.id), run.map((o) => JSON.stringify(o.doc)), now]);
    run = [];
    keys = new Set();
  };
  for (const op of ops) {
    const key = `${op.view}\u0000${op.id}`;
    if (op.op === 'delete' || keys.has(key)) await flush();
    if (op.op === 'delete') await applyReadModelOp(db, tenantKey, op, now);
    else {
      run.push(op);
      keys.add(key);
    }
  }
  await flush();
}

interface ReadModelRow {
  id: string;
  doc: unknown;
  updated_at: string;
}

/** Read models: strictly per tenant key (a tenant sees only its own views). */
export function pgReadModels(core: PgCore, indexes: PgIndexes): ReadModelStore {
  const toDoc = (view: string, r: ReadModelRow): ReadModelDoc => ({ view, id: r.id, doc: readJsonObject(r.doc, { view, id: r.id }), updatedAt: r.updated_at });
  return {
    upsert: (ctx, view, id, doc) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const op = prepareReadModelOp({ op: 'upsert', view, id, doc }, core.limits);
        const now = new Date().toISOString();
        await applyReadModelOp(core.pool, tk, op, now);
        return { view, id, doc: op.op === 'upsert' ? op.doc : {}, updatedAt: now };
      }),
    delete: (ctx, view, id) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const op = prepareReadModelOp({ op: 'delete', view, id }, core.limits);
        return applyReadModelOp(core.pool, tk, op, '');
      }),
    deleteView: (ctx, view, limit) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        prepareViewKey(view);
        const sql = 'DELETE FROM read_models WHERE (tenant_key, view, id) IN (SELECT tenant_key, view, id FROM read_models WHERE tenant_key = $1 AND view = $2 LIMIT $3)';
        return (await core.pool.query(sql, [tk, view, deleteViewLimit(limit)])).rowCount ?? 0;
      }),
    get: (ctx, view, id) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        prepareViewKey(view, id);
        const { rows } = await core.pool.query<ReadModelRow>('SELECT id, doc, updated_at FROM read_models WHERE tenant_key = $1 AND view = $2 AND id = $3', [tk, view, id]);
        const row = rows[0];
        if (row === undefined) throw readModelNotFound(view, id);
        return toDoc(view, row);
      }),
    query: (ctx, view, q) => core.run(async () => queryReadModel(core, indexes, await core.scope(ctx), view, q)),
  };
}

/** One read-model query, through an index probe when one applies (see query-index.ts); `capture` receives the plan. */
export async function queryReadModel(
  core: PgCore,
  indexes: PgIndexes,
  tk: string,
  view: string,
  q: Parameters<ReadModelStore['query']>[2],
  capture?: QueryPlan,
): Promise<Page<ReadModelDoc>> {
  prepareViewKey(view);
  const nq = normaliseReadModelQuery(view, q, core.limits.filter);
  const keys = pgKeys(nq.sort, 'doc', {}, [{ expr: 'id', cast: 'text', dir: 1, notNull: true }]);
  const after = nq.cursor === undefined ? undefined : decodeCursor(nq.cursor, nq.hash, keys.length);
  const scan = nq.compiled.scan();
  const acceptsAll = nq.compiled.acceptsAll;
  const p = new Params();
  const where = [`tenant_key = ${p.add(tk)}`, `view = ${p.add(view)}`];
  return indexes.run({ target: 'readModel', scope: view, tenantKey: tk }, nq.filter, capture, p, async (probe, onSql) => {
    const rows = await runKeyset(
      core.pool,
      {
        table: 'read_models',
        columns: ['id', 'doc', 'updated_at', 'pg_column_size(doc) AS bytes'],
        where: probe === null ? where : [...where, probe],
        params: p.values,
        keys,
        after,
        limit: nq.limit,
        acceptsAll,
      },
      (row) => {
        if (!acceptsAll && !scan.test(row.doc, row.bytes as number)) return undefined;
        const r = row as unknown as ReadModelRow;
        return { view, id: r.id, doc: readJsonObject(r.doc, { view, id: r.id }), updatedAt: r.updated_at };
      },
      onSql,
    );
    const page = toPage(rows, nq.limit, () => nq.hash, (r) => r.keys, (r) => r.item);
    return { result: page, examined: acceptsAll ? rows.length : scan.stats.documents, returned: page.items.length };
  });
}

/** Tenant and per-plugin settings. */
export function pgConfig(core: PgCore): TenantConfigStore {
  const read = (rows: Array<{ settings: unknown }>, where: Record<string, unknown>): JsonObject => {
    const row = rows[0];
    return row === undefined ? {} : readJsonObject(row.settings, where);
  };
  return {
    getTenant: (ctx) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const { rows } = await core.pool.query<{ settings: unknown }>('SELECT settings FROM tenant_config WHERE tenant_key = $1', [tk]);
        return read(rows, { table: 'tenant_config' });
      }),
    setTenant: (ctx, settings) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const s = prepareSettings(settings, core.limits);
        await core.pool.query(`${BUMP_REVISION} INSERT INTO tenant_config (tenant_key, settings) VALUES ($1, $2) ON CONFLICT (tenant_key) DO UPDATE SET settings = excluded.settings`, [tk, JSON.stringify(s)]);
      }),
    getPlugin: (ctx, pluginName) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const name = preparePluginName(pluginName);
        const { rows } = await core.pool.query<{ settings: unknown }>('SELECT settings FROM plugin_config WHERE tenant_key = $1 AND plugin_name = $2', [tk, name]);
        return read(rows, { table: 'plugin_config', pluginName: name });
      }),
    setPlugin: (ctx, pluginName, settings) =>
      core.run(async () => {
        const tk = await core.scope(ctx);
        const name = preparePluginName(pluginName);
        const s = prepareSettings(settings, core.limits);
        await core.pool.query(
          `${BUMP_REVISION} INSERT INTO plugin_config (tenant_key, plugin_name, settings) VALUES ($1, $2, $3) ON CONFLICT (tenant_key, plugin_name) DO UPDATE SET settings = excluded.settings`,
          [tk, name, JSON.stringify(s)],
        );
      }),
    revision: () =>
      core.run(async () => {
        const { rows } = await core.pool.query<{ rev: string }>('SELECT rev FROM config_revision WHERE id = 1');
        return rows[0] === undefined ? 0 : Number(rows[0].rev);
      }),
    changesSince: (since, limit) =>
      core.run(async () => {
        // One statement, one snapshot: the revision and the writes up to it. A writer holds the
        // revision's row from its bump to its commit, so revisions commit in order.
        const { rows } = await core.pool.query<{ rev: string; crev: string | null; tk: string | null }>(
          `SELECT r.rev, c.rev AS crev, c.tenant_key AS tk FROM config_revision r
             LEFT JOIN LATERAL (SELECT rev, tenant_key FROM config_changes WHERE rev > $1 AND rev <= r.rev ORDER BY rev LIMIT $2) c ON true
           WHERE r.id = 1 ORDER BY c.rev`,
          [since, limit + 1],
        );
        const revision = rows[0] === undefined ? 0 : Number(rows[0].rev);
        const changes = rows.filter((r) => r.crev !== null).map((r) => ({ rev: Number(r.crev), tk: r.tk! }));
        return configChanges(revision, since, limit, changes);
      }),
  };
}

/**
 * A settings write's leading clauses, in the same statement (so the same transaction) as the write
 * whose first parameter is the tenant key: the revision's bump, the write's tenant under that revision,
 * and the tenant of the write CONFIG_CHANGES_KEPT revisions back forgotten.
 */
const BUMP_REVISION = `WITH bump AS (INSERT INTO config_revision (id, rev) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET rev = config_revision.rev + 1 RETURNING rev),
  changed AS (INSERT INTO config_changes (rev, tenant_key) SELECT rev, $1 FROM bump),
  forgotten AS (DELETE FROM config_changes WHERE rev <= (SELECT rev FROM bump) - ${CONFIG_CHANGES_KEPT})`;

/**
 * The transactional outbox table. Sequence numbers come from an identity column: within one
 * entity they follow commit order (a later version's transaction starts after the earlier one
 * committed), across entities they may be committed out of order, which the relay tolerates
 * because it removes exactly the entries it published.
 */
export function pgOutbox(core: PgCore): Outbox {
  return {
    peek: (limit) =>
      core.run(async () => {
        const n = Number.isFinite(limit) ? Math.max(1, Math.min(10_000, Math.floor(limit))) : 100;
        const { rows } = await core.pool.query<{ seq: string; event: unknown }>('SELECT seq, event FROM outbox ORDER BY seq LIMIT $1', [n]);
        return rows.map((r) => ({ seq: Number(r.seq), event: readEvent(r.event, { table: 'outbox', seq: r.seq }) }));
      }),
    markPublished: (seqs) =>
      core.run(async () => {
        const ids = seqs.filter((s) => Number.isSafeInteger(s));
        if (ids.length > 0) await core.pool.query('DELETE FROM outbox WHERE seq = ANY($1::bigint[])', [ids]);
      }),
    size: () =>
      core.run(async () => {
        const { rows } = await core.pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox');
        return Number(rows[0]?.n ?? 0);
      }),
  };
}

/** Content-addressed blobs in the `blobs` table. */
export function pgBlobs(core: PgCore): BlobStore {
  return {
    put: (bytes) =>
      core.run(async () => {
        const sha256 = blobAddress(bytes);
        await core.pool.query('INSERT INTO blobs (sha256, bytes, created_at) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING', [sha256, Buffer.from(bytes), new Date().toISOString()]);
        return { sha256, size: bytes.byteLength };
      }),
    get: (sha256) =>
      core.run(async () => {
        checkBlob(sha256);
        const { rows } = await core.pool.query<{ bytes: Buffer }>('SELECT bytes FROM blobs WHERE sha256 = $1', [sha256]);
        const row = rows[0];
        if (row === undefined) throw blobNotFound(sha256);
        const bytes = new Uint8Array(row.bytes);
        checkBlob(sha256, bytes);
        return bytes;
      }),
    has: (sha256) =>
      core.run(async () => {
        checkBlob(sha256);
        const { rows } = await core.pool.query('SELECT 1 FROM blobs WHERE sha256 = $1', [sha256]);
        return rows.length > 0;
      }),
  };
}
