import { describe, expect, it } from 'vitest';
import { createModelGateway } from '../../src/model-gateway/index.js';
import { LONG_WINDOW_MS, ctx, rawServer } from './helpers.js';

describe('GW-STREAM: streaming through the gateway', () => {
  it('GW-STREAM-1 streams under the same quotas; an abandoned stream releases its concurrency slot and pays for what it received', async () => {
    const g = await createModelGateway({ quotas: { tenants: { acme: { concurrency: 1, tokens: 10_000, windowMs: LONG_WINDOW_MS } } } });
    try {
      const s = await g.stream(ctx(), { model: 'chat.default', input: 'a b c d e f' });
      await expect(g.stream(ctx(), { model: 'chat.default', input: 'x' })).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { dimension: 'concurrency' } });
      for await (const chunk of s.chunks) {
        expect(chunk.delta.length).toBeGreaterThan(0);
        break;
      }
      await expect(s.result).rejects.toMatchObject({ code: 'TIMEOUT' });
      const abandoned = (await g.policy.usage('acme')).tokens?.used ?? 0;
      expect(abandoned).toBeGreaterThan(0);
      const full = await g.stream(ctx(), { model: 'chat.default', input: 'a b c' });
      const parts: string[] = [];
      for await (const chunk of full.chunks) parts.push(chunk.delta);
      expect(parts.join('')).toBe('echo: a b c');
      const r = await full.result;
      expect((await g.policy.usage('acme')).tokens?.used).toBe(abandoned + r.usage.inputTokens + r.usage.outputTokens);
      expect((await g.policy.usage('acme')).concurrency?.used).toBe(0);
      await expect(g.stream(ctx(), { model: 'embed.small', input: 'x' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    } finally {
      await g.close();
    }
  });

  it('GW-STREAM-2 a stream falls back when the primary fails before its first chunk', async () => {
    await using down = await rawServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"bad gateway"}}');
    });
    const g = await createModelGateway({
      providers: [{ name: 'down', kind: 'openai', baseURL: down.url }],
      models: [{ name: 'chat.down', kind: 'chat', provider: 'down', target: 'm', fallback: ['chat.default'] }],
    });
    try {
      const s = await g.stream(ctx(), { model: 'chat.down', input: 'still here' });
      expect(s.model).toBe('chat.default');
      let text = '';
      for await (const c of s.chunks) text += c.delta;
      expect(text).toBe('echo: still here');
      expect(down.hits()).toBe(1);
      expect((await s.result).model).toBe('chat.default');
    } finally {
      await g.close();
    }
  });
});
