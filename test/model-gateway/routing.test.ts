import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, isUeeError } from '../../src/core/index.js';
import { createModelGateway, type DefaultModelGateway } from '../../src/model-gateway/index.js';
import { ctx, deadUrl, rawServer, serveGateway } from './helpers.js';
import { lateness } from '../timing.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function gw(options: Parameters<typeof createModelGateway>[0]): Promise<DefaultModelGateway> {
  const g = await createModelGateway(options);
  cleanups.push(() => g.close());
  return g;
}

describe('GW-ROUTE: providers, fallbacks and circuit breakers', () => {
  it('GW-ROUTE-1 one UEE gateway is the OpenAI-compatible upstream of another (chat, JSON, embeddings, streaming)', async () => {
    const upstream = await gw({});
    const served = await serveGateway(upstream, { 'upstream-token-abcdef': 'edge' });
    cleanups.push(() => served.close());
    const edge = await gw({
      providers: [{ name: 'uee-upstream', kind: 'openai', baseURL: served.baseURL, apiKey: 'upstream-token-abcdef' }],
      models: [
        { name: 'remote.chat', kind: 'chat', provider: 'uee-upstream', target: 'chat.default', cost: { inputPerUnit: 0.001, outputPerUnit: 0.002 } },
        { name: 'remote.embed', kind: 'embedding', provider: 'uee-upstream', target: 'embed.small' },
      ],
    });
    const chat = await edge.call(ctx(), { model: 'remote.chat', input: 'through two gateways' });
    expect(chat.output).toMatchObject({ content: 'echo: through two gateways', finishReason: 'stop' });
    expect(chat.provider).toBe('uee-upstream');
    expect(chat.usage.cost).toBeCloseTo(chat.usage.inputTokens * 0.001 + chat.usage.outputTokens * 0.002, 9);
    const json = await edge.call(ctx(), { model: 'remote.chat', input: { messages: [{ role: 'user', content: 'j' }], response_format: { type: 'json_object' } } });
    expect((json.output as { json: unknown }).json).toEqual({ echo: 'j' });
    const emb = await edge.call(ctx(), { model: 'remote.embed', input: ['alpha', 'beta'] });
    const local = await edge.call(ctx(), { model: 'embed.small', input: ['alpha', 'beta'] });
    expect((emb.output as { embeddings: number[][] }).embeddings).toEqual((local.output as { embeddings: number[][] }).embeddings);
    const s = await edge.stream(ctx(), { model: 'remote.chat', input: 'stream me please' });
    let text = '';
    for await (const c of s.chunks) text += c.delta;
    expect(text).toBe('echo: stream me please');
    expect((await s.result).usage.outputTokens).toBeGreaterThan(0);
    expect(upstream.audit.query({ tenantId: 'edge' }).length).toBe(4);
  });

  it('GW-ROUTE-2 falls back when the primary provider fails', async () => {
    await using failing = await rawServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'boom', type: 'server_error' } }));
    });
    const g = await gw({
      providers: [{ name: 'flaky', kind: 'openai', baseURL: failing.url, apiKey: 'sk-flaky-0000000' }],
      models: [{ name: 'chat.primary', kind: 'chat', provider: 'flaky', target: 'm', retries: 1, retryBackoffMs: 1, fallback: ['chat.default'] }],
    });
    const r = await g.call(ctx(), { model: 'chat.primary', input: 'hi' });
    expect(r.model).toBe('chat.default');
    expect(r.output).toMatchObject({ content: 'echo: hi' });
    expect(failing.hits()).toBe(2);
    const [rec] = g.audit.query({ model: 'chat.primary' });
    expect(rec).toMatchObject({ servedBy: 'chat.default', attempts: 3, errorCode: null });
  });

  it('GW-ROUTE-3 falls back when the primary times out', async () => {
    await using hanging = await rawServer(() => undefined);
    const g = await gw({
      providers: [{ name: 'slow', kind: 'openai', baseURL: hanging.url }],
      models: [{ name: 'chat.slow', kind: 'chat', provider: 'slow', target: 'm', timeoutMs: 150, fallback: ['chat.default'] }],
    });
    const t0 = performance.now();
    // The baseline: a plain timer of the model's timeout started with the call waits for the same loaded machine.
    const timer = lateness(150, t0);
    const r = await g.call(ctx(), { model: 'chat.slow', input: 'late' });
    expect(r.model).toBe('chat.default');
    expect(performance.now() - t0).toBeLessThan(2000 + (await timer));
    expect(hanging.hits()).toBe(1);
  });

  it('GW-ROUTE-4 without a fallback, a timeout surfaces as TIMEOUT and a dead provider as MODEL_UNAVAILABLE', async () => {
    await using hanging = await rawServer(() => undefined);
    const g = await gw({
      providers: [
        { name: 'slow', kind: 'openai', baseURL: hanging.url },
        { name: 'dead', kind: 'openai', baseURL: await deadUrl() },
      ],
      models: [
        { name: 'chat.slow', kind: 'chat', provider: 'slow', target: 'm', timeoutMs: 100 },
        { name: 'chat.dead', kind: 'chat', provider: 'dead', target: 'm' },
      ],
    });
    await expect(g.call(ctx(), { model: 'chat.slow', input: 'x' })).rejects.toMatchObject({ code: 'TIMEOUT', retryable: true });
    await expect(g.call(ctx(), { model: 'chat.dead', input: 'x' })).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
  });

  it('GW-ROUTE-5 the circuit breaker stops hammering a dead provider, then probes it after the cool-down', async () => {
    let healthy = false;
    await using upstream = await rawServer((req, res) => {
      if (!healthy) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'down', type: 'server_error' } }));
        return;
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'back' }, finish_reason: 'stop' }] }));
      });
    });
    const g = await gw({
      providers: [{ name: 'svc', kind: 'openai', baseURL: upstream.url }],
      models: [{ name: 'chat.svc', kind: 'chat', provider: 'svc', target: 'm', fallback: ['chat.default'] }],
      breaker: { failureThreshold: 3, cooldownMs: 300 },
    });
    for (let i = 0; i < 10; i++) {
      const r = await g.call(ctx(), { model: 'chat.svc', input: `q${i}` });
      expect(r.model).toBe('chat.default');
    }
    expect(upstream.hits()).toBe(3);
    expect(g.circuitState('chat.svc')).toBe('open');
    const failures = g.audit.query({ model: 'chat.svc', limit: 10 });
    expect(failures.filter((r) => r.attempts === 1)).toHaveLength(7);
    await new Promise((r) => setTimeout(r, 350));
    expect(g.circuitState('chat.svc')).toBe('half-open');
    healthy = true;
    const probe = await g.call(ctx(), { model: 'chat.svc', input: 'probe' });
    expect(probe.model).toBe('chat.svc');
    expect(probe.output).toMatchObject({ content: 'back' });
    expect(g.circuitState('chat.svc')).toBe('closed');
    expect(upstream.hits()).toBe(4);
  });

  it('GW-ROUTE-7 a caller abort (the runtime watchdog) cancels the provider call and does not trip the breaker', async () => {
    await using hanging = await rawServer(() => undefined);
    const g = await gw({
      providers: [{ name: 'slow', kind: 'openai', baseURL: hanging.url }],
      models: [{ name: 'chat.slow', kind: 'chat', provider: 'slow', target: 'm', timeoutMs: 30_000, retries: 3, fallback: ['chat.default'] }],
      breaker: { failureThreshold: 1 },
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const t0 = performance.now();
    await expect(g.call(ctx(), { model: 'chat.slow', input: 'x', signal: controller.signal })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(performance.now() - t0).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 50));
    expect(g.circuitState('chat.slow')).toBe('closed');
    expect(hanging.hits()).toBe(1);
  });

  it('GW-ROUTE-6 provider keys never reach errors, audit records or logs, even when the upstream echoes them', async () => {
    const key = 'sk-live-SECRET-7f3a9c2e1b';
    await using echoing = await rawServer((req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `bad header ${req.headers.authorization ?? ''}`, type: 'server_error' } }));
    });
    const lines: string[] = [];
    const g = await gw({
      providers: [{ name: 'leaky', kind: 'openai', baseURL: echoing.url, apiKeyEnv: 'LEAKY_KEY' }],
      env: { LEAKY_KEY: key },
      models: [{ name: 'chat.leaky', kind: 'chat', provider: 'leaky', target: 'm' }],
      logger: createLogger({ level: 'debug', sink: (l) => lines.push(l) }),
    });
    const err = await g.call(ctx(), { model: 'chat.leaky', input: 'x', pluginId: 'p1' }).catch((e: unknown) => e);
    expect(isUeeError(err, 'MODEL_UNAVAILABLE')).toBe(true);
    const e = err as Error & { toJSON(): unknown };
    expect(e.message).toContain('[redacted]');
    expect(e.message).not.toContain(key);
    expect(JSON.stringify(e.toJSON())).not.toContain(key);
    expect(e.cause).toBeUndefined();
    expect(JSON.stringify(g.audit.query({}))).not.toContain(key);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(key);
    expect(JSON.stringify(g.listModels('acme'))).not.toContain(key);
    await using served = await serveGateway(g, { 'tenant-token-xyz': 'acme' });
    const res = await fetch(`${served.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer tenant-token-xyz', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat.leaky', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain(key);
  });
});
