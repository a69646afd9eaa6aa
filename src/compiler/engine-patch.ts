/**
 * Our patch to QuickJS 2021-03-27 for wasm32-wasi, applied at build time to the sources unpacked from
 * `node_modules/qjsc/deps/quickjs_2021_03_27` (never copied into the repo).
 *
 * What it changes, and why:
 * - `malloc_usable_size` is declared on wasi (`<malloc.h>`), so the runtime's heap accounting, and with
 *   it `JS_SetMemoryLimit`, works.
 * - `CONFIG_ATOMICS` is off: there are no threads.
 * - `gettimeofday` is routed to `uee_now_ms()` (the shim's per-event clock from `context.now`), so
 *   `Date` has no ambient clock and no WASI clock import remains.
 * - `toFixed`/`toPrecision`/`toExponential` ties: upstream emulates round-half-away-from-zero with
 *   `fesetround`, which wasm lacks (`(2.5).toFixed(0)` would give "2"). musl's printf prints the exact
 *   binary value, so the patch detects an exact tie from a long expansion and nudges the value one ulp
 *   away from zero before the final printf.
 * - `JS_SetRandomSeed` is added so `Math.random` is reseeded from `context.randomSeed` per event.
 */
import { UeeError } from '../core/errors.js';

interface Replacement {
  readonly find: string;
  readonly replace: string;
}

const TIE_HELPERS = `
#ifdef __wasi__
#include <malloc.h>
/* wasm has no rounding modes: printf rounds exact ties to even, JS wants ties away from zero. */
static int uee_is_tail_tie(const char *p) {
    if (*p != '5') return 0;
    for (p++; *p && *p != 'e'; p++) if (*p != '0') return 0;
    return 1;
}
/* A double within 10^-(2n+20) of an n-digit tie is the tie itself (its mantissa has 53 bits), so
   2n+40 digits decide exactly and stay cheap for the usual small n. */
static double uee_fix_tie_f(double d, int n_digits) {
    char b[1200];
    int prec = 2 * n_digits + 40;
    snprintf(b, sizeof b, "%.*f", prec > 1100 ? 1100 : prec, d);
    char *dot = strchr(b, '.');
    if (dot && (int)strlen(dot + 1) > n_digits && uee_is_tail_tie(dot + 1 + n_digits))
        return nextafter(d, d < 0 ? -INFINITY : INFINITY);
    return d;
}
static double uee_fix_tie_e(double d, int n_digits) {
    char b[1200], digits[1200];
    int k = 0, prec = 2 * n_digits + 40;
    snprintf(b, sizeof b, "%.*e", prec > 1100 ? 1100 : prec, d);
    for (const char *p = b; *p && *p != 'e'; p++) if (*p >= '0' && *p <= '9') digits[k++] = *p;
    digits[k] = 0;
    if (k > n_digits && uee_is_tail_tie(digits + n_digits))
        return nextafter(d, d < 0 ? -INFINITY : INFINITY);
    return d;
}
extern int64_t uee_now_ms(void);
static inline int uee_gettimeofday(struct timeval *tv) {
    int64_t ms = uee_now_ms();
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return 0;
}
#define gettimeofday(tv, tz) uee_gettimeofday(tv)
#endif
`;

/** The replacements, in order; each `find` must occur exactly once. */
export const QUICKJS_PATCH: readonly Replacement[] = [
  {
    find: '#if !defined(_WIN32)\n/* define it if printf uses the RNDN rounding mode instead of RNDNA */',
    replace: '#if !defined(_WIN32) && !defined(__wasi__)\n/* define it if printf uses the RNDN rounding mode instead of RNDNA */',
  },
  {
    find: '#if !defined(EMSCRIPTEN)\n#define CONFIG_ATOMICS',
    replace: '#if !defined(EMSCRIPTEN) && !defined(__wasi__)\n#define CONFIG_ATOMICS',
  },
  { find: '#include "cutils.h"\n#include "list.h"', replace: `${TIE_HELPERS}\n#include "cutils.h"\n#include "list.h"` },
  {
    find: '#endif /* CONFIG_PRINTF_RNDN */\n    js_fcvt1(buf, buf_size, d, n_digits, rounding_mode);',
    replace:
      '#endif /* CONFIG_PRINTF_RNDN */\n#ifdef __wasi__\n    d = uee_fix_tie_f(d, n_digits);\n#endif\n    js_fcvt1(buf, buf_size, d, n_digits, rounding_mode);',
  },
  {
    find: '#endif /* CONFIG_PRINTF_RNDN */\n    }\n    js_ecvt1(d, n_digits, decpt, sign, buf, rounding_mode,',
    replace:
      '#endif /* CONFIG_PRINTF_RNDN */\n#ifdef __wasi__\n        d = uee_fix_tie_e(d, n_digits);\n#endif\n    }\n    js_ecvt1(d, n_digits, decpt, sign, buf, rounding_mode,',
  },
];

/** Appended to quickjs.c: the seed hook the shim needs (JSContext is opaque outside quickjs.c). */
export const QUICKJS_APPENDIX = `
/* UEE: reseed Math.random per event from context.randomSeed. */
void JS_SetRandomSeed(JSContext *ctx, uint64_t seed) { ctx->random_state = seed ? seed : 1; }
`;

/** Applies {@link QUICKJS_PATCH} to quickjs.c; throws `INTERNAL` when the sources do not match. */
export function patchQuickjs(source: string): string {
  let out = source;
  for (const r of QUICKJS_PATCH) {
    const first = out.indexOf(r.find);
    if (first < 0 || out.indexOf(r.find, first + 1) >= 0) {
      throw new UeeError('INTERNAL', 'QuickJS sources do not match the UEE patch', {
        details: { find: r.find.slice(0, 80), occurrences: first < 0 ? 0 : 2 },
        hint: 'The qjsc package version changed; update src/compiler/engine-patch.ts.',
      });
    }
    out = out.slice(0, first) + r.replace + out.slice(first + r.find.length);
  }
  return out + QUICKJS_APPENDIX;
}
