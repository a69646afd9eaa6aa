/**
 * Model gateway overhead, in one run:
 *  1. per-call cost of `gateway.call` over calling the provider directly — builtin scorer, and the
 *     OpenAI-compatible HTTP provider against a local upstream (a bare node:http server);
 *  2. cache-hit latency;
 *  3. calls/s through the gateway's own OpenAI-compatible endpoint with the real `openai` client.
 * Run: node --import tsx bench/gateway.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { silentLogger } from '../src/core/index.js';
import { BuiltinProvider, ModelDefinitionSchema, OpenAiProvider, createModelGateway, createOpenAiHandler } from '../src/model-gateway/index.js';
import { normalizeInput } from '../src/model-gateway/io.js';
import { HttpServer } from '../src/server/http.js';
import { median, percentile, printResult, printTable } from './_table.js';

const ctx = { tenantId: 'bench', actor: 'bench' };

async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(200, n); i++) await fn(i); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

/** Times `a` and `b` in alternating blocks of 50 calls, so machine noise and JIT warm-up hit both alike. */
async function timePaired(n: number, a: (i: number) => Promise<unknown>, b: (i: number) => Promise<unknown>): Promise<[number[], number[]]> {
  for (let i = 0; i < 200; i++) {
    await a(i);
    await b(i);
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let block = 0; block < n / 50; block++) {
    for (const [fn, out] of [[a, ta], [b, tb]] as const) {
      for (let j = 0; j < 50; j++) {
        const t0 = performance.now();
        await fn(block * 50 + j);
        out.push((performance.now() - t0) * 1000);
      }
    }
  }
  return [ta, tb];
}

// A minimal OpenAI-compatible upstream: fixed chat answer, no work.
const upstream = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const body = JSON.stringify({
      id: 'c', object: 'chat.completion', created: 0, model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;

const gateway = await createModelGateway({
  providers: [{ name: 'local', kind: 'openai', baseURL: upstreamURL, apiKey: 'bench-key-123456' }],
  models: [
    { name: 'score.nocache', kind: 'scorer', provider: 'builtin', target: 'prioritizer' },
    { name: 'chat.http', kind: 'chat', provider: 'local', target: 'm' },
  ],
  quotas: { tenantDefault: { calls: 1e12, tokens: 1e12, cost: 1e9, concurrency: 1e6 } },
});

// 1a. builtin scorer: provider direct vs gateway (no cache, quotas on, audit on).
const N = 4000;
const scoreDef = ModelDefinitionSchema.parse({ name: 'score.nocache', kind: 'scorer', provider: 'builtin', target: 'prioritizer' });
const builtin = new BuiltinProvider();
const task = (i: number): Record<string, unknown> => ({ dueInDays: i % 30, importance: (i % 5) + 1, estimateHours: 2, status: 'todo' });
const [builtinDirect, builtinGateway] = await timePaired(
  N,
  (i) => builtin.invoke({ definition: scoreDef, input: task(i), tenantId: 'bench', signal: new AbortController().signal }),
  (i) => gateway.call(ctx, { model: 'score.nocache', input: task(i), pluginName: 'Bench' }),
);

// 1b. OpenAI-compatible HTTP provider against the local upstream: provider direct vs gateway.
const M = 800;
const chatDef = ModelDefinitionSchema.parse({ name: 'chat.http', kind: 'chat', provider: 'local', target: 'm' });
const httpProvider = new OpenAiProvider({ name: 'local', kind: 'openai', baseURL: upstreamURL, apiKey: 'bench-key-123456' });
const chatInput = (i: number): unknown => normalizeInput('chat', `question ${i}`, 'chat.http');
const [httpDirect, httpGateway] = await timePaired(
  M,
  (i) => httpProvider.invoke({ definition: chatDef, input: chatInput(i), tenantId: 'bench', signal: new AbortController().signal }),
  (i) => gateway.call(ctx, { model: 'chat.http', input: `question ${i}` }),
);

// 2. cache hits (task.prioritizer.v2 caches for 60 s).
await gateway.call(ctx, { model: 'task.prioritizer.v2', input: task(1) });
const cacheHit = await timeEach(N, () => gateway.call(ctx, { model: 'task.prioritizer.v2', input: task(1) }));

// 3. calls/s through the OpenAI-compatible endpoint, real openai client, 16 concurrent callers.
const http = new HttpServer(silentLogger);
http.mount('/v1', createOpenAiHandler({ gateway, tokens: { 'bench-token-123456': 'bench' } }));
const addr = await http.listen('127.0.0.1', 0);
const client = new OpenAI({ apiKey: 'bench-token-123456', baseURL: `http://127.0.0.1:${addr.port}/v1`, maxRetries: 0 });
async function throughput(label: string, call: (i: number) => Promise<unknown>, total: number, concurrency = 16): Promise<{ label: string; perSec: number; p50: number; p99: number }> {
  for (let i = 0; i < 100; i++) await call(i);
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        await call(i);
        lat.push(performance.now() - s);
      }
    }),
  );
  return { label, perSec: total / ((performance.now() - t0) / 1000), p50: median(lat), p99: percentile(lat, 99) };
}
const epChat = await throughput('chat.completions (chat.default)', (i) => client.chat.completions.create({ model: 'chat.default', messages: [{ role: 'user', content: `hi ${i}` }] }), 3000);
const epEmbed = await throughput('embeddings (embed.small, base64)', (i) => client.embeddings.create({ model: 'embed.small', input: `text number ${i}` }), 3000);
const epScore = await throughput('chat.completions → HTTP upstream', (i) => client.chat.completions.create({ model: 'chat.http', messages: [{ role: 'user', content: `q ${i}` }] }), 2000);

await http.close();
await gateway.close();
await new Promise<void>((r) => upstream.close(() => r()));

const us = (v: number[]): number => median(v);
const rows: Array<Array<string | number>> = [
  ['builtin scorer: provider direct', us(builtinDirect), percentile(builtinDirect, 99), '1.00'],
  ['builtin scorer: gateway.call (quotas+audit)', us(builtinGateway), percentile(builtinGateway, 99), (us(builtinGateway) / us(builtinDirect)).toFixed(2)],
  ['HTTP provider: direct (openai client)', us(httpDirect), percentile(httpDirect, 99), '1.00'],
  ['HTTP provider: gateway.call', us(httpGateway), percentile(httpGateway, 99), (us(httpGateway) / us(httpDirect)).toFixed(2)],
  ['cache hit: gateway.call', us(cacheHit), percentile(cacheHit, 99), (us(cacheHit) / us(builtinDirect)).toFixed(2)],
];
process.stdout.write('\nPer-call latency (µs), median of sequential calls; direct and gateway interleaved in blocks of 50\n');
printTable(['path', 'p50 µs', 'p99 µs', 'ratio vs direct'], rows);
process.stdout.write('\nOpenAI-compatible endpoint, real openai client, 16 concurrent callers\n');
printTable(['endpoint', 'calls/s', 'p50 ms', 'p99 ms'], [epChat, epEmbed, epScore].map((r) => [r.label, r.perSec, r.p50, r.p99]));
printResult('gateway', {
  builtinDirectUs: round(us(builtinDirect)),
  builtinGatewayUs: round(us(builtinGateway)),
  builtinOverheadUs: round(us(builtinGateway) - us(builtinDirect)),
  httpDirectUs: round(us(httpDirect)),
  httpGatewayUs: round(us(httpGateway)),
  httpOverheadUs: round(us(httpGateway) - us(httpDirect)),
  cacheHitUs: round(us(cacheHit)),
  endpointChatCallsPerSec: Math.round(epChat.perSec),
  endpointEmbeddingCallsPerSec: Math.round(epEmbed.perSec),
  endpointUpstreamChatCallsPerSec: Math.round(epScore.perSec),
});

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
