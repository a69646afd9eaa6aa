import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { openPostgresStore } from '../../src/store/index.js';
import { queryConformance } from './query-conformance.js';
import { queryStatsPersistence } from './query-stats-persistence.js';
import { TEST_POSTGRES_URL, dropSchemas, randomSchema } from './postgres-helpers.js';

// A random schema per store; all of them are dropped at the end.
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

queryConformance(
  'postgres',
  (limits) => {
    const schema = randomSchema('q');
    schemas.push(schema);
    return openPostgresStore({ url: TEST_POSTGRES_URL, schema, ...(limits === undefined ? {} : { limits }) });
  },
  { stringRanges: false },
);

describe('postgres query stats', () => {
  const schema = randomSchema('qs');
  schemas.push(schema);
  queryStatsPersistence(() => openPostgresStore({ url: TEST_POSTGRES_URL, schema, limits: { slowQueryMs: 1_000_000, filter: { maxDocumentsExamined: 100 } } }));
});

describe('postgres index list cache', () => {
  it('QPG-1 an index dropped through another pool changes no result, and explain shows it gone at once', async () => {
    const schema = randomSchema('qc');
    schemas.push(schema);
    const a = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    const b = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    onTestFinished(() => Promise.all([a.close(), b.close()]).then(() => undefined));
    const ctx = { tenantId: 'acme', actor: 'user:alice' };
    await a.tenants.create('acme');
    await a.commit(ctx, { readModelOps: [1, 2, 3].map((n) => ({ op: 'upsert' as const, view: 'v', id: `d${n}`, doc: { k: n % 2 } })) });
    const query = async () => (await b.readModels.query(ctx, 'v', { filter: { k: 1 } })).items.map((d) => d.id);
    const info = await a.indexes!.add(ctx, { target: 'readModel', scope: 'v', field: 'k' });
    expect(await query()).toEqual(['d1', 'd3']);
    expect((await b.indexes!.explain(ctx, { target: 'readModel', scope: 'v', filter: { k: 1 } })).index).toBe(info.name);
    expect(await a.indexes!.drop(ctx, info.name)).toBe(true);
    expect(await query()).toEqual(['d1', 'd3']);
    expect((await b.indexes!.explain(ctx, { target: 'readModel', scope: 'v', filter: { k: 1 } })).access).toBe('scan');
  });
});
