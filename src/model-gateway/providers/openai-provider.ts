import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { z } from 'zod';
import { UeeError } from '../../core/index.js';
import type { ChatInput, ChatOutput, EmbeddingInput, EmbeddingOutput } from '../io.js';
import { estimateInputTokens, estimateTokens, maxOutputTokens } from '../io.js';
import type { ChatChunk, ModelProvider, ProviderCall, ProviderResult } from '../port.js';

/** A connection to an OpenAI-compatible API: OpenAI, Azure, vLLM, Ollama, or another UEE gateway. */
export const OpenAiProviderConfigSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$/),
    kind: z.literal('openai'),
    /** e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`. */
    baseURL: z.url(),
    /** The API key. Prefer `apiKeyEnv` so keys stay out of config files. */
    apiKey: z.string().min(1).optional(),
    /** Environment variable holding the API key. */
    apiKeyEnv: z.string().min(1).optional(),
    /** Extra request headers (not secrets: they are not redacted). @default {} */
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict();
/** Input of {@link OpenAiProvider}. */
export type OpenAiProviderConfig = z.input<typeof OpenAiProviderConfigSchema>;

/**
 * Calls an OpenAI-compatible endpoint through the official `openai` client: chat (with JSON
 * formats and streaming) and embeddings. The client's own retries are off: the gateway retries,
 * falls back and trips breakers itself. Errors become `UeeError`s whose messages carry the upstream
 * status and message only — the gateway scrubs the key from them as well.
 */
export class OpenAiProvider implements ModelProvider {
  readonly name: string;
  readonly #client: OpenAI;
  readonly #apiKey: string | undefined;

  constructor(config: OpenAiProviderConfig, env: NodeJS.ProcessEnv = process.env) {
    const c = OpenAiProviderConfigSchema.parse(config);
    this.name = c.name;
    this.#apiKey = c.apiKey ?? (c.apiKeyEnv === undefined ? undefined : env[c.apiKeyEnv]);
    // An explicit key (placeholder when none) keeps the client from reading OPENAI_API_KEY behind our back.
    this.#client = new OpenAI({ apiKey: this.#apiKey ?? 'no-key', baseURL: c.baseURL, maxRetries: 0, defaultHeaders: c.headers, timeout: 600_000 });
  }

  secrets(): string[] {
    return this.#apiKey === undefined ? [] : [this.#apiKey];
  }

  async invoke(call: ProviderCall): Promise<ProviderResult> {
    const def = call.definition;
    try {
      if (def.kind === 'chat') {
        const input = call.input as ChatInput;
        const res = await this.#client.chat.completions.create({ ...this.#chatBody(call), stream: false }, { signal: call.signal });
        const choice = res.choices[0];
        const content = choice?.message.content ?? '';
        const output: ChatOutput = { content, finishReason: choice?.finish_reason === 'length' ? 'length' : 'stop' };
        if (input.response_format && input.response_format.type !== 'text') output.json = parseJson(content, def.name);
        return {
          output,
          inputTokens: res.usage?.prompt_tokens ?? estimateInputTokens('chat', input),
          outputTokens: res.usage?.completion_tokens ?? estimateTokens(content),
        };
      }
      if (def.kind === 'embedding') {
        const input = call.input as EmbeddingInput;
        const dims = input.dimensions ?? (typeof def.params.dimensions === 'number' ? def.params.dimensions : undefined);
        const res = await this.#client.embeddings.create({ model: def.target, input: input.input, ...(dims === undefined ? {} : { dimensions: dims }) }, { signal: call.signal });
        const embeddings = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
        const output: EmbeddingOutput = { embeddings, dimensions: embeddings[0]?.length ?? 0 };
        return { output, inputTokens: res.usage?.prompt_tokens ?? estimateInputTokens('embedding', input), outputTokens: 0 };
      }
    } catch (err) {
      throw this.#wrap(err, def.name);
    }
    throw new UeeError('CONFIG_INVALID', `model "${def.name}": provider "${this.name}" serves chat and embedding models, not ${def.kind}`);
  }

  async *stream(call: ProviderCall): AsyncIterable<ChatChunk & { usage?: { inputTokens: number; outputTokens: number } }> {
    try {
      const stream = await this.#client.chat.completions.create(
        { ...this.#chatBody(call), stream: true, stream_options: { include_usage: true } },
        { signal: call.signal },
      );
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta?.content ?? '';
        const usage = chunk.usage ? { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens } : undefined;
        if (delta || usage) yield { delta, ...(usage ? { usage } : {}) };
      }
    } catch (err) {
      throw this.#wrap(err, call.definition.name);
    }
  }

  #chatBody(call: ProviderCall): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
    const def = call.definition;
    const input = call.input as ChatInput;
    const params = def.params;
    const temperature = input.temperature ?? (typeof params.temperature === 'number' ? params.temperature : undefined);
    return {
      model: def.target,
      messages: input.messages.map((m) => ({ role: m.role, content: m.content }) as OpenAI.Chat.ChatCompletionMessageParam),
      max_tokens: maxOutputTokens('chat', input, def.maxOutputTokens),
      ...(temperature === undefined ? {} : { temperature }),
      ...(input.top_p == null ? {} : { top_p: input.top_p }),
      ...(input.seed == null ? {} : { seed: input.seed }),
      ...(input.stop == null ? {} : { stop: input.stop }),
      ...(input.response_format == null ? {} : { response_format: input.response_format }),
    };
  }

  #wrap(err: unknown, model: string): UeeError {
    if (err instanceof UeeError) return err;
    const where = `provider "${this.name}" (model "${model}")`;
    if (err instanceof APIUserAbortError) return new UeeError('TIMEOUT', `${where}: call aborted (timeout or caller abort)`, { retryable: true });
    if (err instanceof APIConnectionTimeoutError) return new UeeError('TIMEOUT', `${where}: connection timed out`, { retryable: true });
    if (err instanceof APIConnectionError) return new UeeError('MODEL_UNAVAILABLE', `${where}: cannot connect`, { retryable: true, details: { provider: this.name } });
    if (isApiError(err)) {
      const status = err.status ?? 0;
      const upstream = upstreamMessage(err);
      const details = { provider: this.name, upstreamStatus: status };
      if (status === 429) {
        const retryAfter = Number(err.headers?.get('retry-after'));
        return new UeeError('RATE_LIMITED', `${where}: upstream rate limit: ${upstream}`, {
          retryable: true,
          details: { ...details, ...(Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1000 } : {}) },
        });
      }
      if (status === 401 || status === 403) return new UeeError('UNAUTHORIZED', `${where}: upstream refused the credentials (${status})`, { details, hint: 'check the provider API key' });
      if (status === 404) return new UeeError('MODEL_UNAVAILABLE', `${where}: upstream does not know the model: ${upstream}`, { details });
      if (status >= 400 && status < 500) return new UeeError('VALIDATION_FAILED', `${where}: upstream rejected the request (${status}): ${upstream}`, { details });
      return new UeeError('MODEL_UNAVAILABLE', `${where}: upstream failed (${status}): ${upstream}`, { retryable: true, details });
    }
    return new UeeError('MODEL_UNAVAILABLE', `${where}: ${err instanceof Error ? err.message : String(err)}`, { retryable: true });
  }
}

function isApiError(err: unknown): err is APIError {
  return err instanceof APIError;
}

function upstreamMessage(err: APIError): string {
  const body: unknown = err.error;
  const msg = typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string' ? body.message : err.message;
  return msg.slice(0, 500);
}

function parseJson(content: string, model: string): unknown {
  try {
    return JSON.parse(content) as unknown;
  } catch {
    throw new UeeError('MODEL_UNAVAILABLE', `model "${model}" returned text that is not JSON although a JSON format was requested`, { retryable: true });
  }
}
