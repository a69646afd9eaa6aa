import { z } from 'zod';
import { UeeError, parseOrThrow } from '../../core/index.js';
import type { ChatInput, EmbeddingInput, EmbeddingOutput } from '../io.js';
import { estimateInputTokens, estimateTokens, maxOutputTokens } from '../io.js';
import type { ChatChunk, ModelProvider, ProviderCall, ProviderResult } from '../port.js';
import { BUILTIN_PROVIDER } from '../registry.js';
import { chunkText, echoChat } from './echo-chat.js';
import { DEFAULT_EMBEDDING_DIMENSIONS, hashedNgramEmbedding } from './embedding.js';
import { scoreTask, type PrioritizerWeights } from './prioritizer-model.js';
import artifact from './prioritizer-weights.json' with { type: 'json' };

/** The committed prioritizer weights (see `train-prioritizer.ts`). */
export const PRIORITIZER_WEIGHTS: PrioritizerWeights & { metrics: { accuracy: number; auc: number } } = artifact;

/** Builtin model ids usable as `target` with `provider: "builtin"`. */
export const BUILTIN_TARGETS = ['prioritizer', 'hashed-ngram', 'echo'] as const;

/** Scorer input: task facts, optionally wrapped as `{ task }` or `{ features }`. */
export const TaskFeaturesSchema = z
  .object({
    dueInDays: z.number().finite().nullable().optional(),
    estimateHours: z.number().finite().min(0).optional(),
    energy: z.enum(['low', 'medium', 'high']).optional(),
    importance: z.number().finite().min(1).max(5).optional(),
    status: z.enum(['todo', 'in_progress', 'blocked', 'done']).optional(),
  })
  .strip();

const ScorerInputSchema = z.union([
  z.object({ tasks: z.array(TaskFeaturesSchema).min(1).max(10_000) }),
  z.object({ task: TaskFeaturesSchema }).transform((v) => v.task),
  z.object({ features: TaskFeaturesSchema }).transform((v) => v.features),
  TaskFeaturesSchema,
]);

/**
 * The offline provider: `prioritizer` (logistic-regression task scorer), `hashed-ngram` (lexical
 * embedding) and `echo` (a template chat model, not an LLM). Pure CPU, deterministic, no secrets.
 */
export class BuiltinProvider implements ModelProvider {
  readonly name = BUILTIN_PROVIDER;

  invoke(call: ProviderCall): Promise<ProviderResult> {
    if (call.signal.aborted) return Promise.reject(new UeeError('TIMEOUT', 'call aborted before it started', { retryable: true }));
    const { definition: def } = call;
    const inputTokens = estimateInputTokens(def.kind, call.input);
    switch (def.target) {
      case 'prioritizer': {
        const parsed = parseOrThrow(ScorerInputSchema, call.input, `scorer input for ${def.name}`);
        const output = 'tasks' in parsed ? { scores: parsed.tasks.map((t) => scoreTask(PRIORITIZER_WEIGHTS, t)) } : scoreTask(PRIORITIZER_WEIGHTS, parsed);
        return Promise.resolve({ output, inputTokens, outputTokens: 1 });
      }
      case 'hashed-ngram': {
        const input = call.input as EmbeddingInput;
        const dims = input.dimensions ?? (typeof def.params.dimensions === 'number' ? def.params.dimensions : DEFAULT_EMBEDDING_DIMENSIONS);
        return embedInSlices(input.input, dims, call.signal).then((embeddings) => {
          const output: EmbeddingOutput = { embeddings, dimensions: dims };
          return { output, inputTokens, outputTokens: 0 };
        });
      }
      case 'echo': {
        const output = this.#echo(call);
        return Promise.resolve({ output, inputTokens, outputTokens: estimateTokens(output.content) });
      }
      default:
        return Promise.reject(
          new UeeError('CONFIG_INVALID', `model "${def.name}": unknown builtin target "${def.target}"`, {
            details: { model: def.name, target: def.target, known: [...BUILTIN_TARGETS] },
          }),
        );
    }
  }

  async *stream(call: ProviderCall): AsyncIterable<ChatChunk & { usage?: { inputTokens: number; outputTokens: number } }> {
    if (call.definition.target !== 'echo') throw new UeeError('VALIDATION_FAILED', `model "${call.definition.name}" cannot stream`);
    const out = this.#echo(call);
    const pieces = chunkText(out.content);
    for (const [i, delta] of pieces.entries()) {
      if (call.signal.aborted) throw new UeeError('TIMEOUT', 'stream aborted', { retryable: true });
      yield i === pieces.length - 1
        ? { delta, usage: { inputTokens: estimateInputTokens('chat', call.input), outputTokens: estimateTokens(out.content) } }
        : { delta };
      await Promise.resolve();
    }
  }

  #echo(call: ProviderCall): ReturnType<typeof echoChat> {
    const def = call.definition;
    if (def.kind !== 'chat') throw new UeeError('CONFIG_INVALID', `builtin echo needs kind "chat" (model "${def.name}")`);
    const template = typeof def.params.template === 'string' ? def.params.template : undefined;
    return echoChat(call.input as ChatInput, { maxTokens: maxOutputTokens('chat', call.input, def.maxOutputTokens), ...(template === undefined ? {} : { template }) });
  }
}

/** Characters embedded between two yields to the event loop. */
const SLICE_CHARS = 16_384;

/**
 * Embeds texts in slices of about {@link SLICE_CHARS} characters, yielding to the event loop between
 * slices, so a large batch never holds the main thread for more than one slice; an abort stops it.
 */
async function embedInSlices(texts: readonly string[], dims: number, signal: AbortSignal): Promise<number[][]> {
  const out: number[][] = [];
  let since = 0;
  for (const text of texts) {
    if (since >= SLICE_CHARS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      since = 0;
      if (signal.aborted) throw new UeeError('TIMEOUT', 'embedding aborted', { retryable: true });
    }
    out.push(hashedNgramEmbedding(text, dims));
    since += text.length + dims;
  }
  return out;
}
