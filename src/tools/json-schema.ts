import { z } from 'zod';
import { ToolErrorSchema } from './schemas.js';

type Json = Record<string, unknown>;

const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/** "Any JSON value", spelled with one `type` per branch so every client dialect can read it. */
const ANY_JSON: Json = {
  anyOf: [
    { type: 'object', additionalProperties: true },
    { type: 'array' },
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'null' },
  ],
};

/**
 * Rewrites a generated schema into its most portable spelling (what `mcp-inspector --strict` checks):
 * no bare `{}` schemas, no `type` arrays, `additionalProperties: true` instead of `{}`.
 */
function portable(node: unknown, key?: string): unknown {
  if (Array.isArray(node)) return node.map((item) => portable(item));
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Json;
  const keys = Object.keys(obj).filter((k) => k !== 'description' && k !== 'default' && k !== 'title');
  if (keys.length === 0 && key !== 'not') {
    if (key === 'additionalProperties') return true;
    return { ...obj, ...ANY_JSON };
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'properties' || k === '$defs' || k === 'patternProperties') {
      out[k] = Object.fromEntries(Object.entries(v as Json).map(([name, sub]) => [name, portable(sub)]));
    } else if (k === 'propertyNames' && JSON.stringify(v) === '{"type":"string"}') {
      // Implied by JSON itself.
      continue;
    } else {
      out[k] = portable(v, k);
    }
  }
  if (Array.isArray(out.type)) {
    const { type, ...rest } = out;
    const types = type as string[];
    const branches = types.map((t) => (t === 'null' ? { type: 'null' } : { type: t, ...constraintsFor(t, rest) }));
    return { ...pick(rest, ['description', 'default', 'title']), anyOf: branches };
  }
  return out;
}

const STRING_KW = ['minLength', 'maxLength', 'pattern', 'format', 'enum'];
const NUMBER_KW = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'enum'];
const OBJECT_KW = ['properties', 'required', 'additionalProperties', 'propertyNames'];
const ARRAY_KW = ['items', 'minItems', 'maxItems', 'prefixItems'];

function constraintsFor(type: string, schema: Json): Json {
  const kw = type === 'string' ? STRING_KW : type === 'number' || type === 'integer' ? NUMBER_KW : type === 'object' ? OBJECT_KW : type === 'array' ? ARRAY_KW : [];
  return pick(schema, kw);
}

function pick(schema: Json, keys: string[]): Json {
  return Object.fromEntries(Object.entries(schema).filter(([k]) => keys.includes(k)));
}

/** The JSON Schema (2020-12) of a tool's arguments, as listed in `tools/list`. */
export function inputJsonSchema(schema: z.ZodType): Json {
  const generated = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  const out = portable(generated) as Json;
  out.$schema = DRAFT_2020_12;
  if (out.type !== 'object') throw new Error('tool input schemas must be objects');
  return out;
}

/**
 * The JSON Schema of a tool's `structuredContent`: the result, or the error envelope of an `isError`
 * result. The error branch is listed because clients of the official SDK 1.x validate
 * `structuredContent` even on error results (typescript-sdk#1943) and would otherwise throw away the
 * code and hint an agent needs.
 */
export function outputJsonSchema(schema: z.ZodType): Json {
  const result = portable(z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12', unrepresentable: 'any' })) as Json;
  const error = portable(z.toJSONSchema(ToolErrorSchema, { io: 'output', target: 'draft-2020-12', unrepresentable: 'any' })) as Json;
  delete result.$schema;
  delete error.$schema;
  const defs = result.$defs;
  delete result.$defs;
  return {
    $schema: DRAFT_2020_12,
    type: 'object',
    ...(defs === undefined ? {} : { $defs: defs }),
    anyOf: [
      { title: 'result', ...result },
      { title: 'error', description: 'Present when isError is true', ...error },
    ],
  };
}
