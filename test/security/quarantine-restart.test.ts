/**
 * SEC-RT-12: a delivery the process dies during, again and again, is quarantined — dead-lettered
 * with WORKER_CRASHED before it runs again — and this holds across restarts on the same data,
 * because the count lives in the bus (its delivery count), not in the process that died. The other
 * tenant's healthy plugin keeps working afterwards.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { DEFAULT_UNFINISHED_DELIVERIES } from '../../src/runtime/index.js';
import { marks, newSite, openApp, probeWasm, deployProbe, until, watModule, killChild, spawnChild, type AppSite } from '../router/harness.js';

/** Starts the child app and resolves once a plugin call of tenant acme holds a worker. */
function startBusyChild(site: AppSite): Promise<ChildProcess> {
  return spawnChild(join(import.meta.dirname, 'quarantine-child.ts'), site, 'BUSY');
}


describe('SEC-RT quarantine across restarts', () => {
  let site: (AppSite & { dispose(): Promise<void> }) | undefined;
  const apps: UeeApp[] = [];
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child) await killChild(child);
    for (const a of apps.splice(0)) await a.close();
    await site?.dispose();
  });

  it('SEC-RT-12 the process dies during one delivery three times: the next start dead-letters it with WORKER_CRASHED without running it; the other tenant is served', async () => {
    site = newSite('embedded', 'quarantine');
    const producer = await openApp(site, { runtime: 'off' });
    apps.push(producer);
    // Tenant acme's plugin spins for up to 10 s per event: long enough to be killed mid-call.
    await producer.registry.deploy('user:test', {
      manifest: { name: 'Killer', tenantScope: 'tenant', tenantId: 'acme', subscribeTo: ['Tick'], capabilities: [], maximumResourceBudget: { timeoutMs: 10_000 } },
      wasm: await watModule('loop'),
      language: 'wat',
    });
    await deployProbe(producer, await probeWasm(), { name: 'Healthy', tenantScope: 'tenant', tenantId: 'globex', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'H' } });
    await producer.store.commit({ tenantId: 'acme', actor: 'user:test' }, { events: [{ type: 'Tick', payload: { seq: 1 } }] });
    await producer.relay.flush();

    for (let death = 1; death <= DEFAULT_UNFINISHED_DELIVERIES; death++) {
      child = await startBusyChild(site);
      await killChild(child);
      child = undefined;
    }
    const group = pluginGroup('Killer', 'acme');
    expect(await producer.bus.deadLetters({ group })).toEqual([]);

    // The next start: the delivery is recognised from the bus's count and dead-lettered, not run.
    const restarted = await openApp(site, {}, { router: { refreshMs: 100, claimIdleMs: 300 } });
    apps.push(restarted);
    const letters = await until('the quarantined delivery', async () => {
      const l = await restarted.bus.deadLetters({ group });
      return l.length > 0 ? l : undefined;
    }, 30_000);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ error: { code: 'WORKER_CRASHED' } });
    // It never ran again: no worker of the restarted app was held by tenant acme.
    expect(restarted.runtime?.host.stats().shares.acme).toBeUndefined();
    // The other tenant's plugin is served by the same process.
    await restarted.store.commit({ tenantId: 'globex', actor: 'user:test' }, { events: [{ type: 'Tick', payload: { seq: 2 } }] });
    await until('the healthy plugin of globex', async () => ((await marks(restarted, 'globex')).length >= 1 ? true : undefined), 30_000);
  }, 180_000);
});
