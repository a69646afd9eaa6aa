// The routing table's reads (`npm run bench -- routing-table`): what a full reload of the table — the
// router's safety net every 30 checks, and every change of the dispatching process — and an applied
// deploy cost, on the embedded store, where the reads hold the main thread. Two deployments:
//   `history`: one global plugin with VERSIONS versions, each carrying a 50 KB TypeScript source (every
//   version ever deployed stays in the registry with its sources);
//   `tenants`: TENANTS tenants × 1 plugin (2 versions each), every tenth tenant pinning version 1.
// Baselines in the same run, on the same app: the reads as they were before 2026-12-08 — every
// version's document read back (the store's `headsOfType` hidden, so the registry lists them all),
// every tenant's pins and experiments queried one tenant at a time (`viewAcrossTenants` hidden), and a
// change that does not name the versions it wrote (every version of the name read back). Wall ms per
// reload / change, median of ROUNDS alternating runs.
// Run: npm run bench -- routing-table   (UEE_BENCH_VERSIONS, default 500; UEE_BENCH_TENANTS, default 1,000)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UeeApp } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { silentLogger } from '../src/core/index.js';
import { PINS_VIEW } from '../src/router/index.js';
import { PLUGIN_ENTITY_TYPE, pluginVersionId } from '../src/registry/index.js';
import { buildWat } from '../test/runtime/wat.js';
import { alternating, printResult, printTable } from './_table.js';

const VERSIONS = Number(process.env.UEE_BENCH_VERSIONS ?? 500);
const TENANTS = Number(process.env.UEE_BENCH_TENANTS ?? 1000);
const ROUNDS = 7;

const wasm = await buildWat('noop');

async function openApp(tenants: string): Promise<{ app: UeeApp; close(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'uee-bench-table-'));
  // Checks far apart: only the bench's own reloads run.
  const app = await UeeApp.create(loadConfig({ dataDir, tenants, workers: '1', logLevel: 'error' }, {}), silentLogger, { router: { refreshMs: 600_000 } });
  return {
    app,
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn` with the store's cross-tenant reads hidden (the reads before 2026-12-08), then restores them. */
async function withoutCrossTenantReads<T>(app: UeeApp, fn: () => Promise<T>): Promise<T> {
  const store = app.store as unknown as Record<string, unknown>;
  Object.defineProperty(store, 'headsOfType', { value: undefined, configurable: true, writable: true });
  Object.defineProperty(store, 'viewAcrossTenants', { value: undefined, configurable: true, writable: true });
  try {
    return await fn();
  } finally {
    delete store.headsOfType;
    delete store.viewAcrossTenants;
  }
}

async function timed(fn: () => Promise<unknown>): Promise<{ ms: number }> {
  const t = performance.now();
  await fn();
  return { ms: performance.now() - t };
}

const rows: Array<Array<string | number>> = [];
const figures: Record<string, number> = { versions: VERSIONS, tenants: TENANTS };

{
  const site = await openApp('acme');
  const { app } = site;
  try {
    const ctx = { tenantId: null, actor: 'system:bench' };
    const first = (await app.registry.deploy('bench', { manifest: { name: 'Long', subscribeTo: ['Tick'], capabilities: [] }, wasm })).plugin;
    const files = { 'plugin.ts': `// ${'x'.repeat(50_000)}\nexport function handle() { return null; }\n` };
    for (let v = 2; v <= VERSIONS; v++) {
      await app.store.put(ctx, { entityId: pluginVersionId(null, 'Long', v), entityTypeId: PLUGIN_ENTITY_TYPE, attributes: { ...first.attributes, pluginVersion: v, source: { language: 'ts', files } }, expectedVersion: 0, eventType: 'Touched' }, { source: { kind: 'system', id: 'bench' } });
    }
    const router = app.runtime!.router;
    await router.refresh();
    const reload = await alternating(ROUNDS, () => withoutCrossTenantReads(app, () => timed(() => router.refresh())), () => timed(() => router.refresh()));
    const newest = { tenantId: null, name: 'Long', version: VERSIONS };
    const change = await alternating(ROUNDS, () => timed(() => router.applyChange({ tenantId: null, names: ['Long'] })), () => timed(() => router.applyChange({ tenantId: null, names: ['Long'], versions: [newest] })));
    rows.push([`1 plugin, ${VERSIONS} versions of a 50 KB source`, 'full reload', reload.baseline('ms'), reload.change('ms'), reload.baseline('ms') / reload.change('ms')]);
    rows.push(['', 'a deploy applied', change.baseline('ms'), change.change('ms'), change.baseline('ms') / change.change('ms')]);
    figures.historyReloadBeforeMs = Number(reload.baseline('ms').toFixed(2));
    figures.historyReloadMs = Number(reload.change('ms').toFixed(2));
    figures.historyChangeBeforeMs = Number(change.baseline('ms').toFixed(2));
    figures.historyChangeMs = Number(change.change('ms').toFixed(2));
  } finally {
    await site.close();
  }
}

{
  const site = await openApp('acme');
  const { app } = site;
  try {
    const tenants = Array.from({ length: TENANTS }, (_, i) => `t${i}`);
    for (const [i, t] of tenants.entries()) {
      await app.store.tenants.create(t);
      const manifest = { name: 'Own', subscribeTo: ['Tick'], tenantScope: 'tenant' as const, tenantId: t, capabilities: [] };
      await app.registry.deploy('bench', { manifest, wasm });
      await app.registry.deploy('bench', { manifest, wasm });
      if (i % 10 === 0) await app.store.readModels.upsert({ tenantId: t, actor: 'system:bench' }, PINS_VIEW, 'Own', { version: 1 });
    }
    const router = app.runtime!.router;
    await router.refresh();
    const reload = await alternating(ROUNDS, () => withoutCrossTenantReads(app, () => timed(() => router.refresh())), () => timed(() => router.refresh()));
    rows.push([`${TENANTS.toLocaleString('en-US')} tenants × 1 plugin, a pin in every tenth`, 'full reload', reload.baseline('ms'), reload.change('ms'), reload.baseline('ms') / reload.change('ms')]);
    figures.tenantsReloadBeforeMs = Number(reload.baseline('ms').toFixed(2));
    figures.tenantsReloadMs = Number(reload.change('ms').toFixed(2));
  } finally {
    await site.close();
  }
}

printTable(['deployment', 'read', 'before: every document, per tenant (ms, baseline)', 'today (ms)', 'before ÷ today'], rows);
printResult('routing-table', figures);
