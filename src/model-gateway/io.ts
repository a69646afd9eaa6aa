import { z } from 'zod';
import { parseOrThrow } from '../core/index.js';
import type { ModelKind } from './registry.js';

const TextPartSchema = z.object({ type: z.literal('text'), text: z.string() });

/** A chat message, as in the OpenAI chat API (text content only). */
export const ChatMessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(TextPartSchema), z.null()]).transform((c) => (c === null ? '' : typeof c === 'string' ? c : c.map((p) => p.text).join(''))),
  name: z.string().optional(),
});

/** Requested output format: plain text, any JSON object, or JSON matching a JSON Schema. */
export const ResponseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({ name: z.string(), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullish(), description: z.string().optional() }),
  }),
]);

const ChatObjectSchema = z.object({
  messages: z.array(ChatMessageSchema).min(1).max(1024),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  response_format: ResponseFormatSchema.nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  seed: z.number().int().nullish(),
});
/** A validated chat input. */
export type ChatInput = z.output<typeof ChatObjectSchema>;

/** Canonical chat input. A bare string is one user message. Unknown OpenAI fields are dropped. */
export const ChatInputSchema = z.union([z.string().transform((s): ChatInput => ({ messages: [{ role: 'user', content: s }] })), ChatObjectSchema]);

/** What chat models answer: the text, the parsed JSON when a JSON format was requested. */
export interface ChatOutput {
  content: string;
  json?: unknown;
  finishReason: 'stop' | 'length';
}

/** Longest text one embedding input may hold (about OpenAI's 8,192-token input limit). */
export const MAX_EMBEDDING_INPUT_CHARS = 32_768;
/** Most texts in one embedding call. */
export const MAX_EMBEDDING_INPUTS = 2048;
/** Most output values (texts × dimensions) one embedding call may produce. */
export const MAX_EMBEDDING_VALUES = 524_288;

const EmbeddingText = z.string().max(MAX_EMBEDDING_INPUT_CHARS, `each embedding input may hold at most ${MAX_EMBEDDING_INPUT_CHARS} characters: split longer texts`);

/** Canonical embedding input: one or more texts, bounded in length, count and output size. */
export const EmbeddingInputSchema = z
  .union([
    EmbeddingText.transform((s) => ({ input: [s] as string[] })),
    z.array(EmbeddingText).min(1).max(MAX_EMBEDDING_INPUTS).transform((a) => ({ input: a })),
    z.object({
      input: z.union([EmbeddingText.transform((s) => [s]), z.array(EmbeddingText).min(1).max(MAX_EMBEDDING_INPUTS)]),
      dimensions: z.number().int().positive().max(8192).optional(),
    }),
  ])
  .superRefine((v, ctx) => {
    const values = v.input.length * ('dimensions' in v && v.dimensions !== undefined ? v.dimensions : 256);
    if (values > MAX_EMBEDDING_VALUES) {
      ctx.addIssue({ code: 'custom', message: `${v.input.length} inputs × dimensions = ${values} output values, over ${MAX_EMBEDDING_VALUES} per call: send fewer inputs or fewer dimensions` });
    }
  });
/** A validated embedding input. */
export type EmbeddingInput = { input: string[]; dimensions?: number | undefined };

/** What embedding models answer: one vector per input text. */
export interface EmbeddingOutput {
  embeddings: number[][];
  dimensions: number;
}

/** What scorer models answer. */
export interface ScorerOutput {
  score: number;
  [key: string]: unknown;
}

/** Validates and canonicalises `input` for a model kind; scorer and wasm inputs pass unchanged. */
export function normalizeInput(kind: ModelKind, input: unknown, model: string): unknown {
  switch (kind) {
    case 'chat':
      return parseOrThrow(ChatInputSchema, input, `chat input for ${model}`);
    case 'embedding':
      return parseOrThrow(EmbeddingInputSchema, input, `embedding input for ${model}`);
    default:
      return input;
  }
}

/** A provider-independent token estimate (≈ 4 UTF-8 bytes per token), used for budgets of builtin models. */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

/** Estimated input tokens of a normalised input of any kind. */
export function estimateInputTokens(kind: ModelKind, input: unknown): number {
  if (kind === 'chat') return (input as ChatInput).messages.reduce((n, m) => n + estimateTokens(m.content) + 4, 0);
  if (kind === 'embedding') return (input as EmbeddingInput).input.reduce((n, s) => n + estimateTokens(s), 0);
  return estimateTokens(JSON.stringify(input) ?? '');
}

/** Output tokens a chat call may produce at most (request `max_tokens` capped by the model's bound). */
export function maxOutputTokens(kind: ModelKind, input: unknown, modelBound: number): number {
  if (kind !== 'chat') return kind === 'embedding' ? 0 : 1;
  const c = input as ChatInput;
  return Math.min(modelBound, c.max_completion_tokens ?? c.max_tokens ?? modelBound);
}
