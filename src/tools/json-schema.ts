import { z } from 'zod';

type Json = Record<string, unknown>;

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

/** Keywords that only restate what the server checks anyway; listing them costs every agent tokens. */
const INPUT_DROPPED = new Set(['pattern', 'maxLength', 'minLength', 'maxItems', 'minItems', 'maxProperties', 'propertyNames', '$schema']);

/**
 * Strips what an agent does not act on from an argument schema: string patterns and length caps
 * (the server validates them and names the field when one fails), the `±2^53` bounds zod writes for
 * every integer, `additionalProperties` below the top level, and `$schema` (MCP's default dialect is
 * 2020-12). Objects nested in an argument (array items included) are pictured in its description
 * (see {@link shape}) instead of spelled out: `{entityTypeId, attributes, entityId?}`.
 */
function leanInput(root: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(root)) {
    // Unknown arguments are refused by the server (VALIDATION_FAILED names them); saying so in every
    // listing costs more than it tells.
    if (k === '$schema' || k === '$defs' || k === 'additionalProperties') continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Json).map(([name, sub]) => [name, leanArg(sub as Json)])) : v;
  }
  return out;
}

/** One top-level argument: its type and scalar constraints, with nested objects pictured. */
function leanArg(node: Json): Json {
  const picture = nestedObject(node) ? shape(node, 2) : '';
  if (picture !== '') {
    const description = [typeof node.description === 'string' ? node.description : '', picture].filter((d) => d !== '').join(': ');
    return { ...stub(node), ...(node.default === undefined ? {} : { default: node.default }), description };
  }
  return dropKeys(node) as Json;
}

/** True when a schema is, or holds (as array items or union branches), an object with named properties. */
function nestedObject(node: Json): boolean {
  if (node.properties !== undefined && typeof node.properties === 'object') return true;
  if (node.additionalProperties !== null && typeof node.additionalProperties === 'object') return true;
  if (node.items !== null && typeof node.items === 'object' && !Array.isArray(node.items)) return nestedObject(node.items as Json);
  return Array.isArray(node.anyOf) && (node.anyOf as Json[]).some(nestedObject);
}

function dropKeys(node: unknown, key?: string): unknown {
  if (Array.isArray(node)) return node.map((item) => dropKeys(item));
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (key !== 'properties' && INPUT_DROPPED.has(k)) continue;
    // Sanity caps (±2^53 from zod, a million versions) and "positive" for versions say nothing an agent can act on.
    if (key !== 'properties' && (k === 'maximum' || k === 'minimum') && Math.abs(v as number) >= 1_000_000) continue;
    if (key !== 'properties' && k === 'exclusiveMinimum' && v === 0) continue;
    if (key !== 'properties' && k === 'additionalProperties' && v === true) continue;
    // An absent flag is false everywhere; only `default: true` tells something.
    if (key !== 'properties' && k === 'default' && v === false) continue;
    out[k] = dropKeys(v, k);
  }
  return out;
}

/** The type skeleton of a schema: `{type}` per branch (an "any JSON" union stays as it is). */
function stub(node: Json): Json {
  if (Array.isArray(node.anyOf)) {
    const seen = new Set<string>();
    const branches: Json[] = [];
    for (const branch of (node.anyOf as Json[]).map(stub)) {
      const key = JSON.stringify(branch);
      if (seen.has(key)) continue;
      seen.add(key);
      branches.push(branch);
    }
    return branches.length === 1 ? branches[0]! : { anyOf: branches };
  }
  if (Array.isArray(node.enum)) return { enum: node.enum };
  if (node.const !== undefined) return { const: node.const };
  if (typeof node.$ref === 'string') return { type: 'object' };
  return typeof node.type === 'string' ? { type: node.type } : { type: 'object' };
}

/** `Entity` for `#/$defs/Entity`: the name of a shared shape (see {@link namedShapes}). */
function shapeName(ref: string): string {
  return ref.slice(ref.lastIndexOf('/') + 1);
}

/**
 * A compact TypeScript-like picture of a schema's nested shape, e.g. `{id, plugin?: {name}, attempts: [{at, code}]}`:
 * property names (a `?` when optional), enums as `a|b`, nesting to `depth` levels. Empty for scalars.
 */
function shape(node: Json, depth: number): string {
  if (typeof node.$ref === 'string') return shapeName(node.$ref);
  if (Array.isArray(node.anyOf)) {
    const parts = (node.anyOf as Json[]).filter((b) => b.type !== 'null').map((b) => shape(b, depth)).filter((p) => p !== '');
    return parts.length === (node.anyOf as Json[]).filter((b) => b.type !== 'null').length ? parts.join('|') : '';
  }
  if (Array.isArray(node.enum)) return node.enum.map(String).join('|');
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.type === 'array' && node.items !== null && typeof node.items === 'object') {
    const inner = shape(node.items as Json, depth);
    return inner === '' ? '' : `[${inner}]`;
  }
  if (node.type === 'object' && node.properties !== null && typeof node.properties === 'object') {
    if (depth <= 0) return '{…}';
    const required = new Set((node.required as string[] | undefined) ?? []);
    const fields = Object.entries(node.properties as Json).map(([name, sub]) => {
      const inner = shape(sub as Json, depth - 1);
      return `${name}${required.has(name) ? '' : '?'}${inner === '' ? '' : `: ${inner}`}`;
    });
    return `{${fields.join(', ')}}`;
  }
  if (node.type === 'object' && node.additionalProperties !== null && typeof node.additionalProperties === 'object') {
    const inner = shape(node.additionalProperties as Json, depth - 1);
    return inner === '' ? '' : `{[key]: ${inner}}`;
  }
  return '';
}

/** Longest result picture before nested objects lose detail (see {@link resultPicture}). */
const MAX_RESULT_CHARS = 150;

/** `name: type` for a top-level result field: scalars get their type, nested values their picture. */
function fieldType(node: Json, depth: number): string {
  if (Array.isArray(node.anyOf)) {
    const branches = (node.anyOf as Json[]).map((b) => (b.type === 'null' ? 'null' : fieldType(b, depth)));
    return [...new Set(branches)].join('|');
  }
  const picture = shape(node, depth);
  if (picture !== '') return picture;
  if (node.type === 'array') {
    const items = node.items !== null && typeof node.items === 'object' ? (node.items as Json) : {};
    return typeof items.type === 'string' && items.type !== 'object' ? `${items.type === 'integer' ? 'number' : items.type}[]` : 'array';
  }
  return typeof node.type === 'string' ? (node.type === 'integer' ? 'number' : node.type) : 'any';
}

/**
 * The whole result as one TypeScript-like line: `{dryRun: boolean, plan: Plan, entity: Entity|null}`.
 * Nested objects are pictured two levels deep; while the line is over {@link MAX_RESULT_CHARS}, the
 * field with the longest picture loses a level, so small fields keep their detail.
 */
function resultPicture(root: Json): string {
  const required = new Set((root.required as string[] | undefined) ?? []);
  const fields = Object.entries(root.properties as Json).map(([name, sub]) => ({ name, node: sub as Json, depth: 2, text: fieldType(sub as Json, 2) }));
  const line = (): string => `{${fields.map((f) => `${f.name}${required.has(f.name) ? '' : '?'}: ${f.text}`).join(', ')}}`;
  while (line().length > MAX_RESULT_CHARS) {
    const longest = fields.filter((f) => f.depth > 0).sort((x, y) => y.text.length - x.text.length)[0];
    if (longest === undefined) break;
    longest.depth--;
    longest.text = fieldType(longest.node, longest.depth);
  }
  return line();
}

/**
 * A tool's output schema as listed: an open object whose description is the result's shape in one
 * TypeScript-like line — field names (`?` when optional), scalar types, enums as `a|b`, nested
 * objects to two levels, and the shapes tools share by name (`Entity`, `Plan`, … in
 * `uee://schemas/shapes`). A line reads in a fraction of the bytes of nested JSON Schema, which is
 * what kept `tools/list` at 170 KB. Results are checked against the full zod schema on the server
 * before they are sent. The object stays open, so the `{code, message, hint, retryable, details?}`
 * envelope of an `isError` result (`uee://catalogue/errors`) validates too: clients of the official
 * SDK 1.x check `structuredContent` even on errors (typescript-sdk#1943).
 */
function leanOutput(root: Json): Json {
  if (root.type !== 'object' || root.properties === null || typeof root.properties !== 'object') throw new Error('tool output schemas must be objects');
  return { type: 'object', description: resultPicture(root) };
}

/** The JSON Schema (2020-12, MCP's default dialect) of a tool's arguments, as listed in `tools/list`. */
export function inputJsonSchema(schema: z.ZodType): Json {
  const generated = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  const out = leanInput(portable(generated) as Json);
  if (out.type !== 'object') throw new Error('tool input schemas must be objects');
  return out;
}

/** The JSON Schema of a tool's `structuredContent`: the result, or the error envelope of an `isError` result. */
export function outputJsonSchema(schema: z.ZodType): Json {
  return leanOutput(portable(z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12', unrepresentable: 'any' })) as Json);
}

/**
 * The shapes tools share in their results (`Entity`, `Event`, `Plan`, …: zod schemas with a meta
 * `id`), as full JSON Schemas by name. Output schemas name them instead of repeating them; the
 * resource `uee://schemas/shapes` serves these once.
 */
export function namedShapes(schemas: readonly z.ZodType[]): Record<string, Json> {
  const shapes: Json = {};
  for (const schema of schemas) {
    const generated = z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
    Object.assign(shapes, generated.$defs as Json);
  }
  return Object.fromEntries(Object.entries(shapes).map(([name, s]) => [name, portable(s)])) as Record<string, Json>;
}
