/**
 * GW-SHARED-1: processes sharing a Redis bus share the model quotas. Two app instances on one Redis
 * prefix with a quota of 2 calls for acme: one call through each, and the third — through either —
 * is refused. With a ledger per process each would grant 2 and the tenant could spend 4.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { UeeApp } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger, toUeeError } from '../../src/core/index.js';
import { newSite, siteSettings, TEST_APP_OPTIONS, type AppSite } from '../router/harness.js';
import { LONG_WINDOW_MS } from './helpers.js';

describe('model quotas across processes', () => {
  let site: (AppSite & { dispose(): Promise<void> }) | undefined;
  const apps: UeeApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
    await site?.dispose();
  });

  it('GW-SHARED-1 two apps on one Redis bus grant a tenant its call quota once, not once each', async () => {
    site = newSite('redis', 'shared-ledger');
    const env = { UEE_MODEL_QUOTAS: JSON.stringify({ tenants: { acme: { calls: 2, windowMs: LONG_WINDOW_MS } } }) };
    for (let i = 0; i < 2; i++) apps.push(await UeeApp.create(loadConfig(siteSettings(site, { runtime: 'off' }), env), silentLogger, TEST_APP_OPTIONS));
    const [a, b] = apps as [UeeApp, UeeApp];
    const ctx = { tenantId: 'acme', actor: 'user:test' };
    const call = (app: UeeApp, n: number, tenant = ctx) => app.gateway.call(tenant, { model: 'task.prioritizer.v2', input: { dueInDays: n, estimateHours: 2, importance: 3 } });
    await call(a, 1);
    await call(b, 2);
    const third = await call(a, 3).then(() => undefined, (err: unknown) => toUeeError(err));
    expect(third?.code).toBe('QUOTA_EXCEEDED');
    // The other tenant is untouched by acme's spending.
    await expect(call(b, 4, { tenantId: 'globex', actor: 'user:test' }).then(() => 'ok')).resolves.toBe('ok');
  });
});
