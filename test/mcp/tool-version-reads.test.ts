/**
 * TOOL-VERSIONS-1: a plugin tool naming one plugin reads that plugin's versions, not every version of
 * every plugin in the caller's scope — each read with its sources, on an embedded store's main thread
 * (a tenant with 300 versions of a 50 KB source: ~115–150 ms a call, every tenant's routing waiting).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { PLUGIN_ENTITY_TYPE, pluginVersionId } from '../../src/registry/index.js';
import { watModule } from '../router/harness.js';
import { call, connectHttp, sc, startServer, type TestServer } from './helpers.js';

describe('plugin tools read the plugin they name', () => {
  let s: TestServer;
  let client: Client;
  beforeAll(async () => {
    s = await startServer();
    const wasm = await watModule('noop');
    const manifest = (name: string) => ({ name, subscribeTo: ['Tick'], tenantScope: 'tenant' as const, tenantId: 'acme', capabilities: [] });
    const first = (await s.app.registry.deploy('user:test', { manifest: manifest('Target'), wasm })).plugin;
    await s.app.registry.deploy('user:test', { manifest: manifest('Target'), wasm });
    // 60 other plugins of acme, each with a 20 KB source.
    const acme = { tenantId: 'acme', actor: 'system:test' };
    const files = { 'plugin.ts': `// ${'x'.repeat(20_000)}\n` };
    for (let i = 0; i < 60; i++) {
      const name = `Other${i}`;
      await s.app.store.put(acme, { entityId: pluginVersionId('acme', name, 1), entityTypeId: PLUGIN_ENTITY_TYPE, attributes: { ...first.attributes, name, pluginVersion: 1, source: { language: 'ts', files } }, expectedVersion: 0, eventType: 'Touched' }, { source: { kind: 'system', id: 'test' } });
    }
    client = await connectHttp(s.url, s.tokens.acme);
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await s?.close();
  });

  it('TOOL-VERSIONS-1 plugin_configure (pin, unpin) reads Target\'s versions only, and still acts on them', async () => {
    const { store } = s.app;
    const get = store.get.bind(store);
    const query = store.query.bind(store);
    // Reads of any plugin document but Target's versions (probes for a version 3 included: the newest is found by id).
    const target = pluginVersionId('acme', 'Target', 1).replace(/1$/, '');
    const others: string[] = [];
    store.get = (c, id, o) => (id.startsWith('plugin-') && !id.startsWith(target) && others.push(id), get(c, id, o));
    store.query = (c, q) => (q.entityTypeId === PLUGIN_ENTITY_TYPE && others.push(`query:${String(c.tenantId)}`), query(c, q));
    try {
      const pinned = await call(client, 'plugin_configure', { name: 'Target', action: 'pin', version: 1 });
      expect(pinned.isError).not.toBe(true);
      expect(sc(pinned).after.effectiveVersion).toBe(1);
      const unpinned = await call(client, 'plugin_configure', { name: 'Target', action: 'unpin' });
      expect(unpinned.isError).not.toBe(true);
      expect(sc(unpinned).after.effectiveVersion).toBe(2);
    } finally {
      store.get = get;
      store.query = query;
    }
    expect(others).toEqual([]);
  }, 60_000);
});
