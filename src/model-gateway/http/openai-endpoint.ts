import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Logger, TenantContext } from '../../core/index.js';
import { UeeError, parseOrThrow, silentLogger, toUeeError } from '../../core/index.js';
import type { ChatOutput, EmbeddingOutput } from '../io.js';
import type { GatewayCallResult, ModelGateway } from '../port.js';
import { sendOpenAiError } from './openai-errors.js';

/** Options of {@link createOpenAiHandler}. */
export interface OpenAiEndpointOptions {
  gateway: ModelGateway;
  /** Bearer token → tenant id (`null`: the global scope). Requests without a known token get 401. */
  tokens?: Record<string, string | null> | ReadonlyMap<string, string | null>;
  /** Like `tokens`, keyed by the token's SHA-256 hex (how the server configuration keeps them). */
  tokenDigests?: ReadonlyMap<string, string | null>;
  /**
   * Authenticates (and rate-limits) a request instead of `tokens`: returns the caller's tenant and
   * whether it is read-only, or throws a `UeeError` (`UNAUTHORIZED`, `RATE_LIMITED`, …). Read-only
   * callers may list models but not call them: a call spends the tenant's model quota.
   */
  admit?: (req: IncomingMessage) => EndpointCaller;
  /** The mount prefix. @default "/v1" */
  prefix?: string;
  /** Largest accepted request body. @default 4 MiB */
  maxBodyBytes?: number;
  logger?: Logger;
}

/** Who calls the endpoint, as {@link OpenAiEndpointOptions.admit} returns it. */
export interface EndpointCaller {
  tenantId: string | null;
  readOnly: boolean;
  actor: string;
}

const ChatBodySchema = z.looseObject({
  model: z.string().min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  n: z.number().int().min(1).max(1).nullish(),
});

const EmbeddingBodySchema = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

/**
 * An OpenAI-compatible API over a {@link ModelGateway}: `GET /v1/models`, `GET /v1/models/{id}`,
 * `POST /v1/chat/completions` (JSON or SSE streaming), `POST /v1/embeddings` (float or base64).
 * Each bearer token maps to a tenant, whose registry view, overrides and quotas apply. Errors use
 * OpenAI's error shape and statuses (401, 400, 404, 429 with `retry-after`, 500, 503, 504).
 * Mount it with `HttpServer.mount('/v1', handler)`.
 */
export function createOpenAiHandler(options: OpenAiEndpointOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const prefix = options.prefix ?? '/v1';
  const maxBody = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const logger = options.logger ?? silentLogger;
  const tokens = options.tokens ?? {};
  const entries: Array<[string, string | null]> =
    tokens instanceof Map ? [...(tokens as ReadonlyMap<string, string | null>)] : Object.entries(tokens as Record<string, string | null>);
  const byHash = new Map([...entries.map(([token, tenant]): [string, string | null] => [sha256(token), tenant]), ...(options.tokenDigests ?? [])]);
  const { gateway } = options;

  const authenticate = (req: IncomingMessage): TenantContext & { readOnly: boolean } => {
    if (options.admit) {
      const caller = options.admit(req);
      return { tenantId: caller.tenantId, actor: caller.actor, readOnly: caller.readOnly };
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const tenantId = match ? byHash.get(sha256(match[1]!)) : undefined;
    if (tenantId === undefined) throw new UeeError('UNAUTHORIZED', 'missing or unknown bearer token', { hint: 'send Authorization: Bearer <tenant token>' });
    return { tenantId, actor: `api-token:${tenantId ?? 'global'}`, readOnly: false };
  };
  const spending = (caller: { readOnly: boolean }): void => {
    if (caller.readOnly) {
      throw new UeeError('TENANT_FORBIDDEN', 'this token is read-only: it may list models but not call them (a call spends the tenant\'s model quota)', {
        details: { reason: 'READ_ONLY' },
        hint: 'use a read-write token of the tenant for model calls',
      });
    }
  };

  return async (req, res) => {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    try {
      const path = (req.url ?? '/').split('?')[0]!.slice(prefix.length) || '/';
      const ctx = authenticate(req);
      if (req.method === 'GET' && path === '/models') return sendJson(res, 200, { object: 'list', data: gateway.listModels(ctx.tenantId).map(modelObject) });
      if (req.method === 'GET' && path.startsWith('/models/')) {
        const id = decodeURIComponent(path.slice('/models/'.length));
        const m = gateway.listModels(ctx.tenantId).find((x) => x.name === id);
        if (!m) throw new UeeError('NOT_FOUND', `unknown model "${id}"`, { details: { model: id } });
        return sendJson(res, 200, modelObject(m));
      }
      if (req.method === 'POST') spending(ctx);
      if (req.method === 'POST' && path === '/chat/completions') return await chat(ctx, parseOrThrow(ChatBodySchema, await readJson(req, maxBody), 'chat completion request'), res, controller.signal);
      if (req.method === 'POST' && path === '/embeddings') return await embeddings(ctx, parseOrThrow(EmbeddingBodySchema, await readJson(req, maxBody), 'embedding request'), res, controller.signal);
      throw new UeeError('NOT_FOUND', `no route ${req.method ?? 'GET'} ${prefix}${path}`);
    } catch (err) {
      const e = toUeeError(err);
      if (e.code === 'INTERNAL') logger.error('openai endpoint failed', { message: e.message });
      if (!res.headersSent) sendOpenAiError(res, e);
      else if (!res.writableEnded) {
        res.write(`data: ${JSON.stringify({ error: { message: e.message, type: 'server_error', code: e.code.toLowerCase() } })}\n\n`);
        res.end();
      }
    }
  };

  function kindCheck(ctx: TenantContext, model: string, kind: 'chat' | 'embedding'): void {
    const m = gateway.listModels(ctx.tenantId).find((x) => x.name === model);
    if (!m) throw new UeeError('NOT_FOUND', `the model "${model}" does not exist or you do not have access to it`, { details: { model, param: 'model' } });
    if (m.kind !== kind) throw new UeeError('VALIDATION_FAILED', `model "${model}" is a ${m.kind} model, not a ${kind} model`, { details: { model, param: 'model' } });
  }

  async function chat(ctx: TenantContext, body: z.infer<typeof ChatBodySchema>, res: ServerResponse, signal: AbortSignal): Promise<void> {
    kindCheck(ctx, body.model, 'chat');
    const { model, stream, stream_options: streamOptions, n: _n, ...input } = body;
    const created = Math.floor(Date.now() / 1000);
    if (!stream) {
      const r = await gateway.call(ctx, { model, input, signal, source: 'api' });
      const out = r.output as ChatOutput;
      return sendJson(res, 200, {
        id: `chatcmpl-${r.callId}`, object: 'chat.completion', created, model: r.model, system_fingerprint: null,
        choices: [{ index: 0, message: { role: 'assistant', content: out.content, refusal: null }, finish_reason: out.finishReason, logprobs: null }],
        usage: usage(r),
      });
    }
    const s = await gateway.stream(ctx, { model, input, signal, source: 'api' });
    const id = `chatcmpl-${created}-${Math.random().toString(36).slice(2, 10)}`;
    const frame = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: s.model, system_fingerprint: null, choices, ...extra })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(frame([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]));
    for await (const chunk of s.chunks) res.write(frame([{ index: 0, delta: { content: chunk.delta }, finish_reason: null, logprobs: null }]));
    const r = await s.result;
    res.write(frame([{ index: 0, delta: {}, finish_reason: (r.output as ChatOutput).finishReason, logprobs: null }]));
    if (streamOptions?.include_usage) res.write(frame([], { usage: usage(r) }));
    res.end('data: [DONE]\n\n');
  }

  async function embeddings(ctx: TenantContext, body: z.infer<typeof EmbeddingBodySchema>, res: ServerResponse, signal: AbortSignal): Promise<void> {
    kindCheck(ctx, body.model, 'embedding');
    const input = { input: typeof body.input === 'string' ? [body.input] : body.input, ...(body.dimensions === undefined ? {} : { dimensions: body.dimensions }) };
    const r = await gateway.call(ctx, { model: body.model, input, signal, source: 'api' });
    const out = r.output as EmbeddingOutput;
    const base64 = body.encoding_format === 'base64';
    // Serialised one vector at a time, yielding between slices: a large batch never holds the main thread.
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.write(`{"object":"list","model":${JSON.stringify(r.model)},"data":[`);
    let since = 0;
    for (const [index, v] of out.embeddings.entries()) {
      const piece = JSON.stringify({ object: 'embedding', index, embedding: base64 ? toBase64Float32(v) : v });
      res.write(index === 0 ? piece : `,${piece}`);
      since += v.length;
      if (since >= 16_384) {
        since = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal.aborted) return void res.destroy();
      }
    }
    res.end(`],"usage":${JSON.stringify({ prompt_tokens: r.usage.inputTokens, total_tokens: r.usage.inputTokens })}}`);
  }
}

/** Little-endian float32 bytes, base64-encoded: OpenAI's `encoding_format: "base64"`. */
export function toBase64Float32(v: readonly number[]): string {
  const buf = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4);
  return buf.toString('base64');
}

function modelObject(m: ReturnType<ModelGateway['listModels']>[number]): Record<string, unknown> {
  return { id: m.name, object: 'model', created: 0, owned_by: m.provider, kind: m.kind, description: m.description };
}

function usage(r: GatewayCallResult): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  return { prompt_tokens: r.usage.inputTokens, completion_tokens: r.usage.outputTokens, total_tokens: r.usage.inputTokens + r.usage.outputTokens };
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new UeeError('PAYLOAD_TOO_LARGE', `request body larger than ${max} bytes`, { details: { maxBytes: max } });
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new UeeError('VALIDATION_FAILED', 'request body is not valid JSON');
  }
}
