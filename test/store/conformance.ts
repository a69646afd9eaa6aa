import { createHash } from 'node:crypto';
// One behaviour suite for every EntityStore adapter. Each test opens a fresh store through `open`,
// registers the tenants "acme" and "globex", and closes the store afterwards.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isId, isUeeError, type EntityVersion, type ErrorCode, type JsonObject, type TenantContext, type UeeError } from '../../src/core/index.js';
import type { EntityStore } from '../../src/store/index.js';
import { tenantCtx } from '../helpers.js';
import { invocationConformance } from './invocations-conformance.js';
import { journalConformance } from './journal-conformance.js';

const A: TenantContext = tenantCtx('acme', 'user:alice');
const B: TenantContext = tenantCtx('globex', 'user:bob');
const G: TenantContext = tenantCtx(null, 'admin:root');
const NOBODY: TenantContext = tenantCtx('initech', 'user:mallory');

/** Awaits `p`, asserting it rejects with a UeeError of `code`; returns the error. */
export async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<UeeError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUeeError(err), `expected a UeeError ${code}, got ${String(err)}`).toBe(true);
  expect((err as UeeError).code).toBe(code);
  return err as UeeError;
}

async function allPages(fetch: (cursor: string | undefined) => Promise<{ items: EntityVersion[]; nextCursor: string | null }>): Promise<EntityVersion[]> {
  const out: EntityVersion[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await fetch(cursor);
    out.push(...page.items);
    if (page.nextCursor === null) return out;
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

/** Runs the entity store conformance suite against the adapter `open` builds. */
export function storeConformance(name: string, open: () => Promise<EntityStore>): void {
  describe(`${name} entity store conformance`, () => {
    let store: EntityStore;

    beforeEach(async () => {
      store = await open();
      await store.tenants.create('acme', 'Acme');
      await store.tenants.create('globex', 'Globex');
    });
    afterEach(async () => {
      await store.close();
    });

    /** Everything observable, to prove a failed call changed nothing. */
    async function snapshot(): Promise<unknown> {
      const rows: string[] = [];
      for (const ctx of [A, B, G]) {
        for (const entityTypeId of ['Task', 'Note']) {
          const page = await store.query(ctx, { entityTypeId, includeDeleted: true, limit: 1000 });
          rows.push(...page.items.map((v) => `${String(ctx.tenantId)}:${v.tenantId}:${v.entityId}@${v.version}`));
        }
        const docs = await store.readModels.query(ctx, 'board', { limit: 1000 });
        rows.push(...docs.items.map((d) => `${String(ctx.tenantId)}:rm:${d.id}:${JSON.stringify(d.doc)}`));
      }
      return { rows: rows.sort(), outbox: await store.outbox.size(), config: await store.config.getTenant(A) };
    }

    async function unchangedBy(action: () => Promise<unknown>, code: ErrorCode): Promise<UeeError> {
      const before = await snapshot();
      const err = await expectCode(action(), code);
      expect(await snapshot()).toEqual(before);
      return err;
    }

    describe('entities', () => {
      it('E00 the outbox tells its listeners of each commit that put events in it — not of one without events, a replayed idempotency key or a refused commit', async () => {
        if (store.outbox.onAppended === undefined) return;
        let told = 0;
        const stop = store.outbox.onAppended(() => told++);
        await store.commit(A, { events: [{ type: 'Ping', entityId: 'p1' }], idempotencyKey: 'k1' });
        expect(told).toBe(1);
        await store.commit(A, { events: [{ type: 'Ping', entityId: 'p1' }], idempotencyKey: 'k1' });
        await store.commit(A, { readModelOps: [{ op: 'upsert', view: 'board', id: 'c', doc: { a: 1 } }] });
        await expectCode(store.commit(A, { readModelOps: [{ op: 'upsert', view: '9bad', id: 'x', doc: {} }] }), 'VALIDATION_FAILED');
        expect(told).toBe(1);
        await store.put(A, { entityTypeId: 'Task', attributes: { title: 'a' } });
        expect(told).toBe(2);
        stop();
        await store.put(A, { entityTypeId: 'Task', attributes: { title: 'b' } });
        expect(told).toBe(2);
      });

      it('E01 put creates version 1 with a minted UUIDv7 and announces it in the outbox', async () => {
        const v = await store.put(A, { entityTypeId: 'Task', attributes: { title: 'a' } });
        expect(isId(v.entityId)).toBe(true);
        expect(v).toMatchObject({ entityTypeId: 'Task', tenantId: 'acme', version: 1, createdBy: 'user:alice', deleted: false, ownerId: null, metadata: {}, causationId: null });
        const [entry] = await store.outbox.peek(10);
        expect(entry!.event).toMatchObject({ type: 'EntityCreated', tenantId: 'acme', entityId: v.entityId, entityTypeId: 'Task', entityVersion: 1, hop: 0, causationId: null });
        expect(entry!.event.payload).toMatchObject({ version: 1, attributes: { title: 'a' } });
        expect(entry!.event.correlationId).toBe(entry!.event.eventId);
        expect(entry!.event.source).toEqual({ kind: 'api', id: 'user:alice' });
      });

      it('E02 get answers the latest or a given version; a missing version is NOT_FOUND', async () => {
        await store.put(A, { entityId: 't-1', entityTypeId: 'Task', attributes: { n: 1 } });
        await store.put(A, { entityId: 't-1', entityTypeId: 'Task', attributes: { n: 2 } });
        expect((await store.get(A, 't-1')).attributes).toEqual({ n: 2 });
        expect((await store.get(A, 't-1', { version: 1 })).attributes).toEqual({ n: 1 });
        await expectCode(store.get(A, 't-1', { version: 3 }), 'NOT_FOUND');
        await expectCode(store.get(A, 'missing'), 'NOT_FOUND');
      });

      it('E02b find answers what get answers, and null where get is NOT_FOUND; other failures still reject', async () => {
        await store.put(G, { entityId: 'g-f', entityTypeId: 'Task', attributes: { g: 1 } });
        await store.put(A, { entityId: 't-f', entityTypeId: 'Task', attributes: { n: 1 } });
        await store.put(A, { entityId: 't-f', entityTypeId: 'Task', attributes: { n: 2 } });
        expect(await store.find(A, 't-f')).toEqual(await store.get(A, 't-f'));
        expect(await store.find(A, 't-f', { version: 1 })).toEqual(await store.get(A, 't-f', { version: 1 }));
        expect(await store.find(A, 'g-f')).toEqual(await store.get(A, 'g-f'));
        expect(await store.find(A, 't-f', { version: 3 })).toBeNull();
        expect(await store.find(A, 'missing')).toBeNull();
        // Another tenant's entity is absent, exactly like a missing one; an unknown tenant still fails.
        expect(await store.find(B, 't-f')).toBeNull();
        expect(await store.find(B, 't-f', { version: 1 })).toBeNull();
        expect(await store.find(G, 't-f')).toBeNull();
        await expectCode(store.find(NOBODY, 't-f'), 'UNKNOWN_TENANT');
        expect(await store.find(A, 't-f', { version: 1.5 })).toBeNull();
        expect(await store.find(A, 'missing', { version: 1 })).toBeNull();
        await expectCode(store.find(A, ''), 'VALIDATION_FAILED');
      });

      it('E03 history lists versions newest first across pages with no gaps', async () => {
        for (let n = 1; n <= 5; n++) await store.put(A, { entityId: 'h-1', entityTypeId: 'Task', attributes: { n } });
        const first = await store.history(A, 'h-1', { limit: 2 });
        expect(first.items.map((v) => v.version)).toEqual([5, 4]);
        const all = await allPages((cursor) => store.history(A, 'h-1', { limit: 2, ...(cursor ? { cursor } : {}) }));
        expect(all.map((v) => v.version)).toEqual([5, 4, 3, 2, 1]);
        await expectCode(store.history(A, 'h-1', { cursor: 'garbage!' }), 'INVALID_CURSOR');
      });

      it('E04 expectedVersion: 0 is create-only, a mismatch is VERSION_CONFLICT with expected and actual', async () => {
        await store.put(A, { entityId: 'v-1', entityTypeId: 'Task', attributes: {}, expectedVersion: 0 });
        const err = await unchangedBy(() => store.put(A, { entityId: 'v-1', entityTypeId: 'Task', attributes: {}, expectedVersion: 0 }), 'VERSION_CONFLICT');
        expect(err.details).toMatchObject({ expected: 0, actual: 1 });
        const err2 = await expectCode(store.put(A, { entityId: 'v-1', entityTypeId: 'Task', attributes: {}, expectedVersion: 5 }), 'VERSION_CONFLICT');
        expect(err2.details).toMatchObject({ expected: 5, actual: 1 });
        expect((await store.put(A, { entityId: 'v-1', entityTypeId: 'Task', attributes: {}, expectedVersion: 1 })).version).toBe(2);
        expect((await store.put(A, { entityId: 'v-1', entityTypeId: 'Task', attributes: {} })).version).toBe(3);
        await expectCode(store.put(A, { entityId: 'v-2', entityTypeId: 'Task', attributes: {}, expectedVersion: 1 }), 'VERSION_CONFLICT');
      });

      it('E05 attributes are replaced whole; metadata and ownerId carry over when omitted', async () => {
        await store.put(A, { entityId: 'm-1', entityTypeId: 'Task', attributes: { a: 1 }, metadata: { m: true }, ownerId: 'u1' });
        const v2 = await store.put(A, { entityId: 'm-1', entityTypeId: 'Task', attributes: { b: 2 } });
        expect(v2).toMatchObject({ attributes: { b: 2 }, metadata: { m: true }, ownerId: 'u1', version: 2 });
      });

      it('E06 an entity keeps its type', async () => {
        await store.put(A, { entityId: 'k-1', entityTypeId: 'Task', attributes: {} });
        await unchangedBy(() => store.put(A, { entityId: 'k-1', entityTypeId: 'Note', attributes: {} }), 'VALIDATION_FAILED');
      });

      it('E07 tombstones: a deleted version stays in history, is announced, and leaves queries unless asked', async () => {
        await store.put(A, { entityId: 'd-1', entityTypeId: 'Task', attributes: { x: 1 } });
        const t = await store.put(A, { entityId: 'd-1', entityTypeId: 'Task', attributes: {}, deleted: true });
        expect(t).toMatchObject({ version: 2, deleted: true });
        expect((await store.get(A, 'd-1')).deleted).toBe(true);
        expect((await store.history(A, 'd-1')).items.map((v) => v.version)).toEqual([2, 1]);
        expect((await store.query(A, { entityTypeId: 'Task' })).items).toHaveLength(0);
        expect((await store.query(A, { entityTypeId: 'Task', includeDeleted: true })).items.map((v) => v.entityId)).toEqual(['d-1']);
        const events = await store.outbox.peek(10);
        expect(events.map((e) => e.event.type)).toEqual(['EntityCreated', 'EntityDeleted']);
      });

      it('E08 eventType on a write names its event', async () => {
        await store.put(A, { entityTypeId: 'Task', attributes: {}, eventType: 'TaskCreated' });
        expect((await store.outbox.peek(1))[0]!.event.type).toBe('TaskCreated');
      });
    });

    describe('queries', () => {
      async function seed(n: number): Promise<void> {
        const writes = Array.from({ length: n }, (_, i) => ({
          entityId: `q-${String(i).padStart(3, '0')}`,
          entityTypeId: 'Task',
          attributes: { n: i % 7, title: `task ${i}`, tags: i % 2 === 0 ? ['even'] : ['odd', 'x'], ...(i % 5 === 0 ? {} : { p: i }) },
        }));
        await store.commit(A, { writes });
      }

      it('Q01 filters with the allow-listed operators', async () => {
        await seed(30);
        const ids = async (filter: Record<string, unknown>): Promise<string[]> =>
          (await store.query(A, { entityTypeId: 'Task', filter, limit: 1000 })).items.map((v) => v.entityId);
        expect(await ids({ 'attributes.n': { $gt: 5 } })).toEqual(['q-006', 'q-013', 'q-020', 'q-027']);
        expect(await ids({ 'attributes.n': { $in: [0] }, 'attributes.tags': 'even' })).toEqual(['q-000', 'q-014', 'q-028']);
        expect(await ids({ 'attributes.title': { $regex: '^TASK 1\\d$', $options: 'i' } })).toHaveLength(10);
        expect(await ids({ 'attributes.p': { $exists: false } })).toEqual(['q-000', 'q-005', 'q-010', 'q-015', 'q-020', 'q-025']);
        expect(await ids({ $or: [{ entityId: 'q-001' }, { 'attributes.p': 29 }] })).toEqual(['q-001', 'q-029']);
        expect(await ids({ 'attributes.tags': { $size: 2 }, 'attributes.n': { $lte: 1 } })).toEqual(['q-001', 'q-007', 'q-015', 'q-021', 'q-029']);
        expect(await ids({ 'attributes.n': { $not: { $gte: 1 } }, 'attributes.tags': { $all: ['even'] } })).toEqual(['q-000', 'q-014', 'q-028']);
        expect(await ids({ version: 1, tenantId: 'acme', 'attributes.p': { $mod: [10, 3] } })).toEqual(['q-003', 'q-013', 'q-023']);
      });

      it('Q02 sorts asc and desc on attributes and pages with no duplicates or gaps', async () => {
        await seed(25);
        for (const dir of [1, -1] as const) {
          const all = await allPages((cursor) => store.query(A, { entityTypeId: 'Task', sort: { 'attributes.n': dir }, limit: 4, ...(cursor ? { cursor } : {}) }));
          const expected = [...all].sort((x, y) => (x.attributes.n as number) - (y.attributes.n as number) || 0);
          const got = all.map((v) => `${String(v.attributes.n)}:${v.entityId}`);
          const want = expected
            .map((v) => ({ n: v.attributes.n as number, id: v.entityId }))
            .sort((x, y) => dir * (x.n - y.n) || (x.id < y.id ? -1 : 1))
            .map((x) => `${x.n}:${x.id}`);
          expect(got).toEqual(want);
          expect(new Set(all.map((v) => v.entityId)).size).toBe(25);
        }
      });

      it('Q03 missing sort values order as null: first ascending, last descending', async () => {
        await seed(11);
        const asc = (await store.query(A, { entityTypeId: 'Task', sort: { 'attributes.p': 1 }, limit: 3 })).items.map((v) => v.entityId);
        expect(asc).toEqual(['q-000', 'q-005', 'q-010']);
        const desc = await allPages((cursor) => store.query(A, { entityTypeId: 'Task', sort: { 'attributes.p': -1 }, limit: 3, ...(cursor ? { cursor } : {}) }));
        expect(desc.map((v) => v.entityId).slice(-3)).toEqual(['q-000', 'q-005', 'q-010']);
        expect(desc.map((v) => v.entityId).slice(0, 2)).toEqual(['q-009', 'q-008']);
      });

      it('Q04 default order is by entityId, filtered pages stay consistent', async () => {
        await seed(20);
        const all = await allPages((cursor) => store.query(A, { entityTypeId: 'Task', filter: { 'attributes.tags': 'odd' }, limit: 3, ...(cursor ? { cursor } : {}) }));
        expect(all.map((v) => v.entityId)).toEqual(Array.from({ length: 10 }, (_, i) => `q-${String(i * 2 + 1).padStart(3, '0')}`));
      });

      it('Q05 limit must be 1..1000', async () => {
        await seed(3);
        for (const limit of [0, 1001, 1.5, -1]) await expectCode(store.query(A, { entityTypeId: 'Task', limit }), 'VALIDATION_FAILED');
        expect((await store.query(A, { entityTypeId: 'Task', limit: 1 })).items).toHaveLength(1);
        expect((await store.query(A, { entityTypeId: 'Task', limit: 1000 })).items).toHaveLength(3);
        expect((await store.query(A, { entityTypeId: 'Task' })).nextCursor).toBeNull();
      });

      it('Q06 a cursor from another query, or garbage, is INVALID_CURSOR', async () => {
        await seed(5);
        const page = await store.query(A, { entityTypeId: 'Task', limit: 2 });
        expect(page.nextCursor).not.toBeNull();
        await unchangedBy(() => store.query(A, { entityTypeId: 'Task', limit: 2, filter: { 'attributes.n': 1 }, cursor: page.nextCursor! }), 'INVALID_CURSOR');
        await expectCode(store.query(A, { entityTypeId: 'Task', sort: { 'attributes.n': 1 }, cursor: page.nextCursor! }), 'INVALID_CURSOR');
        for (const cursor of ['garbage', 'eyJ2IjoxfQ', '!!!', Buffer.from('{"v":1,"q":"x","k":[{"$gt":1}]}').toString('base64url')]) {
          await expectCode(store.query(A, { entityTypeId: 'Task', cursor }), 'INVALID_CURSOR');
        }
        expect((await store.query(A, { entityTypeId: 'Task', limit: 2, cursor: page.nextCursor! })).items).toHaveLength(2);
      });
    });

    describe('tenant isolation', () => {
      it('T01 a foreign id answers NOT_FOUND exactly like a missing id on every read path', async () => {
        await store.put(A, { entityId: 'secret', entityTypeId: 'Task', attributes: { s: 1 } });
        const foreign = await expectCode(store.get(B, 'secret'), 'NOT_FOUND');
        const missing = await expectCode(store.get(B, 'nothing'), 'NOT_FOUND');
        expect(Object.keys(foreign.details).sort()).toEqual(Object.keys(missing.details).sort());
        expect(foreign.message.replace('secret', 'X')).toBe(missing.message.replace('nothing', 'X'));
        await expectCode(store.get(B, 'secret', { version: 1 }), 'NOT_FOUND');
        await expectCode(store.history(B, 'secret'), 'NOT_FOUND');
        await expectCode(store.get(G, 'secret'), 'NOT_FOUND');
        expect((await store.query(B, { entityTypeId: 'Task' })).items).toEqual([]);
        expect((await store.query(B, { entityTypeId: 'Task', filter: { tenantId: 'acme' } })).items).toEqual([]);
        expect((await store.query(G, { entityTypeId: 'Task' })).items).toEqual([]);
      });

      it('T02 a tenant sees its own and global entities; global sees only global', async () => {
        await store.put(G, { entityId: 'g-1', entityTypeId: 'Task', attributes: {} });
        await store.put(A, { entityId: 'a-1', entityTypeId: 'Task', attributes: {} });
        await store.put(B, { entityId: 'b-1', entityTypeId: 'Task', attributes: {} });
        const ids = async (ctx: TenantContext): Promise<string[]> => (await store.query(ctx, { entityTypeId: 'Task' })).items.map((v) => v.entityId);
        expect(await ids(A)).toEqual(['a-1', 'g-1']);
        expect(await ids(B)).toEqual(['b-1', 'g-1']);
        expect(await ids(G)).toEqual(['g-1']);
        expect((await store.get(A, 'g-1')).tenantId).toBeNull();
        expect((await store.history(B, 'g-1')).items).toHaveLength(1);
      });

      it('T03 writing a global entity from a tenant is TENANT_FORBIDDEN; global may', async () => {
        await store.put(G, { entityId: 'g-1', entityTypeId: 'Task', attributes: { v: 1 } });
        await unchangedBy(() => store.put(A, { entityId: 'g-1', entityTypeId: 'Task', attributes: { v: 2 } }), 'TENANT_FORBIDDEN');
        await unchangedBy(() => store.commit(A, { writes: [{ entityTypeId: 'Task', attributes: {} }, { entityId: 'g-1', entityTypeId: 'Task', attributes: {} }] }), 'TENANT_FORBIDDEN');
        expect((await store.put(G, { entityId: 'g-1', entityTypeId: 'Task', attributes: { v: 2 } })).version).toBe(2);
      });

      it('T04 tenant writes land in the tenant; the same id in two tenants is two entities', async () => {
        const a = await store.put(A, { entityId: 'same', entityTypeId: 'Task', attributes: { who: 'a' }, expectedVersion: 0 });
        const b = await store.put(B, { entityId: 'same', entityTypeId: 'Task', attributes: { who: 'b' }, expectedVersion: 0 });
        expect([a.tenantId, b.tenantId]).toEqual(['acme', 'globex']);
        expect((await store.get(A, 'same')).attributes).toEqual({ who: 'a' });
        expect((await store.get(B, 'same')).attributes).toEqual({ who: 'b' });
        const events = (await store.outbox.peek(10)).map((e) => e.event.tenantId);
        expect(events).toEqual(['acme', 'globex']);
      });

      it('T05 read models are per tenant on get, query and delete', async () => {
        await store.readModels.upsert(A, 'board', 'r1', { n: 1 });
        await expectCode(store.readModels.get(B, 'board', 'r1'), 'NOT_FOUND');
        await expectCode(store.readModels.get(G, 'board', 'r1'), 'NOT_FOUND');
        expect((await store.readModels.query(B, 'board')).items).toEqual([]);
        expect(await store.readModels.delete(B, 'board', 'r1')).toBe(false);
        expect((await store.readModels.get(A, 'board', 'r1')).doc).toEqual({ n: 1 });
      });

      it('T06 tenant and plugin config are per tenant', async () => {
        await store.config.setTenant(A, { theme: 'dark' });
        await store.config.setPlugin(A, 'mailer', { from: 'a@x' });
        expect(await store.config.getTenant(B)).toEqual({});
        expect(await store.config.getPlugin(B, 'mailer')).toEqual({});
        expect(await store.config.getTenant(G)).toEqual({});
      });

      it('T06b the configuration revision changes with every settings write, of any tenant, and only then', async () => {
        const r0 = await store.config.revision();
        await store.config.getTenant(A);
        await store.config.getPlugin(A, 'mailer');
        expect(await store.config.revision()).toBe(r0);
        const seen = [r0];
        const writes: Array<() => Promise<void>> = [
          () => store.config.setPlugin(A, 'mailer', { from: 'a@x' }),
          () => store.config.setPlugin(A, 'mailer', { from: 'a@x' }),
          () => store.config.setPlugin(B, 'mailer', { from: 'b@x' }),
          () => store.config.setTenant(A, { theme: 'dark' }),
          () => store.config.setTenant(G, { theme: 'light' }),
        ];
        for (const write of writes) {
          await write();
          const r = await store.config.revision();
          expect(seen).not.toContain(r);
          seen.push(r);
        }
        // A refused write changes nothing, the revision neither.
        const last = seen[seen.length - 1];
        await expectCode(store.config.setPlugin(A, 'mailer', [1] as unknown as JsonObject), 'VALIDATION_FAILED');
        await expectCode(store.config.setTenant(NOBODY, {}), 'UNKNOWN_TENANT');
        expect(await store.config.revision()).toBe(last);
        expect(await store.config.getPlugin(A, 'mailer')).toEqual({ from: 'a@x' });
      });

      it('T06c changesSince names the tenants written after a revision, each once, in order — or null when it cannot tell', async () => {
        const r0 = await store.config.revision();
        expect(await store.config.changesSince(r0, 10)).toEqual({ revision: r0, tenants: [] });
        await store.config.setPlugin(A, 'mailer', { from: 'a@x' });
        await store.config.setPlugin(A, 'mailer', { from: 'a@y' });
        await store.config.setPlugin(B, 'mailer', { from: 'b@x' });
        await store.config.setTenant(G, { theme: 'light' });
        await store.config.setTenant(A, { theme: 'dark' });
        expect(await store.config.changesSince(r0, 10)).toEqual({ revision: r0 + 5, tenants: ['acme', 'globex', null] });
        expect(await store.config.changesSince(r0 + 2, 10)).toEqual({ revision: r0 + 5, tenants: ['globex', null, 'acme'] });
        expect(await store.config.changesSince(r0 + 4, 1)).toEqual({ revision: r0 + 5, tenants: ['acme'] });
        expect(await store.config.changesSince(r0 + 5, 10)).toEqual({ revision: r0 + 5, tenants: [] });
        // More writes than the limit, and a revision from the future: anything may have changed.
        expect(await store.config.changesSince(r0, 4)).toEqual({ revision: r0 + 5, tenants: null });
        expect(await store.config.changesSince(r0 + 6, 10)).toEqual({ revision: r0 + 5, tenants: null });
        // A refused write records nothing.
        await expectCode(store.config.setPlugin(B, 'mailer', [1] as unknown as JsonObject), 'VALIDATION_FAILED');
        await expectCode(store.config.setTenant(NOBODY, {}), 'UNKNOWN_TENANT');
        expect(await store.config.changesSince(r0 + 5, 10)).toEqual({ revision: r0 + 5, tenants: [] });
      });

      it('T06d latestOfType lists every scope\'s latest, not deleted versions of a type in (entity id, tenant) order, page by page', async () => {
        if (store.latestOfType === undefined) return;
        await store.put(A, { entityId: 'g-2', entityTypeId: 'Gadget', attributes: { v: 1 } });
        await store.put(A, { entityId: 'g-2', entityTypeId: 'Gadget', attributes: { v: 2 }, expectedVersion: 1 });
        await store.put(B, { entityId: 'g-2', entityTypeId: 'Gadget', attributes: { v: 1 } });
        await store.put(G, { entityId: 'g-1', entityTypeId: 'Gadget', attributes: { v: 1 } });
        await store.put(B, { entityId: 'g-3', entityTypeId: 'Gadget', attributes: { v: 1 } });
        await store.put(A, { entityId: 'g-4', entityTypeId: 'Gadget', attributes: { v: 1 } });
        await store.put(A, { entityId: 'g-4', entityTypeId: 'Gadget', attributes: {}, deleted: true, expectedVersion: 1 });
        await store.put(A, { entityId: 'g-0', entityTypeId: 'Widget', attributes: {} });
        const all: string[] = [];
        let after: { entityId: string; tenantId: string | null } | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.latestOfType('Gadget', 2, after);
          expect(page.length).toBeLessThanOrEqual(2);
          all.push(...page.map((v) => `${v.entityId}@${String(v.tenantId)}:v${v.version}`));
          if (page.length < 2) break;
          after = { entityId: page[1]!.entityId, tenantId: page[1]!.tenantId };
        }
        // The global scope's key sorts first; a tenant's own entities after it, by tenant id.
        expect(all).toEqual(['g-1@null:v1', 'g-2@acme:v2', 'g-2@globex:v1', 'g-3@globex:v1']);
        expect(await store.latestOfType('Nothing', 10)).toEqual([]);
      });

      it('T06e headsOfType gives latestOfType\'s entities as (id, scope, version), in its order, page by page — and sees a new version', async () => {
        if (store.latestOfType === undefined) return;
        expect(typeof store.headsOfType).toBe('function');
        await store.put(A, { entityId: 'h-2', entityTypeId: 'Gizmo', attributes: { v: 1 } });
        await store.put(A, { entityId: 'h-2', entityTypeId: 'Gizmo', attributes: { v: 2 }, expectedVersion: 1 });
        await store.put(B, { entityId: 'h-2', entityTypeId: 'Gizmo', attributes: { v: 1 } });
        await store.put(G, { entityId: 'h-1', entityTypeId: 'Gizmo', attributes: { big: 'x'.repeat(20_000) } });
        await store.put(B, { entityId: 'h-3', entityTypeId: 'Gizmo', attributes: { v: 1 } });
        await store.put(A, { entityId: 'h-4', entityTypeId: 'Gizmo', attributes: { v: 1 } });
        await store.put(A, { entityId: 'h-4', entityTypeId: 'Gizmo', attributes: {}, deleted: true, expectedVersion: 1 });
        await store.put(A, { entityId: 'h-0', entityTypeId: 'Widget', attributes: {} });
        const pages = async (read: (after?: { entityId: string; tenantId: string | null }) => Promise<Array<{ entityId: string; tenantId: string | null; version: number }>>): Promise<string[]> => {
          const all: string[] = [];
          let after: { entityId: string; tenantId: string | null } | undefined;
          for (let n = 0; n < 10; n++) {
            const page = await read(after);
            expect(page.length).toBeLessThanOrEqual(2);
            all.push(...page.map((v) => `${v.entityId}@${String(v.tenantId)}:v${v.version}`));
            if (page.length < 2) break;
            after = { entityId: page[1]!.entityId, tenantId: page[1]!.tenantId };
          }
          return all;
        };
        const heads = (after?: { entityId: string; tenantId: string | null }) => store.headsOfType!('Gizmo', 2, after);
        expect(await pages(heads)).toEqual(['h-1@null:v1', 'h-2@acme:v2', 'h-2@globex:v1', 'h-3@globex:v1']);
        expect(await pages(heads)).toEqual(await pages((after) => store.latestOfType!('Gizmo', 2, after)));
        // Heads only: no document.
        expect(Object.keys((await store.headsOfType!('Gizmo', 1))[0]!).sort()).toEqual(['entityId', 'tenantId', 'version']);
        await store.put(B, { entityId: 'h-3', entityTypeId: 'Gizmo', attributes: { v: 2 }, expectedVersion: 1 });
        expect(await pages(heads)).toEqual(['h-1@null:v1', 'h-2@acme:v2', 'h-2@globex:v1', 'h-3@globex:v2']);
        expect(await store.headsOfType!('Nothing', 10)).toEqual([]);
      });

      it('T06f viewAcrossTenants reads one platform view of every scope in (tenant, id) order, page by page; no other view', async () => {
        if (store.latestOfType === undefined) return;
        expect(typeof store.viewAcrossTenants).toBe('function');
        const PINS = 'uee.plugin-pins';
        await store.readModels.upsert(B, PINS, 'Mailer', { version: 3 });
        await store.readModels.upsert(A, PINS, 'Mailer', { version: 1 });
        await store.readModels.upsert(A, PINS, 'Billing', { version: 2 });
        await store.readModels.upsert(G, PINS, 'Audit', { version: 5 });
        await store.readModels.upsert(A, 'Orders', 'o-1', { total: 3 });
        await store.readModels.upsert(B, 'uee.experiments', 'exp-1', { status: 'running' });
        const all: string[] = [];
        let after: { tenantId: string | null; id: string } | undefined;
        for (let n = 0; n < 10; n++) {
          const page = await store.viewAcrossTenants!(PINS, 2, after);
          expect(page.length).toBeLessThanOrEqual(2);
          all.push(...page.map((d) => `${String(d.tenantId)}/${d.id}=${String(d.doc.version)}`));
          if (page.length < 2) break;
          after = { tenantId: page[1]!.tenantId, id: page[1]!.id };
        }
        // The global scope's key sorts first, then each tenant's documents by id.
        expect(all).toEqual(['null/Audit=5', 'acme/Billing=2', 'acme/Mailer=1', 'globex/Mailer=3']);
        expect((await store.viewAcrossTenants!('uee.experiments', 10)).map((d) => `${String(d.tenantId)}/${d.id}`)).toEqual(['globex/exp-1']);
        await store.readModels.delete(A, PINS, 'Mailer');
        await store.readModels.upsert(B, PINS, 'Mailer', { version: 4 });
        expect((await store.viewAcrossTenants!(PINS, 10)).map((d) => `${String(d.tenantId)}/${d.id}=${String(d.doc.version)}`)).toEqual(['null/Audit=5', 'acme/Billing=2', 'globex/Mailer=4']);
        await expectCode(store.viewAcrossTenants!('Orders', 10), 'VALIDATION_FAILED');
      });

      it('T07 an unregistered tenant is UNKNOWN_TENANT on every path', async () => {
        const calls: Array<() => Promise<unknown>> = [
          () => store.put(NOBODY, { entityTypeId: 'Task', attributes: {} }),
          () => store.get(NOBODY, 'x'),
          () => store.get(NOBODY, 'x', { version: 1 }),
          () => store.find(NOBODY, 'x'),
          () => store.history(NOBODY, 'x'),
          () => store.query(NOBODY, { entityTypeId: 'Task' }),
          () => store.commit(NOBODY, { events: [{ type: 'Ping' }] }),
          () => store.readModels.upsert(NOBODY, 'board', 'x', {}),
          () => store.readModels.get(NOBODY, 'board', 'x'),
          () => store.readModels.delete(NOBODY, 'board', 'x'),
          () => store.readModels.query(NOBODY, 'board'),
          () => store.config.getTenant(NOBODY),
          () => store.config.setTenant(NOBODY, {}),
          () => store.config.getPlugin(NOBODY, 'p'),
          () => store.config.setPlugin(NOBODY, 'p', {}),
          () => store.tenants.get('initech'),
          () => store.get(tenantCtx('bad tenant!'), 'x'),
        ];
        for (const call of calls) await unchangedBy(call, 'UNKNOWN_TENANT');
        expect((await store.tenants.list()).map((t) => t.tenantId)).toEqual(['acme', 'globex']);
        expect(await store.tenants.create('acme', 'Other name')).toMatchObject({ tenantId: 'acme', name: 'Acme' });
        await expectCode(store.tenants.create('bad tenant!'), 'VALIDATION_FAILED');
      });
    });

    describe('identity', () => {
      it('S-ID1 a store has an identity of its own: the same on every call, another store\'s differs', async () => {
        const id = await store.identity();
        expect(id).toMatch(new RegExp(`^${store.kind}:[0-9a-f-]{36}$`));
        expect(await store.identity()).toBe(id);
        const other = await open();
        try {
          expect(await other.identity()).not.toBe(id);
        } finally {
          await other.close();
        }
        await store.close();
        await expectCode(store.identity(), 'CLOSED');
      });
    });

    describe('bad input leaves nothing half-written', () => {
      it('B01 malformed writes are VALIDATION_FAILED', async () => {
        const bad: unknown[] = [
          { attributes: {} },
          { entityTypeId: 'Task' },
          { entityTypeId: 'Task', attributes: 'text' },
          { entityTypeId: 42, attributes: {} },
          { entityTypeId: 'Task', attributes: {}, extra: true },
          { entityTypeId: 'Task', attributes: {}, expectedVersion: -1 },
          { entityTypeId: 'Task', attributes: {}, entityId: 'has space' },
          JSON.parse('{"entityTypeId":"Task","attributes":{"a":{"__proto__":{"polluted":true}}}}'),
          JSON.parse('{"entityTypeId":"Task","attributes":{"__proto__":{"polluted":true}}}'),
          JSON.parse('{"entityTypeId":"Task","attributes":{},"metadata":{"__proto__":{"polluted":true}}}'),
          { entityTypeId: 'Task', attributes: { constructor: 1 } },
          { entityTypeId: 'Task', attributes: { n: Number.NaN } },
        ];
        for (const write of bad) {
          await unchangedBy(() => store.commit(A, { writes: [{ entityTypeId: 'Task', attributes: { ok: true } }, write as never] }), 'VALIDATION_FAILED');
        }
        await unchangedBy(() => store.commit(A, { writes: [], unknown: 1 } as never), 'VALIDATION_FAILED');
        await unchangedBy(() => store.commit(A, { events: [{ type: 'bad type!' }] }), 'VALIDATION_FAILED');
        await unchangedBy(() => store.commit(A, { readModelOps: [{ op: 'upsert', view: '9bad', id: 'x', doc: {} }] }), 'VALIDATION_FAILED');
        await unchangedBy(() => store.commit(A, { events: [JSON.parse('{"type":"Ok","payload":{"__proto__":{"x":1}}}')] }), 'VALIDATION_FAILED');
        await unchangedBy(() => store.readModels.upsert(A, 'board', 'p', JSON.parse('{"__proto__":{"x":1}}') as Record<string, unknown>), 'VALIDATION_FAILED');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      });

      it('B02 oversized attributes are PAYLOAD_TOO_LARGE with limit and actual', async () => {
        const big = { blob: 'x'.repeat(1024 * 1024) };
        const err = await unchangedBy(() => store.commit(A, { writes: [{ entityTypeId: 'Task', attributes: {} }, { entityTypeId: 'Task', attributes: big }] }), 'PAYLOAD_TOO_LARGE');
        expect(err.details.limit).toBe(1024 * 1024);
        expect(err.details.actual).toBeGreaterThan(1024 * 1024);
        await unchangedBy(() => store.readModels.upsert(A, 'board', 'big', big), 'PAYLOAD_TOO_LARGE');
        const justUnder = { blob: 'x'.repeat(1024 * 1024 - 20) };
        expect((await store.put(A, { entityTypeId: 'Task', attributes: justUnder })).version).toBe(1);
      });

      it('B02b an oversized event payload or entity metadata is PAYLOAD_TOO_LARGE, whatever path the commit came by — nothing of it written', async () => {
        const big = { blob: 'x'.repeat(1024 * 1024) };
        const small = { writes: [{ entityTypeId: 'Task', attributes: { ok: true } }], readModelOps: [{ op: 'upsert' as const, view: 'board', id: 'c', doc: { a: 1 } }] };
        const event = await unchangedBy(() => store.commit(A, { ...small, events: [{ type: 'Small', payload: {} }, { type: 'Huge', payload: big }] }), 'PAYLOAD_TOO_LARGE');
        expect(event.message).toContain('event payload');
        expect(event.details).toMatchObject({ index: 1, type: 'Huge', limit: 1024 * 1024 });
        expect(event.details.actual).toBeGreaterThan(1024 * 1024);
        expect(event.hint).toContain('maxAttributeBytes');
        const meta = await unchangedBy(() => store.commit(A, { writes: [{ entityTypeId: 'Task', attributes: {} }, { entityTypeId: 'Task', entityId: 'm1', attributes: {}, metadata: big }] }), 'PAYLOAD_TOO_LARGE');
        expect(meta.message).toContain('entity metadata');
        expect(meta.details).toMatchObject({ index: 1, entityId: 'm1', limit: 1024 * 1024 });
        // A plugin's effects reach the store as a commit too (source plugin): bounded the same.
        await unchangedBy(() => store.commit(A, { events: [{ type: 'Huge', payload: big }], source: { kind: 'plugin', id: 'p1' } }), 'PAYLOAD_TOO_LARGE');
        // Just under the limit: committed.
        const justUnder = { blob: 'x'.repeat(1024 * 1024 - 20) };
        const done = await store.commit(A, { writes: [{ entityTypeId: 'Task', attributes: {}, metadata: justUnder }], events: [{ type: 'Big', payload: justUnder }] });
        expect(done.events.map((e) => e.type)).toContain('Big');
      });

      it('B03 dangerous or unknown filter operators are INVALID_FILTER naming the operator', async () => {
        await store.put(A, { entityTypeId: 'Task', attributes: { n: 1 } });
        const cases: Array<[Record<string, unknown>, string | undefined]> = [
          [{ $where: 'this.attributes.n == 1' }, '$where'],
          [{ $function: { body: 'return true', args: [], lang: 'js' } }, '$function'],
          [{ $accumulator: {} }, '$accumulator'],
          [{ $expr: { $eq: ['$version', 1] } }, '$expr'],
          [{ $jsonSchema: {} }, '$jsonSchema'],
          [{ 'attributes.n': { $foo: 1 } }, '$foo'],
          [{ 'attributes.n': { $where: 'x' } }, '$where'],
          [{ $or: [{ 'attributes.n': 1 }, { $where: 'x' }] }, '$where'],
          [{ 'attributes.n': { $elemMatch: { $function: {} } } }, '$function'],
          [{ $bad: 1 }, '$bad'],
          [{ '$attributes.n': 1 }, '$attributes'],
          [{ 'attributes.n': { $gt: 1, plain: 2 } }, undefined],
          [JSON.parse('{"__proto__": {"x": 1}}'), undefined],
          [{ 'attributes.constructor': 1 }, undefined],
          [{ 'attributes.n': { $regex: 'a'.repeat(513) } }, '$regex'],
          [{ 'attributes.n': { $in: 5 } }, '$in'],
          [{ 'attributes.n': { $eq: { $where: 'x' } } }, '$where'],
        ];
        let deep: Record<string, unknown> = { 'attributes.n': 1 };
        for (let i = 0; i < 20; i++) deep = { $and: [deep] };
        cases.push([deep, undefined]);
        for (const [filter, operator] of cases) {
          const err = await unchangedBy(() => store.query(A, { entityTypeId: 'Task', filter }), 'INVALID_FILTER');
          if (operator !== undefined) expect(err.details.operator, JSON.stringify(filter).slice(0, 80)).toBe(operator);
          expect(err.hint).toBeTruthy();
        }
        await expectCode(store.readModels.query(A, 'board', { filter: { $where: 'true' } }), 'INVALID_FILTER');
      });

      it('B04 maxBatchSize bounds a commit', async () => {
        const writes = Array.from({ length: 1001 }, () => ({ entityTypeId: 'Task', attributes: {} }));
        const err = await unchangedBy(() => store.commit(A, { writes }), 'PAYLOAD_TOO_LARGE');
        expect(err.details).toMatchObject({ limit: 1000, actual: 1001 });
      });
    });

    describe('commits', () => {
      it('C01 a batch whose third write conflicts leaves no trace of the first two nor their events', async () => {
        await store.put(A, { entityId: 'c-3', entityTypeId: 'Task', attributes: {} });
        await unchangedBy(
          () =>
            store.commit(A, {
              writes: [
                { entityId: 'c-1', entityTypeId: 'Task', attributes: {} },
                { entityId: 'c-2', entityTypeId: 'Task', attributes: {} },
                { entityId: 'c-3', entityTypeId: 'Task', attributes: {}, expectedVersion: 0 },
              ],
              events: [{ type: 'Extra' }],
              readModelOps: [{ op: 'upsert', view: 'board', id: 'c', doc: { a: 1 } }],
            }),
          'VERSION_CONFLICT',
        );
        await expectCode(store.get(A, 'c-1'), 'NOT_FOUND');
        await expectCode(store.readModels.get(A, 'board', 'c'), 'NOT_FOUND');
      });

      it('C02 the same idempotency key applies once and answers the first result', async () => {
        const batch = { idempotencyKey: 'evt-1:plugin@1', writes: [{ entityTypeId: 'Task', attributes: { a: 1 } }], events: [{ type: 'Pinged' }] };
        const first = await store.commit(A, batch);
        expect(first.applied).toBe(true);
        const size = await store.outbox.size();
        const second = await store.commit(A, batch);
        expect(second.applied).toBe(false);
        expect(second.versions).toEqual(first.versions);
        expect(second.events).toEqual(first.events);
        expect(await store.outbox.size()).toBe(size);
        expect((await store.query(A, { entityTypeId: 'Task' })).items).toHaveLength(1);
        expect((await store.commit(B, batch)).applied).toBe(true);
      });

      it('C02b committed() answers whether a key was committed in the tenant, without committing anything', async () => {
        expect(await store.committed(A, 'evt-2:plugin@1')).toBe(false);
        await store.commit(A, { idempotencyKey: 'evt-2:plugin@1', writes: [{ entityTypeId: 'Task', attributes: { a: 2 } }] });
        expect(await store.committed(A, 'evt-2:plugin@1')).toBe(true);
        expect(await store.committed(B, 'evt-2:plugin@1')).toBe(false);
        expect(await store.committed(A, 'evt-3:plugin@1')).toBe(false);
      });

      it('C02d purgeIdempotency deletes keys committed before a time, of every tenant, oldest first and at most a batch; a purged key commits anew, later keys stay', async () => {
        expect(typeof store.purgeIdempotency).toBe('function');
        const purge = (before: string, limit: number) => store.purgeIdempotency!(before, limit);
        await store.commit(A, { idempotencyKey: 'old-1', writes: [{ entityTypeId: 'Task', attributes: { n: 1 } }] });
        await store.commit(B, { idempotencyKey: 'old-2', writes: [{ entityTypeId: 'Task', attributes: { n: 2 } }] });
        await store.commit(A, { idempotencyKey: 'old-3', writes: [{ entityTypeId: 'Task', attributes: { n: 3 } }] });
        await new Promise((r) => setTimeout(r, 5));
        const cut = new Date().toISOString();
        await new Promise((r) => setTimeout(r, 5));
        await store.commit(A, { idempotencyKey: 'new-1', writes: [{ entityTypeId: 'Task', attributes: { n: 4 } }] });
        // A batch of one: the oldest goes first.
        expect(await purge(cut, 1)).toBe(1);
        expect(await store.committed(A, 'old-1')).toBe(false);
        expect(await store.committed(B, 'old-2')).toBe(true);
        expect(await purge(cut, 100)).toBe(2);
        expect(await purge(cut, 100)).toBe(0);
        expect([await store.committed(B, 'old-2'), await store.committed(A, 'old-3'), await store.committed(A, 'new-1')]).toEqual([false, false, true]);
        // A key purged is free again; one kept still answers its first result.
        expect((await store.commit(A, { idempotencyKey: 'old-1', writes: [{ entityTypeId: 'Task', attributes: { n: 5 } }] })).applied).toBe(true);
        expect((await store.commit(A, { idempotencyKey: 'new-1', writes: [{ entityTypeId: 'Task', attributes: { n: 6 } }] })).applied).toBe(false);
      });

      it('C02c FENCE a commit whose lease token is older than one already committed under the key is refused (FENCED) and applies nothing, in any tenant; equal and newer tokens commit', async () => {
        const fence = (token: number): { key: string; token: number } => ({ key: 'q:plugin:*:P', token });
        expect((await store.commit(A, { fence: fence(1), idempotencyKey: 'f-1', writes: [{ entityId: 'f-1', entityTypeId: 'Task', attributes: { by: 1 } }] })).applied).toBe(true);
        expect((await store.commit(B, { fence: fence(1), writes: [{ entityId: 'f-2', entityTypeId: 'Task', attributes: { by: 1 } }] })).applied).toBe(true);
        // A holder's later commits under the token it has committed with (an adapter may skip re-reading it).
        expect((await store.commit(B, { fence: fence(1), writes: [{ entityId: 'f-2', entityTypeId: 'Task', attributes: { by: 1, again: true } }] })).applied).toBe(true);
        // The lease moved: its new holder (token 2) commits; the old holder (token 1) is fenced out.
        expect((await store.commit(B, { fence: fence(2), writes: [{ entityId: 'f-2', entityTypeId: 'Task', attributes: { by: 2 } }] })).applied).toBe(true);
        const size = await store.outbox.size();
        const err = await expectCode(store.commit(A, { fence: fence(1), idempotencyKey: 'f-3', writes: [{ entityId: 'f-1', entityTypeId: 'Task', attributes: { by: 1, again: true } }], events: [{ type: 'Late' }] }), 'FENCED');
        expect(err.details).toMatchObject({ key: 'q:plugin:*:P', token: 1, current: 2 });
        expect(await store.committed(A, 'f-3')).toBe(false);
        expect((await store.get(A, 'f-1')).version).toBe(1);
        expect(await store.outbox.size()).toBe(size);
        // Even a key the old holder committed before is answered FENCED now, not replayed as success.
        await expectCode(store.commit(A, { fence: fence(1), idempotencyKey: 'f-1', writes: [{ entityId: 'f-1', entityTypeId: 'Task', attributes: { by: 1 } }] }), 'FENCED');
        // Fences are per key: another queue's token 1 is untouched by this one's 2.
        expect((await store.commit(A, { fence: { key: 'q:plugin:acme:Q', token: 1 }, writes: [{ entityTypeId: 'Task', attributes: {} }] })).applied).toBe(true);
        expect((await store.commit(A, { fence: fence(2), writes: [{ entityTypeId: 'Task', attributes: {} }] })).applied).toBe(true);
        expect((await store.commit(A, { fence: fence(5), writes: [{ entityTypeId: 'Task', attributes: {} }] })).applied).toBe(true);
        await expectCode(store.commit(A, { fence: fence(4), writes: [{ entityTypeId: 'Task', attributes: {} }] }), 'FENCED');
      });

      it('C03 the outbox holds one event per write then the extra events, in order, with chain metadata', async () => {
        const causation = { eventId: 'cause-1', correlationId: 'root-1', hop: 2, experiment: { id: 'exp', variant: 'b' } };
        const source = { kind: 'plugin' as const, id: 'plugin:p@1' };
        const r = await store.commit(A, {
          writes: [
            { entityId: 'o-1', entityTypeId: 'Task', attributes: { i: 1 } },
            { entityId: 'o-2', entityTypeId: 'Note', attributes: { i: 2 } },
            { entityId: 'o-1', entityTypeId: 'Task', attributes: { i: 3 } },
          ],
          events: [{ type: 'Extra', entityId: 'o-1', payload: { k: 1 } }],
          causation,
          source,
        });
        expect(r.versions.map((v) => `${v.entityId}@${v.version}`)).toEqual(['o-1@1', 'o-2@1', 'o-1@2']);
        expect(r.versions.every((v) => v.causationId === 'cause-1')).toBe(true);
        expect((await store.get(A, 'o-1')).version).toBe(2);
        const entries = await store.outbox.peek(100);
        expect(entries.map((e) => e.event)).toEqual(r.events);
        expect(entries.map((e) => e.event.type)).toEqual(['EntityCreated', 'EntityCreated', 'EntityUpdated', 'Extra']);
        for (let i = 1; i < entries.length; i++) expect(entries[i]!.seq).toBeGreaterThan(entries[i - 1]!.seq);
        for (const { event } of entries) {
          expect(event).toMatchObject({ correlationId: 'root-1', causationId: 'cause-1', hop: 3, experiment: { id: 'exp', variant: 'b' }, source, tenantId: 'acme' });
        }
        expect(entries[3]!.event.payload).toEqual({ k: 1 });
        expect(new Set(entries.map((e) => e.event.eventId)).size).toBe(4);
      });

      it('C04 markPublished removes entries idempotently', async () => {
        for (let i = 0; i < 3; i++) await store.put(A, { entityTypeId: 'Task', attributes: { i } });
        const entries = await store.outbox.peek(2);
        expect(entries).toHaveLength(2);
        await store.outbox.markPublished(entries.map((e) => e.seq));
        await store.outbox.markPublished(entries.map((e) => e.seq));
        expect(await store.outbox.size()).toBe(1);
        expect((await store.outbox.peek(10))[0]!.event.payload).toMatchObject({ attributes: { i: 2 } });
      });

      it('C05 read-model operations commit with the writes', async () => {
        await store.readModels.upsert(A, 'board', 'old', { n: 0 });
        await store.commit(A, {
          writes: [{ entityTypeId: 'Task', attributes: {} }],
          readModelOps: [
            { op: 'upsert', view: 'board', id: 'new', doc: { n: 1 } },
            { op: 'delete', view: 'board', id: 'old' },
          ],
        });
        expect((await store.readModels.query(A, 'board')).items.map((d) => d.id)).toEqual(['new']);
      });
    });

    describe('read models and config', () => {
      it('R01 upsert, get, delete', async () => {
        const d = await store.readModels.upsert(A, 'board', 'r1', { n: 1 });
        expect(d).toMatchObject({ view: 'board', id: 'r1', doc: { n: 1 } });
        await store.readModels.upsert(A, 'board', 'r1', { n: 2 });
        expect((await store.readModels.get(A, 'board', 'r1')).doc).toEqual({ n: 2 });
        expect(await store.readModels.delete(A, 'board', 'r1')).toBe(true);
        expect(await store.readModels.delete(A, 'board', 'r1')).toBe(false);
        await expectCode(store.readModels.get(A, 'board', 'r1'), 'NOT_FOUND');
      });

      it('R02 query filters, sorts and pages', async () => {
        for (let i = 0; i < 12; i++) await store.readModels.upsert(A, 'board', `d${String(i).padStart(2, '0')}`, { n: i % 4, col: i % 2 ? 'todo' : 'done' });
        await store.readModels.upsert(A, 'other', 'z', { n: 1, col: 'todo' });
        const ids: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.readModels.query(A, 'board', { filter: { col: 'todo' }, sort: { n: -1 }, limit: 2, ...(cursor ? { cursor } : {}) });
          ids.push(...page.items.map((d) => d.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined);
        expect(ids).toEqual(['d03', 'd07', 'd11', 'd01', 'd05', 'd09']);
        await expectCode(store.readModels.query(A, 'other', { cursor: 'nope' }), 'INVALID_CURSOR');
      });

      it('K01 tenant settings and per-plugin settings', async () => {
        expect(await store.config.getTenant(A)).toEqual({});
        await store.config.setTenant(A, { theme: 'dark', limits: { rpm: 10 } });
        expect(await store.config.getTenant(A)).toEqual({ theme: 'dark', limits: { rpm: 10 } });
        await store.config.setPlugin(A, 'mailer', { from: 'a@x' });
        await store.config.setPlugin(A, 'pager', { level: 2 });
        expect(await store.config.getPlugin(A, 'mailer')).toEqual({ from: 'a@x' });
        expect(await store.config.getPlugin(A, 'pager')).toEqual({ level: 2 });
        await store.config.setPlugin(G, 'mailer', { from: 'global' });
        expect(await store.config.getPlugin(A, 'mailer')).toEqual({ from: 'a@x' });
        await expectCode(store.config.setTenant(A, JSON.parse('{"__proto__":{"x":1}}') as Record<string, unknown>), 'VALIDATION_FAILED');
      });
    });

    describe('blobs', () => {
      it('B01 stores bytes content-addressed, idempotently, and verifies them on read', async () => {
        const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
        const first = await store.blobs.put(bytes);
        expect(first).toEqual({ sha256: createHash('sha256').update(bytes).digest('hex'), size: 8 });
        expect(await store.blobs.put(bytes)).toEqual(first);
        expect(Array.from(await store.blobs.get(first.sha256))).toEqual(Array.from(bytes));
        expect(await store.blobs.has(first.sha256)).toBe(true);
        await expectCode(store.blobs.get('0'.repeat(64)), 'NOT_FOUND');
        await expectCode(store.blobs.get('../etc/passwd'), 'VALIDATION_FAILED');
      });
    });

    describe('timer due-time index (dueTimers)', () => {
      const timer = (fireAt: string, status = 'scheduled'): { entityTypeId: string; attributes: Record<string, string | Record<string, never>> } => ({
        entityTypeId: 'uee.timer',
        attributes: { type: 'Ping', fireAt, payload: {}, status, pluginId: 'p', pluginName: 'p' },
      });
      // uee.timer is the platform's type: only a platform source (the timer service) writes it.
      const SYS = { source: { kind: 'timer' as const, id: 'timer-service' } };
      it('T01 answers the latest scheduled, due, non-deleted timers of every scope, oldest first', async () => {
        if (store.dueTimers === undefined) return;
        await store.put(A, { entityId: 'tA2', ...timer('2026-01-01T00:00:02.000Z') }, SYS);
        await store.put(B, { entityId: 'tB1', ...timer('2026-01-01T00:00:01.000Z') }, SYS);
        await store.put(G, { entityId: 'tG3', ...timer('2026-01-01T00:00:03.000Z') }, SYS);
        await store.put(A, { entityId: 'tLater', ...timer('2026-01-01T01:00:00.000Z') }, SYS);
        const fired = await store.put(A, { entityId: 'tFired', ...timer('2026-01-01T00:00:00.500Z') }, SYS);
        await store.put(A, { entityId: 'tFired', expectedVersion: fired.version, ...timer('2026-01-01T00:00:00.500Z', 'fired') }, SYS);
        await store.put(A, { entityId: 'tCancelled', ...timer('2026-01-01T00:00:00.100Z', 'cancelled') }, SYS);
        const gone = await store.put(A, { entityId: 'tDeleted', ...timer('2026-01-01T00:00:00.200Z') }, SYS);
        await store.put(A, { entityId: 'tDeleted', expectedVersion: gone.version, deleted: true, ...timer('2026-01-01T00:00:00.200Z') }, SYS);
        await store.put(A, { entityId: 'notATimer', entityTypeId: 'Task', attributes: { fireAt: '2026-01-01T00:00:00.000Z', status: 'scheduled' } });
        const due = await store.dueTimers('2026-01-01T00:00:10.000Z', 100);
        expect(due.map((v) => `${String(v.tenantId)}/${v.entityId}`)).toEqual(['globex/tB1', 'acme/tA2', 'null/tG3']);
        expect(due[0]).toMatchObject({ entityTypeId: 'uee.timer', version: 1, attributes: { status: 'scheduled' } });
        expect((await store.dueTimers('2026-01-01T00:00:10.000Z', 2)).map((v) => v.entityId)).toEqual(['tB1', 'tA2']);
        expect(await store.dueTimers('2025-12-31T00:00:00.000Z', 100)).toEqual([]);
      });
      it('T02 a timer leaves the index when its next version is not scheduled, and re-enters when rescheduled', async () => {
        if (store.dueTimers === undefined) return;
        const v1 = await store.put(A, { entityId: 't1', ...timer('2026-01-01T00:00:01.000Z') }, SYS);
        const v2 = await store.put(A, { entityId: 't1', expectedVersion: v1.version, ...timer('2026-01-01T00:00:01.000Z', 'dead') }, SYS);
        expect(await store.dueTimers('2027-01-01T00:00:00.000Z', 10)).toEqual([]);
        await store.put(A, { entityId: 't1', expectedVersion: v2.version, ...timer('2026-06-01T00:00:00.000Z') }, SYS);
        expect((await store.dueTimers('2027-01-01T00:00:00.000Z', 10)).map((v) => v.version)).toEqual([3]);
      });
    });

    invocationConformance(() => store);
    journalConformance(() => store);

    describe('lifecycle', () => {
      it('L01 close is idempotent and later calls are CLOSED', async () => {
        await store.close();
        await store.close();
        await expectCode(store.put(A, { entityTypeId: 'Task', attributes: {} }), 'CLOSED');
        await expectCode(store.get(A, 'x'), 'CLOSED');
        await expectCode(store.query(A, { entityTypeId: 'Task' }), 'CLOSED');
        await expectCode(store.readModels.get(A, 'board', 'x'), 'CLOSED');
        await expectCode(store.config.getTenant(A), 'CLOSED');
        await expectCode(store.outbox.size(), 'CLOSED');
        await expectCode(store.tenants.list(), 'CLOSED');
      });
    });
  });
}
