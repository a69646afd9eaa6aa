import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditLog, AuditRecord } from '../../src/model-gateway/index.js';
import { MemoryAuditLog, SqliteAuditLog, createModelGateway, gatewayUsage, listGatewayModels, testModelCall } from '../../src/model-gateway/index.js';
import { tempDir } from '../helpers.js';
import { LONG_WINDOW_MS, ctx } from './helpers.js';

const dirs: Array<{ [Symbol.dispose](): void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d[Symbol.dispose]();
});

const logs: Array<[string, () => AuditLog]> = [
  ['memory', () => new MemoryAuditLog(1000)],
  [
    'sqlite',
    () => {
      const dir = tempDir('gw-audit');
      dirs.push(dir);
      return new SqliteAuditLog(join(dir.path, 'uee.db'));
    },
  ],
];

function rec(i: number, over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    id: `id-${String(i).padStart(4, '0')}`, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), tenantId: i % 2 === 0 ? 'a' : 'b',
    pluginId: `p${i % 3}`, pluginName: `P${i % 3}`, eventId: `e${i}`, model: i % 4 === 0 ? 'embed.small' : 'chat.default', servedBy: 'chat.default',
    provider: 'builtin', source: 'plugin', latencyMs: 2, inputTokens: 10, outputTokens: 5, cost: 0.5, cache: i % 5 === 0 ? 'hit' : 'miss',
    attempts: 1, errorCode: i % 7 === 0 ? 'TIMEOUT' : null, errorMessage: i % 7 === 0 ? 'slow' : null, ...over,
  };
}

describe.each(logs)('GW-AUDIT on the %s log', (_kind, make) => {
  it('GW-AUDIT-1 records are queryable by tenant, plugin, model, time and outcome, newest first', () => {
    const log = make();
    try {
      for (let i = 1; i <= 40; i++) log.append(rec(i));
      expect(log.query({ limit: 3 }).map((r) => r.id)).toEqual(['id-0040', 'id-0039', 'id-0038']);
      expect(log.query({ tenantId: 'a', limit: 100 })).toHaveLength(20);
      expect(log.query({ pluginName: 'P1', model: 'embed.small', limit: 100 }).map((r) => r.id)).toEqual(['id-0040', 'id-0028', 'id-0016', 'id-0004']);
      expect(log.query({ since: rec(10).at, until: rec(13).at, limit: 100 }).map((r) => r.id)).toEqual(['id-0012', 'id-0011', 'id-0010']);
      expect(log.query({ failed: true, limit: 100 })).toHaveLength(5);
      expect(log.query({ limit: 1 })[0]).toEqual(rec(40));
    } finally {
      log.close();
    }
  });

  it('GW-AUDIT-2 usage summaries per tenant and plugin', () => {
    const log = make();
    try {
      for (let i = 1; i <= 30; i++) log.append(rec(i));
      const byTenant = log.summarize('tenant');
      expect(byTenant.map((s) => [s.key, s.calls, s.inputTokens, s.cost])).toEqual([
        ['a', 15, 150, 7.5],
        ['b', 15, 150, 7.5],
      ].sort((x, y) => Number(y[1]) - Number(x[1])));
      const p0 = log.summarize('plugin', { tenantId: 'a' }).find((s) => s.key === 'P0')!;
      expect(p0).toMatchObject({ calls: 5, errors: 0, cacheHits: 1, outputTokens: 25, avgLatencyMs: 2 });
    } finally {
      log.close();
    }
  });
});

describe('GW-AUDIT-3 the gateway records every call in SQLite (shared uee.db file), and the admin functions read it', () => {
  it('records successes and failures with attribution, and exposes MCP-ready functions', async () => {
    const dir = tempDir('gw-audit');
    dirs.push(dir);
    const audit = new SqliteAuditLog(join(dir.path, 'uee.db'));
    const g = await createModelGateway({ audit, quotas: { plugins: { P: { calls: 2, windowMs: LONG_WINDOW_MS } } } });
    try {
      await g.call(ctx(), { model: 'embed.small', input: 'hello', pluginId: 'pid', pluginName: 'P', eventId: 'evt1' });
      await g.call(ctx(), { model: 'embed.small', input: 'hello', pluginId: 'pid', pluginName: 'P', eventId: 'evt2' });
      await g.call(ctx(), { model: 'embed.small', input: 'hello', pluginId: 'pid', pluginName: 'P', eventId: 'evt3' }).catch(() => undefined);
      await testModelCall(g, { tenantId: 'acme', model: 'chat.default', input: 'ping' });
      const rows = audit.query({ tenantId: 'acme' });
      expect(rows.map((r) => [r.source, r.eventId, r.cache, r.errorCode])).toEqual([
        ['admin', null, 'miss', null],
        ['plugin', 'evt3', 'miss', 'QUOTA_EXCEEDED'],
        ['plugin', 'evt2', 'hit', null],
        ['plugin', 'evt1', 'miss', null],
      ]);
      const usage = await gatewayUsage(g, { tenantId: 'acme', pluginName: 'P' });
      expect(usage.summaries).toEqual([expect.objectContaining({ key: 'embed.small', calls: 3, errors: 1, cacheHits: 1 })]);
      expect(usage.quota.calls).toEqual({ used: 2, limit: 2 });
      expect(listGatewayModels(g, 'acme').map((m) => [m.name, m.circuit])).toContainEqual(['embed.small', 'closed']);
    } finally {
      await g.close();
      audit.close();
      audit.close();
    }
  });
});
