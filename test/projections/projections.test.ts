// Declarative projections (issue 17): incremental maintenance from the event journal, rebuilds into a
// new version with an atomic swap, tenant isolation and hostile definitions — on SQLite and PostgreSQL.
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newId, silentLogger, type JsonObject, type TenantContext } from '../../src/core/index.js';
import { openPostgresStore, openSqliteStore, type EntityStore } from '../../src/store/index.js';
import { CHECKPOINTS_VIEW, PROJECTIONS_VIEW, ProjectionService, STEPS_PER_TENANT_ROUND, versionView, type ProjectionDefinition } from '../../src/projections/index.js';
import { createLocalModelGateway, createStoreHostServices } from '../../src/runtime/index.js';
import { tempDir, tenantCtx } from '../helpers.js';
import { expectCode } from '../store/conformance.js';
import { TEST_POSTGRES_URL, dropSchemas, randomSchema } from '../store/postgres-helpers.js';

const A: TenantContext = tenantCtx('acme', 'user:alice');
const B: TenantContext = tenantCtx('globex', 'user:bob');

const dir = tempDir('uee-proj');
const schemas: string[] = [];
afterAll(async () => {
  dir[Symbol.dispose]();
  await dropSchemas(schemas);
});

const backends: Array<[string, () => Promise<EntityStore>]> = [
  ['sqlite', () => openSqliteStore({ path: join(dir.path, `p-${newId()}.db`) })],
  [
    'postgres',
    () => {
      const schema = randomSchema('proj');
      schemas.push(schema);
      return openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    },
  ],
];

const ORDERS: ProjectionDefinition = {
  name: 'customerTotals',
  events: ['OrderPlaced', 'OrderShipped'],
  key: 'payload.customerId',
  filter: { 'payload.amount': { $not: { $lt: 0 } } },
  fields: { region: 'payload.region' },
  aggregates: {
    events: { op: 'count' },
    total: { op: 'sum', path: 'payload.amount' },
    smallest: { op: 'min', path: 'payload.amount' },
    largest: { op: 'max', path: 'payload.amount' },
    lastStatus: { op: 'last', path: 'payload.status' },
  },
};

/** The i-th generated event: orders and shipments of 300 customers, some noise and some filtered out. */
function event(i: number): { type: string; payload: JsonObject } {
  const customerId = `c${(i * 7919) % 300}`;
  if (i % 10 === 9) return { type: 'Noise', payload: { customerId, i } };
  if (i % 5 === 3) return { type: 'OrderShipped', payload: { customerId, status: 'shipped', region: `r${i % 4}` } };
  return { type: 'OrderPlaced', payload: { customerId, amount: i % 97 === 0 ? -1 : (i % 50) + 1, status: 'placed' } };
}

/** Every document of a read-model view, by id. */
async function viewDocs(store: EntityStore, ctx: TenantContext, view: string): Promise<Map<string, JsonObject>> {
  const out = new Map<string, JsonObject>();
  let cursor: string | undefined;
  for (;;) {
    const page = await store.readModels.query(ctx, view, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    for (const d of page.items) out.set(d.id, d.doc);
    if (page.nextCursor === null) return out;
    cursor = page.nextCursor;
  }
}

/** The same fold, written plainly: what the view must hold after events 0..n-1. */
function expected(n: number): Map<string, JsonObject> {
  const docs = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < n; i++) {
    const e = event(i);
    if (e.type === 'Noise') continue;
    const amount = e.payload.amount as number | undefined;
    if (amount !== undefined && amount < 0) continue;
    const key = e.payload.customerId as string;
    const d = docs.get(key) ?? { _key: key };
    if (e.payload.region !== undefined) d.region = e.payload.region;
    d.events = ((d.events as number | undefined) ?? 0) + 1;
    d.total = ((d.total as number | undefined) ?? 0) + (amount ?? 0);
    if (amount !== undefined) {
      d.smallest = d.smallest === undefined ? amount : Math.min(d.smallest as number, amount);
      d.largest = d.largest === undefined ? amount : Math.max(d.largest as number, amount);
    }
    d.lastStatus = e.payload.status;
    docs.set(key, d);
  }
  return docs;
}

async function commitEvents(store: EntityStore, ctx: TenantContext, from: number, to: number, batch = 1000): Promise<void> {
  for (let i = from; i < to; i += batch) {
    await store.commit(ctx, { events: Array.from({ length: Math.min(batch, to - i) }, (_, k) => event(i + k)) });
  }
}

describe.each(backends)('projections on %s', (_name, open) => {
  let store: EntityStore;
  let svc: ProjectionService;

  beforeEach(async () => {
    store = await open();
    await store.tenants.create('acme');
    await store.tenants.create('globex');
    svc = new ProjectionService(store, { logger: silentLogger, batchEvents: 900 });
  });
  afterEach(async () => {
    svc.stop();
    await store.close();
  });

  it('PROJ-1 a projection rebuilt from 100,000 events matches the incrementally maintained view exactly', async () => {
    await svc.define(A, ORDERS);
    // Version 1 is built while the journal is empty; from then on it is maintained incrementally
    // while the events arrive in 100 commits.
    expect(await svc.rebuild(A, ORDERS.name)).toMatchObject({ version: 1, position: 0 });
    for (let i = 0; i < 100_000; i += 10_000) {
      await commitEvents(store, A, i, i + 10_000);
      await svc.catchUp(A, ORDERS.name);
    }
    const incremental = await viewDocs(store, A, versionView(ORDERS.name, 1));
    const progress: number[] = [];
    const rebuilt = await svc.rebuild(A, ORDERS.name, { onProgress: (p) => void progress.push(p.position) });
    expect(rebuilt).toMatchObject({ version: 2, retired: 1, position: 100_000, head: 100_000 });
    expect(progress.length).toBeGreaterThan(10);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const fromHistory = await viewDocs(store, A, versionView(ORDERS.name, 2));
    expect(fromHistory.size).toBe(270);
    expect(fromHistory).toEqual(incremental);
    expect(fromHistory).toEqual(expected(100_000));
    // Byte for byte: the documents are built in one canonical field order.
    for (const [id, doc] of fromHistory) expect(JSON.stringify(doc)).toBe(JSON.stringify(incremental.get(id)));
    // Readers asking for the view get the new version.
    expect(await svc.resolveView(A, ORDERS.name)).toBe(versionView(ORDERS.name, 2));
  }, 120_000);

  it('PROJ-2 exactly once: a redelivered step, a second maintainer and a re-committed event id change nothing', async () => {
    await svc.define(A, ORDERS);
    await svc.rebuild(A, ORDERS.name);
    await commitEvents(store, A, 0, 500, 100);
    const eventId = newId();
    await store.commit(A, { events: [{ eventId, type: 'OrderPlaced', payload: { customerId: 'dup', amount: 5 } }] });
    await store.commit(A, { events: [{ eventId, type: 'OrderPlaced', payload: { customerId: 'dup', amount: 5 } }] });
    // Two maintainers (two processes) step the same version concurrently.
    const other = new ProjectionService(store, { logger: silentLogger, batchEvents: 37 });
    await Promise.all([svc.catchUp(A, ORDERS.name), other.catchUp(A, ORDERS.name), svc.catchUp(A, ORDERS.name)]);
    await other.catchUp(A, ORDERS.name);
    const docs = await viewDocs(store, A, versionView(ORDERS.name, 1));
    const want = expected(500);
    want.set('dup', { _key: 'dup', events: 1, total: 5, smallest: 5, largest: 5 });
    expect(docs).toEqual(want);
    expect((await svc.get(A, ORDERS.name)).position).toBe(502);
  });

  it('PROJ-3 readers see the old version until the swap, then the new one; events during the rebuild are not lost', async () => {
    await svc.define(A, ORDERS);
    await svc.rebuild(A, ORDERS.name);
    await commitEvents(store, A, 0, 3000);
    await svc.catchUp(A, ORDERS.name);
    const before = await viewDocs(store, A, await svc.resolveView(A, ORDERS.name));
    // Redefine: totals only. Until the swap, readers keep the old shape.
    const totals: ProjectionDefinition = { name: ORDERS.name, events: ['OrderPlaced'], key: 'payload.customerId', aggregates: { total: { op: 'sum', path: 'payload.amount' } } };
    expect((await svc.define(A, totals)).rebuildRequired).toBe(true);
    let committedDuring = 0;
    const seenDuring: string[] = [];
    const rebuilt = await svc.rebuild(A, ORDERS.name, {
      onProgress: async (p) => {
        if (p.phase !== 'scan') return;
        seenDuring.push(await svc.resolveView(A, ORDERS.name));
        if (committedDuring < 3) {
          await commitEvents(store, A, 3000 + committedDuring * 100, 3100 + committedDuring * 100, 100);
          committedDuring++;
        }
      },
    });
    expect(new Set(seenDuring)).toEqual(new Set([versionView(ORDERS.name, 1)]));
    expect(before.get('c0')).toHaveProperty('events');
    await svc.catchUp(A, ORDERS.name);
    const after = await viewDocs(store, A, await svc.resolveView(A, ORDERS.name));
    expect(rebuilt.version).toBe(2);
    const want = new Map<string, JsonObject>();
    for (let i = 0; i < 3300; i++) {
      const e = event(i);
      if (e.type !== 'OrderPlaced') continue;
      const key = e.payload.customerId as string;
      want.set(key, { _key: key, total: ((want.get(key)?.total as number | undefined) ?? 0) + (e.payload.amount as number) });
    }
    expect(after).toEqual(want);
  });

  it('PROJ-4 tenant isolation: a projection of tenant A never sees tenant B\'s events or views', async () => {
    await svc.define(A, ORDERS);
    await svc.rebuild(A, ORDERS.name);
    await store.commit(B, { events: [{ type: 'OrderPlaced', payload: { customerId: 'b-only', amount: 1000 } }] });
    await store.commit(A, { events: [{ type: 'OrderPlaced', payload: { customerId: 'a-only', amount: 1 } }] });
    await svc.catchUp(A, ORDERS.name);
    await svc.rebuild(A, ORDERS.name);
    const docs = await viewDocs(store, A, await svc.resolveView(A, ORDERS.name));
    expect([...docs.keys()]).toEqual(['a-only']);
    await expectCode(svc.get(B, ORDERS.name), 'NOT_FOUND');
    expect(await svc.list(B)).toEqual([]);
    expect(await svc.resolveView(B, ORDERS.name)).toBe(ORDERS.name);
    expect((await store.readModels.query(B, versionView(ORDERS.name, 2))).items).toEqual([]);
  });

  it('PROJ-5 hostile definitions get typed errors; huge values and costly filters are bounded per event', async () => {
    const bad = async (def: unknown, code: 'VALIDATION_FAILED' | 'INVALID_FILTER') => expectCode(svc.define(A, def), code);
    await bad({ ...ORDERS, key: Array.from({ length: 9 }, () => 'a').join('.') }, 'VALIDATION_FAILED');
    await bad({ ...ORDERS, key: 'payload.__proto__.x' }, 'VALIDATION_FAILED');
    await bad({ ...ORDERS, name: 'uee.mine' }, 'VALIDATION_FAILED');
    await bad({ ...ORDERS, aggregates: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`a${i}`, { op: 'count' }])) }, 'VALIDATION_FAILED');
    await bad({ ...ORDERS, aggregates: { x: { op: 'median', path: 'payload.amount' } } }, 'VALIDATION_FAILED');
    await bad({ ...ORDERS, events: Array.from({ length: 33 }, (_, i) => `E${i}`) }, 'VALIDATION_FAILED');
    await bad({ ...ORDERS, filter: { $where: 'sleep(1000)' } }, 'INVALID_FILTER');
    await bad({ ...ORDERS, filter: { 'payload.x': { $regex: '(a+)\\1' } } }, 'INVALID_FILTER');
    let deep: JsonObject = { 'payload.amount': 1 };
    for (let i = 0; i < 12; i++) deep = { $and: [deep] };
    await bad({ ...ORDERS, filter: deep }, 'INVALID_FILTER');
    const err = await bad({ ...ORDERS, fields: { constructor: 'payload.x' } }, 'VALIDATION_FAILED');
    expect(err.hint).toBeTruthy();
    await store.readModels.upsert(A, 'taken', 'x', { a: 1 });
    await bad({ ...ORDERS, name: 'taken' }, 'VALIDATION_FAILED');
    await expectCode(svc.rebuild(A, 'nope'), 'NOT_FOUND');

    // A filter that is valid but expensive on every event: each event's evaluation is cut off by the
    // per-event step budget (the event is skipped), so the fold still advances in bounded steps.
    const costly: ProjectionDefinition = {
      name: 'costly',
      events: ['Big'],
      key: 'payload.k',
      filter: { 'payload.items': { $elemMatch: { $or: Array.from({ length: 20 }, (_, i) => ({ [`f${i}`]: { $in: Array.from({ length: 10 }, (__, j) => `v${j}`) } })) } } },
      fields: { blob: 'payload.blob' },
      aggregates: { n: { op: 'count' }, last: { op: 'last', path: 'payload.blob' } },
    };
    await svc.define(A, costly);
    await svc.rebuild(A, 'costly');
    const items = Array.from({ length: 200 }, (_, i) => ({ f0: `x${i}` }));
    await store.commit(A, { events: [{ type: 'Big', payload: { k: 'k1', items, blob: 'x'.repeat(10_000) } }, { type: 'Big', payload: { k: 'k2', items: [{ f3: 'v1' }], blob: 'small' } }] });
    await svc.catchUp(A, 'costly');
    const docs = await viewDocs(store, A, await svc.resolveView(A, 'costly'));
    expect(docs.get('k1')).toBeUndefined();
    expect(docs.get('k2')).toEqual({ _key: 'k2', blob: 'small', n: 1, last: 'small' });
    const info = await svc.get(A, 'costly');
    expect(info).toMatchObject({ applied: 1, skipped: 1, position: info.head });
    // An oversized value is stored as null: the document stays small whatever the events carry.
    await store.commit(A, { events: [{ type: 'Big', payload: { k: 'k2', items: [{ f3: 'v1' }], blob: 'y'.repeat(10_000) } }] });
    await svc.catchUp(A, 'costly');
    expect((await viewDocs(store, A, await svc.resolveView(A, 'costly'))).get('k2')).toEqual({ _key: 'k2', blob: null, n: 2, last: null });
  });

  it('PROJ-6 dry run folds recent events without storing anything; drop removes every version', async () => {
    await commitEvents(store, A, 0, 200, 100);
    const dry = await svc.define(A, ORDERS, { dryRun: true, sample: 3 });
    expect(dry.sample).toHaveLength(3);
    expect(dry.stats).toMatchObject({ events: 180 });
    const want = expected(200);
    for (const d of dry.sample) expect(d).toEqual(want.get(d._key as string));
    expect(await svc.list(A)).toEqual([]);
    await svc.define(A, ORDERS);
    await expectCode(svc.resolveView(A, ORDERS.name), 'NOT_FOUND');
    await svc.rebuild(A, ORDERS.name);
    await svc.rebuild(A, ORDERS.name);
    expect(await svc.drop(A, ORDERS.name)).toBe(2 * want.size);
    expect(await svc.list(A)).toEqual([]);
    expect((await store.readModels.query(A, versionView(ORDERS.name, 2))).items).toEqual([]);
    expect(await svc.resolveView(A, ORDERS.name)).toBe(ORDERS.name);
  });

  it('PROJ-7 plugins read a projection by name (its active version); a swap elsewhere is seen after resolveCacheMs at most; plugins cannot write its views', async () => {
    const host = createStoreHostServices({ store, models: createLocalModelGateway(), resolveView: (c, v) => svc.resolveViewCached(c, v) });
    await commitEvents(store, A, 0, 200, 100);
    await svc.define(A, ORDERS);
    // Defined, never built: nothing to read (not an error for a plugin).
    expect(await host.queryReadModel(A, ORDERS.name, {})).toEqual([]);
    await svc.rebuild(A, ORDERS.name);
    const want = expected(200);
    expect((await host.queryReadModel(A, ORDERS.name, { limit: 1000 })).length).toBe(want.size);
    // A swap in this process is seen at once (the cached name is invalidated).
    await svc.define(A, { name: ORDERS.name, events: ['OrderPlaced'], key: 'payload.customerId', aggregates: { n: { op: 'count' } } });
    await svc.rebuild(A, ORDERS.name);
    expect(await svc.resolveViewCached(A, ORDERS.name)).toBe(versionView(ORDERS.name, 2));
    expect((await host.queryReadModel(A, ORDERS.name, { limit: 1 }))[0]!.doc).toHaveProperty('n');
    // Another process: its cached answer lasts at most resolveCacheMs, and meanwhile names the retired (kept) version.
    let clock = 0;
    const other = new ProjectionService(store, { logger: silentLogger, resolveCacheMs: 1000, now: () => clock });
    expect(await other.resolveViewCached(A, ORDERS.name)).toBe(versionView(ORDERS.name, 2));
    await svc.rebuild(A, ORDERS.name);
    expect(await other.resolveViewCached(A, ORDERS.name)).toBe(versionView(ORDERS.name, 2));
    expect((await store.readModels.query(A, versionView(ORDERS.name, 2), { limit: 1 })).items).toHaveLength(1);
    clock += 999;
    expect(await other.resolveViewCached(A, ORDERS.name)).toBe(versionView(ORDERS.name, 2));
    clock += 1;
    expect(await other.resolveViewCached(A, ORDERS.name)).toBe(versionView(ORDERS.name, 3));
    // Tenant B has no such projection: its view of that name is its own.
    expect(await host.queryReadModel(B, ORDERS.name, {})).toEqual([]);
    // The physical views, states and checkpoints are the platform's: a plugin's write is refused.
    for (const view of [versionView(ORDERS.name, 3), PROJECTIONS_VIEW, CHECKPOINTS_VIEW]) {
      await expectCode(store.commit(A, { readModelOps: [{ op: 'upsert', view, id: 'x', doc: { forged: true } }], source: { kind: 'plugin', id: 'p1' } }), 'RESERVED_NAME');
    }
  });

  it('PROJ-8 an index declared on a projection exists on each new version before its swap and goes with the old version', async () => {
    await commitEvents(store, A, 0, 2000);
    await svc.define(A, ORDERS);
    expect(await svc.addIndex(A, ORDERS.name, 'region')).toBeNull();
    await svc.rebuild(A, ORDERS.name);
    const onView = async (): Promise<string[]> => (await store.indexes!.list(A)).filter((i) => i.field === 'region').map((i) => i.scope).sort();
    expect(await onView()).toEqual([versionView(ORDERS.name, 1)]);
    let atSwap: string[] = [];
    await svc.rebuild(A, ORDERS.name, {
      onProgress: async (p) => {
        if (p.phase === 'swap') atSwap = await onView();
      },
    });
    expect(atSwap).toEqual([versionView(ORDERS.name, 1), versionView(ORDERS.name, 2)]);
    // The retired version's index goes at the swap: one per declared field between rebuilds.
    expect(await onView()).toEqual([versionView(ORDERS.name, 2)]);
    // The first query after the swap is already indexed.
    const plan = await store.indexes!.explain(A, { target: 'readModel', scope: await svc.resolveView(A, ORDERS.name), filter: { region: 'r1' } });
    expect(plan.access).toBe('index');
    await svc.rebuild(A, ORDERS.name);
    expect(await onView()).toEqual([versionView(ORDERS.name, 3)]);
    expect(await svc.dropIndex(A, ORDERS.name, 'region')).toBe(true);
    expect(await onView()).toEqual([]);
    await svc.rebuild(A, ORDERS.name);
    expect(await onView()).toEqual([]);
    await svc.addIndex(A, ORDERS.name, 'region');
    await svc.drop(A, ORDERS.name);
    expect(await onView()).toEqual([]);
  });

  it('PROJ-10 a rebuild that cannot index its new version (tenant index limit) fails typed, leaves the active version and says why', async () => {
    const full = new ProjectionService(store, { logger: silentLogger });
    await commitEvents(store, A, 0, 200, 100);
    await full.define(A, ORDERS);
    await full.rebuild(A, ORDERS.name);
    await full.addIndex(A, ORDERS.name, 'region');
    // Fill the tenant's remaining index slots with indexes of another view.
    for (let i = (await store.indexes!.list(A)).length; i < 8; i++) await store.indexes!.add(A, { target: 'readModel', scope: 'other', field: `f${i}` });
    await expectCode(full.rebuild(A, ORDERS.name), 'LIMIT_EXCEEDED');
    const s = (await full.get(A, ORDERS.name)).state;
    expect(s).toMatchObject({ active: { version: 1 }, building: null, error: { code: 'LIMIT_EXCEEDED', during: 'rebuild', version: 2 } });
    expect((await store.readModels.query(A, versionView(ORDERS.name, 2))).items).toEqual([]);
    expect(await full.resolveView(A, ORDERS.name)).toBe(versionView(ORDERS.name, 1));
    full.stop();
  });

  it('PROJ-9 a projection past maxDocuments stops with LIMIT_EXCEEDED in its state; other tenants go on', async () => {
    const capped = new ProjectionService(store, { logger: silentLogger, maxDocuments: 100, refreshMs: 0 });
    try {
      for (const ctx of [A, B]) {
        await capped.define(ctx, ORDERS);
        await capped.rebuild(ctx, ORDERS.name);
      }
      await commitEvents(store, A, 0, 3000); // 300 customers
      await store.commit(B, { events: [{ type: 'OrderPlaced', payload: { customerId: 'b1', amount: 1 } }] });
      await capped.tick();
      const a = await capped.get(A, ORDERS.name);
      expect(a.state.error).toMatchObject({ code: 'LIMIT_EXCEEDED', during: 'maintenance', version: 1 });
      expect(a.documents).toBeLessThanOrEqual(100);
      await expectCode(capped.catchUp(A, ORDERS.name).then(() => capped.catchUp(A, ORDERS.name)), 'LIMIT_EXCEEDED');
      const b = await capped.get(B, ORDERS.name);
      expect(b.state.error).toBeNull();
      expect(b).toMatchObject({ position: 1, documents: 1 });
      // B keeps being maintained; A is no longer stepped.
      await store.commit(B, { events: [{ type: 'OrderPlaced', payload: { customerId: 'b2', amount: 1 } }] });
      const aPos = a.position;
      await capped.tick();
      expect((await capped.get(B, ORDERS.name)).documents).toBe(2);
      expect((await capped.get(A, ORDERS.name)).position).toBe(aPos);
      // A rebuild past the cap fails the same way; readers keep version 1.
      await expectCode(capped.rebuild(A, ORDERS.name), 'LIMIT_EXCEEDED');
      const after = await capped.get(A, ORDERS.name);
      expect(after.state).toMatchObject({ active: { version: 1 }, building: null, error: { code: 'LIMIT_EXCEEDED', during: 'rebuild', version: 2 } });
      expect((await store.readModels.query(A, versionView(ORDERS.name, 2))).items).toEqual([]);
    } finally {
      capped.stop();
    }
  });
});

// Two processes on one store: two handles (connections/pools) and two services, as two apps would have.
const sharedBackends: Array<[string, () => Promise<[EntityStore, EntityStore]>]> = [
  [
    'sqlite',
    async () => {
      const path = join(dir.path, `shared-${newId()}.db`);
      return [await openSqliteStore({ path }), await openSqliteStore({ path })];
    },
  ],
  [
    'postgres',
    async () => {
      const schema = randomSchema('projx');
      schemas.push(schema);
      const first = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
      return [first, await openPostgresStore({ url: TEST_POSTGRES_URL, schema })];
    },
  ],
];

describe.each(sharedBackends)('projection rebuilds across processes on %s', (_name, openBoth) => {
  it('PROJ-11 two processes rebuilding one projection at once never build into one version nor both swap; the view stays exact', async () => {
    const [s1, s2] = await openBoth();
    const svc1 = new ProjectionService(s1, { logger: silentLogger, batchEvents: 200 });
    const svc2 = new ProjectionService(s2, { logger: silentLogger, batchEvents: 200 });
    try {
      await s1.tenants.create('acme');
      await svc1.define(A, ORDERS);
      await commitEvents(s1, A, 0, 2000);
      const swaps: Array<{ version: number; retired: number | null }> = [];
      for (let round = 0; round < 3; round++) {
        const results = await Promise.allSettled([svc1.rebuild(A, ORDERS.name), svc2.rebuild(A, ORDERS.name)]);
        for (const r of results) {
          if (r.status === 'fulfilled') swaps.push({ version: r.value.version, retired: r.value.retired });
          else expect(r.reason).toMatchObject({ code: 'VERSION_CONFLICT' });
        }
        expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      }
      // Every swap replaced the version the previous swap put in: none was lost or done twice from one state.
      swaps.sort((a, b) => a.version - b.version);
      swaps.forEach((s, i) => expect(s.retired).toBe(i === 0 ? null : swaps[i - 1]!.version));
      const state = (await svc2.get(A, ORDERS.name)).state;
      expect(state.active?.version).toBe(swaps.at(-1)?.version);
      expect(state.building).toBeNull();
      expect(await viewDocs(s2, A, await svc2.resolveView(A, ORDERS.name))).toEqual(expected(2000));
      // Versions that lost were cleared: only the active and the retired one hold documents.
      for (let v = 1; v <= state.lastVersion; v++) {
        const held = (await s1.readModels.query(A, versionView(ORDERS.name, v), { limit: 1 })).items.length;
        expect(held, `version ${v}`).toBe(v === state.active?.version || v === state.retired ? 1 : 0);
      }
    } finally {
      svc1.stop();
      svc2.stop();
      await s1.close();
      await s2.close();
    }
  }, 120_000);

  it('PROJ-12 two rebuilds that both passed their last check before the swap: exactly one swaps, the other stops and clears its version', async () => {
    const [s1, s2] = await openBoth();
    const svc1 = new ProjectionService(s1, { logger: silentLogger });
    const svc2 = new ProjectionService(s2, { logger: silentLogger });
    try {
      await s1.tenants.create('acme');
      await svc1.define(A, ORDERS);
      await commitEvents(s1, A, 0, 500);
      // Process 1 pauses at its swap; process 2 claims the next version, builds it and reaches its swap too.
      let arrived2!: () => void;
      const atSwap2 = new Promise<void>((resolve) => (arrived2 = resolve));
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let second: ReturnType<ProjectionService['rebuild']> | undefined;
      const first = svc1.rebuild(A, ORDERS.name, {
        onProgress: async (p) => {
          if (p.phase !== 'swap') return;
          second = svc2.rebuild(A, ORDERS.name, {
            onProgress: async (q) => {
              if (q.phase !== 'swap') return;
              arrived2();
              await gate;
            },
          });
          second.catch(() => undefined);
          await Promise.race([atSwap2, second.then(() => undefined, () => undefined)]);
          open();
        },
      });
      const results = await Promise.allSettled([first, first.then(() => second!, () => second!)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toMatchObject({ code: 'VERSION_CONFLICT' });
      const state = (await svc2.get(A, ORDERS.name)).state;
      expect(state).toMatchObject({ active: { version: (won[0] as PromiseFulfilledResult<{ version: number }>).value.version }, retired: null, building: null });
      expect(await viewDocs(s2, A, await svc2.resolveView(A, ORDERS.name))).toEqual(expected(500));
      const other = state.active!.version === 1 ? 2 : 1;
      expect((await s1.readModels.query(A, versionView(ORDERS.name, other), { limit: 1 })).items).toEqual([]);
    } finally {
      svc1.stop();
      svc2.stop();
      await s1.close();
      await s2.close();
    }
  });

});

describe.each(backends)('projection maintenance shared by tenants on %s', (_name, open) => {
  let store: EntityStore;
  beforeEach(async () => {
    store = await open();
    await store.tenants.create('acme');
    await store.tenants.create('globex');
  });
  afterEach(async () => {
    await store.close();
  });

  it('PROJ-13 one tenant\'s many projections behind share that tenant\'s steps of a maintenance round: another tenant\'s projection is stepped after at most STEPS_PER_TENANT_ROUND of them', async () => {
    // Every journal read of the maintenance, in order, by tenant.
    const reads: Array<string | null> = [];
    const journal = store.journal;
    const read: typeof journal.read = (ctx, q) => {
      reads.push(ctx.tenantId);
      return journal.read(ctx, q);
    };
    const bound = <T extends object>(target: T, override: Partial<Record<keyof T, unknown>>): T =>
      new Proxy(target, {
        get: (t, k) => {
          if (k in override) return override[k as keyof T];
          const v: unknown = Reflect.get(t, k, t);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      });
    const counted = bound(store, { journal: bound(journal, { read }) });
    const maint = new ProjectionService(counted, { logger: silentLogger, batchEvents: 10 });
    const names = Array.from({ length: 10 }, (_, i) => `acmeView${i}`);
    for (const name of names) {
      await maint.define(A, { ...ORDERS, name });
      await maint.rebuild(A, name);
    }
    await maint.define(B, ORDERS);
    await maint.rebuild(B, ORDERS.name);
    // acme: 1,000 events behind on each of ten projections (~90 steps each); globex: 5 events.
    await commitEvents(store, A, 0, 1000);
    await commitEvents(store, B, 0, 5);
    reads.length = 0;
    await maint.tick();
    const firstGlobex = reads.indexOf('globex');
    expect(firstGlobex).toBeGreaterThanOrEqual(0);
    // Each of acme's projections stepping up to 20 times first: 200 reads before globex's.
    expect(reads.slice(0, firstGlobex).filter((t) => t === 'acme').length).toBeLessThanOrEqual(STEPS_PER_TENANT_ROUND);
    expect((await maint.get(B, ORDERS.name)).position).toBe(5);
    // acme's projections took turns: every one of them moved.
    for (const name of names) expect((await maint.get(A, name)).position).toBeGreaterThan(0);
    // The next rounds carry on where this one stopped, until all are at the head.
    for (let i = 0; i < 60; i++) await maint.tick();
    for (const name of names) expect((await maint.get(A, name)).position).toBe(1000);
    maint.stop();
  }, 60_000);
});
