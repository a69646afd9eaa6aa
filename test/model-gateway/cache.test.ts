import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson, createModelGateway, type DefaultModelGateway } from '../../src/model-gateway/index.js';
import { ctx, rawServer } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An OpenAI-compatible upstream that answers slowly and counts its calls. */
async function slowUpstream(delayMs: number): Promise<Awaited<ReturnType<typeof rawServer>>> {
  const s = await rawServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { messages } = JSON.parse(body) as { messages: Array<{ content: string }> };
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({
          id: 'x', object: 'chat.completion', created: 0, model: 'm',
          choices: [{ index: 0, message: { role: 'assistant', content: `answer to ${messages.at(-1)?.content ?? ''}` }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }));
      }, delayMs);
    });
  });
  cleanups.push(() => s.close());
  return s;
}

async function gateway(url: string, cacheTtlMs: number): Promise<DefaultModelGateway> {
  const g = await createModelGateway({
    providers: [{ name: 'up', kind: 'openai', baseURL: url }],
    models: [{ name: 'chat.cached', kind: 'chat', provider: 'up', target: 'm', cacheTtlMs, cost: { inputPerUnit: 0.01, outputPerUnit: 0.02 } }],
  });
  cleanups.push(() => g.close());
  return g;
}

describe('GW-CACHE: result cache and in-flight de-duplication', () => {
  it('GW-CACHE-1 canonical JSON ignores key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }));
  });

  it('GW-CACHE-2 20 concurrent identical calls make one provider call; later calls hit the cache, key order notwithstanding', async () => {
    const up = await slowUpstream(80);
    const g = await gateway(up.url, 60_000);
    const input = { messages: [{ role: 'user', content: 'same question' }], temperature: 0 };
    const results = await Promise.all(Array.from({ length: 20 }, () => g.call(ctx(), { model: 'chat.cached', input })));
    expect(up.hits()).toBe(1);
    expect(results.filter((r) => r.cache === 'miss')).toHaveLength(1);
    expect(results.filter((r) => r.cache === 'inflight')).toHaveLength(19);
    expect(new Set(results.map((r) => JSON.stringify(r.output))).size).toBe(1);
    const again = await g.call(ctx(), { model: 'chat.cached', input: { temperature: 0, messages: [{ content: 'same question', role: 'user' }] } });
    expect(again.cache).toBe('hit');
    expect(again.usage).toEqual({ inputTokens: 0, outputTokens: 0, cost: 0 });
    expect(up.hits()).toBe(1);
    // Only the call that reached the provider is charged.
    expect(g.audit.summarize('tenant', { tenantId: 'acme' })[0]).toMatchObject({ calls: 21, cacheHits: 20, inputTokens: 10, outputTokens: 5 });
  });

  it('GW-CACHE-3 the cache is per tenant and entries expire after their TTL', async () => {
    const up = await slowUpstream(1);
    const g = await gateway(up.url, 100);
    await g.call(ctx('a'), { model: 'chat.cached', input: 'q' });
    expect((await g.call(ctx('a'), { model: 'chat.cached', input: 'q' })).cache).toBe('hit');
    expect((await g.call(ctx('b'), { model: 'chat.cached', input: 'q' })).cache).toBe('miss');
    await new Promise((r) => setTimeout(r, 150));
    expect((await g.call(ctx('a'), { model: 'chat.cached', input: 'q' })).cache).toBe('miss');
    expect(up.hits()).toBe(3);
  });

  it('GW-CACHE-4 models without a TTL are neither cached nor de-duplicated', async () => {
    const up = await slowUpstream(20);
    const g = await gateway(up.url, 0);
    await Promise.all(Array.from({ length: 3 }, () => g.call(ctx(), { model: 'chat.cached', input: 'q' })));
    expect(up.hits()).toBe(3);
  });
});
