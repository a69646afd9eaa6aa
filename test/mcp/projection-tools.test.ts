/* eslint-disable @typescript-eslint/no-explicit-any -- assertions over arbitrary JSON results */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult, Client } from '@modelcontextprotocol/client';
import { tenantCtx } from '../helpers.js';
import { call, connectHttp, sc, startServer, type TestServer } from './helpers.js';

/** An agent defines, dry-runs, rebuilds, reads and drops a projection with MCP tools only. */
describe('PT-PROJ: projections over MCP', () => {
  let s: TestServer;
  let agent: Client;
  let other: Client;

  beforeAll(async () => {
    s = await startServer();
    agent = await connectHttp(s.url, s.tokens.acme);
    other = await connectHttp(s.url, s.tokens.globex);
    const events = Array.from({ length: 3000 }, (_, i) => ({ type: 'OrderPlaced', payload: { customerId: `c${i % 20}`, amount: i % 7 } }));
    for (let i = 0; i < events.length; i += 1000) await s.app.store.commit(tenantCtx('acme'), { events: events.slice(i, i + 1000) });
    await s.app.store.commit(tenantCtx('globex'), { events: [{ type: 'OrderPlaced', payload: { customerId: 'g1', amount: 100 } }] });
  }, 120_000);

  afterAll(async () => {
    await agent.close();
    await other.close();
    await s.close();
  });

  async function use(client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, any>> {
    const result = await call(client, name, args);
    if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.structuredContent)}`);
    return sc(result);
  }

  const def = { name: 'totals', events: ['OrderPlaced'], key: 'payload.customerId', aggregates: { orders: { op: 'count' }, total: { op: 'sum', path: 'payload.amount' } } };

  it('PT-PROJ-1: define (dry run, then for real) → rebuild with progress → read the view → drop; typed errors name a tool', async () => {
    const dry = await use(agent, 'projection_define', { ...def, dryRun: true });
    expect(dry.sample.length).toBeGreaterThan(0);
    expect(dry.sample[0]).toMatchObject({ _key: expect.any(String), orders: expect.any(Number), total: expect.any(Number) });
    expect((await use(agent, 'projection_list', {})).projections).toEqual([]);

    expect(await use(agent, 'projection_define', def)).toMatchObject({ dryRun: false, rebuildRequired: true, projection: { name: 'totals', version: null, pending: true } });
    const notBuilt = sc(await call(agent, 'read_model_query', { view: 'totals' }));
    expect(notBuilt).toMatchObject({ code: 'NOT_FOUND' });
    expect(notBuilt.hint).toContain('projection_rebuild');

    const progress: number[] = [];
    const rebuilt: CallToolResult = await agent.callTool({ name: 'projection_rebuild', arguments: { name: 'totals' } }, { onprogress: (p: { progress: number }) => progress.push(p.progress), timeout: 120_000 });
    expect(rebuilt.isError).toBeFalsy();
    expect(sc(rebuilt)).toMatchObject({ version: 1, position: 3000, head: 3000, applied: 3000 });
    expect(progress.length).toBeGreaterThan(0);

    const page = await use(agent, 'read_model_query', { view: 'totals', filter: { _key: 'c3' } });
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ view: 'totals', id: 'c3', doc: { _key: 'c3', orders: 150 } });
    expect((await use(agent, 'read_model_get', { view: 'totals', id: 'c3' })).doc.doc.orders).toBe(150);

    // Maintained incrementally by the platform's background loop from here on (no explicit catch-up).
    await s.app.store.commit(tenantCtx('acme'), { events: [{ type: 'OrderPlaced', payload: { customerId: 'c3', amount: 1 } }] });
    await expect.poll(async (): Promise<unknown> => (await use(agent, 'read_model_get', { view: 'totals', id: 'c3' })).doc.doc.orders as unknown, { timeout: 30_000, interval: 100 }).toBe(151);
    expect((await use(agent, 'projection_get', { name: 'totals' })).projection).toMatchObject({ version: 1, lag: 0, applied: 3001 });

    // globex sees neither the projection nor acme's documents.
    expect(sc(await call(other, 'projection_get', { name: 'totals' }))).toMatchObject({ code: 'NOT_FOUND' });
    expect((await use(other, 'read_model_query', { view: 'totals' })).items).toEqual([]);

    const bad = sc(await call(agent, 'projection_define', { ...def, key: 'a.b.c.d.e.f.g.h.i' }));
    expect(bad).toMatchObject({ code: 'VALIDATION_FAILED' });
    const badFilter = sc(await call(agent, 'projection_define', { ...def, filter: { $where: 'x' } }));
    expect(badFilter).toMatchObject({ code: 'INVALID_FILTER' });

    expect(await use(agent, 'projection_drop', { name: 'totals' })).toMatchObject({ dryRun: false, deleted: 20 });
    expect((await use(agent, 'projection_list', {})).projections).toEqual([]);
  }, 120_000);

  it('PT-PROJ-2: query_explain and query_index take the projection name; its index follows it across rebuilds; status in projection_get', async () => {
    await use(agent, 'projection_define', { ...def, name: 'totals2' });
    await agent.callTool({ name: 'projection_rebuild', arguments: { name: 'totals2' } }, { timeout: 120_000 });
    const q = { target: 'readModel', scope: 'totals2', filter: { _key: 'c3' } };
    expect((await use(agent, 'query_explain', q)).plan).toMatchObject({ access: 'scan', rowsReturned: 1 });
    const added = await use(agent, 'query_index', { action: 'add', ...q, field: '_key' });
    expect(added.after).toMatchObject({ access: 'index', rowsReturned: 1 });
    const ix = (added.indexes as any[]).find((i: any) => i.projection === 'totals2');
    expect(ix).toMatchObject({ field: '_key', scope: 'uee.pv.totals2.1' });
    await agent.callTool({ name: 'projection_rebuild', arguments: { name: 'totals2' } }, { timeout: 120_000 });
    expect((await use(agent, 'query_explain', q)).plan).toMatchObject({ access: 'index', rowsReturned: 1 });
    expect((await use(agent, 'projection_get', { name: 'totals2' })).projection).toMatchObject({ version: 2, status: 'ok', indexes: ['_key'], documents: 20 });
    // The index moved to version 2 with the swap; dropping it by name stops it following the projection.
    const moved = ((await use(agent, 'query_index', { action: 'list' })).indexes as any[]).filter((i: any) => i.projection === 'totals2');
    expect(moved).toMatchObject([{ field: '_key', scope: 'uee.pv.totals2.2' }]);
    await use(agent, 'query_index', { action: 'drop', name: moved[0].name });
    expect(((await use(agent, 'query_index', { action: 'list' })).indexes as any[]).filter((i: any) => i.projection === 'totals2')).toEqual([]);
    expect((await use(agent, 'projection_get', { name: 'totals2' })).projection.indexes).toBeUndefined();
    await use(agent, 'projection_drop', { name: 'totals2' });
  }, 120_000);
});
