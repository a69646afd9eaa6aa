import { UeeError, jsonBytes } from '../core/index.js';

/** Limits applied to raw tool arguments before schema validation. */
export interface InputLimits {
  /** Max JSON bytes of one call's arguments. */
  maxArgumentBytes: number;
  /** Max nesting depth. @default 32 */
  maxDepth?: number;
  /** Max array elements plus object members in one call. @default 100000 */
  maxElements?: number;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Checks raw arguments before zod sees them: a plain object, within size, depth and element limits,
 * and without prototype-polluting keys at any depth. A `__proto__` key already swallowed by an upstream
 * parser still shows as a changed prototype, which is refused the same way.
 */
export function guardArguments(args: unknown, limits: InputLimits): Record<string, unknown> {
  if (args === undefined || args === null) return {};
  if (typeof args !== 'object' || Array.isArray(args)) {
    throw new UeeError('VALIDATION_FAILED', 'tool arguments must be a JSON object', {
      details: { issues: [{ path: '', message: `expected object, got ${Array.isArray(args) ? 'array' : typeof args}` }] },
      hint: 'pass the arguments as an object of named fields',
    });
  }
  const size = jsonBytes(args);
  if (size > limits.maxArgumentBytes) {
    throw new UeeError('PAYLOAD_TOO_LARGE', `tool arguments are ${size} bytes; the limit is ${limits.maxArgumentBytes}`, {
      details: { bytes: size, limit: limits.maxArgumentBytes },
      hint: 'send less data per call (split large writes)',
    });
  }
  const maxDepth = limits.maxDepth ?? 32;
  const maxElements = limits.maxElements ?? 100_000;
  let elements = 0;
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: args, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > maxDepth) throw invalid(path, `nesting deeper than ${maxDepth} levels`);
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) throw invalid(path, 'forbidden key "__proto__"');
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    for (const [key, child] of entries) {
      if (++elements > maxElements) throw invalid(path, `more than ${maxElements} array elements and object members`);
      if (!Array.isArray(value) && FORBIDDEN_KEYS.has(key)) throw invalid(path ? `${path}.${key}` : key, `forbidden key "${key}"`);
      stack.push({ value: child, path: path ? `${path}.${key}` : key, depth: depth + 1 });
    }
  }
  return args as Record<string, unknown>;
}

function invalid(path: string, message: string): UeeError {
  return new UeeError('VALIDATION_FAILED', `invalid tool arguments: ${path || '(root)'}: ${message}`, {
    details: { issues: [{ path, message }] },
    hint: 'remove the offending key or value; keys __proto__, constructor and prototype are never accepted',
  });
}
