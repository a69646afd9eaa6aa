/**
 * ROUTER-FANOUT: an event's fan-out is bounded per tenant. A tenant may subscribe at most
 * `--max-subscribers-per-type` logical plugins to one event type (a deploy, or an enable, past it is
 * refused with LIMIT_EXCEEDED naming the setting), and the dispatcher appends at most
 * MAX_FANOUT_PER_STEP queue entries per atomic step — so a hostile tenant flooding a type it
 * subscribed to up to the limit delays another tenant's event by a bounded ratio of what the same
 * flood costs it with a single subscriber (measured in the same test, rounds interleaved).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { isUeeError, type TenantContext } from '../../src/core/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { deployProbe, drained, marks, newSite, openApp, probeWasm, until, type AppSite } from './harness.js';

const LIMIT = 12;
const FLOOD = 120;
/** Rounds of each kind, interleaved; the median of seven rides out a burst of load from a parallel test file. */
const ROUNDS = 7;
const acme: TenantContext = { tenantId: 'acme', actor: 'user:test' };
const globex: TenantContext = { tenantId: 'globex', actor: 'user:test' };

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);

describe('fan-out per tenant (embedded bus)', () => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('ROUTER-FANOUT-1 a tenant subscribes at most maxSubscribersPerType plugins to a type (LIMIT_EXCEEDED naming the setting); flooding it at the limit delays another tenant\'s event by a bounded ratio of a one-subscriber flood', async () => {
    site = newSite('embedded', 'fanout');
    app = await openApp(site, { maxSubscribersPerType: String(LIMIT) }, { router: { refreshMs: 200, backoffMs: 20 } });
    const tenant = { tenantScope: 'tenant' as const };
    await deployProbe(app, probe, { name: 'Pong', ...tenant, tenantId: 'globex', subscribeTo: ['Ping'], settings: { mode: 'mark', marker: 'g' } });
    await deployProbe(app, probe, { name: 'Drip0', ...tenant, tenantId: 'acme', subscribeTo: ['Drip'], settings: { mode: 'noop' } });
    for (let i = 0; i < LIMIT; i++) await deployProbe(app, probe, { name: `Flood${i}`, ...tenant, tenantId: 'acme', subscribeTo: ['Flood'], settings: { mode: 'noop' } });
    // One more on the same type: refused, with the setting named; a new version of a subscribed one is not.
    const refused = await deployProbe(app, probe, { name: `Flood${LIMIT}`, ...tenant, tenantId: 'acme', subscribeTo: ['Flood', 'Other'], settings: { mode: 'noop' } }).catch((e: unknown) => e);
    expect(isUeeError(refused) ? { code: refused.code, setting: refused.details.setting, eventType: refused.details.eventType } : refused).toEqual({ code: 'LIMIT_EXCEEDED', setting: 'maxSubscribersPerType', eventType: 'Flood' });
    await deployProbe(app, probe, { name: 'Flood0', ...tenant, tenantId: 'acme', subscribeTo: ['Flood'], settings: { mode: 'noop' } });
    // Disabled, one leaves room; enabling it again while another took the room is refused too.
    const spare = (await app.registry.versions(acme, 'Flood1'))[0]!;
    await app.registry.setStatus(acme, spare.id, 'disabled');
    await deployProbe(app, probe, { name: 'Newcomer', ...tenant, tenantId: 'acme', subscribeTo: ['Flood'], settings: { mode: 'noop' } });
    const reenabled = await app.registry.setStatus(acme, spare.id, 'enabled').catch((e: unknown) => e);
    expect(isUeeError(reenabled) ? reenabled.code : reenabled).toBe('LIMIT_EXCEEDED');
    // Other tenants are not counted against acme's limit.
    await deployProbe(app, probe, { name: 'Flood0', ...tenant, tenantId: 'globex', subscribeTo: ['Flood'], settings: { mode: 'noop' } });
    await app.runtime!.router.refresh();
    // Acme's subscribers to Flood: LIMIT of them (Flood1 disabled, Newcomer in its place).
    const flooded = ['Newcomer', ...Array.from({ length: LIMIT }, (_, i) => `Flood${i}`).filter((n) => n !== 'Flood1')];

    /** Commits acme's flood of `type`, then one globex Ping; returns how long the Ping took to be handled. */
    let pings = 0;
    const latency = async (type: string): Promise<number> => {
      await app.store.commit(acme, { events: Array.from({ length: FLOOD }, (_, i) => ({ type, entityId: `e${i % 8}`, payload: { seq: i } })) });
      const t0 = performance.now();
      await app.store.commit(globex, { events: [{ type: 'Ping', entityId: 'p', payload: { seq: pings } }] });
      pings++;
      await until('globex\'s ping to be handled', async () => ((await marks(app, 'globex')).length === pings ? true : undefined), 60_000);
      const ms = performance.now() - t0;
      for (const name of type === 'Drip' ? ['Drip0'] : flooded) await drained(app, pluginGroup(name, 'acme'), 60_000);
      return ms;
    };
    await latency('Drip'); // warm-up: instances loaded, queues read once
    const base: number[] = [];
    const wide: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      base.push(await latency('Drip'));
      wide.push(await latency('Flood'));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(wide) / median(base);
    console.log(`ROUTER-FANOUT-1 globex ping behind ${FLOOD} acme events: 1 subscriber ${median(base).toFixed(0)} ms, ${LIMIT} subscribers ${median(wide).toFixed(0)} ms, ratio ${ratio.toFixed(2)}`);
    expect(ratio).toBeLessThan(LIMIT / 2);
  }, 300_000);

  it('ROUTER-FANOUT-2 a tenant has at most maxPluginsPerTenant enabled plugins, each on a type of its own (LIMIT_EXCEEDED naming the setting, no queue made); other tenants and the global scope are not counted', async () => {
    const CAP = 4;
    site = newSite('embedded', 'fanout');
    app = await openApp(site, { runtime: 'off', maxPluginsPerTenant: String(CAP) });
    const tenant = { tenantScope: 'tenant' as const };
    const deploy = (name: string, tenantId: string | null, type = `Type${name}`): Promise<unknown> =>
      deployProbe(app, probe, { name, ...(tenantId === null ? {} : { ...tenant, tenantId }), subscribeTo: [type], settings: { mode: 'noop' } });
    for (let i = 0; i < CAP; i++) await deploy(`P${i}`, 'acme');
    const refused = await deploy(`P${CAP}`, 'acme').catch((e: unknown) => e);
    expect(isUeeError(refused) ? { code: refused.code, setting: refused.details.setting, plugins: refused.details.plugins, hint: refused.hint } : refused).toEqual({
      code: 'LIMIT_EXCEEDED',
      setting: 'maxPluginsPerTenant',
      plugins: CAP,
      hint: expect.stringContaining('--max-plugins-per-tenant (UEE_MAX_PLUGINS_PER_TENANT)'),
    });
    // Refused before anything was made: no version, no queue.
    expect(await app.registry.versions(acme, `P${CAP}`)).toEqual([]);
    await expect(app.bus.groupInfo(pluginGroup(`P${CAP}`, 'acme'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A new version of one of its plugins replaces it (not counted twice).
    await deploy('P0', 'acme', 'AnotherType');
    // Disabled, one leaves room; enabling it again once another took the room is refused.
    const spare = (await app.registry.versions(acme, 'P1'))[0]!;
    await app.registry.setStatus(acme, spare.id, 'disabled');
    await deploy('Newcomer', 'acme');
    const reenabled = await app.registry.setStatus(acme, spare.id, 'enabled').catch((e: unknown) => e);
    expect(isUeeError(reenabled) ? [reenabled.code, reenabled.details.setting] : reenabled).toEqual(['LIMIT_EXCEEDED', 'maxPluginsPerTenant']);
    // Another tenant has room of its own; the global scope (the operator's) is not limited.
    for (let i = 0; i < CAP; i++) await deploy(`P${i}`, 'globex');
    for (let i = 0; i <= CAP; i++) await deploy(`G${i}`, null);
  }, 120_000);
});
