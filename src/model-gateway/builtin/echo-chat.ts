import type { ChatInput, ChatOutput } from '../io.js';
import { estimateTokens } from '../io.js';

/**
 * `builtin:echo` — the default `chat.default` when no LLM provider is configured. **It is not a
 * language model**: it deterministically echoes the last user message through a template, and for
 * JSON formats it fills a minimal instance of the requested JSON Schema (strings get the echoed
 * text, numbers their minimum or 0, booleans false, arrays their minimum length, enums their first
 * value). It exists so the embedded default runs with no key and no network, and so the chat, JSON
 * and streaming paths can be tested end to end. Configure an OpenAI-compatible provider for real
 * answers.
 */
export function echoChat(input: ChatInput, options: { template?: string; maxTokens: number }): ChatOutput {
  const last = [...input.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const format = input.response_format?.type ?? 'text';
  if (format === 'json_object') {
    const json = { echo: last };
    return { content: JSON.stringify(json), json, finishReason: 'stop' };
  }
  if (format === 'json_schema' && input.response_format?.type === 'json_schema') {
    const json = instanceOf(input.response_format.json_schema.schema ?? { type: 'object' }, last, 0);
    return { content: JSON.stringify(json), json, finishReason: 'stop' };
  }
  const text = (options.template ?? 'echo: {{input}}').replaceAll('{{input}}', last);
  if (estimateTokens(text) <= options.maxTokens) return { content: text, finishReason: 'stop' };
  return { content: text.slice(0, options.maxTokens * 4), finishReason: 'length' };
}

/** Splits a text into stream chunks (words with their following space). */
export function chunkText(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

function instanceOf(schema: unknown, text: string, depth: number): unknown {
  if (depth > 16 || typeof schema !== 'object' || schema === null) return null;
  const s = schema as Record<string, unknown>;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const options = s[key];
    if (Array.isArray(options) && options.length > 0) return instanceOf(options[0], text, depth + 1);
  }
  const type = Array.isArray(s.type) ? (s.type as unknown[]).find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, instanceOf(v, text, depth + 1)]));
    }
    case 'array': {
      const n = typeof s.minItems === 'number' ? s.minItems : 0;
      return Array.from({ length: n }, () => instanceOf(s.items, text, depth + 1));
    }
    case 'string':
      return typeof s.minLength === 'number' && text.length < s.minLength ? text.padEnd(s.minLength, '.') : text;
    case 'number':
    case 'integer':
      return typeof s.minimum === 'number' ? s.minimum : typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}
