import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/index.js';
import { CONFIG_CHANGES_KEPT } from '../../src/store/port.js';
import { tenantCtx } from '../helpers.js';
import { expectCode, storeConformance } from './conformance.js';
import { TEST_POSTGRES_URL, dropSchemas, otherSpelling, randomSchema } from './postgres-helpers.js';

// A random schema per store, so tests never share data; all of them are dropped at the end.
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));
function open(): ReturnType<typeof openPostgresStore> {
  const schema = randomSchema();
  schemas.push(schema);
  return openPostgresStore({ url: TEST_POSTGRES_URL, schema });
}

storeConformance('postgres', open);

describe('postgres store specifics', () => {
  it('PG-ID the identity is the schema\'s: the same from every address that reaches it and from concurrent first opens, another schema\'s differs', async () => {
    const schema = randomSchema();
    schemas.push(schema);
    // Both open the new schema at once: the first open's row is the one both read.
    const [a, b] = await Promise.all([openPostgresStore({ url: TEST_POSTGRES_URL, schema }), openPostgresStore({ url: otherSpelling(TEST_POSTGRES_URL), schema })]);
    const id = await a.identity();
    expect(await b.identity()).toBe(id);
    await a.close();
    await b.close();
    const reopened = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    expect(await reopened.identity()).toBe(id);
    await reopened.close();
    // A schema written before identities (no table): given one at its next open, kept from then on.
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    await client.query(`DROP TABLE "${schema}".store_identity`);
    await client.end();
    const upgraded = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    const given = await upgraded.identity();
    expect(given).toMatch(/^postgres:[0-9a-f-]{36}$/);
    await upgraded.close();
    const again = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    expect(await again.identity()).toBe(given);
    await again.close();
  });

  it('PG01 data survives closing and reopening the same schema', async () => {
    const schema = randomSchema();
    schemas.push(schema);
    const ctx = tenantCtx('acme');
    const first = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    await first.tenants.create('acme');
    const v = await first.put(ctx, { entityTypeId: 'Task', attributes: { keep: true } });
    await first.readModels.upsert(ctx, 'board', 'x', { n: 1 });
    await first.config.setTenant(ctx, { a: 1 });
    await first.close();
    const second = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    expect((await second.get(ctx, v.entityId)).attributes).toEqual({ keep: true });
    expect((await second.readModels.get(ctx, 'board', 'x')).doc).toEqual({ n: 1 });
    expect(await second.config.getTenant(ctx)).toEqual({ a: 1 });
    expect(await second.outbox.size()).toBe(1);
    await second.close();
  });

  it('PG02 bad settings are CONFIG_INVALID; an unreachable server is BACKEND_UNAVAILABLE', async () => {
    await expectCode(openPostgresStore({ url: TEST_POSTGRES_URL, schema: 'Bad-Schema;drop' }), 'CONFIG_INVALID');
    await expectCode(openPostgresStore({ url: 'mysql://x/y' }), 'CONFIG_INVALID');
    await expectCode(openPostgresStore({ url: TEST_POSTGRES_URL, poolSize: 0 }), 'CONFIG_INVALID');
    await expectCode(openPostgresStore({ url: TEST_POSTGRES_URL, schema: randomSchema(), limits: { maxBatchSize: 0 } }), 'CONFIG_INVALID');
    const err = await expectCode(openPostgresStore({ url: 'postgres://postgres@127.0.0.1:1/test', schema: randomSchema() }), 'BACKEND_UNAVAILABLE');
    expect(err.retryable).toBe(true);
  });

  it('PG03 a string holding U+0000 is VALIDATION_FAILED and a commit failing half-way writes nothing', async () => {
    const store = await open();
    await store.tenants.create('acme');
    const ctx = tenantCtx('acme');
    await expectCode(store.commit(ctx, { writes: [{ entityTypeId: 'Task', attributes: { ok: 1 } }, { entityTypeId: 'Task', attributes: { s: 'a\u0000b' } }] }), 'VALIDATION_FAILED');
    // Fails at the read-model statement, after the versions and before the outbox are written:
    // the transaction must take the versions back.
    await expectCode(store.commit(ctx, { writes: [{ entityTypeId: 'Task', attributes: { ok: 2 } }], readModelOps: [{ op: 'upsert', view: 'board', id: 'x', doc: { s: '\u0000' } }] }), 'VALIDATION_FAILED');
    await expectCode(store.commit(ctx, { idempotencyKey: 'k\u0000', writes: [{ entityTypeId: 'Task', attributes: { ok: 3 } }] }), 'VALIDATION_FAILED');
    expect((await store.query(ctx, { entityTypeId: 'Task' })).items).toEqual([]);
    expect((await store.readModels.query(ctx, 'board')).items).toEqual([]);
    expect(await store.outbox.size()).toBe(0);
    await store.close();
  });

  it('PG04 queries evaluated here stay within the filter budget (QUERY_TOO_COSTLY past maxDocumentsExamined)', async () => {
    const schema = randomSchema();
    schemas.push(schema);
    const store = await openPostgresStore({ url: TEST_POSTGRES_URL, schema, limits: { filter: { maxDocumentsExamined: 50 } } });
    await store.tenants.create('acme');
    const ctx = tenantCtx('acme');
    await store.commit(ctx, { writes: Array.from({ length: 120 }, (_, i) => ({ entityTypeId: 'Task', attributes: { i } })) });
    for (let i = 0; i < 120; i++) await store.readModels.upsert(ctx, 'board', `d${i}`, { i });
    const err = await expectCode(store.query(ctx, { entityTypeId: 'Task', filter: { 'attributes.i': 119 } }), 'QUERY_TOO_COSTLY');
    expect(err.details).toMatchObject({ limit: 'maxDocumentsExamined' });
    await expectCode(store.readModels.query(ctx, 'board', { filter: { i: 119 } }), 'QUERY_TOO_COSTLY');
    expect((await store.query(ctx, { entityTypeId: 'Task', filter: { 'attributes.i': { $gte: 0 } }, limit: 10 })).items).toHaveLength(10);
    expect((await store.query(ctx, { entityTypeId: 'Task', limit: 1000 })).items).toHaveLength(120);
    await store.close();
  });

  it('PG05 a settings write by an older UEE (no tenant recorded), a forgotten one and concurrent writers: changesSince stays exact or answers null', async () => {
    const schema = randomSchema();
    schemas.push(schema);
    const store = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    const raw = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await raw.connect();
    try {
      const tenants = Array.from({ length: 12 }, (_, i) => `t${i}`);
      for (const t of tenants) await store.tenants.create(t);
      const r0 = await store.config.revision();
      await store.config.setPlugin(tenantCtx('t0'), 'mailer', { n: 1 });
      // What a UEE from before the change log writes: the settings and the revision's bump only.
      await raw.query(`WITH bump AS (INSERT INTO "${schema}".config_revision (id, rev) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET rev = config_revision.rev + 1)
        INSERT INTO "${schema}".plugin_config (tenant_key, plugin_name, settings) VALUES ('t1', 'mailer', '{}') ON CONFLICT (tenant_key, plugin_name) DO UPDATE SET settings = excluded.settings`);
      expect(await store.config.changesSince(r0, 10)).toEqual({ revision: r0 + 2, tenants: null });
      // Concurrent writers (the pool's connections): every revision is recorded with its tenant.
      await Promise.all(tenants.map((t, i) => store.config.setPlugin(tenantCtx(t), 'mailer', { i })));
      const after = await store.config.changesSince(r0 + 2, 100);
      expect(after.revision).toBe(r0 + 2 + tenants.length);
      expect([...after.tenants!].sort()).toEqual([...tenants].sort());
      // Only the last CONFIG_CHANGES_KEPT writes are remembered.
      for (let i = 0; i < CONFIG_CHANGES_KEPT + 5; i++) await store.config.setTenant(tenantCtx(tenants[i % 2]!), { i });
      const rev = await store.config.revision();
      const { rows } = await raw.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".config_changes`);
      expect(Number(rows[0]!.n)).toBe(CONFIG_CHANGES_KEPT);
      expect(await store.config.changesSince(rev - CONFIG_CHANGES_KEPT, CONFIG_CHANGES_KEPT)).toEqual({ revision: rev, tenants: ['t1', 't0'] });
      expect(await store.config.changesSince(rev - CONFIG_CHANGES_KEPT - 1, CONFIG_CHANGES_KEPT + 1)).toEqual({ revision: rev, tenants: null });
    } finally {
      await raw.end();
      await store.close();
    }
  });
});
