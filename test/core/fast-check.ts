import { expect } from 'vitest';
import type { z } from 'zod';

/**
 * The contract of a fast check that fronts a zod schema on a hot read path (`isEventEnvelope`,
 * `isEntityVersion`): it may answer true only for values the schema returns unchanged, and must
 * answer false for everything the schema rejects or would change. Breaks each field of `base()` in
 * turn with each of its `bad` values (`undefined` removes the key) and checks both directions;
 * answers how many of the cases the schema rejected or changed.
 */
export function checkEachBrokenField(
  schema: z.ZodType,
  accepts: (value: unknown) => boolean,
  base: () => Record<string, unknown>,
  bad: ReadonlyArray<readonly [string, readonly unknown[]]>,
  skip: (field: string, value: unknown) => boolean = () => false,
): number {
  let cases = 0;
  for (const [field, values] of bad) {
    for (const value of values) {
      if (skip(field, value)) continue;
      const v: Record<string, unknown> = { ...base(), [field]: value };
      if (value === undefined) delete v[field];
      const parsed = schema.safeParse(v);
      const unchanged = parsed.success && JSON.stringify(parsed.data) === JSON.stringify(v);
      const label = `${field}=${JSON.stringify(value)}`;
      if (accepts(v)) expect(unchanged, label).toBe(true);
      if (!unchanged) {
        expect(accepts(v), label).toBe(false);
        cases++;
      }
    }
  }
  return cases;
}
