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
 * - String building is linear, not quadratic: `s += x` on a local hands the string to the
 *   concatenation instead of duplicating it (reference count 1), and a concatenation whose left side
 *   nobody else holds grows it in place with 50% slack (like a vector) instead of copying both sides.
 * - Native work that ran without ever polling the interrupt handler now polls it, so the engine's
 *   fuel and the runtime's deadline stop it like a bytecode loop: regex backtracking (libregexp.c,
 *   {@link LIBREGEXP_PATCH}: `/(a+)+$/` on `'aaaa…b'` ran for hours), the default `sort` comparison,
 *   string search (`indexOf`, `includes`, `split`, `replaceAll`: O(n·m)), and the element accessors
 *   behind generic array loops (`Array.prototype.indexOf.call({ length: 2 ** 53 - 1 }, 1)`), and
 *   BigInt arithmetic (libbf's allocator: `(2n ** 3000000n).toString()`).
 */
import { UeeError } from '../core/errors.js';
import { LIBBF_PATCH, LIBREGEXP_SEMANTICS_PATCH, QUICKJS_SEMANTICS_PATCH } from './engine-patch-semantics.js';

/** One exact-text replacement in a C source. */
export interface Replacement {
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

/*
 * Called before a generic generic add: when the left operand is a string held only by the stack and by the
 * variable the next instruction overwrites ([dup] put_loc, set_loc, put_var_ref…), the variable's
 * reference is dropped early so JS_ConcatString sees reference count 1 and extends in place. Only for
 * a primitive right operand: converting an object could run user code that reads the variable.
 */
const RELEASE_TARGET = `
static inline void uee_release_target(const uint8_t *pc, JSValue op1, JSValue op2, JSValue *var_buf, JSVarRef **var_refs)
{
    JSString *p;
    JSValue *pv = NULL;
    int op, tag2 = JS_VALUE_GET_NORM_TAG(op2);
    if (JS_VALUE_GET_TAG(op1) != JS_TAG_STRING)
        return;
    if (tag2 != JS_TAG_STRING && tag2 != JS_TAG_INT && tag2 != JS_TAG_FLOAT64 && tag2 != JS_TAG_BOOL &&
        tag2 != JS_TAG_NULL && tag2 != JS_TAG_UNDEFINED)
        return;
    p = JS_VALUE_GET_STRING(op1);
    if (p->header.ref_count != 2 || p->atom_type)
        return;
    op = *pc;
    if (op == OP_dup)
        op = *++pc;
    switch (op) {
    case OP_put_loc: case OP_set_loc: case OP_put_loc_check:
        pv = &var_buf[get_u16(pc + 1)]; break;
    case OP_put_loc8: case OP_set_loc8:
        pv = &var_buf[pc[1]]; break;
    case OP_put_loc0: case OP_put_loc1: case OP_put_loc2: case OP_put_loc3:
        pv = &var_buf[op - OP_put_loc0]; break;
    case OP_set_loc0: case OP_set_loc1: case OP_set_loc2: case OP_set_loc3:
        pv = &var_buf[op - OP_set_loc0]; break;
    case OP_put_var_ref: case OP_set_var_ref: case OP_put_var_ref_check:
        if (var_refs) pv = var_refs[get_u16(pc + 1)]->pvalue;
        break;
    case OP_put_var_ref0: case OP_put_var_ref1: case OP_put_var_ref2: case OP_put_var_ref3:
        if (var_refs) pv = var_refs[op - OP_put_var_ref0]->pvalue;
        break;
    case OP_set_var_ref0: case OP_set_var_ref1: case OP_set_var_ref2: case OP_set_var_ref3:
        if (var_refs) pv = var_refs[op - OP_set_var_ref0]->pvalue;
        break;
    default:
        return;
    }
    if (pv && JS_VALUE_GET_TAG(*pv) == JS_TAG_STRING && JS_VALUE_GET_PTR(*pv) == (void *)p) {
        *pv = JS_UNDEFINED;
        p->header.ref_count--;
    }
}
`;

/**
 * Interrupt polls where upstream has none, so a long native operation stops within the call's budget
 * like a bytecode loop does (the shim's interrupt handler spends fuel and asks the host whether the
 * call's deadline passed). `uee_poll_units` charges `n` bytecode-poll units at once.
 */
const POLL_UNITS = `
/* UEE: charge n interrupt-poll units for native work (regex steps, string search, generic array loops). */
static __exception int uee_poll_units(JSContext *ctx, int n)
{
    ctx->interrupt_counter -= n;
    if (unlikely(ctx->interrupt_counter <= 0))
        return __js_poll_interrupts(ctx);
    return 0;
}

/* UEE: called by libregexp every 256 steps of a match; nonzero ends the match (exception pending). */
int lre_check_timeout(void *opaque)
{
    return uee_poll_units((JSContext *)opaque, 256) != 0;
}
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
  {
    // s += x on a local: give the string to JS_ConcatString so it can be extended in place
    find: `                    op1 = JS_ConcatString(ctx, JS_DupValue(ctx, *pv), op1);
                    if (JS_IsException(op1))
                        goto exception;
                    set_value(ctx, pv, op1);`,
    replace: `                    {
                        JSValue uee_cur = *pv;
                        *pv = JS_UNDEFINED;
                        op1 = JS_ConcatString(ctx, uee_cur, op1);
                        if (JS_IsException(op1))
                            goto exception;
                        *pv = op1;
                    }`,
  },
  {
    // s = s + x where s is a local or closure variable about to be overwritten: drop its reference
    find: 'static JSValue JS_CallInternal(JSContext *caller_ctx, JSValueConst func_obj,',
    replace: `${RELEASE_TARGET}\nstatic JSValue JS_CallInternal(JSContext *caller_ctx, JSValueConst func_obj,`,
  },
  {
    find: '                add_slow:\n                    if (js_add_slow(ctx, sp))',
    replace: '                add_slow:\n                    uee_release_target(pc, op1, op2, var_buf, var_refs);\n                    if (js_add_slow(ctx, sp))',
  },
  {
    // an unshared left side grows with slack instead of being copied with the right side
    find: '    ret = JS_ConcatString1(ctx, p1, p2);\n    JS_FreeValue(ctx, op1);',
    replace: `    if (p1->header.ref_count == 1 && p1->is_wide_char == p2->is_wide_char && !p1->atom_type
    &&  p1->len + p2->len >= 256 && p1->len + p2->len <= JS_STRING_LEN_MAX) {
        size_t uee_len = p1->len + p2->len, uee_cap = uee_len + (uee_len >> 1);
        JSString *uee_np;
        if (uee_cap > JS_STRING_LEN_MAX) uee_cap = JS_STRING_LEN_MAX;
        uee_np = js_realloc(ctx, p1, sizeof(JSString) + (uee_cap << p1->is_wide_char) + 1 - p1->is_wide_char);
        if (!uee_np) {
            JS_FreeValue(ctx, op1);
            JS_FreeValue(ctx, op2);
            return JS_EXCEPTION;
        }
        p1 = uee_np;
        /* the capacity in characters, for UEE_PERF_APPEND (engine-patch-string.ts): hash_next is
           unused while the string is not an atom and becoming one overwrites it */
        p1->hash_next = uee_cap;
        op1 = JS_MKPTR(JS_TAG_STRING, p1);
        if (p1->is_wide_char) {
            memcpy(p1->u.str16 + p1->len, p2->u.str16, p2->len << 1);
            p1->len += p2->len;
        } else {
            memcpy(p1->u.str8 + p1->len, p2->u.str8, p2->len);
            p1->len += p2->len;
            p1->u.str8[p1->len] = '\0';
        }
        JS_FreeValue(ctx, op2);
        return op1;
    }
    ret = JS_ConcatString1(ctx, p1, p2);
    JS_FreeValue(ctx, op1);`,
  },
  {
    // the polling helpers, right after the interpreter's own
    find: `static inline __exception int js_poll_interrupts(JSContext *ctx)
{
    if (unlikely(--ctx->interrupt_counter <= 0)) {
        return __js_poll_interrupts(ctx);
    } else {
        return 0;
    }
}
`,
    replace: `static inline __exception int js_poll_interrupts(JSContext *ctx)
{
    if (unlikely(--ctx->interrupt_counter <= 0)) {
        return __js_poll_interrupts(ctx);
    } else {
        return 0;
    }
}
${POLL_UNITS}`,
  },
  {
    // BigInt arithmetic and conversion (libbf) never return to the interpreter: poll from its allocator,
    // which a long multiplication or toString calls again and again; a stop fails the allocation
    find: `static void *js_bf_realloc(void *opaque, void *ptr, size_t size)
{
    JSRuntime *rt = opaque;
    return js_realloc_rt(rt, ptr, size);
}`,
    replace: `static void *js_bf_realloc(void *opaque, void *ptr, size_t size)
{
    JSRuntime *rt = opaque;
    static int uee_bf_polls;
    if (size != 0 && rt->interrupt_handler && ++uee_bf_polls >= 64) {
        uee_bf_polls = 0;
        if (rt->interrupt_handler(rt, rt->interrupt_opaque))
            return NULL;
    }
    return js_realloc_rt(rt, ptr, size);
}`,
  },
  {
    // generic array loops (join, indexOf, lastIndexOf, includes, reverse, fill, copyWithin, splice…
    // over array-likes such as { length: 2 ** 53 - 1 }) go through these element accessors
    find: `JSValue JS_GetPropertyUint32(JSContext *ctx, JSValueConst this_obj,
                             uint32_t idx)
{
`,
    replace: `JSValue JS_GetPropertyUint32(JSContext *ctx, JSValueConst this_obj,
                             uint32_t idx)
{
    if (js_poll_interrupts(ctx))
        return JS_EXCEPTION;
`,
  },
  {
    find: `static int JS_TryGetPropertyInt64(JSContext *ctx, JSValueConst obj, int64_t idx, JSValue *pval)
{
    JSValue val = JS_UNDEFINED;
    JSAtom prop;
    int present;
`,
    replace: `static int JS_TryGetPropertyInt64(JSContext *ctx, JSValueConst obj, int64_t idx, JSValue *pval)
{
    JSValue val = JS_UNDEFINED;
    JSAtom prop;
    int present;

    if (js_poll_interrupts(ctx)) {
        *pval = JS_UNDEFINED;
        return -1;
    }
`,
  },
  {
    find: `static JSValue JS_GetPropertyInt64(JSContext *ctx, JSValueConst obj, int64_t idx)
{
    JSAtom prop;
    JSValue val;
`,
    replace: `static JSValue JS_GetPropertyInt64(JSContext *ctx, JSValueConst obj, int64_t idx)
{
    JSAtom prop;
    JSValue val;

    if (js_poll_interrupts(ctx))
        return JS_EXCEPTION;
`,
  },
  {
    find: `int JS_SetPropertyInt64(JSContext *ctx, JSValueConst this_obj,
                        int64_t idx, JSValue val)
{
    JSAtom prop;
    int res;
`,
    replace: `int JS_SetPropertyInt64(JSContext *ctx, JSValueConst this_obj,
                        int64_t idx, JSValue val)
{
    JSAtom prop;
    int res;

    if (js_poll_interrupts(ctx)) {
        JS_FreeValue(ctx, val);
        return -1;
    }
`,
  },
  {
    find: `int JS_DeletePropertyInt64(JSContext *ctx, JSValueConst obj, int64_t idx, int flags)
{
    JSAtom prop;
    int res;
`,
    replace: `int JS_DeletePropertyInt64(JSContext *ctx, JSValueConst obj, int64_t idx, int flags)
{
    JSAtom prop;
    int res;

    if (js_poll_interrupts(ctx))
        return -1;
`,
  },
  {
    // Array.prototype.sort's default (string) comparison calls no JS, so it never polled
    find: `    int cmp;

    if (psc->exception)
        return 0;

    if (psc->has_method) {`,
    replace: `    int cmp;

    if (psc->exception)
        return 0;
    if (js_poll_interrupts(ctx))
        goto exception;

    if (psc->has_method) {`,
  },
  {
    // string search is O(n·m) in the worst case: charge it, and stop it
    find: `static int string_indexof(JSString *p1, JSString *p2, int from)
{
    /* assuming 0 <= from <= p1->len */
    int c, i, j, len1 = p1->len, len2 = p2->len;
    if (len2 == 0)
        return from;
    for (i = from, c = string_get(p2, 0); i + len2 <= len1; i = j + 1) {
        j = string_indexof_char(p1, c, i);
        if (j < 0 || j + len2 > len1)
            break;
`,
    replace: `/* UEE: returns -2 when interrupted (exception pending). */
static int string_indexof(JSContext *ctx, JSString *p1, JSString *p2, int from)
{
    /* assuming 0 <= from <= p1->len */
    int c, i, j, len1 = p1->len, len2 = p2->len;
    if (len2 == 0)
        return from;
    for (i = from, c = string_get(p2, 0); i + len2 <= len1; i = j + 1) {
        j = string_indexof_char(p1, c, i);
        if (j < 0 || j + len2 > len1)
            break;
        if (uee_poll_units(ctx, 1 + (len2 >> 6)))
            return -2;
`,
  },
  {
    find: '            pos = string_indexof(sp, searchp, endOfLastMatch);\n',
    replace: '            pos = string_indexof(ctx, sp, searchp, endOfLastMatch);\n            if (pos == -2)\n                goto exception;\n',
  },
  {
    find: '        e = string_indexof(sp, rp, q);\n',
    replace: '        e = string_indexof(ctx, sp, rp, q);\n        if (e == -2)\n            goto exception;\n',
  },
  {
    find: `        for (i = start;; i += inc) {
            if (!string_cmp(p, p1, i, 0, v_len)) {`,
    replace: `        for (i = start;; i += inc) {
            if (uee_poll_units(ctx, 1 + (v_len >> 6)))
                goto fail;
            if (!string_cmp(p, p1, i, 0, v_len)) {`,
  },
  {
    find: `        for (i = start;; i++) {
            if (!string_cmp(p, p1, i, 0, v_len)) {
                ret = 1;`,
    replace: `        for (i = start;; i++) {
            if (uee_poll_units(ctx, 1 + (v_len >> 6)))
                goto fail;
            if (!string_cmp(p, p1, i, 0, v_len)) {
                ret = 1;`,
  },
  {
    // a regex match interrupted by lre_check_timeout (-2) already has its exception pending
    find: `        } else {
            JS_ThrowInternalError(ctx, "out of memory in regexp execution");
            goto fail;
        }
        JS_FreeValue(ctx, str_val);`,
    replace: `        } else if (ret == -2) {
            goto fail;
        } else {
            JS_ThrowInternalError(ctx, "out of memory in regexp execution");
            goto fail;
        }
        JS_FreeValue(ctx, str_val);`,
  },
  {
    find: `            } else {
                JS_ThrowInternalError(ctx, "out of memory in regexp execution");
                goto fail;
            }
            break;`,
    replace: `            } else if (ret == -2) {
                goto fail;
            } else {
                JS_ThrowInternalError(ctx, "out of memory in regexp execution");
                goto fail;
            }
            break;`,
  },
];

/**
 * Our patch to libregexp.c: the backtracking matcher polls `lre_check_timeout` (defined in quickjs.c
 * by {@link QUICKJS_PATCH}) every 256 steps, and returns -2 when it says stop. A catastrophic pattern
 * such as `/(a+)+$/` on `'aaaa…b'` otherwise runs for hours inside one native call.
 */
export const LIBREGEXP_PATCH: readonly Replacement[] = [
  {
    find: '    void *opaque; /* used for stack overflow check */\n',
    replace: '    void *opaque; /* used for stack overflow check */\n    int uee_poll_counter;\n',
  },
  {
    find: 'static intptr_t lre_exec_backtrack(REExecContext *s, uint8_t **capture,',
    replace: 'int lre_check_timeout(void *opaque);\n\n/* UEE: returns -2 when interrupted. */\nstatic intptr_t lre_exec_backtrack(REExecContext *s, uint8_t **capture,',
  },
  {
    find: `    for(;;) {
        //        printf("top=%p: pc=%d\\n", th_list.top, (int)(pc - (bc_buf + RE_HEADER_LEN)));
        opcode = *pc++;`,
    replace: `    for(;;) {
        if (unlikely(--s->uee_poll_counter <= 0)) {
            s->uee_poll_counter = 256;
            if (lre_check_timeout(s->opaque))
                return -2;
        }
        opcode = *pc++;`,
  },
  {
    find: '                    if (res == -1)\n                        return res;',
    replace: '                    if (res == -1 || res == -2)\n                        return res;',
  },
  {
    find: '    s->opaque = opaque;\n\n    s->state_size',
    replace: '    s->opaque = opaque;\n    s->uee_poll_counter = 256;\n\n    s->state_size',
  },
];

/** Appended to quickjs.c: the seed hook the shim needs (JSContext is opaque outside quickjs.c). */
export const QUICKJS_APPENDIX = `
/* UEE: reseed Math.random per event from context.randomSeed. */
void JS_SetRandomSeed(JSContext *ctx, uint64_t seed) { ctx->random_state = seed ? seed : 1; }
`;

/**
 * Applies {@link QUICKJS_PATCH}, then the semantics patch of `engine-patch-semantics.ts`, to
 * quickjs.c; throws `INTERNAL` when the sources do not match.
 */
export function patchQuickjs(source: string): string {
  return applyPatch(applyPatch(source, QUICKJS_PATCH), QUICKJS_SEMANTICS_PATCH) + QUICKJS_APPENDIX;
}

/** Applies {@link LIBREGEXP_PATCH}, then the `v`-flag classes, to libregexp.c; throws `INTERNAL` when the sources do not match. */
export function patchLibregexp(source: string): string {
  return applyPatch(applyPatch(source, LIBREGEXP_PATCH), LIBREGEXP_SEMANTICS_PATCH);
}

/** Applies the interrupt polls of `engine-patch-semantics.ts` to libbf.c; throws `INTERNAL` when the sources do not match. */
export function patchLibbf(source: string): string {
  return applyPatch(source, LIBBF_PATCH);
}

/** Applies `patch` to `source`; throws `INTERNAL` unless each `find` occurs exactly once. */
export function applyPatch(source: string, patch: readonly Replacement[]): string {
  let out = source;
  for (const r of patch) {
    const first = out.indexOf(r.find);
    if (first < 0 || out.indexOf(r.find, first + 1) >= 0) {
      throw new UeeError('INTERNAL', 'QuickJS sources do not match the UEE patch', {
        details: { find: r.find.slice(0, 80), occurrences: first < 0 ? 0 : 2 },
        hint: 'The qjsc package version changed; update src/compiler/engine-patch.ts.',
      });
    }
    out = out.slice(0, first) + r.replace + out.slice(first + r.find.length);
  }
  return out;
}
