/**
 * Scale-out on the distributed pair: two UEE app instances (each with its own relay, router and
 * execution host) share one PostgreSQL schema and one Redis prefix. Writes go through both; the
 * plugin's effect for every event is committed exactly once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { tempDir } from '../helpers.js';
import { deployProbe, drained, marks, newSite, openApp, probeWasm, refresh, until, type AppSite } from '../router/harness.js';
import { dropSchemas, randomSchema, schemaUrl } from './postgres-helpers.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 300_000);
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

const acme = { tenantId: 'acme', actor: 'user:test' };

describe('two app instances on one PostgreSQL store and one Redis bus', () => {
  const disposers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const d of disposers.splice(0).reverse()) await d();
  });

  it('PGX01 writes from both instances: every event reaches the plugin group and its effect commits exactly once', async () => {
    const schema = randomSchema('apps');
    schemas.push(schema);
    const site: AppSite & { dispose(): Promise<void> } = newSite('redis', 'pgapps');
    disposers.push(() => site.dispose());
    const otherDir = tempDir('uee-pgapps');
    disposers.push(() => otherDir[Symbol.dispose]());
    const store = schemaUrl(schema);
    const one = await openApp(site, { store });
    disposers.push(() => one.close());
    const two = await openApp({ ...site, dataDir: otherDir.path }, { store });
    disposers.push(() => two.close());
    expect([one.store.kind, two.store.kind]).toEqual(['postgres', 'postgres']);

    await deployProbe(one, probe, { name: 'Marker', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'x' } });
    await refresh(one);
    await refresh(two);
    const apps: UeeApp[] = [one, two];
    const n = 30;
    const tasks = await Promise.all(
      Array.from({ length: n }, (_, i) => apps[i % 2]!.store.put(acme, { entityTypeId: 'Task', attributes: { seq: i }, eventType: 'TaskCreated' })),
    );
    await until('a mark per task', async () => ((await marks(one, 'acme')).length >= n ? true : undefined), 60_000);
    await drained(one, pluginGroup('Marker', null), 30_000);
    await drained(two, pluginGroup('Marker', null), 30_000);
    const all = await marks(two, 'acme');
    expect(all).toHaveLength(n);
    expect(new Set(all.map((m) => m.sourceEntity))).toEqual(new Set(tasks.map((t) => t.entityId)));
    expect(new Set(all.map((m) => m.sourceEvent)).size).toBe(n);
    expect(await one.bus.deadLetters()).toEqual([]);
    // Both routers share the plugin's consumer group: together they handled every event.
    const handled = apps.map((a) => a.runtime!.router.metrics.snapshot().find((m) => m.name === 'Marker')?.successes ?? 0);
    expect(handled[0]! + handled[1]!).toBeGreaterThanOrEqual(n);
    process.stdout.write(`[PGX01] successes per instance: ${handled.join(' / ')}\n`);
  }, 120_000);
});
