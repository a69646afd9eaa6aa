/**
 * ROUTER-DEPLOY-1: deploys of one plugin name racing each other — in one process, or in two
 * processes sharing a PostgreSQL store — each get a version number of their own.
 * ROUTER-DEPLOY-2: deploys and enables racing for a tenant's last subscriber slot on an event type
 * (--max-subscribers-per-type) — in one process, or in two sharing a PostgreSQL store — take it once.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isUeeError } from '../../src/core/index.js';
import type { UeeApp } from '../../src/app/index.js';
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

  it('ROUTER-DEPLOY-2 deploys and an enable racing for a tenant\'s last slot take it once — a subscriber slot on a type, and a plugin slot of the tenant (each on a type of its own): the others are refused LIMIT_EXCEEDED (one process on SQLite, two on PostgreSQL)', async () => {
    const wasm = await watModule('noop');
    const acme = { tenantId: 'acme', actor: 'user:test' };
    const kinds = [
      { setting: 'maxSubscribersPerType', limit: { runtime: 'off', maxSubscribersPerType: '2' }, type: (): string => 'Tick' },
      { setting: 'maxPluginsPerTenant', limit: { runtime: 'off', maxPluginsPerTenant: '2' }, type: (name: string): string => `Type${name}` },
    ];
    /** One plugin enabled and one disabled leave one slot; four new names and the disabled one's enable race for it. */
    const race = async (apps: UeeApp[], kind: (typeof kinds)[number]): Promise<void> => {
      const subscriber = (name: string) => ({ name, tenantScope: 'tenant' as const, tenantId: 'acme', subscribeTo: [kind.type(name)], capabilities: [] });
      const first = apps[0]!;
      await first.registry.deploy('user:test', { manifest: subscriber('Held'), wasm });
      const parked = (await first.registry.deploy('user:test', { manifest: subscriber('Parked'), wasm })).plugin;
      await first.registry.setStatus(acme, parked.id, 'disabled');
      const attempts = [
        ...['A', 'B', 'C', 'D'].map((name, i) => apps[i % apps.length]!.registry.deploy('user:test', { manifest: subscriber(name), wasm })),
        apps[apps.length - 1]!.registry.setStatus(acme, parked.id, 'enabled'),
      ];
      const outcomes = await Promise.allSettled(attempts);
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : isUeeError(o.reason) ? `${o.reason.code} ${String(o.reason.details.setting)}` : String(o.reason))).sort()).toEqual([
        ...Array.from({ length: 4 }, () => `LIMIT_EXCEEDED ${kind.setting}`),
        'ok',
      ]);
      const enabled = (await first.registry.listAll()).filter((p) => p.tenantId === 'acme' && p.attributes.status === 'enabled');
      expect(enabled).toHaveLength(2);
    };

    for (const [k, kind] of kinds.entries()) {
      const site = newSite('embedded', `fanout-race${k}`);
      disposers.push(() => site.dispose());
      const app = await openApp(site, kind.limit);
      disposers.push(() => app.close());
      await race([app], kind);

      const schema = randomSchema('fanoutrace');
      schemas.push(schema);
      const store = schemaUrl(schema);
      const pgSite = newSite('redis', `fanout-race-pg${k}`);
      disposers.push(() => pgSite.dispose());
      const otherDir = tempDir('uee-fanout-race');
      disposers.push(() => otherDir[Symbol.dispose]());
      const one = await openApp(pgSite, { ...kind.limit, store });
      disposers.push(() => one.close());
      const two = await openApp({ ...pgSite, dataDir: otherDir.path }, { ...kind.limit, store });
      disposers.push(() => two.close());
      await race([one, two], kind);
    }
  }, 120_000);
});
