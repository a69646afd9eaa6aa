/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- assertions over arbitrary JSON results */
/**
 * WF-MCP-*: the workflow tools over a real server and MCP client — an agent builds an order
 * workflow in ≤ 10 tool calls; typed errors reach the agent; read-only tokens cannot advance;
 * tenants never see each other's instances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { call, connectHttp, sc, startServer, type TestServer } from './helpers.js';

function ok(result: CallToolResult): Record<string, any> {
  if (result.isError) throw new Error(`tool failed: ${JSON.stringify(result.structuredContent)}`);
  return sc(result);
}

const ORDER = {
  name: 'order',
  initial: 'placed',
  states: {
    placed: { timeout: { afterMs: 86_400_000, transition: 'cancel' } },
    paid: {},
    shipped: {},
    delivered: { final: true },
    cancelled: { final: true },
  },
  transitions: [
    { name: 'pay', from: 'placed', to: 'paid', guard: { 'event.payload.amount': { $gt: 0 } }, actions: [{ set: { paid: true } }] },
    { name: 'ship', from: 'paid', to: 'shipped', actions: [{ emit: { type: 'OrderShipped' } }] },
    { name: 'deliver', from: 'shipped', to: 'delivered' },
    { name: 'cancel', from: ['placed', 'paid'], to: 'cancelled' },
  ],
};

describe('MCP workflow tools', () => {
  let s: TestServer;
  let acme: Client;
  let acmeRo: Client;
  let globex: Client;

  beforeAll(async () => {
    s = await startServer();
    [acme, acmeRo, globex] = await Promise.all([connectHttp(s.url, s.tokens.acme), connectHttp(s.url, s.tokens.acmeRo), connectHttp(s.url, s.tokens.globex)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([acme, acmeRo, globex].map((c) => c.close()));
    await s.close();
  });

  it('WF-MCP-1 an order workflow in ≤ 10 tool calls, with enforced transitions and full history', async () => {
    let calls = 0;
    const use = async (client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> => {
      calls++;
      return call(client, name, args);
    };
    const dry = ok(await use(acme, 'workflow_define', { definition: ORDER, dryRun: true }));
    expect(dry.mermaid).toContain('placed --> cancelled: cancel after 86400000ms');
    expect(dry.transitionEvents).toContain('order.shipped');
    expect(ok(await use(acme, 'workflow_define', { definition: ORDER })).version).toBe(1);
    const started = ok(await use(acme, 'workflow_start', { workflow: 'order', context: { sku: 'A-1' } }));
    const id = started.instance.instanceId as string;
    const illegal = await use(acme, 'workflow_advance', { instanceId: id, transition: 'ship' });
    expect(illegal.isError).toBe(true);
    expect(sc(illegal)).toMatchObject({ code: 'ILLEGAL_TRANSITION', details: { allowed: ['pay', 'cancel'] } });
    ok(await use(acme, 'workflow_advance', { instanceId: id, transition: 'pay', payload: { amount: 30 } }));
    ok(await use(acme, 'workflow_advance', { instanceId: id, transition: 'ship', expectedVersion: 2 }));
    const inspected = ok(await use(acme, 'workflow_inspect', { instanceId: id }));
    expect(inspected.instance.attributes.history.map((h: any) => h.to)).toEqual(['placed', 'paid', 'shipped']);
    expect(inspected.allowed).toEqual([{ transition: 'deliver', to: 'delivered', guarded: false }]);
    const listed = ok(await use(acme, 'workflow_list', { workflow: 'order', state: 'shipped' }));
    expect(listed.instances.map((i: any) => i.instanceId)).toEqual([id]);
    expect(calls).toBeLessThanOrEqual(10);

    // Read-only tokens inspect but cannot advance; another tenant sees nothing.
    expect(sc(await call(acmeRo, 'workflow_advance', { instanceId: id, transition: 'deliver' })).code).toBe('TENANT_FORBIDDEN');
    expect(ok(await call(acmeRo, 'workflow_inspect', { instanceId: id })).instance.version).toBe(3);
    expect(sc(await call(globex, 'workflow_inspect', { instanceId: id })).code).toBe('NOT_FOUND');
    expect(sc(await call(globex, 'workflow_start', { workflow: 'order' })).code).toBe('NOT_FOUND');
    const invalid = sc(await call(acme, 'workflow_validate', { definition: { name: 'x', states: ['a', 'b'], transitions: { a: ['c'] } } }));
    expect(invalid.code).toBe('WORKFLOW_INVALID');
  });
});
