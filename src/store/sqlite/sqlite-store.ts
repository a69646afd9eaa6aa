import Database from 'better-sqlite3';
import { UeeError, silentLogger, type EntityVersion, type JsonObject, type Logger, type Page, type TenantContext } from '../../core/index.js';
import type { CommitBatch, CommitResult, EntityHead, EntityQuery, EntityStore, ScopedDoc, StoreLimitsInput } from '../port.js';
import { decodeCursor } from '../cursor.js';
import { commitContext, planCommit, type CurrentVersion } from '../commit-plan.js';
import { normaliseEntityQuery, normaliseHistory, toPage } from '../query.js';
import {
  AppendSignal,
  entityNotFound,
  throwError,
  normaliseLimits,
  prepareBatch,
  prepareEntityId,
  readIdempotentResult,
  parseJsonOrText,
  GLOBAL_TENANT_KEY,
  crossTenantRead,
  pageSize,
  tenantIdOfKey,
  purgeBatch,
  readVersion,
  tenantKeyOf,
  visibleTenantKeys,
  type PreparedBatch,
} from '../shared.js';
import { SqliteCore, sqliteError } from './core.js';
import { runKeyset, sqlKeys } from './keyset.js';
import { HEADS_OF_TYPE_SQL, LATEST_OF_TYPE_SQL, TIMER_DUE_SQL, VIEW_ACROSS_TENANTS_SQL, applySchema } from './schema.js';
import { applyReadModelOp, queryReadModel, sqliteConfig, sqliteOutbox, sqliteBlobs, sqliteReadModels, sqliteTenants } from './side-stores.js';
import { SqliteIndexes } from './query-index.js';
import { emptyPlan, parseExplainRequest, parseIndexSpec, type QueryIndexStore, type QueryPlan } from '../query-index.js';
import { sqliteInvocations, type SqliteRecordsFile } from './invocations.js';
import { RecordsThread, openRecordsFile, recordsPathOf } from './records-thread.js';
import { RECORDS_GROUP_MS } from './invocations-sql.js';
import { appendJournal, sqliteJournal } from './journal.js';
import { checkFence } from './fence.js';
import { holdWal, type WalCheckpointer, type WalHold } from '../../core/wal-checkpointer.js';

/** Options for {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Database file, created if missing; `:memory:` for a throw-away store. */
  path: string;
  /** @default DEFAULT_STORE_LIMITS */
  limits?: StoreLimitsInput;
  /** @default silentLogger */
  logger?: Logger;
  /**
   * Who checkpoints the file's WAL: the process's checkpoint thread by default, another
   * {@link WalCheckpointer}, or `false` for the connection itself on the main thread (SQLite's default).
   */
  checkpoints?: WalCheckpointer | false;
  /** How long the records thread holds the invocation records it took before writing them as one group. @default RECORDS_GROUP_MS */
  recordsGroupMs?: number;
}

const LATEST_SQL = 'SELECT doc FROM entity_versions WHERE tenant_key = ? AND entity_id = ? ORDER BY version DESC LIMIT 1';
const VERSION_SQL = 'SELECT doc FROM entity_versions WHERE tenant_key = ? AND entity_id = ? AND version = ?';
const INSERT_SQL =
  'INSERT INTO entity_versions (tenant_key, entity_id, version, entity_type_id, is_latest, deleted, doc) VALUES (?, ?, ?, ?, ?, ?, ?)';
const SUPERSEDE_SQL = 'UPDATE entity_versions SET is_latest = 0 WHERE tenant_key = ? AND entity_id = ? AND is_latest = 1';
const OUTBOX_SQL = 'INSERT INTO outbox (event) VALUES (?)';
const IDEMPOTENCY_GET_SQL = 'SELECT result FROM idempotency WHERE tenant_key = ? AND key = ?';
const IDEMPOTENCY_HAS_SQL = 'SELECT 1 AS ok FROM idempotency WHERE tenant_key = ? AND key = ?';
const IDEMPOTENCY_PUT_SQL = 'INSERT INTO idempotency (tenant_key, key, result, created_at) VALUES (?, ?, ?, ?)';
const IDEMPOTENCY_PURGE_SQL = 'DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency INDEXED BY idempotency_by_created WHERE created_at < ? ORDER BY created_at LIMIT +?)';

/** The embedded entity store on better-sqlite3. Every call is synchronous underneath. */
class SqliteStore implements EntityStore {
  readonly kind = 'sqlite';
  readonly tenants;
  readonly readModels;
  readonly config;
  readonly outbox;
  readonly blobs;
  readonly indexes: QueryIndexStore;
  readonly invocations;
  readonly journal;
  readonly #core: SqliteCore;
  readonly #indexes: SqliteIndexes;
  readonly #records: SqliteRecordsFile | undefined;
  /** The file's place in the WAL checkpoint thread (see core/wal-checkpointer.ts). */
  readonly #wal: WalHold | undefined;
  readonly #appended = new AppendSignal();

  constructor(core: SqliteCore, records?: SqliteRecordsFile, wal?: WalHold) {
    this.#records = records;
    this.#wal = wal;
    this.#core = core;
    this.#indexes = new SqliteIndexes(core);
    this.tenants = sqliteTenants(core);
    this.readModels = sqliteReadModels(core, this.#indexes);
    this.indexes = this.#indexStore();
    this.config = sqliteConfig(core);
    this.outbox = { ...sqliteOutbox(core), onAppended: (listener: () => void) => this.#appended.on(listener) };
    this.blobs = sqliteBlobs(core);
    this.invocations = sqliteInvocations(core, records);
    this.journal = sqliteJournal(core);
  }

  #scope(ctx: TenantContext): string {
    const tk = tenantKeyOf(ctx);
    this.#core.requireTenant(tk);
    return tk;
  }

  #latest(tenantKey: string, entityId: string): EntityVersion | null {
    const row = this.#core.cache.get(LATEST_SQL).get(tenantKey, entityId) as { doc: string } | undefined;
    return row === undefined ? null : readVersion(row.doc, { entityId });
  }

  /** The tenant key that owns `entityId` from the context's view (own first, then global). */
  #owner(tenantKey: string, entityId: string): { key: string; latest: EntityVersion } {
    return this.#find(tenantKey, entityId) ?? throwError(entityNotFound(entityId));
  }

  /** The tenant key an entity visible to `tenantKey` lives under, with its latest version; undefined when none. */
  #find(tenantKey: string, entityId: string): { key: string; latest: EntityVersion } | undefined {
    for (const key of visibleTenantKeys(tenantKey)) {
      const latest = this.#latest(key, entityId);
      if (latest !== null) return { key, latest };
    }
    return undefined;
  }

  /**
   * A commit inside its group's transaction (see `CommitGroup`): reads and checks first, writing
   * nothing (fence, idempotency key, versions: a refusal leaves nothing to undo), then answers the
   * writes that apply the plan.
   */
  #planInTx(tk: string, ctx: TenantContext, batch: PreparedBatch): () => CommitResult {
    const { cache } = this.#core;
    const raiseFence = checkFence(this.#core, batch.fence);
    if (batch.idempotencyKey !== undefined) {
      const row = cache.get(IDEMPOTENCY_GET_SQL).get(tk, batch.idempotencyKey) as { result: string } | undefined;
      if (row !== undefined) {
        const first = readIdempotentResult(row.result, { idempotencyKey: batch.idempotencyKey });
        return () => {
          raiseFence?.();
          return first;
        };
      }
    }
    const cc = commitContext(ctx, tk, batch);
    const plan = planCommit(cc, (key, id): CurrentVersion | null => this.#latest(key, id));
    return () => {
      raiseFence?.();
      const supersede = cache.get(SUPERSEDE_SQL);
      for (const id of plan.supersede) supersede.run(tk, id);
      const insert = cache.get(INSERT_SQL);
      for (const { version: v, latest } of plan.versions) {
        insert.run(tk, v.entityId, v.version, v.entityTypeId, latest ? 1 : 0, v.deleted ? 1 : 0, JSON.stringify(v));
      }
      for (const op of batch.readModelOps) applyReadModelOp(this.#core, tk, op, cc.createdAt);
      const outbox = cache.get(OUTBOX_SQL);
      const json = plan.events.map((e) => JSON.stringify(e));
      for (const e of json) outbox.run(e);
      // Told inside the group's transaction: a relay woken now peeks after it (every other store call
      // writes the waiting group first), and finds nothing if the group was rolled back.
      if (json.length > 0) this.#appended.notify();
      appendJournal(this.#core, tk, plan.events, json);
      if (batch.idempotencyKey !== undefined) {
        cache.get(IDEMPOTENCY_PUT_SQL).run(tk, batch.idempotencyKey, JSON.stringify(plan.result), cc.createdAt);
      }
      return plan.result;
    };
  }

  /**
   * Validated now, written with the other commits of this turn (see `CommitGroup`): its own checks,
   * in its own savepoint, inside one IMMEDIATE transaction for the group.
   */
  commit(ctx: TenantContext, batch: CommitBatch): Promise<CommitResult> {
    try {
      this.#core.assertOpen();
      const tk = this.#scope(ctx);
      const prepared = prepareBatch(batch, this.#core.limits);
      return this.#core.commits.add(() => this.#planInTx(tk, ctx, prepared));
    } catch (err) {
      return Promise.reject(sqliteError(err));
    }
  }

  committed(ctx: TenantContext, idempotencyKey: string): Promise<boolean> {
    return this.#core.run(() => this.#core.cache.get(IDEMPOTENCY_HAS_SQL).get(this.#scope(ctx), idempotencyKey) !== undefined);
  }

  purgeIdempotency(before: string, limit: number): Promise<number> {
    return this.#core.run(() => this.#core.cache.get(IDEMPOTENCY_PURGE_SQL).run(before, purgeBatch(limit)).changes);
  }

  async put(...[ctx, write, options]: Parameters<EntityStore['put']>): Promise<EntityVersion> {
    const result = await this.commit(ctx, { writes: [write], ...options });
    return result.versions[0]!;
  }

  get(...[ctx, entityId, options]: Parameters<EntityStore['get']>): Promise<EntityVersion> {
    return this.#core.run(() => this.#get(ctx, entityId, options) ?? throwError(entityNotFound(entityId, options?.version)));
  }

  find(...[ctx, entityId, options]: Parameters<EntityStore['find']>): Promise<EntityVersion | null> {
    return this.#core.run(() => this.#get(ctx, entityId, options));
  }

  /** {@link get} answering null where it answers NOT_FOUND: one path for both, no error built on a miss. */
  #get(...[ctx, entityId, options]: Parameters<EntityStore['get']>): EntityVersion | null {
    const tk = this.#scope(ctx);
    const id = prepareEntityId(entityId);
    const found = this.#find(tk, id);
    if (found === undefined) return null;
    const version = options?.version;
    if (version === undefined || version === found.latest.version) return found.latest;
    const row = Number.isInteger(version) ? (this.#core.cache.get(VERSION_SQL).get(found.key, id, version) as { doc: string } | undefined) : undefined;
    return row === undefined ? null : readVersion(row.doc, { entityId: id, version });
  }


  history(...[ctx, entityId, options]: Parameters<EntityStore['history']>): ReturnType<EntityStore['history']> {
    return this.#core.run(() => {
      const tk = this.#scope(ctx);
      const id = prepareEntityId(entityId);
      const { key } = this.#owner(tk, id);
      const h = normaliseHistory(id, options);
      const keys = [{ expr: 'version', params: [], dir: -1 as const }];
      const after = h.cursor === undefined ? undefined : decodeCursor(h.cursor, h.hash, keys.length);
      const rows = runKeyset(
        this.#core.cache,
        { table: 'entity_versions', columns: ['doc'], where: ['tenant_key = ?', 'entity_id = ?'], whereParams: [key, id], keys, after, limit: h.limit, acceptsAll: true },
        (row) => readVersion(row.doc, { entityId: id, version: row.k0 }),
      );
      return toPage(rows, h.limit, h.hash, (r) => r.keys, (r) => r.item);
    });
  }

  query(ctx: TenantContext, query: EntityQuery): ReturnType<EntityStore['query']> {
    return this.#core.run(() => this.#query(this.#scope(ctx), query));
  }

  #query(tk: string, query: EntityQuery, capture?: QueryPlan): Page<EntityVersion> {
    const q = normaliseEntityQuery(query, this.#core.limits.filter);
    const keys = sqlKeys(q.sort, 'doc', { entityId: 'entity_id', version: 'version' }, [
      { expr: 'entity_id', params: [], dir: 1 },
      { expr: 'tenant_key', params: [], dir: 1 },
    ]);
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, q.hash, keys.length);
    const acceptsAll = q.compiled.acceptsAll;
    const scan = q.compiled.scan();
    const [own, global = own] = visibleTenantKeys(tk);
    return this.#indexes.run({ target: 'entities', scope: q.entityTypeId, tenantKey: tk }, q.filter, capture, (access, onSql) => {
      const where = ['is_latest = 1', 'entity_type_id = ?', 'tenant_key IN (?, ?)'];
      if (!q.includeDeleted) where.push('deleted = 0');
      if (access.where !== null) where.push(access.where.sql);
      const rows = runKeyset(
        this.#core.cache,
        { table: access.where === null ? 'entity_versions' : 'entity_versions NOT INDEXED', columns: ['doc'], where, whereParams: [q.entityTypeId, own, global, ...(access.where?.params ?? [])], keys, after, limit: q.limit, acceptsAll },
        (row) => {
          if (acceptsAll) return readVersion(row.doc, { entityTypeId: q.entityTypeId });
          // Filter the parsed JSON first and validate only the matches: most of a scan's rows are dropped.
          const raw = parseJsonOrText(row.doc);
          return scan.test(raw, (row.doc as string).length) ? readVersion(raw, { entityTypeId: q.entityTypeId }) : undefined;
        },
        onSql,
      );
      const page = toPage(rows, q.limit, () => q.hash, (r) => r.keys, (r) => r.item);
      return { result: page, examined: acceptsAll ? rows.length : scan.stats.documents, returned: page.items.length };
    });
  }

  #indexStore(): QueryIndexStore {
    const core = this.#core;
    const idx = this.#indexes;
    return {
      list: (ctx) => core.run(() => idx.list(this.#scope(ctx))),
      add: (ctx, spec) => core.run(() => idx.add(this.#scope(ctx), parseIndexSpec(spec))),
      drop: (ctx, name) => core.run(() => idx.drop(this.#scope(ctx), name)),
      slowQueries: (ctx, limit) => core.run(() => idx.slowQueries(this.#scope(ctx), limit)),
      explain: (ctx, req) =>
        core.run(() => {
          const tk = this.#scope(ctx);
          const r = parseExplainRequest(req);
          const plan = emptyPlan(r.target, r.scope, r.filter);
          const q = { ...(r.filter === undefined ? {} : { filter: r.filter }), ...(r.sort === undefined ? {} : { sort: r.sort }), ...(r.limit === undefined ? {} : { limit: r.limit }) };
          try {
            if (r.target === 'entities') this.#query(tk, { entityTypeId: r.scope, ...q }, plan);
            else queryReadModel(core, idx, tk, r.scope, q, plan);
          } catch (err) {
            // A refused query is still explained: the plan says why (error) and what would help.
            if (!(err instanceof UeeError) || err.code !== 'QUERY_TOO_COSTLY') throw err;
          }
          return plan;
        }),
    };
  }

  dueTimers(now: string, limit: number): Promise<EntityVersion[]> {
    return this.#core.run(() => {
      const n = pageSize(limit);
      const rows = this.#core.cache.get(TIMER_DUE_SQL).all(now, n) as Array<{ doc: string }>;
      return rows.map((r) => readVersion(r.doc, { entityTypeId: 'uee.timer' }));
    });
  }

  latestOfType(entityTypeId: string, limit: number, after?: { entityId: string; tenantId: string | null }): Promise<EntityVersion[]> {
    return this.#core.run(() => {
      const n = pageSize(limit);
      const rows = this.#core.cache.get(LATEST_OF_TYPE_SQL).all(entityTypeId, after?.entityId ?? '', after === undefined ? '' : (after.tenantId ?? GLOBAL_TENANT_KEY), n) as Array<{ doc: string }>;
      return rows.map((r) => readVersion(r.doc, { entityTypeId }));
    });
  }

  headsOfType(entityTypeId: string, limit: number, after?: { entityId: string; tenantId: string | null }): Promise<EntityHead[]> {
    return this.#core.run(() => {
      const n = pageSize(limit);
      const rows = this.#core.cache.get(HEADS_OF_TYPE_SQL).all(entityTypeId, after?.entityId ?? '', after === undefined ? '' : (after.tenantId ?? GLOBAL_TENANT_KEY), n) as Array<{ entity_id: string; tenant_key: string; version: number }>;
      return rows.map((r) => ({ entityId: r.entity_id, tenantId: tenantIdOfKey(r.tenant_key), version: r.version }));
    });
  }

  viewAcrossTenants(view: string, limit: number, after?: { tenantId: string | null; id: string }): Promise<ScopedDoc[]> {
    return this.#core.run(() => {
      const n = crossTenantRead(view, limit);
      const rows = this.#core.cache.get(VIEW_ACROSS_TENANTS_SQL).all(view, after === undefined ? '' : (after.tenantId ?? GLOBAL_TENANT_KEY), after?.id ?? '', n) as Array<{ tenant_key: string; id: string; doc: string }>;
      return rows.map((r) => ({ tenantId: tenantIdOfKey(r.tenant_key), id: r.id, doc: JSON.parse(r.doc) as JsonObject }));
    });
  }

  identity(): Promise<string> {
    return this.#core.run(() => `sqlite:${(this.#core.cache.get('SELECT uid FROM store_identity WHERE id = 1').get() as { uid: string }).uid}`);
  }

  async close(): Promise<void> {
    if (this.#core.closed) return;
    // Commits called before close are written, not left waiting for a group that would never run.
    this.#core.commits.flush();
    try {
      this.#indexes.uses.flush();
    } catch (err) {
      this.#core.logger.warn('saving index use counts failed', { error: sqliteError(err).message });
    }
    this.#core.closed = true;
    // Settles once the checkpoint thread has let go of the file too (awaited below).
    const released = this.#wal?.release();
    try {
      this.#core.db.close();
    } catch (err) {
      this.#core.logger.warn('closing the SQLite store failed', { error: sqliteError(err).message });
    }
    await released;
    // Records appended before close are written (the thread answers them first), then it ends.
    if (this.#records !== undefined) {
      await this.#records.thread.close();
      try {
        this.#records.db.close();
      } catch (err) {
        this.#core.logger.warn('closing the SQLite records file failed', { error: sqliteError(err).message });
      }
    }
  }
}

/**
 * Opens (creating if needed) the embedded SQLite entity store at `options.path`.
 * `CONFIG_INVALID` names the path when the file cannot be opened or has a newer schema.
 */
export function openSqliteStore(options: SqliteStoreOptions): Promise<EntityStore> {
  try {
    const limits = normaliseLimits(options.limits);
    const logger = options.logger ?? silentLogger;
    let db: Database.Database;
    try {
      db = new Database(options.path);
    } catch (cause) {
      throw new UeeError('CONFIG_INVALID', `cannot open the SQLite store at ${options.path}`, {
        details: { setting: 'store path', path: options.path },
        hint: 'point the store at a writable file in an existing directory',
        cause,
      });
    }
    let records: SqliteRecordsFile | undefined;
    try {
      applySchema(db, options.path);
      if (options.path !== ':memory:') {
        const path = recordsPathOf(options.path);
        records = { db: openRecordsFile((p) => new Database(p), db, options.path), thread: new RecordsThread(path, logger, options.recordsGroupMs ?? RECORDS_GROUP_MS) };
      }
    } catch (err) {
      db.close();
      throw sqliteError(err);
    }
    logger.debug('sqlite store open', { path: options.path });
    return Promise.resolve(new SqliteStore(new SqliteCore(db, limits, logger), records, holdWal(options.checkpoints, db, options.path, logger)));
  } catch (err) {
    return Promise.reject(sqliteError(err));
  }
}

