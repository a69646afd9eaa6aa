import { RE2JS } from 're2js';
import { UeeError } from '../core/index.js';

/**
 * Regular expressions of the filter language, run by a linear-time engine (RE2 semantics via
 * `re2js`): matching costs time proportional to pattern × text, never exponential, so a tenant's
 * `^(a+)+$` cannot freeze the main thread. Patterns RE2 cannot express (backreferences, lookaround)
 * are refused with `INVALID_FILTER` instead of falling back to a backtracking engine.
 */

/** A compiled, linear-time pattern. */
export interface SafeRegex {
  readonly source: string;
  readonly flags: string;
  /** Unanchored search, like `RegExp.prototype.test`. */
  test(text: string): boolean;
}

/** Flags of `$options` the engine supports: i (case), m (multi-line), s (dot matches newline). */
const FLAG_BITS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL };

const REGEX_HINT =
  'regular expressions run on a linear-time (RE2) engine: backreferences (\\1) and lookaround ((?=…), (?!…), (?<=…)) are not supported — rewrite the pattern without them, or filter with $eq/$in';

/**
 * Compiles `source` with `options` (a subset of "ims") on the linear-time engine. Throws
 * `INVALID_FILTER` naming `path` when the flags are unknown or the pattern is not RE2 syntax.
 */
export function compileSafeRegex(source: string, options: string, path: string): SafeRegex {
  let bits = 0;
  for (const flag of options) {
    const bit = FLAG_BITS[flag];
    if (bit === undefined) {
      throw new UeeError('INVALID_FILTER', `$options at ${path} has the unsupported flag "${flag}"`, {
        details: { operator: '$options', path, flag },
        hint: 'use $options with the flags i, m and s only (x, extended mode, is not supported: remove whitespace and comments from the pattern)',
      });
    }
    bits |= bit;
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, bits);
  } catch (cause) {
    throw new UeeError('INVALID_FILTER', `$regex at ${path} is not supported by the linear-time regular expression engine`, {
      details: { operator: '$regex', path, reason: cause instanceof Error ? cause.message : String(cause) },
      hint: REGEX_HINT,
      cause,
    });
  }
  return { source, flags: options, test: (text) => re.test(text) };
}

/** Flags of a JavaScript `RegExp` literal as `$options`; `g`, `y`, `u`, `d`, `v` do not change a test. */
export function regexOptionsOf(re: RegExp): string {
  return [...re.flags].filter((f) => f === 'i' || f === 'm' || f === 's').join('');
}
