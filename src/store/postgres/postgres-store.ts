import { pgInvocations } from './invocations.js';
import { appendOutboxAndJournal, pgJournal } from './journal.js';
import pg from 'pg';
import type { PoolClient } from 'pg';
import { UeeError, silentLogger, type EntityVersion, type JsonObject, type Logger, type Page, type TenantContext } from '../../core/index.js';
import type { CommitBatch, CommitResult, EntityHead, EntityQuery, EntityStore, ScopedDoc, StoreLimitsInput } from '../port.js';
import { decodeCursor } from '../cursor.js';
import { commitContext, namedEntityIds, planCommit, type CurrentVersion } from '../commit-plan.js';
import { normaliseEntityQuery, normaliseHistory, toPage } from '../query.js';
import {
  AppendSignal,
  entityNotFound,
  throwError,
  normaliseLimits,
  prepareBatch,
  prepareEntityId,
  readIdempotentResult,
  GLOBAL_TENANT_KEY,
  crossTenantRead,
  pageSize,
  tenantIdOfKey,
  purgeBatch,
  readVersion,
  visibleTenantKeys,
  type PreparedBatch,
} from '../shared.js';
import { PgCore, lockKey, pgError, type Queryable } from './core.js';
import { Params, pgKeys, runKeyset } from './keyset.js';
import { HEADS_OF_TYPE_SQL, LATEST_OF_TYPE_SQL, SCHEMA_NAME, TIMER_DUE_SQL, VIEW_ACROSS_TENANTS_SQL, applySchema, quoteSchema } from './schema.js';
import { applyReadModelOps, pgBlobs, pgConfig, pgOutbox, pgReadModels, pgTenants, queryReadModel } from './side-stores.js';
import { PgIndexes } from './query-index.js';
import { FencesSeen, checkFence } from './fence.js';
import { emptyPlan, parseExplainRequest, parseIndexSpec, type QueryIndexStore, type QueryPlan } from '../query-index.js';

/** Options for {@link openPostgresStore}. */
export interface PostgresStoreOptions {
  /** A `postgres://user[:password]@host:port/database` URL. */
  url: string;
  /**
   * The schema holding the store's tables, created if missing; several stores (or test runs) can
   * share one database in different schemas. Lower-case identifier.
   * @default "uee"
   */
  schema?: string;
  /** Connections in the pool. @default 10 */
  poolSize?: number;
  /** @default DEFAULT_STORE_LIMITS */
  limits?: StoreLimitsInput;
  /** @default silentLogger */
  logger?: Logger;
}

const URL_SETTING = 'store URL (--store / UEE_STORE)';


const LATEST_SQL = 'SELECT tenant_key, entity_id, doc FROM entity_versions WHERE tenant_key = ANY($1::text[]) AND entity_id = ANY($2::text[]) AND is_latest';
const VERSION_SQL = 'SELECT doc FROM entity_versions WHERE tenant_key = $1 AND entity_id = $2 AND version = $3';
const LOCK_SQL = 'SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(k, i) ORDER BY i';
/** A row of {@link LATEST_SQL} (or of {@link PRIOR_AND_LATEST_SQL}, whose prior-result row has no entity). */
interface LatestRow {
  tenant_key: string;
  entity_id: string | null;
  doc: unknown;
}

/** The latest versions read, by `tenantKey/entityId` (rows without an entity skipped). */
function latestVersions(rows: readonly LatestRow[]): Map<string, EntityVersion> {
  const out = new Map<string, EntityVersion>();
  for (const r of rows) if (r.entity_id !== null) out.set(`${r.tenant_key}/${r.entity_id}`, readVersion(r.doc, { entityId: r.entity_id }));
  return out;
}

/**
 * A keyed commit's two reads after its locks in one round trip: the result of an earlier commit
 * under the key (a row with `result`), and the latest versions of the entities it names.
 */
const PRIOR_AND_LATEST_SQL =
  'SELECT NULL AS tenant_key, NULL AS entity_id, NULL::jsonb AS doc, result FROM idempotency WHERE tenant_key = $3 AND key = $4 ' +
  'UNION ALL SELECT tenant_key, entity_id, doc, NULL::json FROM entity_versions WHERE tenant_key = ANY($1::text[]) AND entity_id = ANY($2::text[]) AND is_latest';
const IDEMPOTENCY_HAS_SQL = 'SELECT 1 FROM idempotency WHERE tenant_key = $1 AND key = $2';
const IDEMPOTENCY_PUT_SQL = 'INSERT INTO idempotency (tenant_key, key, result, created_at) VALUES ($1, $2, $3, $4)';
const SUPERSEDE_SQL = 'UPDATE entity_versions SET is_latest = false WHERE tenant_key = $1 AND entity_id = ANY($2::text[]) AND is_latest';
const INSERT_SQL =
  'INSERT INTO entity_versions (tenant_key, entity_id, version, entity_type_id, is_latest, deleted, doc) ' +
  'SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::text[], $5::boolean[], $6::boolean[], $7::jsonb[])';

/**
 * The entity store on PostgreSQL. A commit is one transaction: it first takes an advisory lock per
 * entity it names and per idempotency key (in one sorted order, so writers never deadlock), then
 * reads the latest versions, so concurrent writers of one entity — in this process or another —
 * queue and each sees the version the previous one committed. Unique keys on
 * (tenant, entity, version) and on the latest row back this up: a write that slipped past the
 * locks fails the insert and the whole transaction is re-run.
 */
class PostgresStore implements EntityStore {
  readonly kind = 'postgres';
  readonly tenants;
  readonly readModels;
  readonly config;
  readonly outbox;
  readonly blobs;
  readonly indexes: QueryIndexStore;
  readonly invocations;
  readonly journal;
  readonly #core: PgCore;
  readonly #indexes: PgIndexes;

  readonly #appended = new AppendSignal();
  /** Lease fences read committed at a token: the next commit under it skips the read (see {@link checkFence}). */
  readonly #fences = new FencesSeen();

  constructor(core: PgCore) {
    this.#core = core;
    this.#indexes = new PgIndexes(core);
    this.tenants = pgTenants(core);
    this.readModels = pgReadModels(core, this.#indexes);
    this.indexes = this.#indexStore();
    this.config = pgConfig(core);
    this.outbox = { ...pgOutbox(core), onAppended: (listener: () => void) => this.#appended.on(listener) };
    this.blobs = pgBlobs(core);
    this.invocations = pgInvocations(core);
    this.journal = pgJournal(core);
  }

  async #latest(db: Queryable, keys: string[], ids: string[]): Promise<Map<string, EntityVersion>> {
    const { rows } = await db.query<LatestRow>(LATEST_SQL, [keys, ids]);
    return latestVersions(rows);
  }

  /** The tenant key that owns `entityId` from the context's view (own first, then global). */
  async #owner(tk: string, entityId: string): Promise<{ key: string; latest: EntityVersion }> {
    return (await this.#find(tk, entityId)) ?? throwError(entityNotFound(entityId));
  }

  /** The tenant key an entity visible to `tk` lives under, with its latest version; undefined when none. */
  async #find(tk: string, entityId: string): Promise<{ key: string; latest: EntityVersion } | undefined> {
    const keys = visibleTenantKeys(tk);
    const found = await this.#latest(this.#core.pool, keys, [entityId]);
    for (const key of keys) {
      const latest = found.get(`${key}/${entityId}`);
      if (latest !== undefined) return { key, latest };
    }
    return undefined;
  }

  async #commitInTx(client: PoolClient, tk: string, ctx: TenantContext, batch: PreparedBatch): Promise<CommitResult> {
    const ids = namedEntityIds(batch);
    const locks = ids.map((id) => lockKey(`e/${tk}/${id}`));
    if (batch.idempotencyKey !== undefined) locks.push(lockKey(`i/${tk}/${batch.idempotencyKey}`));
    if (locks.length > 0) await client.query(LOCK_SQL, [[...new Set(locks)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String)]);
    await checkFence(client, batch.fence, this.#fences);
    let current: Map<string, EntityVersion>;
    if (batch.idempotencyKey !== undefined) {
      const { rows } = await client.query<LatestRow & { result: unknown }>(PRIOR_AND_LATEST_SQL, [visibleTenantKeys(tk), ids, tk, batch.idempotencyKey]);
      const prior = rows.find((r) => r.entity_id === null);
      if (prior !== undefined) return readIdempotentResult(prior.result, { idempotencyKey: batch.idempotencyKey });
      current = latestVersions(rows);
    } else {
      current = ids.length > 0 ? await this.#latest(client, visibleTenantKeys(tk), ids) : new Map<string, EntityVersion>();
    }
    const cc = commitContext(ctx, tk, batch);
    const plan = planCommit(cc, (key, id): CurrentVersion | null => current.get(`${key}/${id}`) ?? null);
    if (plan.supersede.length > 0) await client.query(SUPERSEDE_SQL, [tk, plan.supersede]);
    if (plan.versions.length > 0) {
      const vs = plan.versions;
      await client.query(INSERT_SQL, [
        tk,
        vs.map((p) => p.version.entityId),
        vs.map((p) => p.version.version),
        vs.map((p) => p.version.entityTypeId),
        vs.map((p) => p.latest),
        vs.map((p) => p.version.deleted),
        vs.map((p) => JSON.stringify(p.version)),
      ]);
    }
    await applyReadModelOps(client, tk, batch.readModelOps, cc.createdAt);
    if (batch.idempotencyKey !== undefined) {
      await client.query(IDEMPOTENCY_PUT_SQL, [tk, batch.idempotencyKey, JSON.stringify(plan.result), cc.createdAt]);
    }
    // Last, one statement for outbox and journal: the tenant's journal head stays locked only from here to COMMIT.
    await appendOutboxAndJournal(client, tk, plan.events, plan.events.map((e) => JSON.stringify(e)));
    return plan.result;
  }

  commit(ctx: TenantContext, batch: CommitBatch): Promise<CommitResult> {
    return this.#core.run(async () => {
      const tk = await this.#core.scope(ctx);
      const prepared = prepareBatch(batch, this.#core.limits);
      const result = await this.#core.transaction((client) => this.#commitInTx(client, tk, ctx, prepared));
      if (result.applied && result.events.length > 0) this.#appended.notify();
      return result;
    });
  }

  purgeIdempotency(before: string, limit: number): Promise<number> {
    return this.#core.run(async () => {
      const { rowCount } = await this.#core.pool.query(
        'DELETE FROM idempotency WHERE (tenant_key, key) IN (SELECT tenant_key, key FROM idempotency WHERE created_at < $1 ORDER BY created_at LIMIT $2)',
        [before, purgeBatch(limit)],
      );
      return rowCount ?? 0;
    });
  }

  committed(ctx: TenantContext, idempotencyKey: string): Promise<boolean> {
    return this.#core.run(async () => {
      const tk = await this.#core.scope(ctx);
      const { rows } = await this.#core.pool.query(IDEMPOTENCY_HAS_SQL, [tk, idempotencyKey]);
      return rows.length > 0;
    });
  }

  async put(...[ctx, write, options]: Parameters<EntityStore['put']>): Promise<EntityVersion> {
    const result = await this.commit(ctx, { writes: [write], ...options });
    return result.versions[0]!;
  }

  get(...[ctx, entityId, options]: Parameters<EntityStore['get']>): Promise<EntityVersion> {
    return this.#core.run(async () => (await this.#get(ctx, entityId, options)) ?? throwError(entityNotFound(entityId, options?.version)));
  }

  find(...[ctx, entityId, options]: Parameters<EntityStore['find']>): Promise<EntityVersion | null> {
    return this.#core.run(() => this.#get(ctx, entityId, options));
  }

  /** {@link get} answering null where it answers NOT_FOUND: one path for both, no error built on a miss. */
  async #get(...[ctx, entityId, options]: Parameters<EntityStore['get']>): Promise<EntityVersion | null> {
    const tk = await this.#core.scope(ctx);
    const id = prepareEntityId(entityId);
    const found = await this.#find(tk, id);
    if (found === undefined) return null;
    const version = options?.version;
    if (version === undefined || version === found.latest.version) return found.latest;
    const rows = Number.isInteger(version) && Math.abs(version) < 2 ** 31 ? (await this.#core.pool.query<{ doc: unknown }>(VERSION_SQL, [found.key, id, version])).rows : [];
    const row = rows[0];
    return row === undefined ? null : readVersion(row.doc, { entityId: id, version });
  }

  history(...[ctx, entityId, options]: Parameters<EntityStore['history']>): ReturnType<EntityStore['history']> {
    return this.#core.run(async () => {
      const tk = await this.#core.scope(ctx);
      const id = prepareEntityId(entityId);
      const { key } = await this.#owner(tk, id);
      const h = normaliseHistory(id, options);
      const keys = pgKeys([], 'doc', {}, [{ expr: 'version', cast: 'integer', dir: -1, notNull: true }]);
      const after = h.cursor === undefined ? undefined : decodeCursor(h.cursor, h.hash, keys.length);
      const p = new Params();
      const where = [`tenant_key = ${p.add(key)}`, `entity_id = ${p.add(id)}`];
      const rows = await runKeyset(
        this.#core.pool,
        { table: 'entity_versions', columns: ['doc'], where, params: p.values, keys, after, limit: h.limit, acceptsAll: true },
        (row) => readVersion(row.doc, { entityId: id, version: row.k0 }),
      );
      return toPage(rows, h.limit, h.hash, (r) => r.keys, (r) => r.item);
    });
  }

  query(ctx: TenantContext, query: EntityQuery): ReturnType<EntityStore['query']> {
    return this.#core.run(async () => this.#query(await this.#core.scope(ctx), query));
  }

  async #query(tk: string, query: EntityQuery, capture?: QueryPlan): Promise<Page<EntityVersion>> {
    const q = normaliseEntityQuery(query, this.#core.limits.filter);
    const keys = pgKeys(q.sort, 'doc', { entityId: { expr: 'entity_id', cast: 'text' }, version: { expr: 'version', cast: 'integer' } }, [
      { expr: 'entity_id', cast: 'text', dir: 1, notNull: true },
      { expr: 'tenant_key', cast: 'text', dir: 1, notNull: true },
    ]);
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, q.hash, keys.length);
    const acceptsAll = q.compiled.acceptsAll;
    const scan = q.compiled.scan();
    const p = new Params();
    const where = ['is_latest', `entity_type_id = ${p.add(q.entityTypeId)}`, `tenant_key = ANY(${p.add(visibleTenantKeys(tk), 'text[]')})`];
    if (!q.includeDeleted) where.push('NOT deleted');
    return this.#indexes.run({ target: 'entities', scope: q.entityTypeId, tenantKey: tk }, q.filter, capture, p, async (probe, onSql) => {
      const rows = await runKeyset(
        this.#core.pool,
        {
          table: 'entity_versions',
          columns: acceptsAll ? ['doc'] : ['doc', 'pg_column_size(doc) AS bytes'],
          where: probe === null ? where : [...where, probe],
          params: p.values,
          keys,
          after,
          limit: q.limit,
          acceptsAll,
        },
        (row) => {
          // Filter the stored JSON first and validate only the matches: most of a scan's rows are dropped.
          if (!acceptsAll && !scan.test(row.doc, row.bytes as number)) return undefined;
          return readVersion(row.doc, { entityTypeId: q.entityTypeId });
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
      list: (ctx) => core.run(async () => idx.list(await core.scope(ctx))),
      add: (ctx, spec) => core.run(async () => idx.add(await core.scope(ctx), parseIndexSpec(spec))),
      drop: (ctx, name) => core.run(async () => idx.drop(await core.scope(ctx), name)),
      slowQueries: (ctx, limit) => core.run(async () => idx.slowQueries(await core.scope(ctx), limit)),
      explain: (ctx, req) =>
        core.run(async () => {
          const tk = await core.scope(ctx);
          const r = parseExplainRequest(req);
          const plan = emptyPlan(r.target, r.scope, r.filter);
          const q = { ...(r.filter === undefined ? {} : { filter: r.filter }), ...(r.sort === undefined ? {} : { sort: r.sort }), ...(r.limit === undefined ? {} : { limit: r.limit }) };
          try {
            if (r.target === 'entities') await this.#query(tk, { entityTypeId: r.scope, ...q }, plan);
            else await queryReadModel(core, idx, tk, r.scope, q, plan);
          } catch (err) {
            // A refused query is still explained: the plan says why (error) and what would help.
            if (!(err instanceof UeeError) || err.code !== 'QUERY_TOO_COSTLY') throw err;
          }
          return plan;
        }),
    };
  }

  dueTimers(now: string, limit: number): Promise<EntityVersion[]> {
    return this.#core.run(async () => {
      const n = pageSize(limit);
      const { rows } = await this.#core.pool.query<{ doc: unknown }>(TIMER_DUE_SQL, [now, n]);
      return rows.map((r) => readVersion(r.doc, { entityTypeId: 'uee.timer' }));
    });
  }

  latestOfType(entityTypeId: string, limit: number, after?: { entityId: string; tenantId: string | null }): Promise<EntityVersion[]> {
    return this.#core.run(async () => {
      const n = pageSize(limit);
      const { rows } = await this.#core.pool.query<{ doc: unknown }>(LATEST_OF_TYPE_SQL, [entityTypeId, after?.entityId ?? '', after === undefined ? '' : (after.tenantId ?? GLOBAL_TENANT_KEY), n]);
      return rows.map((r) => readVersion(r.doc, { entityTypeId }));
    });
  }

  headsOfType(entityTypeId: string, limit: number, after?: { entityId: string; tenantId: string | null }): Promise<EntityHead[]> {
    return this.#core.run(async () => {
      const n = pageSize(limit);
      const { rows } = await this.#core.pool.query<{ entity_id: string; tenant_key: string; version: number }>(HEADS_OF_TYPE_SQL, [entityTypeId, after?.entityId ?? '', after === undefined ? '' : (after.tenantId ?? GLOBAL_TENANT_KEY), n]);
      return rows.map((r) => ({ entityId: r.entity_id, tenantId: tenantIdOfKey(r.tenant_key), version: Number(r.version) }));
    });
  }

  viewAcrossTenants(view: string, limit: number, after?: { tenantId: string | null; id: string }): Promise<ScopedDoc[]> {
    return this.#core.run(async () => {
      const n = crossTenantRead(view, limit);
      const { rows } = await this.#core.pool.query<{ tenant_key: string; id: string; doc: JsonObject }>(VIEW_ACROSS_TENANTS_SQL, [view, after === undefined ? '' : (after.tenantId ?? GLOBAL_TENANT_KEY), after?.id ?? '', n]);
      return rows.map((r) => ({ tenantId: tenantIdOfKey(r.tenant_key), id: r.id, doc: r.doc }));
    });
  }

  identity(): Promise<string> {
    return this.#core.run(async () => {
      const { rows } = await this.#core.pool.query<{ uid: string }>('SELECT uid FROM store_identity WHERE id = 1');
      return `postgres:${rows[0]!.uid}`;
    });
  }

  async close(): Promise<void> {
    if (this.#core.closed) return;
    await this.#indexes.flush().catch(() => undefined);
    this.#core.closed = true;
    try {
      await this.#core.pool.end();
    } catch (err) {
      this.#core.logger.warn('closing the PostgreSQL pool failed', { error: pgError(err, false).message });
    }
  }
}

/**
 * Connects to PostgreSQL, creates the schema and tables if missing, and opens the entity store.
 * `CONFIG_INVALID` for a bad URL, schema name or pool size; `BACKEND_UNAVAILABLE` when the server
 * does not answer (or refuses the connection).
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<EntityStore> {
  const limits = normaliseLimits(options.limits);
  const logger = options.logger ?? silentLogger;
  const schema = options.schema ?? 'uee';
  if (!SCHEMA_NAME.test(schema)) {
    throw new UeeError('CONFIG_INVALID', `"${schema.slice(0, 80)}" is not a valid PostgreSQL schema name for the store`, {
      details: { setting: URL_SETTING, schema: schema.slice(0, 80) },
      hint: 'use a lower-case identifier such as uee or uee_test_1 (?schema=name in the store URL)',
    });
  }
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) {
    throw new UeeError('CONFIG_INVALID', `PostgreSQL pool size must be 1..1000, got ${String(poolSize)}`, { details: { setting: 'poolSize' }, hint: 'leave poolSize out for the default of 10' });
  }
  let url: URL;
  try {
    url = new URL(options.url);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error('not a postgres URL');
  } catch (cause) {
    throw new UeeError('CONFIG_INVALID', 'the PostgreSQL store URL is invalid', {
      details: { setting: URL_SETTING },
      hint: 'use a URL like postgres://user@127.0.0.1:5432/uee',
      cause,
    });
  }
  // Server settings given in the URL (`?options=-c x=y`, as libpq takes them) are kept beside the
  // schema's search_path (pg lets the URL's own `options` override the pool's, so it is taken out).
  const serverOptions = url.searchParams.get('options')?.trim();
  const connectionUrl = new URL(url.href);
  connectionUrl.searchParams.delete('options');
  const pool = new pg.Pool({
    connectionString: connectionUrl.href,
    max: poolSize,
    options: `${serverOptions ? `${serverOptions} ` : ''}-c search_path=${quoteSchema(schema)}`,
    connectionTimeoutMillis: 5000,
    application_name: 'uee',
  });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', (err) => logger.warn('PostgreSQL connection error', { error: err.message }));
  try {
    await applySchema(pool, schema);
  } catch (err) {
    await pool.end().catch(() => undefined);
    const mapped = pgError(err, false);
    if (mapped.code === 'BACKEND_UNAVAILABLE' || mapped.code === 'INTERNAL') {
      throw new UeeError('BACKEND_UNAVAILABLE', `cannot open the PostgreSQL store at ${url.host}${url.pathname}: ${mapped.message}`, {
        details: { setting: URL_SETTING },
        hint: 'start PostgreSQL, create the database, or fix the store URL',
        retryable: true,
        cause: err,
      });
    }
    throw mapped;
  }
  logger.debug('postgres store open', { host: url.host, database: url.pathname.slice(1), schema });
  return new PostgresStore(new PgCore(pool, limits, logger));
}
