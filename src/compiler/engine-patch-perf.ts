/**
 * Speed patches to QuickJS 2021-03-27, applied after the semantic patches (`engine-patch.ts`,
 * `engine-patch-semantics.ts`; kept apart so changes to the engine's behaviour and to its speed are
 * reviewed separately). Each block
 * is named and changes no observable result; what it measured is in the README ("JS engine vs
 * Node 20"). Profile with `node --import tsx scripts/js-profile.ts`, compare two engines with
 * `node --import tsx scripts/js-engines.ts`.
 *
 * - `UEE_PERF_FMOD`: `%` on integral doubles (|x| < 2^63, |y| ≤ 2^53) is an exact int64 remainder;
 *   wasi-libc's `fmod` shifts one bit per exponent step in software (42% of the arithmetic loop).
 *   Below 2^53 it is one f64 division, a truncation and a multiply-subtract, below 2^51 a multiplication
 *   by the divisor's cached reciprocal and one correction (both exact, see the comments), cheaper than
 *   wasm's int64 remainder with its conversions (23% of the loop).
 * - `UEE_PERF_NUMBERS`: an int and a double meet in `+ - * / %` without the generic conversion path
 *   (`ToPrimitive`, `ToNumeric`, operator overloading checks), as two doubles already did; an integral
 *   `%` result is stored as an int so the next operations take the int fast paths again; `x++`/`x--`
 *   on an int no longer goes through `ToNumeric` and the generic unary path.
 * - `UEE_PERF_DTOA`: the shortest round-trip digits of a normal double from at most three `printf`s and
 *   two `strtod`s (15 digits, stripped of trailing zeros, are the shortest whenever they round-trip;
 *   else 16, else 17) instead of a binary search over 1..17 with a `printf` and a `strtod` each, plus
 *   a final `printf`. Subnormals and zero keep the search.
 * - `UEE_PERF_STRTOD`: decimals of at most 19 significant digits whose value is below 2^53 and whose
 *   power of ten is within ±22 are converted with one exact multiplication or division (correctly
 *   rounded, as IEEE guarantees for one operation on exact operands); the rest go to `strtod`.
 * - `UEE_PERF_REGEX_SCAN` (libregexp.c): a global or plain regex whose match must begin with one
 *   literal character (`/a(l|m)/`, not case-insensitive, not sticky) looks for that character with a
 *   plain scan and runs the backtracking matcher only there, instead of pushing and popping a
 *   backtrack state for every position of the implicit leading `.*?` loop. The scan polls the
 *   interrupt handler every 4,096 characters, as the matcher does every 256 steps.
 * - `UEE_PERF_CMP_BRANCH`: `<`, `<=`, `>`, `>=`, `==`, `!=` of two ints followed by `if_false` (a
 *   loop's or an `if`'s condition) branch at once instead of pushing the boolean for the next
 *   dispatch to pop; the branch polls the interrupt handler as `if_false` does.
 */
import type { Replacement } from './engine-patch.js';
import { applyPatch } from './engine-patch.js';

const FMOD = `
/* UEE_PERF_FMOD: fmod of integral doubles as an exact int64 remainder (sign of the dividend, -0 kept). */
static double uee_mod_b, uee_mod_inv; /* the last divisor and its reciprocal */
static inline double uee_fmod(double a, double b)
{
    double fa = fabs(a), fb = fabs(b), q, r;
    if (fa < 9007199254740992.0 && fb <= 9007199254740992.0 && fb != 0 && trunc(fa) == fa && trunc(fb) == fb) {
        if (fa < 2251799813685248.0 && fb < 2251799813685248.0) {
            /* below 2^51: fl(fa * fl(1/fb)) is within 2^-52 relative of fa/fb, so less than 1/2 off,
               and its truncation at most one off the quotient; q*fb <= fa+fb < 2^52 and fa - q*fb
               are exact, and one correction step lands in [0, fb). A multiplication by the cached
               reciprocal of the loop's constant divisor instead of a division. */
            if (fb != uee_mod_b) {
                uee_mod_inv = 1.0 / fb;
                uee_mod_b = fb;
            }
            q = trunc(fa * uee_mod_inv);
            r = fa - q * fb;
            if (r < 0)
                r += fb;
            else if (r >= fb)
                r -= fb;
            return copysign(r, a);
        }
        /* below 2^53: q = trunc(fl(fa/fb)) is never above the true quotient (q*fb <= fa*(1+2^-53)
           < fa+1), nor below it (rounding is monotonic and integers below 2^53 are exact), so
           fa - q*fb is the exact remainder */
        return copysign(fa - trunc(fa / fb) * fb, a);
    }
    /* |a| < 2^63 converts exactly (doubles from 2^53 up are integers); |b| <= 2^53 keeps r exact */
    if (a > -9223372036854775808.0 && a < 9223372036854775808.0 &&
        b >= -9007199254740992.0 && b <= 9007199254740992.0 && b != 0) {
        int64_t ia = (int64_t)a, ib = (int64_t)b;
        if ((double)ia == a && (double)ib == b) {
            int64_t r = ia % ib;
            if (r == 0)
                return signbit(a) ? -0.0 : 0.0;
            return (double)r;
        }
    }
    return fmod(a, b);
}

/* UEE_PERF_NUMBERS: helpers of the interpreter's inline number paths */
#ifdef CONFIG_BIGNUM
#define UEE_MATH_MODE(sf) ((sf)->js_mode & JS_MODE_MATH)
#else
#define UEE_MATH_MODE(sf) 0
#endif
#define UEE_IS_NUMBER(v) (JS_VALUE_GET_TAG(v) == JS_TAG_INT || JS_TAG_IS_FLOAT64(JS_VALUE_GET_TAG(v)))
#define UEE_NUMBER(v) (JS_VALUE_GET_TAG(v) == JS_TAG_INT ? (double)JS_VALUE_GET_INT(v) : JS_VALUE_GET_FLOAT64(v))

/* UEE_PERF_STRTOD: exact fast path of strtod for short decimals (Clinger), else strtod itself. */
static const double uee_pow10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
static double uee_strtod(const char *p, char **endp)
{
    const char *s = p;
    uint64_t m = 0;
    int nd = 0, exp10 = 0, neg = 0;
    double d;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!(*s >= '0' && *s <= '9') && !(*s == '.' && s[1] >= '0' && s[1] <= '9'))
        goto slow;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (m == 0 && *s == '0')
            continue;
        if (++nd > 19)
            goto slow;
        m = m * 10 + (uint64_t)(*s - '0');
    }
    if (*s == 'x' || *s == 'X')
        goto slow;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++) {
            exp10--;
            if (m == 0 && *s == '0')
                continue;
            if (++nd > 19)
                goto slow;
            m = m * 10 + (uint64_t)(*s - '0');
        }
    }
    if (*s == 'e' || *s == 'E') {
        const char *e = s + 1;
        int eneg = 0, ev = 0;
        if (*e == '+' || *e == '-')
            eneg = *e++ == '-';
        if (!(*e >= '0' && *e <= '9'))
            goto slow;
        for (; *e >= '0' && *e <= '9'; e++) {
            if (ev < 100000)
                ev = ev * 10 + (*e - '0');
        }
        exp10 += eneg ? -ev : ev;
        s = e;
    }
    if (m > ((uint64_t)1 << 53) || exp10 < -22 || exp10 > 22)
        goto slow;
    d = (double)m;
    d = exp10 < 0 ? d / uee_pow10[-exp10] : d * uee_pow10[exp10];
    if (endp)
        *endp = (char *)s;
    return neg ? -d : d;
 slow:
    return strtod(p, endp);
}
`;

/** The speed patches, in order; each `find` must occur exactly once (after the semantic patch). */
export const QUICKJS_PERF_PATCH: readonly Replacement[] = [
  {
    // UEE_PERF_CMP_BRANCH (the lines end in the macro's backslashes)
    find: `                if (likely(JS_VALUE_IS_BOTH_INT(op1, op2))) {           \\
                    sp[-2] = JS_NewBool(ctx, JS_VALUE_GET_INT(op1) binary_op JS_VALUE_GET_INT(op2)); \\
                    sp--;                                               \\
                } else {                                                \\
`,
    replace: `                if (likely(JS_VALUE_IS_BOTH_INT(op1, op2))) {           \\
                    int uee_res = JS_VALUE_GET_INT(op1) binary_op JS_VALUE_GET_INT(op2); \\
                    if (*pc == OP_if_false8 || *pc == OP_if_false) {    \\
                        /* UEE_PERF_CMP_BRANCH: the if_false's work */  \\
                        sp -= 2;                                        \\
                        if (uee_res)                                    \\
                            pc += *pc == OP_if_false8 ? 2 : 5;          \\
                        else                                            \\
                            pc += 1 + (*pc == OP_if_false8 ? (int8_t)pc[1] : (int32_t)get_u32(pc + 1)); \\
                        if (unlikely(js_poll_interrupts(ctx)))          \\
                            goto exception;                             \\
                        BREAK;                                          \\
                    }                                                   \\
                    sp[-2] = JS_NewBool(ctx, uee_res);                  \\
                    sp--;                                               \\
                } else {                                                \\
`,
  },
  {
    // UEE_PERF_FMOD + UEE_PERF_STRTOD helpers, before their first use (the number conversions)
    find: 'static double js_strtod(const char *p, int radix, BOOL is_float)\n',
    replace: `${FMOD}\nstatic double js_strtod(const char *p, int radix, BOOL is_float)\n`,
  },
  {
    // UEE_PERF_STRTOD: decimal conversions of Number(), parseFloat, JSON.parse and literals
    find: '        d = strtod(p, NULL);\n',
    replace: '        d = uee_strtod(p, NULL);\n',
  },
  {
    // UEE_PERF_DTOA
    find: `        n_digits_min = 1;
        n_digits_max = 17;
        while (n_digits_min < n_digits_max) {`,
    replace: `        n_digits_min = 1;
        n_digits_max = 17;
        /* UEE_PERF_DTOA: for a normal double, a k-digit decimal that round-trips (k <= 15) lies within
           2^-53 relative of d, closer than any other 15-digit decimal, so the 15-digit rendering is it
           padded with zeros: strip them. Else 16 digits, else 17 (always round-trips). */
        if (fabs(d) >= 2.2250738585072014e-308) {
            js_ecvt1(d, 15, decpt, sign, buf, FE_TONEAREST, buf_tmp, sizeof(buf_tmp));
            if (uee_strtod(buf_tmp, NULL) == d) {
                n_digits = 15;
                while (n_digits >= 2 && buf[n_digits - 1] == '0')
                    n_digits--;
                buf[n_digits] = '\\0';
                return n_digits;
            }
            js_ecvt1(d, 16, decpt, sign, buf, FE_TONEAREST, buf_tmp, sizeof(buf_tmp));
            if (uee_strtod(buf_tmp, NULL) == d)
                return 16;
            js_ecvt1(d, 17, decpt, sign, buf, FE_TONEAREST, buf_tmp, sizeof(buf_tmp));
            return 17;
        }
        while (n_digits_min < n_digits_max) {`,
  },
  {
    // UEE_PERF_NUMBERS: int/double mixes of - * / % take the double path directly
    find: `    /* fast path for float operations */
    if (tag1 == JS_TAG_FLOAT64 && tag2 == JS_TAG_FLOAT64) {
        d1 = JS_VALUE_GET_FLOAT64(op1);
        d2 = JS_VALUE_GET_FLOAT64(op2);
        goto handle_float64;
    }
`,
    replace: `    /* fast path for float operations (UEE_PERF_NUMBERS: and an int with a float) */
    if ((tag1 == JS_TAG_FLOAT64 && (tag2 == JS_TAG_FLOAT64 || tag2 == JS_TAG_INT)) ||
        (tag1 == JS_TAG_INT && tag2 == JS_TAG_FLOAT64)) {
        d1 = tag1 == JS_TAG_INT ? (double)JS_VALUE_GET_INT(op1) : JS_VALUE_GET_FLOAT64(op1);
        d2 = tag2 == JS_TAG_INT ? (double)JS_VALUE_GET_INT(op2) : JS_VALUE_GET_FLOAT64(op2);
        goto handle_float64;
    }
`,
  },
  {
    // UEE_PERF_FMOD (negative int operands) and UEE_PERF_NUMBERS (an integral remainder is an int)
    find: `            if (v1 < 0 || v2 <= 0) {
                sp[-2] = JS_NewFloat64(ctx, fmod(v1, v2));`,
    replace: `            if (v1 < 0 || v2 <= 0) {
                sp[-2] = JS_NewFloat64(ctx, uee_fmod(v1, v2));`,
  },
  {
    find: `        case OP_mod:
            dr = fmod(d1, d2);
            break;`,
    replace: `        case OP_mod:
            sp[-2] = JS_NewFloat64(ctx, uee_fmod(d1, d2));
            return 0;`,
  },
  {
    // UEE_PERF_NUMBERS: + of an int and a float
    find: `    /* fast path for float64 */
    if (tag1 == JS_TAG_FLOAT64 && tag2 == JS_TAG_FLOAT64) {
        double d1, d2;
        d1 = JS_VALUE_GET_FLOAT64(op1);
        d2 = JS_VALUE_GET_FLOAT64(op2);
        sp[-2] = __JS_NewFloat64(ctx, d1 + d2);
        return 0;
    }
`,
    replace: `    /* fast path for float64 */
    if (tag1 == JS_TAG_FLOAT64 && tag2 == JS_TAG_FLOAT64) {
        double d1, d2;
        d1 = JS_VALUE_GET_FLOAT64(op1);
        d2 = JS_VALUE_GET_FLOAT64(op2);
        sp[-2] = __JS_NewFloat64(ctx, d1 + d2);
        return 0;
    }
    /* UEE_PERF_NUMBERS: an int and a float (outside math mode, which would make safe integers BigInts) */
    if (((tag1 == JS_TAG_FLOAT64 && tag2 == JS_TAG_INT) || (tag1 == JS_TAG_INT && tag2 == JS_TAG_FLOAT64)) &&
        !is_math_mode(ctx)) {
        double d1, d2;
        d1 = tag1 == JS_TAG_INT ? (double)JS_VALUE_GET_INT(op1) : JS_VALUE_GET_FLOAT64(op1);
        d2 = tag2 == JS_TAG_INT ? (double)JS_VALUE_GET_INT(op2) : JS_VALUE_GET_FLOAT64(op2);
        sp[-2] = __JS_NewFloat64(ctx, d1 + d2);
        return 0;
    }
`,
  },
  {
    // UEE_PERF_NUMBERS: + of an int and a float in the interpreter, without the call
    find: `                } else if (JS_VALUE_IS_BOTH_FLOAT(op1, op2)) {
                    sp[-2] = __JS_NewFloat64(ctx, JS_VALUE_GET_FLOAT64(op1) +
                                             JS_VALUE_GET_FLOAT64(op2));
                    sp--;
                } else {
                add_slow:`,
    replace: `                } else if (JS_VALUE_IS_BOTH_FLOAT(op1, op2)) {
                    sp[-2] = __JS_NewFloat64(ctx, JS_VALUE_GET_FLOAT64(op1) +
                                             JS_VALUE_GET_FLOAT64(op2));
                    sp--;
                } else if (UEE_IS_NUMBER(op1) && UEE_IS_NUMBER(op2) && !UEE_MATH_MODE(sf) &&
                           !JS_VALUE_IS_BOTH_INT(op1, op2)) {
                    sp[-2] = __JS_NewFloat64(ctx, UEE_NUMBER(op1) + UEE_NUMBER(op2));
                    sp--;
                } else {
                add_slow:`,
  },
  {
    // UEE_PERF_NUMBERS + UEE_PERF_FMOD: % of numbers that are not two small positive ints, without the call
    find: `                    if (unlikely(v1 < 0 || v2 <= 0))
                        goto binary_arith_slow;
                    r = v1 % v2;
                    sp[-2] = JS_NewInt32(ctx, r);
                    sp--;
                } else {`,
    replace: `                    if (unlikely(v1 < 0 || v2 <= 0))
                        goto uee_mod_numbers;
                    r = v1 % v2;
                    sp[-2] = JS_NewInt32(ctx, r);
                    sp--;
                } else if (opcode == OP_mod && UEE_IS_NUMBER(op1) && UEE_IS_NUMBER(op2) && !UEE_MATH_MODE(sf)) {
                uee_mod_numbers:
                    if (opcode != OP_mod || UEE_MATH_MODE(sf))
                        goto binary_arith_slow;
                    sp[-2] = JS_NewFloat64(ctx, uee_fmod(UEE_NUMBER(op1), UEE_NUMBER(op2)));
                    sp--;
                } else {`,
  },
  {
    // UEE_PERF_NUMBERS: x++ / x-- on an int: the old value stays, the new one is pushed
    find: `        CASE(OP_post_inc):
        CASE(OP_post_dec):
            if (js_post_inc_slow(ctx, sp, opcode))`,
    replace: `        CASE(OP_post_inc):
        CASE(OP_post_dec):
            if (JS_VALUE_GET_TAG(sp[-1]) == JS_TAG_INT) {
                int uee_v = JS_VALUE_GET_INT(sp[-1]);
                if (opcode == OP_post_inc ? uee_v != INT32_MAX : uee_v != INT32_MIN) {
                    sp[0] = JS_NewInt32(ctx, opcode == OP_post_inc ? uee_v + 1 : uee_v - 1);
                    sp++;
                    BREAK;
                }
            }
            if (js_post_inc_slow(ctx, sp, opcode))`,
  },
];

/** Applies {@link QUICKJS_PERF_PATCH} to quickjs.c already patched by `patchQuickjs`. */
export function patchQuickjsPerf(source: string): string {
  return applyPatch(source, QUICKJS_PERF_PATCH);
}

const REGEX_SCAN = `
/* UEE_PERF_REGEX_SCAN: when every match must start with the literal char c (the body after the
   implicit "(?:[^]*?)" prefix and save_start begins with REOP_char), try the matcher only where c is.
   Returns -3 when the pattern does not qualify. */
static int uee_exec_scan(REExecContext *s, uint8_t **capture, StackInt *stack_buf, const uint8_t *bc_buf,
                         const uint8_t *cbuf, int cindex, int clen, int cbuf_type)
{
    const uint8_t *pc = bc_buf + RE_HEADER_LEN;
    int re_flags = bc_buf[RE_HEADER_FLAGS];
    int c, i, p, end;
    intptr_t ret;

    if ((re_flags & (LRE_FLAG_STICKY | LRE_FLAG_IGNORECASE)) || pc[0] != REOP_split_goto_first ||
        pc[5] != REOP_any || pc[6] != REOP_goto || pc[11] != REOP_save_start || pc[13] != REOP_char)
        return -3;
    c = get_u16(pc + 14);
    if (c >= 0xd800 && c <= 0xdfff)
        return -3;
    if (cbuf_type == 0 && c > 0xff)
        return 0;
    for (p = cindex; p < clen; p++) {
        for (;;) {
            end = clen - p > 4096 ? p + 4096 : clen;
            if (cbuf_type == 0) {
                const uint8_t *q = memchr(cbuf + p, c, end - p);
                if (q) {
                    p = q - cbuf;
                    break;
                }
            } else {
                const uint16_t *b16 = (const uint16_t *)cbuf;
                while (p < end && b16[p] != c)
                    p++;
                if (p < end)
                    break;
            }
            p = end;
            if (p >= clen)
                return 0;
            if (lre_check_timeout(s->opaque))
                return -2;
        }
        for (i = 0; i < s->capture_count * 2; i++)
            capture[i] = NULL;
        ret = lre_exec_backtrack(s, capture, stack_buf, 0, pc + 11, cbuf + (p << cbuf_type), FALSE);
        if (ret != 0)
            return ret;
    }
    return 0;
}
`;

/** The speed patches to libregexp.c, after the semantic ones. */
export const LIBREGEXP_PERF_PATCH: readonly Replacement[] = [
  {
    find: 'int lre_exec(uint8_t **capture,\n',
    replace: `${REGEX_SCAN}\nint lre_exec(uint8_t **capture,\n`,
  },
  {
    find: `    ret = lre_exec_backtrack(s, capture, stack_buf, 0, bc_buf + RE_HEADER_LEN,
                             cbuf + (cindex << cbuf_type), FALSE);`,
    replace: `    ret = uee_exec_scan(s, capture, stack_buf, bc_buf, cbuf, cindex, clen, cbuf_type);
    if (ret == -3)
        ret = lre_exec_backtrack(s, capture, stack_buf, 0, bc_buf + RE_HEADER_LEN,
                                 cbuf + (cindex << cbuf_type), FALSE);`,
  },
];

/** Applies {@link LIBREGEXP_PERF_PATCH} to libregexp.c already patched by `patchLibregexp`. */
export function patchLibregexpPerf(source: string): string {
  return applyPatch(source, LIBREGEXP_PERF_PATCH);
}
