/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call -- assertions over arbitrary JSON results */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { tenantCtx } from '../helpers.js';
import { call, connectHttp, sc, startServer, type TestServer } from './helpers.js';

/**
 * A script playing an agent that optimises a read model with MCP tools only: the application's
 * traffic (read_model_query calls) leaves slow queries behind; the agent lists them, takes the
 * slowest, adds the index its plan suggests (dry run first), and shows the plan change and speed-up.
 * The 8,000 documents are loaded through the store beforehand (read models are written by plugins).
 */
describe('QA: an agent finds the slowest query and indexes it, MCP tools only', () => {
  let s: TestServer;
  let agent: Client;
  let other: Client;

  beforeAll(async () => {
    s = await startServer({ UEE_SLOW_QUERY_MS: '1', UEE_QUERY_SCAN_MS: '2000' });
    agent = await connectHttp(s.url, s.tokens.acme);
    other = await connectHttp(s.url, s.tokens.globex);
    const ctx = tenantCtx('acme');
    for (let b = 0; b < 8; b++) {
      const ops = Array.from({ length: 1000 }, (_, i) => {
        const n = b * 1000 + i;
        return { op: 'upsert' as const, view: 'orders', id: `o${n}`, doc: { customer: `c${n % 2000}`, status: n % 2 ? 'open' : 'paid', total: n % 500 } };
      });
      await s.app.store.commit(ctx, { readModelOps: ops });
    }
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

  it('QA-1: query_explain (slow log) → query_index add (dry run, then for real) → the plan goes from scan to index and the query gets faster', async () => {
    // The application's traffic: a cheap query and the expensive one (by customer).
    await use(agent, 'read_model_query', { view: 'orders', filter: { status: 'open' }, limit: 5 });
    for (const c of ['c17', 'c1500', 'c999']) await use(agent, 'read_model_query', { view: 'orders', filter: { customer: c, total: { $gte: 0 } } });

    const slow = (await use(agent, 'query_explain', {})).slow;
    const slowest = slow[0];
    expect(slowest).toMatchObject({ target: 'readModel', scope: 'orders', access: 'scan', shape: { customer: '<string>', total: { $gte: '<number>' } } });
    expect(slowest.suggestedIndex).toEqual({ target: 'readModel', scope: 'orders', field: 'customer' });
    expect(slowest.rowsExamined).toBe(8000);
    // The three runs by customer are one shape, ranked by their total time (not one run's: a cheap query's one slow run on a loaded machine came first before).
    expect(slowest).toMatchObject({ count: 3, totalMs: expect.any(Number) });
    expect(slowest.totalMs).toBeGreaterThanOrEqual(Number(slowest.ms));
    // globex's log holds only its own queries (the platform's own entity reads, with this low threshold).
    expect((await use(other, 'query_explain', {})).slow.filter((q: any) => q.target === 'readModel' && q.scope === 'orders')).toEqual([]);

    const { target, scope, field } = slowest.suggestedIndex;
    const dry = await use(agent, 'query_index', { action: 'add', target, scope, field, filter: slowest.filter, dryRun: true });
    expect(dry.before).toMatchObject({ access: 'scan', rowsExamined: 8000 });
    expect(dry.after).toMatchObject({ access: 'index' });
    expect((await use(agent, 'query_index', { action: 'list' })).indexes).toEqual([]);

    const done = await use(agent, 'query_index', { action: 'add', target, scope, field, filter: slowest.filter });
    expect(done.before).toMatchObject({ access: 'scan', rowsExamined: 8000, rowsReturned: 4 });
    expect(done.after).toMatchObject({ access: 'index', rowsExamined: 4, rowsReturned: 4, probe: `customer IN (${JSON.stringify(slowest.filter.customer)})` });
    expect(done.after.backendPlan.join(' ')).toContain(done.indexes[0].name);
    const speedUp = done.before.ms / done.after.ms;
    expect(speedUp).toBeGreaterThan(3);
    expect((await use(other, 'query_index', { action: 'list' })).indexes).toEqual([]);
    const explained = await use(other, 'query_explain', { target: 'readModel', scope: 'orders', filter: { customer: 'c17' } });
    expect(explained.plan.access).toBe('scan');
    console.info(`[QA-1] ${slowest.shape ? JSON.stringify(slowest.shape) : ''}: ${done.before.access} ${done.before.ms} ms → ${done.after.access} ${done.after.ms} ms (×${speedUp.toFixed(1)})`);
  }, 60_000);
});
