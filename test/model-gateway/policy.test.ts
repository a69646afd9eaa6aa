import { afterEach, describe, expect, it } from 'vitest';
import { isUeeError } from '../../src/core/index.js';
import type { BudgetLedger } from '../../src/model-gateway/index.js';
import { InMemoryLedger, QuotaPolicy, RedisLedger, createModelGateway } from '../../src/model-gateway/index.js';
import { TEST_REDIS_URL, randomPrefix } from '../helpers.js';
import { LONG_WINDOW_MS, ctx } from './helpers.js';

const ledgers: Array<[string, () => Promise<{ ledger: BudgetLedger; cleanup: () => Promise<void> }>]> = [
  ['memory', () => Promise.resolve({ ledger: new InMemoryLedger(), cleanup: () => Promise.resolve() })],
  [
    'redis',
    async () => {
      const ledger = await RedisLedger.create({ url: TEST_REDIS_URL, prefix: randomPrefix('gw') });
      return {
        ledger,
        cleanup: async () => {
          await ledger.clear();
          await ledger.close();
        },
      };
    },
  ],
];

describe('GW-POLICY-5 two gateways sharing one Redis ledger (two connections) race for the last units', () => {
  it('never overspends across gateways', async () => {
    const prefix = randomPrefix('gw2');
    const [la, lb] = await Promise.all([RedisLedger.create({ url: TEST_REDIS_URL, prefix }), RedisLedger.create({ url: TEST_REDIS_URL, prefix })]);
    const options = { models: [{ name: 'score.paid', kind: 'scorer' as const, provider: 'builtin', target: 'prioritizer', cost: { outputPerUnit: 1 } }], quotas: { tenants: { acme: { cost: 10, windowMs: LONG_WINDOW_MS } } } };
    const [ga, gb] = await Promise.all([createModelGateway({ ...options, ledger: la }), createModelGateway({ ...options, ledger: lb })]);
    try {
      const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? ga : gb).call(ctx(), { model: 'score.paid', input: { dueInDays: i } })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      expect((await ga.policy.usage('acme')).cost).toEqual({ used: 10, limit: 10 });
    } finally {
      await ga.close();
      await gb.close();
      await la.clear();
      await la.close();
      await lb.close();
    }
  });
});

describe.each(ledgers)('GW-POLICY on the %s ledger', (_kind, make) => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });
  async function setup(): Promise<BudgetLedger> {
    const made = await make();
    cleanup = made.cleanup;
    return made.ledger;
  }

  it('GW-POLICY-1 reserve is all-or-nothing and never goes past a limit', async () => {
    const ledger = await setup();
    expect(await ledger.reserve([{ key: 'a', amount: 3, limit: 5, ttlMs: 60_000 }, { key: 'b', amount: 1, limit: 1, ttlMs: 60_000 }])).toEqual({ ok: true });
    expect(await ledger.reserve([{ key: 'a', amount: 1, limit: 5, ttlMs: 60_000 }, { key: 'b', amount: 1, limit: 1, ttlMs: 60_000 }])).toEqual({ ok: false, index: 1, used: 1 });
    expect(await ledger.read(['a', 'b', 'missing'])).toEqual([3, 1, 0]);
    await ledger.adjust([{ key: 'a', delta: -10, ttlMs: 60_000 }]);
    expect(await ledger.read(['a'])).toEqual([0]);
  });

  it('GW-POLICY-2 50 concurrent calls racing for the last cost units never overspend', async () => {
    const ledger = await setup();
    const gateway = await createModelGateway({
      ledger,
      // Each call costs exactly 1 credit: 1 input unit-priced token bucket via the scorer's fixed token count.
      models: [{ name: 'score.paid', kind: 'scorer', provider: 'builtin', target: 'prioritizer', cost: { inputPerUnit: 0, outputPerUnit: 1 } }],
      quotas: { tenants: { acme: { cost: 100, windowMs: LONG_WINDOW_MS } } },
    });
    try {
      // Spend 93 of the 100 credits first, so 7 remain for the racers.
      for (let i = 0; i < 93; i++) await gateway.call(ctx(), { model: 'score.paid', input: { importance: (i % 5) + 1, dueInDays: i } });
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => gateway.call(ctx(), { model: 'score.paid', input: { dueInDays: 1000 + i } })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).toHaveLength(7);
      expect(refused).toHaveLength(43);
      for (const r of refused) {
        expect(isUeeError(r.reason, 'QUOTA_EXCEEDED')).toBe(true);
        expect((r.reason as { details: { retryAfterMs: number } }).details.retryAfterMs).toBeGreaterThan(0);
      }
      const spent = gateway.audit.summarize('tenant', { tenantId: 'acme' })[0]!;
      expect(spent.cost).toBe(100);
      expect((await gateway.policy.usage('acme')).cost).toEqual({ used: 100, limit: 100 });
    } finally {
      await gateway.close();
    }
  });

  it('GW-POLICY-3 tokens are reserved at their maximum and the unused part is refunded on settle', async () => {
    const ledger = await setup();
    const policy = new QuotaPolicy({ tenants: { acme: { tokens: 1000, windowMs: LONG_WINDOW_MS } } }, ledger);
    const r = await policy.reserve('acme', undefined, { tokens: 600, cost: 0 });
    await expect(policy.reserve('acme', undefined, { tokens: 600, cost: 0 })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED', details: { dimension: 'tokens', used: 600 } });
    await policy.settle(r, { tokens: 150, cost: 0 });
    await policy.settle(r, { tokens: 150, cost: 0 });
    expect((await policy.usage('acme')).tokens).toEqual({ used: 150, limit: 1000 });
    await policy.reserve('acme', undefined, { tokens: 600, cost: 0 });
  });

  it('GW-POLICY-4 concurrency caps, rate limits and per-plugin quotas', async () => {
    const ledger = await setup();
    const policy = new QuotaPolicy({ tenants: { acme: { concurrency: 2, callsPerSecond: 100 } }, plugins: { Noisy: { calls: 2, windowMs: LONG_WINDOW_MS } } }, ledger);
    const a = await policy.reserve('acme', undefined, { tokens: 0, cost: 0 });
    await policy.reserve('acme', undefined, { tokens: 0, cost: 0 });
    await expect(policy.reserve('acme', undefined, { tokens: 0, cost: 0 })).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { dimension: 'concurrency' } });
    await policy.settle(a, { tokens: 0, cost: 0 });
    const b = await policy.reserve('acme', 'Noisy', { tokens: 0, cost: 0 });
    await policy.settle(b, { tokens: 0, cost: 0 });
    const c = await policy.reserve('acme', 'Noisy', { tokens: 0, cost: 0 });
    await policy.settle(c, { tokens: 0, cost: 0 });
    await expect(policy.reserve('acme', 'Noisy', { tokens: 0, cost: 0 })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED', details: { scope: 'plugin', plugin: 'Noisy' } });
    // The refused plugin reservation left the tenant's concurrency untouched.
    expect((await policy.usage('acme')).concurrency?.used).toBe(1);
    const rate = new QuotaPolicy({ tenants: { beta: { callsPerSecond: 3 } } }, ledger, () => 5_000_100);
    for (let i = 0; i < 3; i++) await rate.reserve('beta', undefined, { tokens: 0, cost: 0 });
    await expect(rate.reserve('beta', undefined, { tokens: 0, cost: 0 })).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { dimension: 'rate', retryAfterMs: 900 } });
  });
});
