import type { z } from 'zod';
import { UeeError, type ErrorCode } from './errors.js';

/**
 * Parses `value` with `schema`, turning a zod failure into a `UeeError` whose details list each
 * issue's path and message, so an agent can see exactly which field to fix.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  code: ErrorCode = 'VALIDATION_FAILED',
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
  const first = issues[0];
  throw new UeeError(code, `invalid ${what}: ${first ? `${first.path || '(root)'}: ${first.message}` : 'unknown issue'}`, {
    details: { issues },
    hint: `fix the listed fields of the ${what} and retry`,
  });
}

/** Size in bytes of a value's JSON encoding. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}
