// One suite for queries pushed into a store through indexes: every filter must return exactly what
// the reference evaluator (compileFilter) returns on the same documents, with and without an index,
// on every adapter that has `indexes`. Tenants "acme" and "globex" are registered per test.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject, TenantContext } from '../../src/core/index.js';
import { compileFilter, probesOf, type EntityStore, type StoreLimitsInput } from '../../src/store/index.js';
import { tenantCtx } from '../helpers.js';
import { expectCode } from './conformance.js';

const A: TenantContext = tenantCtx('acme', 'user:alice');
const B: TenantContext = tenantCtx('globex', 'user:bob');

/** Documents with the edge cases a translation can get wrong. */
export const CORPUS: JsonObject[] = [
  { status: 'open', n: 1, tags: ['a', 'b'], owner: { name: 'ann', age: 30 } },
  { status: 'closed', n: 2, tags: ['b'], owner: { name: 'bob', age: 41 } },
  { status: 'open', n: 2.5, tags: [], owner: { name: 'cy' } },
  { status: null, n: '2', owner: null },
  { n: true, tags: 'a', owner: [{ name: 'ann', age: 30 }, { name: 'dee', age: 7 }] },
  { status: ['open', 'late'], n: [1, 5, 9], owner: { name: ['eve', 'fay'] } },
  { status: 'Open', n: -3, owner: { name: 'ann', age: '30' } },
  { status: 'ópen', n: 0, owner: { age: null } },
  { status: '😀', n: 1e21, owner: { name: '\uffff' } },
  { status: '', n: false, owner: 'ann' },
  { status: { v: 'open' }, n: { v: 1 }, owner: { name: { first: 'ann' } } },
  { status: 'open', n: 10, owner: { name: 'gus', age: 30.0 }, extra: [[1, 2], [3]] },
  { status: 'closed', n: 1, owner: { name: 'ann', age: 29.5 }, deep: { a: { b: [{ c: 1 }, { c: 2 }] } } },
  { status: 'open', deep: { a: { b: { c: 1 } } }, n: null },
  { status: 'open', deep: { a: [{ b: { c: 2 } }] } },
];

/** Filters: indexable probes, probes the evaluator must narrow, and constructs never pushed down. */
export const FILTERS: JsonObject[] = [
  { status: 'open' },
  { status: { $eq: 'closed' } },
  { status: null },
  { status: { $in: ['open', 'closed', null] } },
  { status: { $gte: null } },
  { status: { $gt: 'm' } },
  { status: { $lt: 'o' } },
  { status: { $gte: 'open', $lte: 'openz' } },
  { status: { $gt: '\ud83d' } },
  { n: 1 },
  { n: 2 },
  { n: true },
  { n: false },
  { n: 0 },
  { n: { $gt: 1 } },
  { n: { $gte: 1, $lt: 5 } },
  { n: { $lte: 0 } },
  { n: { $gt: 1e20 } },
  { n: { $in: [1, '2', true] } },
  { 'owner.name': 'ann' },
  { 'owner.name': { $in: ['eve', 'gus'] } },
  { 'owner.age': 30 },
  { 'owner.age': { $gt: 29 } },
  { 'owner.age': null },
  { 'owner.name': { $gt: 'b' } },
  { 'deep.a.b.c': 1 },
  { 'deep.a.b.c': { $gte: 2 } },
  { tags: 'a' },
  { tags: 'b', status: 'open' },
  { $and: [{ status: 'open' }, { n: { $gt: 1 } }] },
  { status: 'open', 'owner.name': { $regex: '^g' } },
  { status: { $ne: 'open' } },
  { $or: [{ status: 'closed' }, { n: 10 }] },
  { status: { $exists: false } },
  { 'owner.name': { $not: { $eq: 'ann' } } },
  { n: { $type: 'string' } },
];

/** Fields the suite indexes (every field the filters use). */
const FIELDS = ['status', 'n', 'owner.name', 'owner.age', 'deep.a.b.c', 'tags'];

const expected = (filter: JsonObject): string[] => {
  const compiled = compileFilter(filter);
  return CORPUS.map((doc, i) => ({ doc, id: `d${String(i).padStart(2, '0')}` }))
    .filter(({ doc }) => compiled.matches(doc))
    .map(({ id }) => id);
};

/** Runs the query-pushdown conformance suite against the adapter `open` builds. */
export function queryConformance(
  name: string,
  open: (limits?: StoreLimitsInput) => Promise<EntityStore>,
  options: { /** Whether string ranges are answered by the index (else they scan). */ stringRanges: boolean } = { stringRanges: true },
): void {
  const pushed = (f: JsonObject): boolean => probesOf(f).some((p) => options.stringRanges || p.kind === 'eq' || typeof p.value === 'number');
  describe(`${name} query conformance (indexes, explain, slow queries)`, () => {
    let store: EntityStore;
    const opened: EntityStore[] = [];
    const openStore = async (limits?: StoreLimitsInput): Promise<EntityStore> => {
      const s = await open(limits);
      opened.push(s);
      await s.tenants.create('acme', 'Acme');
      await s.tenants.create('globex', 'Globex');
      return s;
    };
    beforeEach(async () => {
      store = await openStore();
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    async function load(s: EntityStore, ctx: TenantContext): Promise<void> {
      await s.commit(ctx, {
        readModelOps: CORPUS.map((doc, i) => ({ op: 'upsert' as const, view: 'board', id: `d${String(i).padStart(2, '0')}`, doc })),
        writes: CORPUS.map((doc, i) => ({ entityId: `d${String(i).padStart(2, '0')}`, entityTypeId: 'Card', attributes: doc })),
      });
    }
    const viewIds = async (s: EntityStore, filter: JsonObject, limit = 2): Promise<string[]> => {
      const out: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.readModels.query(A, 'board', { filter, limit, ...(cursor === undefined ? {} : { cursor }) });
        out.push(...page.items.map((d) => d.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      return out;
    };
    const entityIds = async (s: EntityStore, filter: JsonObject): Promise<string[]> => {
      const prefixed = Object.fromEntries(Object.entries(filter).map(([k, v]) => (k.startsWith('$') ? [k, (v as JsonObject[]).map((p) => Object.fromEntries(Object.entries(p).map(([f, x]) => [`attributes.${f}`, x])))] : [`attributes.${k}`, v])));
      const page = await s.query(A, { entityTypeId: 'Card', filter: prefixed, limit: 1000 });
      return page.items.map((v) => v.entityId);
    };

    it('QC01 every filter returns what the reference evaluator returns, without and with indexes, on views and entities', async () => {
      const store = await openStore({ maxIndexesPerTenant: 16 });
      await load(store, A);
      const idx = store.indexes!;
      const before = new Map<string, [string[], string[]]>();
      let used = 0;
      for (const f of FILTERS) before.set(JSON.stringify(f), [await viewIds(store, f), await entityIds(store, f)]);
      for (const field of FIELDS) {
        await idx.add(A, { target: 'readModel', scope: 'board', field });
        await idx.add(A, { target: 'entities', scope: 'Card', field: `attributes.${field}` });
      }
      for (const f of FILTERS) {
        const want = expected(f);
        const [viewBefore, entitiesBefore] = before.get(JSON.stringify(f))!;
        expect(viewBefore, `view scan ${JSON.stringify(f)}`).toEqual(want);
        expect(entitiesBefore, `entity scan ${JSON.stringify(f)}`).toEqual(want);
        expect(await viewIds(store, f), `view index ${JSON.stringify(f)}`).toEqual(want);
        expect(await entityIds(store, f), `entity index ${JSON.stringify(f)}`).toEqual(want);
        const plan = await idx.explain(A, { target: 'readModel', scope: 'board', filter: f });
        if (pushed(f)) used += 1;
        expect(plan.access, `access ${JSON.stringify(f)}`).toBe(pushed(f) ? 'index' : 'scan');
      }
      expect(used).toBeGreaterThan(20);
    });

    it('QC02 explain shows the probe once the suggested index exists, and the index counts its uses', async () => {
      await load(store, A);
      const idx = store.indexes!;
      const q = { target: 'readModel' as const, scope: 'board', filter: { 'owner.name': 'ann', n: { $gt: 0 } } };
      const before = await idx.explain(A, q);
      expect(before).toMatchObject({ access: 'scan', index: null, rowsReturned: 2, suggestedIndex: { target: 'readModel', scope: 'board', field: 'owner.name' } });
      expect(before.rowsExamined).toBe(CORPUS.length);
      expect(before.shape).toEqual({ 'owner.name': '<string>', n: { $gt: '<number>' } });
      const info = await idx.add(A, before.suggestedIndex!);
      const after = await idx.explain(A, q);
      expect(after).toMatchObject({ access: 'index', index: info.name, probe: 'owner.name IN ("ann")', rowsReturned: 2, suggestedIndex: null });
      expect(after.rowsExamined).toBeLessThan(before.rowsExamined);
      expect(after.backendPlan.length).toBeGreaterThan(0);
      // PostgreSQL's cost model may read 15 rows sequentially; SQLite is forced onto the index.
      if (name === 'sqlite') expect(after.backendPlan.join(' ')).toContain(info.name);
      const listed = await idx.list(A);
      expect(listed.map((i) => [i.name, i.field, i.uses])).toEqual([[info.name, 'owner.name', 1]]);
    });

    it('QC03 indexes, plans and slow queries are per tenant: another tenant neither sees nor uses nor drops them', async () => {
      // A scan of more than 10 documents fails, and a failed query is logged whatever its time, so
      // what each tenant's log holds does not depend on the machine's load.
      const store = await openStore({ filter: { maxDocumentsExamined: 10 } });
      await load(store, A);
      await load(store, B);
      const idx = store.indexes!;
      const onlyA = { status: 'open', marker: 'acme-only' };
      await expectCode(store.readModels.query(A, 'board', { filter: onlyA }), 'QUERY_TOO_COSTLY');
      expect((await idx.slowQueries(A)).some((q) => JSON.stringify(q.filter) === JSON.stringify(onlyA))).toBe(true);
      const info = await idx.add(A, { target: 'readModel', scope: 'board', field: 'status' });
      expect(await idx.list(B)).toEqual([]);
      expect(await idx.drop(B, info.name)).toBe(false);
      const plan = await idx.explain(B, { target: 'readModel', scope: 'board', filter: { status: 'open' } });
      expect(plan).toMatchObject({ access: 'scan', index: null });
      expect((await idx.explain(A, { target: 'readModel', scope: 'board', filter: { status: 'open' } })).access).toBe('index');
      // B's log holds B's own query (the explain above) and nothing of A's.
      expect((await idx.slowQueries(B)).map((q) => q.filter)).toEqual([{ status: 'open' }]);
      expect((await idx.list(A)).length).toBe(1);
      expect(await idx.drop(A, info.name)).toBe(true);
      expect((await idx.explain(A, { target: 'readModel', scope: 'board', filter: { status: 'open' } })).access).toBe('scan');
    });

    it('QC04 a tenant may declare at most maxIndexesPerTenant indexes; bad fields are refused', async () => {
      const s = await openStore({ maxIndexesPerTenant: 2 });
      await s.indexes!.add(A, { target: 'readModel', scope: 'board', field: 'a' });
      await s.indexes!.add(A, { target: 'readModel', scope: 'board', field: 'a' });
      await s.indexes!.add(A, { target: 'readModel', scope: 'board', field: 'b' });
      await expectCode(s.indexes!.add(A, { target: 'readModel', scope: 'board', field: 'c' }), 'LIMIT_EXCEEDED');
      await s.indexes!.add(B, { target: 'readModel', scope: 'board', field: 'c' });
      await expectCode(s.indexes!.add(A, { target: 'readModel', scope: 'board', field: 'items.0' }), 'VALIDATION_FAILED');
      await expectCode(s.indexes!.add(A, { target: 'entities', scope: 'Card', field: 'entityId' }), 'VALIDATION_FAILED');
    });

    it('QC05 a probe with more candidates than maxDocumentsExamined is not read: the query scans (metered) and says why', async () => {
      const s = await openStore({ filter: { maxDocumentsExamined: 4 } });
      await load(s, A);
      await s.indexes!.add(A, { target: 'readModel', scope: 'board', field: 'status' });
      // Sorted on another field, the probe's candidates are counted before they are read (see QC06 for the index's own order).
      const narrow = await s.indexes!.explain(A, { target: 'readModel', scope: 'board', filter: { status: 'closed' }, sort: { n: 1 } });
      expect(narrow.access).toBe('index');
      const wide = await s.indexes!.explain(A, { target: 'readModel', scope: 'board', filter: { status: 'open' }, sort: { n: 1 } });
      expect(wide.access).toBe('scan');
      expect(wide.fallback).toContain('maxDocumentsExamined');
      expect(wide.error).toBe('QUERY_TOO_COSTLY');
      const slow = await s.indexes!.slowQueries(A);
      expect(slow.some((q) => q.error === 'QUERY_TOO_COSTLY' && q.target === 'readModel')).toBe(true);
      expect(await s.indexes!.slowQueries(B)).toEqual([]);
    });

    it('QC05b the slow-query log groups runs by shape: one entry per shape with its count, total time and slowest run, another tenant sees none of it', async () => {
      // Failed queries are logged whatever their time, so what is logged does not depend on the machine's load.
      const s = await openStore({ filter: { maxDocumentsExamined: 4 } });
      await load(s, A);
      for (const marker of ['m1', 'm2', 'm3']) await expectCode(s.readModels.query(A, 'board', { filter: { status: 'open', marker } }), 'QUERY_TOO_COSTLY');
      await expectCode(s.readModels.query(A, 'board', { filter: { n: { $gte: 0 } } }), 'QUERY_TOO_COSTLY');
      const slow = await s.indexes!.slowQueries(A);
      expect(slow.map((q) => [q.shape, q.count])).toEqual(
        expect.arrayContaining([
          [{ status: '<string>', marker: '<string>' }, 3],
          [{ n: { $gte: '<number>' } }, 1],
        ]),
      );
      expect(slow).toHaveLength(2);
      const three = slow.find((q) => q.count === 3)!;
      expect(['m1', 'm2', 'm3']).toContain(three.filter.marker);
      expect(three.totalMs).toBeGreaterThanOrEqual(three.ms);
      expect(three.lastAt >= three.at).toBe(true);
      expect(await s.indexes!.slowQueries(B)).toEqual([]);
    });

    it('QC06 in the default order an equality probe is metered like a scan: a page that fills within maxDocumentsExamined is answered, one that cannot is QUERY_TOO_COSTLY', async () => {
      const s = await openStore({ filter: { maxDocumentsExamined: 4 } });
      await load(s, A);
      await s.indexes!.add(A, { target: 'readModel', scope: 'board', field: 'status' });
      // Six candidates (five "open", one array), more than the cap: the first page of one still fills after two of them.
      const first = await s.readModels.query(A, 'board', { filter: { status: 'open' }, limit: 1 });
      expect(first.items.map((d) => d.id)).toEqual(['d00']);
      const plan = await s.indexes!.explain(A, { target: 'readModel', scope: 'board', filter: { status: 'open' }, limit: 1 });
      expect(plan).toMatchObject({ rowsReturned: 1, error: null });
      expect(plan.rowsExamined).toBeLessThanOrEqual(4);
      // SQLite streams the probe in id order (nothing counted first); PostgreSQL counts it and scans.
      if (name === 'sqlite') expect(plan).toMatchObject({ access: 'index', fallback: null });
      const all = await s.indexes!.explain(A, { target: 'readModel', scope: 'board', filter: { status: 'open' } });
      expect(all.error).toBe('QUERY_TOO_COSTLY');
      await expectCode(s.readModels.query(A, 'board', { filter: { status: 'open' } }), 'QUERY_TOO_COSTLY');
    });
  });
}
