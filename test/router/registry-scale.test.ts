/**
 * ROUTER-REG-1: the registry's per-name reads cost what that name's versions cost, not what the scope
 * holds: with 1,000 plugins (sources included, as deployed from TypeScript) in one scope, reading a
 * name's versions and deploying a new version of it still work — no filtered scan over the scope
 * (which ran out of its query budget with QUERY_TOO_COSTLY).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { PLUGIN_ENTITY_TYPE, pluginVersionId } from '../../src/registry/index.js';
import { newSite, openApp, watModule, type AppSite } from './harness.js';

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
});
