import { TenantIdSchema, parseOrThrow, type JsonObject, type Page, type ReadModelOp, type TenantContext } from '../../core/index.js';
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
  parseJsonOrText,
  readJsonObject,
  readModelNotFound,
  tenantKeyOf,
  unknownTenant,
} from '../shared.js';
import { runKeyset, sqlKeys } from './keyset.js';
import type { SqliteCore } from './core.js';
import type { SqliteIndexes } from './query-index.js';
import type { QueryPlan } from '../query-index.js';

/** The tenant registry, read models, config and outbox of the SQLite adapter. */

interface TenantRow {
  tenant_id: string;
  name: string;
  created_at: string;
}
const toTenant = (r: TenantRow): TenantRecord => ({ tenantId: r.tenant_id, name: r.name, createdAt: r.created_at });

/** Tenants table access. */
export function sqliteTenants(core: SqliteCore): TenantRegistry {
  const select = (id: string): TenantRow | undefined =>
    core.cache.get('SELECT tenant_id, name, created_at FROM tenants WHERE tenant_id = ?').get(id) as TenantRow | undefined;
  return {
    create: (tenantId, name) =>
      core.run(() => {
        const id = parseOrThrow(TenantIdSchema, tenantId, 'tenant id');
        core.cache.get('INSERT OR IGNORE INTO tenants (tenant_id, name, created_at) VALUES (?, ?, ?)').run(id, name ?? id, new Date().toISOString());
        core.rememberTenant(id);
        return toTenant(select(id)!);
      }),
    get: (tenantId) =>
      core.run(() => {
        const row = typeof tenantId === 'string' ? select(tenantId) : undefined;
        if (row === undefined) throw unknownTenant(String(tenantId));
        return toTenant(row);
      }),
    list: () =>
      core.run(() => {
        const rows = core.cache.get('SELECT tenant_id, name, created_at FROM tenants ORDER BY tenant_id').all() as TenantRow[];
        return rows.map(toTenant);
      }),
  };
}

/** Applies one validated read-model op; called inside commits and by the read-model store. */
export function applyReadModelOp(core: SqliteCore, tenantKey: string, op: ReadModelOp, now: string): boolean {
  if (op.op === 'upsert') {
    core.cache
      .get('INSERT INTO read_models (tenant_key, view, id, doc, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_key, view, id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at')
      .run(tenantKey, op.view, op.id, JSON.stringify(op.doc), now);
    return true;
  }
  return core.cache.get('DELETE FROM read_models WHERE tenant_key = ? AND view = ? AND id = ?').run(tenantKey, op.view, op.id).changes > 0;
}

interface ReadModelRow {
  id: string;
  doc: string;
  updated_at: string;
}

/** Read models: strictly per tenant key (a tenant sees only its own views). */
export function sqliteReadModels(core: SqliteCore, indexes: SqliteIndexes): ReadModelStore {
  const scope = (ctx: TenantContext): string => {
    const tk = tenantKeyOf(ctx);
    core.requireTenant(tk);
    return tk;
  };
  const toDoc = (view: string, r: ReadModelRow): ReadModelDoc => ({
    view,
    id: r.id,
    doc: readJsonObject(r.doc, { view, id: r.id }),
    updatedAt: r.updated_at,
  });
  return {
    upsert: (ctx, view, id, doc) =>
      core.run(() => {
        const tk = scope(ctx);
        const op = prepareReadModelOp({ op: 'upsert', view, id, doc }, core.limits);
        const now = new Date().toISOString();
        applyReadModelOp(core, tk, op, now);
        return { view, id, doc: op.op === 'upsert' ? op.doc : {}, updatedAt: now };
      }),
    delete: (ctx, view, id) =>
      core.run(() => {
        const tk = scope(ctx);
        const op = prepareReadModelOp({ op: 'delete', view, id }, core.limits);
        return applyReadModelOp(core, tk, op, '');
      }),
    deleteView: (ctx, view, limit) =>
      core.run(() => {
        const tk = scope(ctx);
        prepareViewKey(view);
        return core.cache
          .get('DELETE FROM read_models WHERE rowid IN (SELECT rowid FROM read_models WHERE tenant_key = ? AND view = ? LIMIT +?)')
          .run(tk, view, deleteViewLimit(limit)).changes;
      }),
    get: (ctx, view, id) =>
      core.run(() => {
        const tk = scope(ctx);
        prepareViewKey(view, id);
        const row = core.cache.get('SELECT id, doc, updated_at FROM read_models WHERE tenant_key = ? AND view = ? AND id = ?').get(tk, view, id) as ReadModelRow | undefined;
        if (row === undefined) throw readModelNotFound(view, id);
        return toDoc(view, row);
      }),
    query: (ctx, view, q) => core.run(() => queryReadModel(core, indexes, scope(ctx), view, q)),
  };
}

/**
 * One read-model query: through an index probe when one applies (see query-index.ts), else a
 * metered scan of the view; either way every row read is evaluated by the reference evaluator.
 * `capture` receives the plan (explain).
 */
export function queryReadModel(
  core: SqliteCore,
  indexes: SqliteIndexes,
  tk: string,
  view: string,
  q: Parameters<ReadModelStore['query']>[2],
  capture?: QueryPlan,
): Page<ReadModelDoc> {
  prepareViewKey(view);
  const nq = normaliseReadModelQuery(view, q, core.limits.filter);
  const keys = sqlKeys(nq.sort, 'doc', {}, [{ expr: 'id', params: [], dir: 1 }]);
  const after = nq.cursor === undefined ? undefined : decodeCursor(nq.cursor, nq.hash, keys.length);
  const scan = nq.compiled.scan();
  const acceptsAll = nq.compiled.acceptsAll;
  const toDoc = (r: ReadModelRow, raw: unknown = r.doc): ReadModelDoc => ({ view, id: r.id, doc: readJsonObject(raw, { view, id: r.id }), updatedAt: r.updated_at });
  return indexes.run({ target: 'readModel', scope: view, tenantKey: tk }, nq.filter, capture, (access, onSql) => {
    const rows = runKeyset(
      core.cache,
      {
        // A streamed probe reads the index's arms; a counted one drives the query from its rowids (never
        // let the planner walk the view in sort order instead).
        table: access.from !== null ? access.from.sql : access.where === null ? 'read_models' : 'read_models NOT INDEXED',
        tableParams: access.from?.params ?? [],
        columns: ['id', 'doc', 'updated_at'],
        where: ['tenant_key = ?', 'view = ?', ...(access.where === null ? [] : [access.where.sql])],
        whereParams: [tk, view, ...(access.where?.params ?? [])],
        keys,
        after,
        limit: nq.limit,
        acceptsAll,
      },
      (row) => {
        const r = row as unknown as ReadModelRow;
        if (acceptsAll) return toDoc(r);
        const raw = parseJsonOrText(r.doc);
        return scan.test(raw, r.doc.length) ? toDoc(r, raw) : undefined;
      },
      onSql,
    );
    const page = toPage(rows, nq.limit, () => nq.hash, (r) => r.keys, (r) => r.item);
    return { result: page, examined: acceptsAll ? rows.length : scan.stats.documents, returned: page.items.length };
  }, /* ordered: the default order (by id) is the index's */ nq.sort.length === 0);
}

/** Tenant and per-plugin settings. */
export function sqliteConfig(core: SqliteCore): TenantConfigStore {
  const scope = (ctx: TenantContext): string => {
    const tk = tenantKeyOf(ctx);
    core.requireTenant(tk);
    return tk;
  };
  const read = (row: unknown, where: Record<string, unknown>): JsonObject =>
    row === undefined ? {} : readJsonObject((row as { settings: string }).settings, where);
  const revision = (): number => (core.cache.get('SELECT rev FROM config_revision WHERE id = 1').get() as { rev: number } | undefined)?.rev ?? 0;
  /**
   * A settings write, the revision's bump and the write's tenant under that revision, in one
   * transaction (see {@link TenantConfigStore.revision}, {@link TenantConfigStore.changesSince});
   * the tenant of the write CONFIG_CHANGES_KEPT revisions back is forgotten.
   */
  const write = core.db.transaction((tk: string, sql: string, params: unknown[]) => {
    core.cache.get(sql).run(...params);
    core.cache.get(BUMP_REVISION_SQL).run();
    const rev = revision();
    core.cache.get('INSERT INTO config_changes (rev, tenant_key) VALUES (?, ?)').run(rev, tk);
    core.cache.get('DELETE FROM config_changes WHERE rev <= ?').run(rev - CONFIG_CHANGES_KEPT);
  });
  return {
    getTenant: (ctx) =>
      core.run(() => {
        const tk = scope(ctx);
        return read(core.cache.get('SELECT settings FROM tenant_config WHERE tenant_key = ?').get(tk), { table: 'tenant_config' });
      }),
    setTenant: (ctx, settings) =>
      core.run(() => {
        const tk = scope(ctx);
        const s = prepareSettings(settings, core.limits);
        write(tk, 'INSERT INTO tenant_config (tenant_key, settings) VALUES (?, ?) ON CONFLICT (tenant_key) DO UPDATE SET settings = excluded.settings', [tk, JSON.stringify(s)]);
      }),
    getPlugin: (ctx, pluginName) =>
      core.run(() => {
        const tk = scope(ctx);
        const name = preparePluginName(pluginName);
        const row = core.cache.get('SELECT settings FROM plugin_config WHERE tenant_key = ? AND plugin_name = ?').get(tk, name);
        return read(row, { table: 'plugin_config', pluginName: name });
      }),
    setPlugin: (ctx, pluginName, settings) =>
      core.run(() => {
        const tk = scope(ctx);
        const name = preparePluginName(pluginName);
        const s = prepareSettings(settings, core.limits);
        write(tk, 'INSERT INTO plugin_config (tenant_key, plugin_name, settings) VALUES (?, ?, ?) ON CONFLICT (tenant_key, plugin_name) DO UPDATE SET settings = excluded.settings', [tk, name, JSON.stringify(s)]);
      }),
    revision: () => core.run(revision),
    changesSince: (since, limit) =>
      core.run(() => {
        const rev = revision();
        const written = rev - since;
        const changes = written <= 0 || written > limit ? [] : (core.cache.get('SELECT rev, tenant_key AS tk FROM config_changes WHERE rev > ? AND rev <= ? ORDER BY rev').all(since, rev) as Array<{ rev: number; tk: string }>);
        return configChanges(rev, since, limit, changes);
      }),
  };
}

/** Counts a settings write (the row is made by the first). */
const BUMP_REVISION_SQL = 'INSERT INTO config_revision (id, rev) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET rev = rev + 1';

/** The transactional outbox table. */
export function sqliteOutbox(core: SqliteCore): Outbox {
  const remove = core.db.transaction((seqs: number[]) => {
    const stmt = core.cache.get('DELETE FROM outbox WHERE seq = ?');
    for (const seq of seqs) stmt.run(seq);
  });
  return {
    peek: (limit) =>
      core.run(() => {
        const n = Number.isFinite(limit) ? Math.max(1, Math.min(10_000, Math.floor(limit))) : 100;
        const rows = core.cache.get('SELECT seq, event FROM outbox ORDER BY seq LIMIT +?').all(n) as Array<{ seq: number; event: string }>;
        return rows.map((r) => ({ seq: r.seq, event: readEvent(r.event, { table: 'outbox', seq: r.seq }) }));
      }),
    markPublished: (seqs) =>
      core.run(() => {
        remove(seqs.filter((s) => Number.isInteger(s)));
      }),
    size: () =>
      core.run(() => {
        return (core.cache.get('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
      }),
  };
}

/** Content-addressed blobs in the `blobs` table. */
export function sqliteBlobs(core: SqliteCore): BlobStore {
  return {
    put: (bytes) =>
      core.run(() => {
        const sha256 = blobAddress(bytes);
        core.cache.get('INSERT OR IGNORE INTO blobs (sha256, bytes, created_at) VALUES (?, ?, ?)').run(sha256, Buffer.from(bytes), new Date().toISOString());
        return { sha256, size: bytes.byteLength };
      }),
    get: (sha256) =>
      core.run(() => {
        checkBlob(sha256);
        const row = core.cache.get('SELECT bytes FROM blobs WHERE sha256 = ?').get(sha256) as { bytes: Buffer } | undefined;
        if (row === undefined) throw blobNotFound(sha256);
        const bytes = new Uint8Array(row.bytes);
        checkBlob(sha256, bytes);
        return bytes;
      }),
    has: (sha256) =>
      core.run(() => {
        checkBlob(sha256);
        return core.cache.get('SELECT 1 AS ok FROM blobs WHERE sha256 = ?').get(sha256) !== undefined;
      }),
  };
}
