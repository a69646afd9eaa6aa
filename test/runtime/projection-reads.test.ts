// A real wasm plugin reads a declarative projection by its name through query_read_model (the host
// services send it to the active version) and cannot write the projection's physical view.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { ProjectionService, versionView } from '../../src/projections/index.js';
import { ExecutionHost, createLocalModelGateway, createStoreHostServices, type InvocationResult } from '../../src/runtime/index.js';
import { openSqliteStore, type EntityStore } from '../../src/store/index.js';
import { tempDir, tenantCtx } from '../helpers.js';
import { makeEvent } from './setup.js';
import { buildWat } from './wat.js';

const A = tenantCtx('acme');
const dir = tempDir('uee-rt-proj');
let store: EntityStore;
let svc: ProjectionService;
let host: ExecutionHost;

function output(r: InvocationResult): unknown {
  if (!r.ok) throw new Error(`expected success, got ${r.error.code}: ${r.error.message}`);
  return r.output;
}

beforeAll(async () => {
  store = await openSqliteStore({ path: join(dir.path, 'store.db') });
  await store.tenants.create('acme');
  svc = new ProjectionService(store, { logger: silentLogger });
  host = await ExecutionHost.create({ workers: 1, services: createStoreHostServices({ store, models: createLocalModelGateway(), resolveView: (c, v) => svc.resolveViewCached(c, v) }) });
  await store.commit(A, { events: [{ type: 'OrderPlaced', payload: { customerId: 'c1', amount: 5 } }, { type: 'OrderPlaced', payload: { customerId: 'c1', amount: 7 } }] });
  await svc.define(A, { name: 'totals', events: ['OrderPlaced'], key: 'payload.customerId', aggregates: { total: { op: 'sum', path: 'payload.amount' } } });
  await svc.rebuild(A, 'totals');
}, 60_000);

afterAll(async () => {
  svc.stop();
  await host.close();
  await store.close();
  dir[Symbol.dispose]();
});

describe('projections through host functions', () => {
  it('RT-PROJ-1 query_read_model on view "<projection>" answers the active version\'s documents', async () => {
    await host.load({ id: 'reader', name: 'Reader', version: '1', kind: 'event', capabilities: ['readEntities'], wasm: await buildWat('host-call', { FN: 'query_read_model', REQUEST: JSON.stringify({ view: 'totals' }) }) });
    expect(output(await host.invoke('reader', { event: makeEvent('acme') }))).toMatchObject({ ok: true, value: { items: [{ id: 'c1', doc: { _key: 'c1', total: 12 } }] } });
  });

  it('RT-PROJ-2 update_read_model on the physical view of a projection is refused with RESERVED_NAME', async () => {
    const REQUEST = JSON.stringify({ op: 'upsert', view: versionView('totals', 1), id: 'c1', doc: { total: 1_000_000 } });
    await host.load({ id: 'forger', name: 'Forger', version: '1', kind: 'event', capabilities: ['updateReadModels'], wasm: await buildWat('host-call', { FN: 'update_read_model', REQUEST }) });
    const r = await host.invoke('forger', { event: makeEvent('acme') });
    expect(output(r)).toMatchObject({ ok: false, error: { code: 'RESERVED_NAME' } });
    expect(r.ok && r.effects.readModelOps).toEqual([]);
    expect((await store.readModels.get(A, versionView('totals', 1), 'c1')).doc).toMatchObject({ total: 12 });
  });

  it('RT-PROJ-3 update_read_model on a projection\'s name is refused too (its documents come only from events); other views are written', async () => {
    for (const [id, view, ok] of [['named', 'totals', false], ['plain', 'notes', true]] as const) {
      const REQUEST = JSON.stringify({ op: 'upsert', view, id: 'c1', doc: { total: 1 } });
      await host.load({ id, name: id, version: '1', kind: 'event', capabilities: ['updateReadModels'], wasm: await buildWat('host-call', { FN: 'update_read_model', REQUEST }) });
      const r = await host.invoke(id, { event: makeEvent('acme') });
      expect(output(r)).toMatchObject(ok ? { ok: true } : { ok: false, error: { code: 'RESERVED_NAME' } });
      expect(r.ok && r.effects.readModelOps.length).toBe(ok ? 1 : 0);
    }
  });
});
