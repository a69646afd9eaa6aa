// Slow-query log and index use counts survive a restart (issue 17): the same test on every SQL adapter.
import { expect, it } from 'vitest';
import type { EntityStore } from '../../src/store/index.js';
import { tenantCtx } from '../helpers.js';

const A = tenantCtx('acme');
const B = tenantCtx('globex');

/** `open()` opens the same database every time it is called. */
export function queryStatsPersistence(open: () => Promise<EntityStore>): void {
  it('QS01 the slow-query log and index use counts survive closing and reopening the store; a tenant sees only its own', async () => {
    const first = await open();
    await first.tenants.create('acme');
    await first.tenants.create('globex');
    await first.commit(A, { readModelOps: Array.from({ length: 300 }, (_, i) => ({ op: 'upsert' as const, view: 'orders', id: `o${i}`, doc: { customer: `c${i % 30}` } })) });
    await first.indexes!.add(A, { target: 'readModel', scope: 'orders', field: 'customer' });
    for (let i = 0; i < 40; i++) await first.readModels.query(A, 'orders', { filter: { customer: `c${i % 30}` } });
    // Refused queries (over maxDocumentsExamined: 100) are always logged, whatever they took.
    for (const n of [1, 2]) {
      const refused = await first.readModels.query(A, 'orders', { filter: { missing: n } }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'QUERY_TOO_COSTLY' });
    }
    const slowBefore = await first.indexes!.slowQueries(A);
    // both refused runs, one shape
    expect(slowBefore).toHaveLength(1);
    expect(slowBefore[0]).toMatchObject({ count: 2, error: 'QUERY_TOO_COSTLY', filter: { missing: expect.any(Number) } });
    const usesBefore = (await first.indexes!.list(A))[0]!.uses;
    expect(usesBefore).toBe(40);
    await first.close();

    const second = await open();
    expect((await second.indexes!.list(A))[0]!.uses).toBe(40);
    const slowAfter = await second.indexes!.slowQueries(A);
    expect(slowAfter.length).toBe(slowBefore.length);
    expect(slowAfter).toEqual(slowBefore);
    expect(await second.indexes!.slowQueries(B)).toEqual([]);
    await second.readModels.query(A, 'orders', { filter: { customer: 'c1' } });
    expect((await second.indexes!.list(A))[0]!.uses).toBe(41);
    await second.close();
  });
}
