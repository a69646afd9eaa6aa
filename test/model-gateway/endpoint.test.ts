import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createModelGateway, cosine, hashedNgramEmbedding, type DefaultModelGateway } from '../../src/model-gateway/index.js';
import { LONG_WINDOW_MS, deadUrl, serveGateway } from './helpers.js';

describe('GW-HTTP: the OpenAI-compatible endpoint, driven by the real openai client', () => {
  let gateway: DefaultModelGateway;
  let served: Awaited<ReturnType<typeof serveGateway>>;
  let client: OpenAI;

  beforeAll(async () => {
    gateway = await createModelGateway({
      providers: [{ name: 'nowhere', kind: 'openai', baseURL: await deadUrl(), apiKey: 'sk-nowhere-secret-000' }],
      models: [{ name: 'chat.broken', kind: 'chat', provider: 'nowhere', target: 'gpt-x', timeoutMs: 2000 }],
      quotas: { tenants: { tiny: { calls: 1, windowMs: LONG_WINDOW_MS } } },
    });
    served = await serveGateway(gateway, { 'tok-acme-123456': 'acme', 'tok-tiny-123456': 'tiny' });
    client = new OpenAI({ apiKey: 'tok-acme-123456', baseURL: served.baseURL, maxRetries: 0 });
  });
  afterAll(async () => {
    await served.close();
    await gateway.close();
  });

  it('GW-HTTP-1 lists the registry models', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['task.prioritizer.v2', 'embed.small', 'chat.default', 'chat.broken']));
    const one = await client.models.retrieve('embed.small');
    expect(one.id).toBe('embed.small');
    expect(JSON.stringify(page.data)).not.toContain('sk-nowhere-secret-000');
  });

  it('GW-HTTP-2 answers a chat completion (the builtin echo model)', async () => {
    const r = await client.chat.completions.create({ model: 'chat.default', messages: [{ role: 'user', content: 'hello gateway' }] });
    expect(r.choices[0]?.message.content).toBe('echo: hello gateway');
    expect(r.choices[0]?.finish_reason).toBe('stop');
    expect(r.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('GW-HTTP-3 streams a chat completion over SSE', async () => {
    const stream = await client.chat.completions.create({
      model: 'chat.default',
      messages: [{ role: 'user', content: 'one two three four' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (c?.delta.content) deltas.push(c.delta.content);
      if (c?.finish_reason) finish = c.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('echo: one two three four');
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('GW-HTTP-4 returns JSON output that validates against a zod schema', async () => {
    const Answer = z.object({ title: z.string(), priority: z.number().int().min(1), tags: z.array(z.string()), done: z.boolean() });
    const r = await client.chat.completions.parse({
      model: 'chat.default',
      messages: [{ role: 'user', content: 'summarise the task' }],
      response_format: zodResponseFormat(Answer, 'answer'),
    });
    const parsed = r.choices[0]?.message.parsed;
    expect(Answer.parse(parsed)).toEqual({ title: 'summarise the task', priority: 1, tags: [], done: false });
    const obj = await client.chat.completions.create({ model: 'chat.default', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } });
    expect(z.object({ echo: z.string() }).parse(JSON.parse(obj.choices[0]!.message.content!))).toEqual({ echo: 'x' });
  });

  it('GW-HTTP-5 serves embeddings in the default base64 encoding and as floats', async () => {
    const b64 = await client.embeddings.create({ model: 'embed.small', input: ['task prioritizer', 'task prioritiser'] });
    expect(b64.data).toHaveLength(2);
    expect(b64.data[0]!.embedding).toHaveLength(256);
    const expected = hashedNgramEmbedding('task prioritizer');
    b64.data[0]!.embedding.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(cosine(b64.data[0]!.embedding, b64.data[1]!.embedding)).toBeGreaterThan(0.6);
    const floats = await client.embeddings.create({ model: 'embed.small', input: 'task prioritizer', encoding_format: 'float' });
    expect(floats.data[0]!.embedding).toEqual(expected);
  });

  it('GW-HTTP-6 answers 404 for an unknown model in OpenAI error shape', async () => {
    const err = await client.chat.completions.create({ model: 'no.such.model', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('GW-HTTP-7 answers 429 with retry-after when the tenant quota is spent', async () => {
    const tiny = new OpenAI({ apiKey: 'tok-tiny-123456', baseURL: served.baseURL, maxRetries: 0 });
    await tiny.chat.completions.create({ model: 'chat.default', messages: [{ role: 'user', content: 'first' }] });
    const err = await tiny.chat.completions.create({ model: 'chat.default', messages: [{ role: 'user', content: 'second' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(e.status).toBe(429);
    expect(e.code).toBe('insufficient_quota');
    const retryAfter = Number(e.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    // The rest of the window, in whole seconds.
    expect(retryAfter).toBeLessThanOrEqual(LONG_WINDOW_MS / 1000);
  });

  it('GW-HTTP-8 answers 500 when the provider fails, without leaking its key', async () => {
    const err = await client.chat.completions.create({ model: 'chat.broken', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    const e = err as InstanceType<typeof OpenAI.InternalServerError>;
    expect(e.status).toBe(500);
    expect(e.code).toBe('model_unavailable');
    expect(JSON.stringify(e.error)).not.toContain('sk-nowhere-secret-000');
  });

  it('GW-HTTP-9 refuses unknown tokens with 401 and wrong-kind models with 400', async () => {
    const stranger = new OpenAI({ apiKey: 'not-a-token', baseURL: served.baseURL, maxRetries: 0 });
    await expect(stranger.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client.embeddings.create({ model: 'chat.default', input: 'x' })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});
