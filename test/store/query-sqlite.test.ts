import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import { tempDir } from '../helpers.js';
import { queryConformance } from './query-conformance.js';
import { queryStatsPersistence } from './query-stats-persistence.js';

const dir = tempDir('uee-query');
afterAll(() => dir[Symbol.dispose]());
let n = 0;

queryConformance('sqlite', (limits) => openSqliteStore({ path: join(dir.path, `q-${n++}.db`), ...(limits === undefined ? {} : { limits }) }));

describe('sqlite query stats', () => {
  const path = join(dir.path, 'stats.db');
  queryStatsPersistence(() => openSqliteStore({ path, limits: { slowQueryMs: 1_000_000, filter: { maxDocumentsExamined: 100 } } }));
});

describe('sqlite index list cache', () => {
  it('QSQL-1 a query never names an index another connection dropped, and uses one it added (the cached list follows the schema version)', async () => {
    const path = join(dir.path, 'two-handles.db');
    const a = await openSqliteStore({ path });
    const b = await openSqliteStore({ path });
    onTestFinished(() => Promise.all([a.close(), b.close()]).then(() => undefined));
    const ctx = { tenantId: 'acme', actor: 'user:alice' };
    await a.tenants.create('acme');
    await a.commit(ctx, { readModelOps: [1, 2, 3].map((n) => ({ op: 'upsert' as const, view: 'v', id: `d${n}`, doc: { k: n % 2 } })) });
    const query = async () => (await b.readModels.query(ctx, 'v', { filter: { k: 1 } })).items.map((d) => d.id);
    expect(await query()).toEqual(['d1', 'd3']);
    const info = await a.indexes!.add(ctx, { target: 'readModel', scope: 'v', field: 'k' });
    expect(await query()).toEqual(['d1', 'd3']);
    expect((await b.indexes!.list(ctx))[0]).toMatchObject({ name: info.name, uses: 1 });
    expect(await a.indexes!.drop(ctx, info.name)).toBe(true);
    expect(await query()).toEqual(['d1', 'd3']);
    expect((await b.indexes!.explain(ctx, { target: 'readModel', scope: 'v', filter: { k: 1 } })).access).toBe('scan');
  });
});
