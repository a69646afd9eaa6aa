/**
 * ROUTER-REG-4: the full reload reads every tenant's version pins (and running experiments) in one scan
 * of each view across tenants, not two queries per tenant — and routes by what it read.
 *
 * ROUTER-REG-3: the router's full reload (its periodic safety net) reads back only the plugin versions
 * whose entity moved since it last read them: every version ever deployed stays in the registry with
 * its sources, and reading them all cost every process what every tenant ever deployed, each time.
 *
 * ROUTER-REG-2: the routing table keeps every version ever deployed, in every process: without their
 * sources, so one tenant redeploying a plugin with large files does not grow every process by the
 * files' size per deploy.
 *
 * ROUTER-REG-1: the registry's per-name reads cost what that name's versions cost, not what the scope
 * holds: with 1,000 plugins (sources included, as deployed from TypeScript) in one scope, reading a
 * name's versions and deploying a new version of it still work — no filtered scan over the scope
 * (which ran out of its query budget with QUERY_TOO_COSTLY).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { PLUGIN_ENTITY_TYPE, pluginGroup, pluginVersionId } from '../../src/registry/index.js';
import type { PluginRecord } from '../../src/registry/index.js';
import { PINS_VIEW } from '../../src/router/index.js';
import { drained, newSite, openApp, refresh, routerInvoker, until, watModule, type AppSite } from './harness.js';

describe('registry with 1,000 plugins in one scope', () => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('ROUTER-REG-1 versions() of a name and a deploy of its next version answer by id, without QUERY_TOO_COSTLY', async () => {
    site = newSite('embedded', 'registry-scale');
    app = await openApp(site, { runtime: 'off' });
    const wasm = await watModule('noop');
    const first = (await app.registry.deploy('user:test', { manifest: { name: 'Scale0', subscribeTo: ['Tick'], capabilities: [] }, wasm })).plugin;
    // 999 more plugins (and a second version of one), each carrying a ~20 KB TypeScript source.
    const files = { 'plugin.ts': `// ${'x'.repeat(20_000)}\nexport function handle() { return null; }\n` };
    const ctx = { tenantId: null, actor: 'system:test' };
    const write = (name: string, version: number) =>
      app.store.put(
        ctx,
        {
          entityId: pluginVersionId(null, name, version),
          entityTypeId: PLUGIN_ENTITY_TYPE,
          attributes: { ...first.attributes, name, pluginVersion: version, source: { language: 'ts', files } },
          expectedVersion: 0,
          eventType: 'PluginInstalled',
        },
        { source: { kind: 'system', id: 'test' } },
      );
    for (let i = 1; i < 1000; i++) await write(`Scale${i}`, 1);
    await write('Scale500', 2);
    expect((await app.registry.list(ctx)).length).toBe(1001);

    const versions = await app.registry.versions(ctx, 'Scale500');
    expect(versions.map((v) => v.attributes.pluginVersion)).toEqual([2, 1]);
    expect(versions.every((v) => v.attributes.name === 'Scale500' && v.tenantId === null)).toBe(true);
    expect(await app.registry.versions(ctx, 'Nobody')).toEqual([]);
    const next = await app.registry.deploy('user:test', { manifest: { name: 'Scale500', subscribeTo: ['Tick'], capabilities: [] }, wasm });
    expect(next.plugin.attributes.pluginVersion).toBe(3);
    expect(next.capabilityDiff.previousVersion).toBe(2);
  }, 120_000);

  it('ROUTER-REG-2 the routing table holds versions without their sources: the version a delivery resolves to carries none, the registry still has them', async () => {
    site = newSite('embedded', 'registry-src');
    app = await openApp(site);
    const wasm = await watModule('noop');
    const files = { 'plugin.ts': `// ${'x'.repeat(50_000)}\nexport function handle() { return null; }\n` };
    for (let i = 0; i < 3; i++) await app.registry.deploy('user:test', { manifest: { name: 'Sourced', subscribeTo: ['Tick'], capabilities: [] }, wasm, source: { language: 'ts', files }, language: 'ts' });
    await refresh(app);
    const invoker = routerInvoker(app);
    const invoke = invoker.invoke.bind(invoker);
    const seen: PluginRecord[] = [];
    invoker.invoke = (plugin, input, options) => {
      seen.push(plugin);
      return invoke(plugin, input, options);
    };
    await app.store.commit({ tenantId: 'acme', actor: 'user:test' }, { events: [{ type: 'Tick', payload: {} }] });
    await drained(app, pluginGroup('Sourced', null));
    expect(seen.map((p) => [p.attributes.pluginVersion, p.attributes.source])).toEqual([[3, undefined]]);
    const stored = await app.registry.versions({ tenantId: null, actor: 'system:test' }, 'Sourced');
    expect(stored.map((v) => v.attributes.source?.files['plugin.ts']?.length)).toEqual([files['plugin.ts'].length, files['plugin.ts'].length, files['plugin.ts'].length]);
  }, 120_000);

  it('ROUTER-REG-3 a full reload reads only the versions that moved: none when nothing did, one written behind its back — which it then routes by', async () => {
    site = newSite('embedded', 'registry-reload');
    app = await openApp(site);
    const wasm = await watModule('noop');
    const manifest = { name: 'Long', subscribeTo: ['Tick'], tenantScope: 'tenant' as const, tenantId: 'acme', capabilities: [] };
    const first = (await app.registry.deploy('user:test', { manifest, wasm })).plugin;
    const acme = { tenantId: 'acme', actor: 'system:test' };
    const files = { 'plugin.ts': `// ${'x'.repeat(20_000)}\n` };
    // 59 more versions with sources, written without lifecycle events: only a full reload finds them.
    for (let v = 2; v <= 60; v++) {
      await app.store.put(acme, { entityId: pluginVersionId('acme', 'Long', v), entityTypeId: PLUGIN_ENTITY_TYPE, attributes: { ...first.attributes, pluginVersion: v, source: { language: 'ts', files } }, expectedVersion: 0, eventType: 'Touched' }, { source: { kind: 'system', id: 'test' } });
    }
    await refresh(app);
    const handledBy = async (): Promise<number> => {
      const [event] = (await app.store.commit({ tenantId: 'acme', actor: 'user:test' }, { events: [{ type: 'Tick', payload: {} }] })).events;
      return until(`Tick ${event!.eventId} handled`, async () => (await app.store.invocations.query({ tenantId: 'acme', actor: 'user:test' }, { eventId: event!.eventId })).items[0]?.plugin.version);
    };
    expect(await handledBy()).toBe(60);
    const { store } = app;
    let documents = 0;
    const get = store.get.bind(store);
    const latestOfType = store.latestOfType!.bind(store);
    store.get = (ctx, id, options) => (id.startsWith('plugin-') && documents++, get(ctx, id, options));
    store.latestOfType = (type, limit, after) => ((documents += 1_000_000), latestOfType(type, limit, after));
    try {
      await refresh(app);
      expect(documents).toBe(0);
      // v60 disabled behind the router's back (no lifecycle event): the next reload reads it, alone.
      const v60 = await app.registry.get(acme, pluginVersionId('acme', 'Long', 60));
      documents = 0;
      await app.store.put(acme, { entityId: v60.id, entityTypeId: PLUGIN_ENTITY_TYPE, attributes: { ...v60.attributes, status: 'disabled' }, expectedVersion: v60.entityVersion, eventType: 'Touched' }, { source: { kind: 'system', id: 'test' } });
      await refresh(app);
      expect(documents).toBe(1);
    } finally {
      store.get = get;
      store.latestOfType = latestOfType;
    }
    expect(await handledBy()).toBe(59);
  }, 120_000);

  it('ROUTER-REG-4 a full reload reads the pins of 60 tenants without a query per tenant, and a pin written behind its back then decides the version', async () => {
    site = newSite('embedded', 'registry-pins');
    app = await openApp(site);
    const wasm = await watModule('noop');
    const tenants = Array.from({ length: 60 }, (_, i) => `t${i}`);
    for (const t of tenants) {
      await app.store.tenants.create(t);
      const manifest = { name: 'Own', subscribeTo: ['Tick'], tenantScope: 'tenant' as const, tenantId: t, capabilities: [] };
      await app.registry.deploy('user:test', { manifest, wasm });
      await app.registry.deploy('user:test', { manifest, wasm });
    }
    await refresh(app);
    const handledBy = async (tenantId: string): Promise<number> => {
      const [event] = (await app.store.commit({ tenantId, actor: 'user:test' }, { events: [{ type: 'Tick', payload: {} }] })).events;
      return until(`Tick ${event!.eventId} handled`, async () => (await app.store.invocations.query({ tenantId, actor: 'user:test' }, { eventId: event!.eventId })).items[0]?.plugin.version);
    };
    expect(await handledBy('t7')).toBe(2);
    // Pinned without announcing it: only a full reload finds it.
    await app.store.readModels.upsert({ tenantId: 't7', actor: 'user:test' }, PINS_VIEW, 'Own', { version: 1 });
    const { readModels } = app.store;
    const query = readModels.query.bind(readModels);
    let queries = 0;
    readModels.query = (ctx, view, q) => (queries++, query(ctx, view, q));
    try {
      await refresh(app);
    } finally {
      readModels.query = query;
    }
    expect(queries).toBe(0);
    expect(await handledBy('t7')).toBe(1);
    expect(await handledBy('t8')).toBe(2);
  }, 180_000);
});

