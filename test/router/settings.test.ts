/**
 * ROUTER-SETTINGS: a tenant's plugin settings reach its deliveries as stored — read once per process
 * and kept across batches until that tenant's settings are written — on the
 * embedded bus and Redis, with the settings changed through this process's store and through another
 * connection to the same store (another process).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import type { JsonObject, TenantContext } from '../../src/core/index.js';
import { BACKENDS, deployProbe, marks, newSite, openApp, probeWasm, refresh, until, type AppSite } from './harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);

const acme: TenantContext = { tenantId: 'acme', actor: 'user:test' };

describe.each(BACKENDS)('plugin settings of deliveries ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  const apps: UeeApp[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    await site?.dispose();
  });

  it('ROUTER-SETTINGS-1 settings are read once across batches, again after a change of their tenant (this process or another), not after another tenant writes its own', async () => {
    site = newSite(name, 'settings');
    const app = await openApp(site, {}, { router: { refreshMs: 60_000 } });
    apps.push(app);
    // Another process on the same store: its own connection, no runtime.
    const other = await openApp(site, { runtime: 'off' });
    apps.push(other);
    await deployProbe(app, probe, { name: 'Marker', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'manifest' } });
    await refresh(app);
    const reads: string[] = [];
    const config = app.store.config;
    const getPlugin = config.getPlugin.bind(config);
    config.getPlugin = (ctx: TenantContext, plugin: string): Promise<JsonObject> => {
      reads.push(`${ctx.tenantId}/${plugin}`);
      return getPlugin(ctx, plugin);
    };
    let sent = 0;
    /** Publishes one Tick and waits for its Mark: each is a batch of its own. */
    const tick = async (): Promise<string> => {
      const n = ++sent;
      await app.store.commit(acme, { events: [{ type: 'Tick', payload: { seq: n } }] });
      const mark = await until(`the mark of tick ${n}`, async () => (await marks(app, 'acme')).find((m) => m.seq === n));
      return String(mark.marker);
    };

    for (let i = 0; i < 4; i++) expect(await tick()).toBe('manifest');
    // Four batches, one read: kept while nothing changed.
    expect(reads).toEqual(['acme/Marker']);

    await app.store.config.setPlugin(acme, 'Marker', { marker: 'tenant' });
    expect(await tick()).toBe('tenant');
    expect(await tick()).toBe('tenant');
    expect(reads).toEqual(['acme/Marker', 'acme/Marker']);

    // Changed through another connection to the store: seen by the first event published after it.
    await other.store.config.setPlugin(acme, 'Marker', { marker: 'other' });
    expect(await tick()).toBe('other');
    // Any tenant's change (here the tenant-wide settings) makes the kept settings be read again.
    await other.store.config.setTenant(acme, { theme: 'dark' });
    expect(await tick()).toBe('other');
    expect(reads).toEqual(['acme/Marker', 'acme/Marker', 'acme/Marker', 'acme/Marker']);

    // Another tenant's writes, through either connection: acme's kept settings are not read again (ROUTER-SETTINGS-3).
    await app.store.tenants.create('globex');
    const globex: TenantContext = { tenantId: 'globex', actor: 'user:test' };
    for (let i = 0; i < 5; i++) {
      await (i % 2 === 0 ? other : app).store.config.setPlugin(globex, 'Marker', { marker: `globex-${i}` });
      await (i % 2 === 0 ? app : other).store.config.setTenant(globex, { round: i });
      expect(await tick()).toBe('other');
    }
    expect(reads).toEqual(['acme/Marker', 'acme/Marker', 'acme/Marker', 'acme/Marker']);
  }, 60_000);
});
