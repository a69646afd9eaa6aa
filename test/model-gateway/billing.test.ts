import { afterEach, describe, expect, it } from 'vitest';
import { isUeeError } from '../../src/core/index.js';
import type { BudgetLedger, ModelProvider, ProviderCall } from '../../src/model-gateway/index.js';
import { InMemoryLedger, QuotaPolicy, RedisLedger, createModelGateway } from '../../src/model-gateway/index.js';
import { TEST_REDIS_URL, randomPrefix } from '../helpers.js';
import { LONG_WINDOW_MS, ctx } from './helpers.js';

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A provider that takes `ms` per call, ignores aborts (as a remote API that already started does) and reports 10 + 5 tokens. */
function slowProvider(ms: number): ModelProvider & { started: number; finished: number; idle(): Promise<void> } {
  const p = {
    name: 'slow',
    started: 0,
    finished: 0,
    async invoke(call: ProviderCall) {
      p.started++;
      await wait(ms);
      p.finished++;
      return { output: { content: `answer to ${JSON.stringify(call.input).length}`, finishReason: 'stop' }, inputTokens: 10, outputTokens: 5 };
    },
    async *stream(_call: ProviderCall) {
      p.started++;
      for (let i = 0; i < 5; i++) {
        await wait(ms / 5);
        yield { delta: `word${i} ` };
      }
      p.finished++;
    },
    async idle() {
      while (p.finished < p.started) await wait(10);
    },
  };
  return p;
}

function slowGateway(provider: ModelProvider, ledger: BudgetLedger, quotas: Record<string, unknown>, cacheTtlMs = 60_000) {
  return createModelGateway({
    ledger,
    customProviders: [provider],
    models: [{ name: 'chat.slow', kind: 'chat', provider: 'slow', target: 'x', cacheTtlMs, maxOutputTokens: 50, cost: { inputPerUnit: 0.001, outputPerUnit: 0.002 } }],
    quotas: { tenants: { acme: { tokens: 1_000_000, cost: 1000, windowMs: LONG_WINDOW_MS, ...quotas } } },
  });
}

const ledgers: Array<[string, () => Promise<{ ledger: BudgetLedger; cleanup: () => Promise<void> }>]> = [
  ['memory', () => Promise.resolve({ ledger: new InMemoryLedger(), cleanup: () => Promise.resolve() })],
  [
    'redis',
    async () => {
      const ledger = await RedisLedger.create({ url: TEST_REDIS_URL, prefix: randomPrefix('gwbill') });
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

describe.each(ledgers)('GW-BILL quotas that cannot be gamed, on the %s ledger', (_kind, make) => {
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

  it('GW-BILL-1 callers that abort while their call runs on into the cache are billed for it; re-asks are cache hits of the same tenant', async () => {
    const ledger = await setup();
    const provider = slowProvider(150);
    const gateway = await slowGateway(provider, ledger, {});
    try {
      const calls = Array.from({ length: 20 }, (_, i) => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 20);
        return gateway.call(ctx(), { model: 'chat.slow', input: `question ${i}`, signal: controller.signal });
      });
      const results = await Promise.allSettled(calls);
      expect(results.every((r) => r.status === 'rejected' && isUeeError(r.reason, 'TIMEOUT'))).toBe(true);
      await provider.idle();
      expect(provider.finished).toBe(20);
      await wait(20);
      // Every one of the 20 calls ran to the end: 15 tokens and 0.02 credits each.
      expect((await gateway.policy.usage('acme')).tokens).toEqual({ used: 300, limit: 1_000_000 });
      expect((await gateway.policy.usage('acme')).cost?.used).toBeCloseTo(0.4, 6);
      const audited = gateway.audit.summarize('tenant', { tenantId: 'acme' })[0]!;
      expect(audited.inputTokens + audited.outputTokens).toBe(300);
      // The answers are in the cache for acme only: a re-ask is a hit, another tenant runs its own call.
      const again = await gateway.call(ctx(), { model: 'chat.slow', input: 'question 3' });
      expect(again.cache).toBe('hit');
      const other = await gateway.call(ctx('globex'), { model: 'chat.slow', input: 'question 3' });
      expect(other.cache).toBe('miss');
      expect(provider.started).toBe(21);
    } finally {
      await gateway.close();
    }
  });

  it('GW-BILL-2 a caller that aborts keeps its concurrency slot until the work it started has ended', async () => {
    const ledger = await setup();
    const provider = slowProvider(300);
    const gateway = await slowGateway(provider, ledger, { concurrency: 1 }, 0);
    try {
      const controller = new AbortController();
      const first = gateway.call(ctx(), { model: 'chat.slow', input: 'long one', signal: controller.signal });
      await wait(30);
      controller.abort();
      await expect(first).rejects.toMatchObject({ code: 'TIMEOUT' });
      await expect(gateway.call(ctx(), { model: 'chat.slow', input: 'second' })).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { dimension: 'concurrency' } });
      await provider.idle();
      await wait(20);
      await expect(gateway.call(ctx(), { model: 'chat.slow', input: 'third' })).resolves.toMatchObject({ cache: 'miss' });
      expect((await gateway.policy.usage('acme')).tokens?.used).toBe(30);
    } finally {
      await gateway.close();
    }
  });

  it('GW-BILL-3 a stream the consumer abandons is billed for the prompt and the text it received', async () => {
    const ledger = await setup();
    const provider = slowProvider(200);
    const gateway = await slowGateway(provider, ledger, {}, 0);
    try {
      const s = await gateway.stream(ctx(), { model: 'chat.slow', input: 'tell me a story' });
      let received = '';
      for await (const chunk of s.chunks) {
        received += chunk.delta;
        if (received.length > 10) break;
      }
      await expect(s.result).rejects.toMatchObject({ code: 'TIMEOUT' });
      const used = (await gateway.policy.usage('acme')).tokens?.used ?? 0;
      expect(used).toBeGreaterThan(0);
    } finally {
      await gateway.close();
    }
  });

  it('GW-LEASE-1 concurrency slots are leases: counted while live, renewed, released, and expired when nobody renews', async () => {
    const ledger = await setup();
    const line = (lease: string) => ({ key: 'slots', amount: 1, limit: 2, ttlMs: 300, lease });
    expect(await ledger.reserve([line('a')])).toEqual({ ok: true });
    expect(await ledger.reserve([line('b')])).toEqual({ ok: true });
    expect(await ledger.reserve([line('c')])).toEqual({ ok: false, index: 0, used: 2 });
    expect(await ledger.read(['slots'])).toEqual([2]);
    await ledger.release([{ key: 'slots', lease: 'a' }]);
    await ledger.release([{ key: 'slots', lease: 'a' }]);
    expect(await ledger.read(['slots'])).toEqual([1]);
    // b is renewed across three of its lifetimes; c was never renewed after its own reservation.
    expect(await ledger.reserve([line('c')])).toEqual({ ok: true });
    for (let i = 0; i < 6; i++) {
      await wait(150);
      expect(await ledger.renew([{ key: 'slots', lease: 'b', ttlMs: 300 }])).toBe(1);
    }
    expect(await ledger.read(['slots'])).toEqual([1]);
    // An expired lease is not revived by a late renewal.
    expect(await ledger.renew([{ key: 'slots', lease: 'c', ttlMs: 300 }])).toBe(0);
    expect(await ledger.read(['slots'])).toEqual([1]);
  });

  it('GW-LEASE-2 a call that runs for many lease lifetimes keeps the cap; a holder that stops renewing frees its slot after one lease', async () => {
    const ledger = await setup();
    // Leases of 600 ms, renewed every 200 ms: a renewal timer up to ~400 ms late (a loaded machine) is
    // still in time, and the waits below still span several lifetimes.
    const policy = new QuotaPolicy({ tenants: { acme: { concurrency: 1 } }, leaseMs: 600 }, ledger);
    const long = await policy.reserve('acme', undefined, { tokens: 0, cost: 0 });
    for (let i = 0; i < 4; i++) {
      await wait(600);
      await expect(policy.reserve('acme', undefined, { tokens: 0, cost: 0 })).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { dimension: 'concurrency' } });
    }
    await policy.settle(long, { tokens: 0, cost: 0 });
    const next = await policy.reserve('acme', undefined, { tokens: 0, cost: 0 });
    expect((await policy.usage('acme')).concurrency).toEqual({ used: 1, limit: 1 });
    // A process that died: its timer stops, nothing releases the lease.
    clearInterval(next.renewal);
    await wait(900);
    const after = await policy.reserve('acme', undefined, { tokens: 0, cost: 0 });
    await policy.settle(after, { tokens: 0, cost: 0 });
  });
});
