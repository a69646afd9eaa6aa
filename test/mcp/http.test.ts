/* eslint-disable @typescript-eslint/no-unsafe-call -- assertions over arbitrary JSON results */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { call, connectHttp, sc, startServer, type TestServer } from './helpers.js';

let s: TestServer;
let admin: Client;
let acme: Client;
let acmeRo: Client;
let globex: Client;

beforeAll(async () => {
  s = await startServer();
  [admin, acme, acmeRo, globex] = await Promise.all([
    connectHttp(s.url, s.tokens.admin),
    connectHttp(s.url, s.tokens.acme),
    connectHttp(s.url, s.tokens.acmeRo),
    connectHttp(s.url, s.tokens.globex),
  ]);
});
afterAll(async () => {
  await Promise.all([admin, acme, acmeRo, globex].map((c) => c?.close()));
  await s?.close();
});

describe('MCP over Streamable HTTP: tools', () => {
  it('MCP-T1: every tool lists input and output schemas and annotations whose hints (MCP defaults applied) are the tool\'s', async () => {
    const { tools } = await admin.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(s.host.tools.names().sort());
    for (const tool of tools) {
      expect(tool.inputSchema.type, tool.name).toBe('object');
      expect(tool.outputSchema?.type, tool.name).toBe('object');
      expect(typeof tool.description).toBe('string');
      const def = s.host.tools.definition(tool.name)!.annotations;
      const a = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true, ...tool.annotations };
      expect(a.readOnlyHint, tool.name).toBe(def.readOnlyHint);
      expect(a.openWorldHint, tool.name).toBe(def.openWorldHint ?? false);
      if (!def.readOnlyHint) expect([a.destructiveHint, a.idempotentHint], tool.name).toEqual([def.destructiveHint, def.idempotentHint]);
    }
  });

  it('MCP-T2: entity put → get → query → history with structuredContent and text summaries', async () => {
    const put = await call(acme, 'entity_put', { entityTypeId: 'Task', attributes: { title: 'Write tests', priority: 2 } });
    expect(put.isError).toBeFalsy();
    const entity = sc(put).entity;
    expect(entity).toMatchObject({ entityTypeId: 'Task', tenantId: 'acme', version: 1, attributes: { title: 'Write tests' } });
    expect(sc(put).events[0].type).toBe('EntityCreated');
    expect((put.content[0] as { text: string }).text).toContain('wrote Task');

    const v2 = await call(acme, 'entity_put', { entityId: entity.entityId, entityTypeId: 'Task', attributes: { title: 'Write more tests', priority: 3 }, expectedVersion: 1 });
    expect(sc(v2).entity.version).toBe(2);

    const got = await call(acme, 'entity_get', { entityId: entity.entityId });
    expect(sc(got).entity.attributes.priority).toBe(3);
    const old = await call(acme, 'entity_get', { entityId: entity.entityId, version: 1 });
    expect(sc(old).entity.attributes.priority).toBe(2);

    const q = await call(acme, 'entity_query', { entityTypeId: 'Task', filter: { 'attributes.priority': { $gte: 3 } }, sort: { 'attributes.priority': -1 }, limit: 10 });
    expect(sc(q).items.map((e: { entityId: string }) => e.entityId)).toContain(entity.entityId);

    const h = await call(acme, 'entity_history', { entityId: entity.entityId });
    expect(sc(h).items.map((e: { version: number }) => e.version)).toEqual([2, 1]);
  });

  it('MCP-T3: failures are isError with {code, message, hint}: stale expectedVersion, bad filter', async () => {
    const put = await call(acme, 'entity_put', { entityTypeId: 'Task', attributes: { title: 'a' } });
    const id = sc(put).entity.entityId;
    const stale = await call(acme, 'entity_put', { entityId: id, entityTypeId: 'Task', attributes: { title: 'b' }, expectedVersion: 7 });
    expect(stale.isError).toBe(true);
    expect(sc(stale)).toMatchObject({ code: 'VERSION_CONFLICT', details: { expected: 7, actual: 1 } });
    expect(sc(stale).hint).toMatch(/entity_get|latest/);
    const bad = await call(acme, 'entity_query', { entityTypeId: 'Task', filter: { $where: 'sleep(1000)' } });
    expect(sc(bad).code).toBe('INVALID_FILTER');
    expect(JSON.stringify(bad)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('MCP-T4: dryRun returns a plan and writes nothing', async () => {
    const before = await s.app.store.outbox.size();
    const plan = await call(acme, 'entity_put', { entityId: 'dry-1', entityTypeId: 'Task', attributes: { x: 1 }, dryRun: true });
    expect(sc(plan)).toMatchObject({ dryRun: true, entity: null, plan: { tenants: ['acme'], eventTypes: ['EntityCreated'] } });
    const gone = await call(acme, 'entity_get', { entityId: 'dry-1' });
    expect(sc(gone).code).toBe('NOT_FOUND');
    const emit = await call(acme, 'event_emit', { type: 'TaskNudged', dryRun: true });
    expect(sc(emit)).toMatchObject({ dryRun: true, applied: false, event: null, plan: { eventTypes: ['TaskNudged'] } });
    expect(await s.app.store.outbox.size()).toBeLessThanOrEqual(before);
  });

  it('MCP-T5: event_emit commits through the outbox, reaches the bus, and honours idempotencyKey', async () => {
    const first = await call(acme, 'event_emit', { type: 'TaskNudged', payload: { reason: 'late' }, idempotencyKey: 'nudge-1' });
    expect(sc(first)).toMatchObject({ applied: true, event: { type: 'TaskNudged', tenantId: 'acme', payload: { reason: 'late' }, source: { kind: 'api' } } });
    const again = await call(acme, 'event_emit', { type: 'TaskNudged', payload: { reason: 'late' }, idempotencyKey: 'nudge-1' });
    expect(sc(again)).toMatchObject({ applied: false, event: { eventId: sc(first).event.eventId } });
    await s.app.relay.flush();
    const catalogue = await acme.readResource({ uri: 'uee://catalogue/event-types' });
    const text = (catalogue.contents[0] as { text: string }).text;
    expect(JSON.parse(text).tenants[0].eventTypes.map((e: { type: string }) => e.type)).toContain('TaskNudged');
    // A declared workflow's transition events are listed before any instance has taken them.
    await s.app.workflows.define({ tenantId: 'acme', actor: 'user:test' }, { name: 'review', states: ['Open', 'Closed'], transitions: { Open: ['Closed'] } });
    const after = JSON.parse(((await acme.readResource({ uri: 'uee://catalogue/event-types' })).contents[0] as { text: string }).text);
    expect(after.tenants[0].workflowEvents).toEqual([{ workflow: 'review', version: 1, eventTypes: ['WorkflowTransitioned', 'review.Open', 'review.Closed'] }]);
  });

  it('MCP-T6: read models and tenant settings', async () => {
    await s.app.store.readModels.upsert({ tenantId: 'acme', actor: 't' }, 'TaskBoard', 'open', { count: 3 });
    const got = await call(acme, 'read_model_get', { view: 'TaskBoard', id: 'open' });
    expect(sc(got).doc.doc).toEqual({ count: 3 });
    const q = await call(acme, 'read_model_query', { view: 'TaskBoard', filter: { count: { $gt: 1 } } });
    expect(sc(q).items).toHaveLength(1);
    const set = await call(acme, 'tenant_config_set', { settings: { sla: 3 }, plugin: 'Prioritizer' });
    expect(sc(set).plan.changes[0]).toMatchObject({ action: 'create' });
    const merged = await call(acme, 'tenant_config_set', { settings: { tz: 'UTC' }, plugin: 'Prioritizer', merge: true });
    expect(sc(merged).settings).toEqual({ sla: 3, tz: 'UTC' });
    const get = await call(acmeRo, 'tenant_config_get', { plugin: 'Prioritizer' });
    expect(sc(get).settings).toEqual({ sla: 3, tz: 'UTC' });
  });

  it('MCP-T7: admin tools: admins must name the tenant; tenants cannot list or create tenants', async () => {
    const noTenant = await call(admin, 'entity_query', { entityTypeId: 'Task' });
    expect(sc(noTenant)).toMatchObject({ code: 'VALIDATION_FAILED' });
    const unknown = await call(admin, 'entity_query', { tenantId: 'nope', entityTypeId: 'Task' });
    expect(sc(unknown).code).toBe('UNKNOWN_TENANT');
    const created = await call(admin, 'tenant_create', { tenantId: 'initech', name: 'Initech' });
    expect(sc(created)).toMatchObject({ created: true, tenant: { tenantId: 'initech' } });
    const list = await call(admin, 'tenant_list');
    expect(sc(list).tenants.map((t: { tenantId: string }) => t.tenantId)).toEqual(expect.arrayContaining(['acme', 'globex', 'initech']));
    const tenantTools = (await acme.listTools()).tools.map((t) => t.name);
    expect(tenantTools).not.toContain('tenant_create');
    const refused = await call(acme, 'tenant_create', { tenantId: 'evil' });
    expect(sc(refused).code).toBe('TENANT_FORBIDDEN');
  });
});

describe('MCP over Streamable HTTP: tenancy and read-only tokens', () => {
  it('MCP-A1: a foreign entity id answers NOT_FOUND exactly like a missing one', async () => {
    const mine = await call(acme, 'entity_put', { entityTypeId: 'Secret', attributes: { v: 1 } });
    const id = sc(mine).entity.entityId;
    const foreign = await call(globex, 'entity_get', { entityId: id });
    const missing = await call(globex, 'entity_get', { entityId: '01900000-0000-7000-8000-000000000000' });
    expect(sc(foreign).code).toBe('NOT_FOUND');
    expect(sc(missing).code).toBe('NOT_FOUND');
    expect(sc(foreign).hint).toBe(sc(missing).hint);
    expect(sc(await call(globex, 'entity_history', { entityId: id })).code).toBe('NOT_FOUND');
    const q = await call(globex, 'entity_query', { entityTypeId: 'Secret' });
    expect(sc(q).items).toEqual([]);
  });

  it('MCP-A2: a tenant token cannot name another tenant, existing or not', async () => {
    for (const tenantId of ['acme', 'no-such-tenant', null]) {
      const r = await call(globex, 'entity_query', { tenantId, entityTypeId: 'Secret' });
      expect(sc(r).code, String(tenantId)).toBe('TENANT_FORBIDDEN');
    }
  });

  it('MCP-A3: read-only tokens do not list mutating tools and get TENANT_FORBIDDEN calling them; nothing is written', async () => {
    const names = (await acmeRo.listTools()).tools.map((t) => t.name);
    expect(names).toContain('entity_get');
    expect(names).not.toContain('entity_put');
    expect(names).not.toContain('event_emit');
    const before = await s.app.store.query({ tenantId: 'acme', actor: 't' }, { entityTypeId: 'RoProbe' });
    const r = await call(acmeRo, 'entity_put', { entityTypeId: 'RoProbe', attributes: { a: 1 } });
    expect(sc(r)).toMatchObject({ code: 'TENANT_FORBIDDEN' });
    expect(sc(await call(acmeRo, 'event_emit', { type: 'X' })).code).toBe('TENANT_FORBIDDEN');
    const after = await s.app.store.query({ tenantId: 'acme', actor: 't' }, { entityTypeId: 'RoProbe' });
    expect(after.items.length).toBe(before.items.length);
  });
});
