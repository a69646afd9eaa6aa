/**
 * IDEM-RET-1: the idempotency keys commits leave (one per delivery whose effects commit, one per
 * client commit with a key) are kept `idempotencyRetentionHours` (default 168) and then purged, oldest
 * first in batches, so the table no longer grows with every delivery ever made; `0` keeps them.
 * IDEM-RET-3: a server started with keys past the retention purges them at once. IDEM-RET-4: a purge's
 * batches (deletes on the main thread with an embedded store) are spaced out, so a backlog never holds
 * the thread longer than one batch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { Retention } from '../../src/app/retention.js';
import { silentLogger } from '../../src/core/index.js';
import { loadConfig } from '../../src/config/index.js';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { newSite, openApp, until, type AppSite } from '../router/harness.js';

describe('idempotency key retention', () => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });

  it('IDEM-RET-1 keys younger than the retention stay and answer their first result; older ones are purged and free again', async () => {
    site = newSite('embedded', 'idem-retention');
    app = await openApp(site, { idempotencyRetentionHours: '1' }, { router: { refreshMs: 200 } });
    const acme = { tenantId: 'acme', actor: 'user:test' };
    const batch = { idempotencyKey: 'evt-1:plugin:acme:Mailer', writes: [{ entityTypeId: 'Task', attributes: { n: 1 } }] };
    expect((await app.store.commit(acme, batch)).applied).toBe(true);
    const retention = app.idempotencyRetention!;
    expect(retention).toBeDefined();
    // Within the hour: kept, and a second commit under the key answers the first one's result.
    expect(await retention.purge(Date.now() + 30 * 60_000)).toBe(0);
    expect((await app.store.commit(acme, batch)).applied).toBe(false);
    // Past it: purged; the key commits anew.
    expect(await retention.purge(Date.now() + 2 * 3_600_000)).toBeGreaterThanOrEqual(1);
    expect(await app.store.committed(acme, batch.idempotencyKey)).toBe(false);
    expect((await app.store.commit(acme, batch)).applied).toBe(true);
  });

  it('IDEM-RET-3 a server started with keys older than the retention purges them at once', async () => {
    site = newSite('embedded', 'idem-retention-start');
    app = await openApp(site);
    const acme = { tenantId: 'acme', actor: 'user:test' };
    await app.store.commit(acme, { idempotencyKey: 'old', writes: [{ entityTypeId: 'Task', attributes: { n: 1 } }] });
    await app.store.commit(acme, { idempotencyKey: 'recent', writes: [{ entityTypeId: 'Task', attributes: { n: 2 } }] });
    await app.close();
    // 'old' committed 8 days ago (the default keeps 7).
    const db = new Database(join(site.dataDir, 'uee.db'));
    db.prepare("UPDATE idempotency SET created_at = ? WHERE key = 'old'").run(new Date(Date.now() - 8 * 86_400_000).toISOString());
    db.close();
    app = await openApp(site);
    await until('the old key purged', async () => ((await app.store.committed(acme, 'old')) ? undefined : true));
    expect(await app.store.committed(acme, 'recent')).toBe(true);
  });

  it('IDEM-RET-4 a purge of many batches lets other work run between them, a quarter of the time at most', async () => {
    const calls: string[] = [];
    let left = 4;
    const retention = new Retention(
      () => {
        calls.push('batch');
        // A batch that holds the thread 20 ms, as a large embedded delete does.
        const until = performance.now() + 20;
        while (performance.now() < until);
        return Promise.resolve(left-- > 0 ? 10 : 3);
      },
      { what: 'test rows', retentionMs: 1, batch: 10, logger: silentLogger },
    );
    const started = performance.now();
    const ticker = setInterval(() => calls.push('tick'), 1);
    try {
      expect(await retention.purge()).toBe(43);
    } finally {
      clearInterval(ticker);
    }
    const batches = calls.filter((c) => c === 'batch').length;
    expect(batches).toBe(5);
    // Other timers ran between every two batches ...
    expect(calls.join(' ')).not.toMatch(/batch batch/);
    // ... and the batches' 100 ms took at most about a quarter of the run.
    expect(performance.now() - started).toBeGreaterThanOrEqual(4 * 60);
  });

  it('IDEM-RET-2 the default keeps keys a week; 0 keeps them for ever (no purge runs)', async () => {
    expect(loadConfig({}, {}).idempotency.retentionHours).toBe(168);
    expect(loadConfig({}, { UEE_IDEMPOTENCY_RETENTION_HOURS: '0' }).idempotency.retentionHours).toBe(0);
    site = newSite('embedded', 'idem-retention-off');
    app = await openApp(site, { idempotencyRetentionHours: '0' });
    expect(app.idempotencyRetention).toBeUndefined();
  });
});
