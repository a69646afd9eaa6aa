import type { ModelDefinitionInput } from './registry.js';

/**
 * The models every gateway starts with. All run offline on the builtin provider:
 * - `task.prioritizer.v2`: logistic-regression task scorer (held-out metrics in
 *   `builtin/prioritizer-weights.json`);
 * - `embed.small`: 256-dimension hashed character n-gram embedding (lexical, not semantic);
 * - `chat.default`: the `echo` template model — **not an LLM**; point `chat.default` at an
 *   OpenAI-compatible provider (a tenant override or a replacing definition) for real answers.
 */
export const DEFAULT_MODELS: ModelDefinitionInput[] = [
  {
    name: 'task.prioritizer.v2',
    kind: 'scorer',
    provider: 'builtin',
    target: 'prioritizer',
    description: 'Task priority score 0..1 from dueInDays, estimateHours, energy, importance, status (logistic regression fitted on synthetic tasks).',
    timeoutMs: 1000,
    cacheTtlMs: 60_000,
  },
  {
    name: 'embed.small',
    kind: 'embedding',
    provider: 'builtin',
    target: 'hashed-ngram',
    description: 'Deterministic 256-d hashed character n-gram embedding, L2-normalised (lexical similarity, not semantic).',
    params: { dimensions: 256 },
    // Computed in slices that yield to the event loop, so a maximal batch (2,048 texts) takes seconds
    // on a busy machine without holding it; the timeout can now fire, so it leaves room for that.
    timeoutMs: 10_000,
    cacheTtlMs: 300_000,
  },
  {
    name: 'chat.default',
    kind: 'chat',
    provider: 'builtin',
    target: 'echo',
    description: 'Built-in echo/template chat model: NOT an LLM. Echoes the last user message; fills JSON schemas with placeholder values. Configure an OpenAI-compatible provider for real chat.',
    timeoutMs: 1000,
  },
];

/**
 * Merges `models` over {@link DEFAULT_MODELS}: a definition with a default's name replaces it (so
 * configuring `chat.default` on a real provider retires the echo model).
 */
export function withDefaultModels(models: readonly ModelDefinitionInput[] = []): ModelDefinitionInput[] {
  const names = new Set(models.map((m) => m.name));
  return [...DEFAULT_MODELS.filter((m) => !names.has(m.name)), ...models];
}
