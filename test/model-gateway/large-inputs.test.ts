import { describe, expect, it } from 'vitest';
import { createModelGateway, hashedNgramEmbedding } from '../../src/model-gateway/index.js';
import { serveGateway } from './helpers.js';

/** Longest gap between ticks of a 2 ms timer while `work` runs: how long the main thread was held. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  let last = performance.now();
  let worst = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 2);
  try {
    const value = await work();
    return { value, stallMs: worst };
  } finally {
    clearInterval(ticker);
  }
}

describe('GW-LARGE large model inputs never hold the main thread', () => {
  it('GW-LARGE-1 a maximal /v1/embeddings batch is computed and answered in slices; over-limit batches are refused', async () => {
    const gateway = await createModelGateway();
    await using server = await serveGateway(gateway, { 'tok-acme-0123456789': 'acme' });
    try {
      const texts = Array.from({ length: 2048 }, (_, i) => `${i} `.padEnd(1900, 'lorem ipsum dolor sit amet '));
      // Baseline, same machine, same moment: the whole batch embedded in one synchronous go.
      const t0 = performance.now();
      for (const t of texts) hashedNgramEmbedding(t, 256);
      const wholeBatchMs = performance.now() - t0;

      const post = (body: unknown): Promise<Response> =>
        fetch(`${server.baseURL}/embeddings`, { method: 'POST', headers: { authorization: 'Bearer tok-acme-0123456789', 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const { value: res, stallMs } = await longestStall(async () => {
        const r = await post({ model: 'embed.small', input: texts });
        const json = (await r.json()) as { data?: Array<{ embedding: number[] }>; error?: unknown };
        if (!json.data) throw new Error(JSON.stringify(json));
        return { status: r.status, count: json.data.length, dims: json.data[0]?.embedding.length };
      });
      expect(res).toEqual({ status: 200, count: 2048, dims: 256 });
      expect(stallMs, `longest stall ${stallMs.toFixed(1)} ms vs whole batch ${wholeBatchMs.toFixed(1)} ms`).toBeLessThan(wholeBatchMs / 3);

      expect((await post({ model: 'embed.small', input: Array.from({ length: 2049 }, () => 'x') })).status).toBe(400);
      expect((await post({ model: 'embed.small', input: ['x'.repeat(32_769)] })).status).toBe(400);
      expect((await post({ model: 'embed.small', input: Array.from({ length: 1000 }, () => 'x'), dimensions: 8192 })).status).toBe(400);
    } finally {
      await gateway.close();
    }
  }, 60_000);
});
