/**
 * ROUTER-DEPLOY-1: deploys of one plugin name racing each other — in one process, or in two
 * processes sharing a PostgreSQL store — each get a version number of their own.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { dropSchemas, randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { newSite, openApp, watModule } from './harness.js';

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

describe('concurrent deploys', () => {
  const disposers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const d of disposers.splice(0).reverse()) await d();
  });

  it('ROUTER-DEPLOY-1 racing deploys of one name get distinct, consecutive version numbers (one process, and two on PostgreSQL)', async () => {
    const wasm = await watModule('noop');
    const manifest = { name: 'Raced', subscribeTo: ['Tick'], capabilities: [] };
    // One process: the deploys overlap (each reads "latest" before any has written).
    const site = newSite('embedded', 'deploy-race');
    disposers.push(() => site.dispose());
    const app = await openApp(site, { runtime: 'off' });
    disposers.push(() => app.close());
    const local = await Promise.all(Array.from({ length: 4 }, () => app.registry.deploy('user:test', { manifest, wasm })));
    expect(local.map((r) => r.plugin.attributes.pluginVersion).sort()).toEqual([1, 2, 3, 4]);

    // Two processes' apps on one PostgreSQL schema.
    const schema = randomSchema('deployrace');
    schemas.push(schema);
    const store = schemaUrl(schema);
    const pgSite = newSite('redis', 'deploy-race-pg');
    disposers.push(() => pgSite.dispose());
    const otherDir = tempDir('uee-deploy-race');
    disposers.push(() => otherDir[Symbol.dispose]());
    const one = await openApp(pgSite, { store, runtime: 'off' });
    disposers.push(() => one.close());
    const two = await openApp({ ...pgSite, dataDir: otherDir.path }, { store, runtime: 'off' });
    disposers.push(() => two.close());
    const raced = await Promise.all([one, two, one, two].map((a) => a.registry.deploy('user:test', { manifest, wasm })));
    expect(raced.map((r) => r.plugin.attributes.pluginVersion).sort()).toEqual([1, 2, 3, 4]);
    expect((await one.registry.versions({ tenantId: null, actor: 'test' }, 'Raced')).map((p) => p.attributes.pluginVersion)).toEqual([4, 3, 2, 1]);
  }, 120_000);
});
