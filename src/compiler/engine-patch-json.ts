/**
 * JSON and number-conversion speed patches to QuickJS 2021-03-27, applied after the speed patches of
 * `engine-patch-perf.ts` (kept in their own file so the regex work elsewhere does not conflict). No
 * block changes an observable result; `JS-FAST-2` (`test/compiler/js-json-fast.test.ts`) runs each
 * at its edges on the engine and on Node 20. What they measured is in the README ("JS engine vs Node 20").
 *
 * - `UEE_JSON_NUM_TABLE`: 10^p for |p| ≤ 120 as 128-bit normalised mantissas (generated here with
 *   BigInt, rounded to nearest), shared by the two conversions below.
 * - `UEE_JSON_DTOA`: the shortest round-trip digits of a normal double without `printf`/`strtod`:
 *   d·10^p is computed to 128 bits (error < 2 units of the last of ~60 fraction bits), the correctly
 *   rounded 15-, 16- and 17-digit decimals are read off it, and whether one round-trips is decided by
 *   comparing its distance to d against half an ulp in the same fixed-point scale (the lower half-gap
 *   is halved at a power of two). Same answer as `UEE_PERF_DTOA` (15 stripped of zeros, else 16, else
 *   17); any decision within 4 units of a tie, or out of the table's range, falls back to it.
 * - `UEE_JSON_STRTOD`: decimals of at most 19 significant digits that Clinger's fast path cannot take
 *   (`0.14285714285714285`: more than 2^53, or a power of ten beyond 22) are converted from the 128-bit
 *   product w·10^q, rounded to 53 bits; a remainder within 4 units of a half goes to `strtod`, as do
 *   subnormals and overflows.
 * - `UEE_PERF_SORT`: `Array.prototype.sort` merges (top-down, a scratch buffer of half the slots,
 *   one comparison to skip the merge of two halves already in order) instead of quicksorting: about
 *   n·log2(n) comparator calls instead of ~1.4·n·log2(n), and the calls are most of a sort with a
 *   comparator. Ties still break by position, so the order is the same (stable); a comparator's
 *   double result is read without the conversion call.
 * - `UEE_JSON_PARSE_STRING`: a quoted string (JSON, or a JS literal) of printable ASCII without
 *   escapes is made with one exact allocation instead of a growing buffer shrunk at its end.
 * - `UEE_JSON_PARSE_NUMBER`: a number token of the strict JSON grammar is converted directly
 *   (`uee_strtod`, what `js_atof` ends in) instead of through the generic literal parser; one outside
 *   it is a SyntaxError, as in Node (a fix: `JSON.parse("-01")` was -1, `JSON.parse("1.")` 1).
 * - `UEE_JSON_STRINGIFY`: `JSON.stringify` without the per-value churn: a key string (an element's
 *   index, a property's name) is made only when a `toJSON` function or a replacer will receive it
 *   (it was a `printf` per array element), an object's keys are read as atoms (no array of key strings, no string → atom lookup per
 *   property), keys and string values are quoted straight into the output buffer, numbers printed
 *   into it, and with no indentation no indent strings are concatenated per object. Order, `toJSON`,
 *   getters, proxies, replacer and cycle errors take the same steps as before.
 */
import type { Replacement } from './engine-patch.js';
import { applyPatch } from './engine-patch.js';

/** Range of the power-of-ten table. */
const P10_MIN = -120;
const P10_MAX = 120;

/**
 * 10^p ≈ T·2^t with 2^127 ≤ T < 2^128, rounded to nearest, for P10_MIN ≤ p ≤ P10_MAX, as C arrays
 * (`uee_p10_hi`, `uee_p10_lo`, `uee_p10_t`).
 */
export function powerOfTenTable(): string {
  const hi: string[] = [];
  const lo: string[] = [];
  const ts: number[] = [];
  const mask = (1n << 64n) - 1n;
  const bitlen = (x: bigint): number => x.toString(2).length;
  for (let p = P10_MIN; p <= P10_MAX; p++) {
    let T: bigint;
    let t: number;
    if (p >= 0) {
      const x = 10n ** BigInt(p);
      const l = bitlen(x);
      if (l <= 128) {
        T = x << BigInt(128 - l);
        t = l - 128;
      } else {
        const sh = BigInt(l - 128);
        T = (x + (1n << (sh - 1n))) >> sh;
        t = l - 128;
      }
    } else {
      const x = 10n ** BigInt(-p);
      const k = bitlen(x) - 1; // 2^k < x < 2^(k+1), so 2^(127+k+1)/x is in (2^127, 2^128)
      const num = 1n << BigInt(128 + k);
      T = (2n * num + x) / (2n * x); // round to nearest
      t = -(128 + k);
    }
    if (T >= 1n << 128n) {
      T >>= 1n;
      t += 1;
    }
    hi.push(`0x${(T >> 64n).toString(16)}ULL`);
    lo.push(`0x${(T & mask).toString(16)}ULL`);
    ts.push(t);
  }
  return `#define UEE_P10_MIN (${P10_MIN})
#define UEE_P10_MAX (${P10_MAX})
static const uint64_t uee_p10_hi[${hi.length}] = {${hi.join(',')}};
static const uint64_t uee_p10_lo[${lo.length}] = {${lo.join(',')}};
static const int16_t uee_p10_t[${ts.length}] = {${ts.join(',')}};
`;
}

/** The number conversions (C), self-contained given `<stdint.h>`/`<string.h>`; exported for the native test. */
export const NUMBER_CONVERSIONS = `
/* UEE_JSON_NUM_TABLE */
${powerOfTenTable()}
typedef unsigned __int128 uee_u128;
#define UEE_EPS 4

/* wasm32 has no 128-bit operations: clang calls __multi3 for a product and __ashlti3/__lshrti3 for
   a shift by a variable amount. These inline versions work on the two 64-bit halves. */
static inline uee_u128 uee_mul64(uint64_t a, uint64_t b)
{
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
    uint64_t lo = (mid << 32) | (uint32_t)p00;
    uint64_t hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return ((uee_u128)hi << 64) | lo;
}
/* x << s and x >> s for 0 <= s < 128 */
static inline uee_u128 uee_shl(uee_u128 x, int s)
{
    uint64_t lo = (uint64_t)x, hi = (uint64_t)(x >> 64);
    if (s == 0)
        return x;
    if (s >= 64)
        return (uee_u128)(lo << (s - 64)) << 64;
    return ((uee_u128)((hi << s) | (lo >> (64 - s))) << 64) | (lo << s);
}
static inline uee_u128 uee_shr(uee_u128 x, int s)
{
    uint64_t lo = (uint64_t)x, hi = (uint64_t)(x >> 64);
    if (s == 0)
        return x;
    if (s >= 64)
        return hi >> (s - 64);
    return ((uee_u128)(hi >> s) << 64) | (lo >> s) | (hi << (64 - s));
}
/* x mod 2^s for 0 < s < 128 */
static inline uee_u128 uee_low(uee_u128 x, int s)
{
    return x & (uee_shl(1, s) - 1);
}

/* floor(m * T_p / 2^64), within 2 units of the exact m * 10^p / 2^(t_p + 64) */
static inline uee_u128 uee_mul_p10(uint64_t m, int p)
{
    uint64_t hi = uee_p10_hi[p - UEE_P10_MIN], lo = uee_p10_lo[p - UEE_P10_MIN];
    return uee_mul64(m, hi) + (uee_mul64(m, lo) >> 64);
}

/* UEE_JSON_DTOA: is the decimal c (scaled like x, with s fraction bits) within d's rounding interval?
   1 yes, 0 no, -1 too close to tell. */
static inline int uee_round_trips(uint64_t c, uee_u128 x, int s, uee_u128 h_up, uee_u128 h_low)
{
    uee_u128 xc = uee_shl(c, s), diff, h;
    if (xc >= x) {
        diff = xc - x;
        h = h_up;
    } else {
        diff = x - xc;
        h = h_low;
    }
    if (diff + UEE_EPS < h)
        return 1;
    if (diff > h + UEE_EPS)
        return 0;
    return -1;
}

/* round(v / div) where v = i + f / 2^s; -1 when within the error of a tie */
static inline int64_t uee_div_round(uint64_t i, uee_u128 f, int s, uint64_t div)
{
    uint64_t q = i / div, r = i % div;
    uee_u128 rr = uee_shl(r, s) + f, half = uee_shl(div / 2, s);
    if (div == 1)
        half = uee_shl(1, s - 1);
    if (rr + UEE_EPS > half && rr < half + UEE_EPS)
        return -1;
    return (int64_t)(q + (rr > half));
}

/* Shortest round-trip digits of a normal finite double (15 stripped of zeros, else 16, else 17, as
   UEE_PERF_DTOA); returns the digit count, or 0 when the caller must take the exact path. */
static int uee_dtoa_fast(double d, int *decpt, int *sign, char *buf)
{
    uint64_t bits, m, n;
    int be, e, p, s, k, attempt, i, r;
    uee_u128 x, f, h_up, h_low, t128;
    uint64_t ip;
    static const uint64_t div[3] = {100, 10, 1};

    memcpy(&bits, &d, 8);
    be = (int)((bits >> 52) & 0x7ff);
    if (be == 0 || be == 0x7ff)
        return 0;
    m = (bits & (((uint64_t)1 << 52) - 1)) | ((uint64_t)1 << 52);
    e = be - 1075; /* |d| = m * 2^e */
    p = 16 - (int)floor((e + 52) * 0.30102999566398120);
    for (attempt = 0;; attempt++) {
        if (attempt == 3 || p < UEE_P10_MIN || p > UEE_P10_MAX)
            return 0;
        x = uee_mul_p10(m, p);
        s = -(e + uee_p10_t[p - UEE_P10_MIN] + 64);
        if (s < 8 || s > 100)
            return 0;
        ip = (uint64_t)uee_shr(x, s);
        if (ip < 10000000000000000ULL)
            p++;
        else if (ip >= 100000000000000000ULL)
            p--;
        else
            break;
    }
    f = uee_low(x, s);
    t128 = ((uee_u128)uee_p10_hi[p - UEE_P10_MIN] << 64) | uee_p10_lo[p - UEE_P10_MIN];
    h_up = t128 >> 65;
    h_low = (m == ((uint64_t)1 << 52) && be > 1) ? t128 >> 66 : h_up;
    for (k = 0; k < 3; k++) {
        int64_t c = uee_div_round(ip, f, s, div[k]);
        if (c < 0)
            return 0;
        r = uee_round_trips((uint64_t)c * div[k], x, s, h_up, h_low);
        if (r < 0)
            return 0;
        if (r == 0) {
            if (k == 2)
                return 0; /* 17 digits always round-trip: the error bound was wrong */
            continue;
        }
        n = (uint64_t)c;
        k = 15 + k; /* digits */
        *decpt = 17 - p;
        if (n == 100000000000000000ULL / div[k - 15]) {
            /* carried into one more digit: 10^k */
            buf[0] = '1';
            buf[1] = '\\0';
            *decpt += 1;
            *sign = (int)(bits >> 63);
            return 1;
        }
        for (i = k - 1; i >= 0; i--) {
            buf[i] = (char)('0' + n % 10);
            n /= 10;
        }
        while (k >= 2 && buf[k - 1] == '0')
            k--;
        buf[k] = '\\0';
        *sign = (int)(bits >> 63);
        return k;
    }
    return 0;
}

/* UEE_JSON_STRTOD: w * 10^q (w != 0, < 2^64) correctly rounded, or 0 when the caller must use strtod. */
static int uee_strtod_wide(uint64_t w, int q, int neg, double *out)
{
    int lz, b, sh, e2;
    uint64_t mant, bits;
    uee_u128 x, rem, half;

    if (w == 0 || q < UEE_P10_MIN || q > UEE_P10_MAX)
        return 0;
    lz = __builtin_clzll(w);
    x = uee_mul_p10(w << lz, q);
    b = (x >> 127) ? 127 : 126;
    sh = b - 52;
    mant = (uint64_t)uee_shr(x, sh);
    rem = uee_low(x, sh);
    half = uee_shl(1, sh - 1);
    if (rem + UEE_EPS > half && rem < half + UEE_EPS)
        return 0;
    if (rem > half)
        mant++;
    if (mant == ((uint64_t)1 << 53)) {
        mant >>= 1;
        sh++;
    }
    /* value = mant * 2^(sh + 64 + t - lz) */
    e2 = sh + 64 + uee_p10_t[q - UEE_P10_MIN] - lz + 1075;
    if (e2 < 1 || e2 > 2046)
        return 0;
    bits = ((uint64_t)e2 << 52) | (mant & (((uint64_t)1 << 52) - 1));
    if (neg)
        bits |= (uint64_t)1 << 63;
    memcpy(out, &bits, 8);
    return 1;
}
`;

const STRINGIFY = `
/* UEE_JSON_STRINGIFY: JSON.stringify's per-value work without intermediate strings */

/* Appends p quoted as JSON (the escapes of JS_ToQuotedString); 8-bit runs are copied in one go. */
static int uee_json_quote(StringBuffer *b, JSString *p)
{
    int i, j, len = p->len;
    uint32_t c;
    char buf[16];

    if (string_buffer_putc8(b, '\\"'))
        return -1;
    if (!p->is_wide_char) {
        const uint8_t *s8 = p->u.str8;
        for (i = 0; i < len; ) {
            for (j = i; j < len && s8[j] >= 0x20 && s8[j] != '\\"' && s8[j] != '\\\\'; j++)
                ;
            if (j > i && string_buffer_write8(b, s8 + i, j - i))
                return -1;
            if (j >= len)
                break;
            c = s8[j];
            i = j + 1;
            switch (c) {
            case '\\t': c = 't'; goto quote8;
            case '\\r': c = 'r'; goto quote8;
            case '\\n': c = 'n'; goto quote8;
            case '\\b': c = 'b'; goto quote8;
            case '\\f': c = 'f'; goto quote8;
            case '\\"':
            case '\\\\':
            quote8:
                if (string_buffer_putc8(b, '\\\\') || string_buffer_putc8(b, c))
                    return -1;
                break;
            default:
                snprintf(buf, sizeof(buf), "\\\\u%04x", c);
                if (string_buffer_puts8(b, buf))
                    return -1;
                break;
            }
        }
    } else {
        for (i = 0; i < len; ) {
            c = string_getc(p, &i);
            switch (c) {
            case '\\t': c = 't'; goto quote16;
            case '\\r': c = 'r'; goto quote16;
            case '\\n': c = 'n'; goto quote16;
            case '\\b': c = 'b'; goto quote16;
            case '\\f': c = 'f'; goto quote16;
            case '\\"':
            case '\\\\':
            quote16:
                if (string_buffer_putc8(b, '\\\\') || string_buffer_putc8(b, c))
                    return -1;
                break;
            default:
                if (c < 32 || (c >= 0xd800 && c < 0xe000)) {
                    snprintf(buf, sizeof(buf), "\\\\u%04x", c);
                    if (string_buffer_puts8(b, buf))
                        return -1;
                } else if (string_buffer_putc(b, c)) {
                    return -1;
                }
                break;
            }
        }
    }
    return string_buffer_putc8(b, '\\"');
}

/* Appends a finite number as JSON (what JS_ToString would give). */
static int uee_json_number(StringBuffer *b, JSValueConst val)
{
    char buf[JS_DTOA_BUF_SIZE];
    if (JS_VALUE_GET_TAG(val) == JS_TAG_INT) {
        char tmp[16], *q = tmp + sizeof(tmp);
        int32_t v = JS_VALUE_GET_INT(val);
        uint32_t u = v < 0 ? -(uint32_t)v : (uint32_t)v;
        *--q = '\\0';
        do {
            *--q = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (v < 0)
            *--q = '-';
        return string_buffer_puts8(b, q);
    }
    js_dtoa1(buf, JS_VALUE_GET_FLOAT64(val), 10, 0, JS_DTOA_VAR_FORMAT);
    return string_buffer_puts8(b, buf);
}

/* js_json_check with the key made only when something receives it: a toJSON function (looked up
   once, as there) or a replacer. The key is the atom's string, or the index's when atom is
   JS_ATOM_NULL. (The key was a printf'd index string for every array element.) */
static JSValue uee_json_key(JSContext *ctx, JSAtom atom, int64_t idx)
{
    return atom != JS_ATOM_NULL ? JS_AtomToString(ctx, atom) : JS_ToStringFree(ctx, JS_NewInt64(ctx, idx));
}
static JSValue uee_json_check_key(JSContext *ctx, JSONStringifyContext *jsc, JSValueConst holder,
                                  JSValue val, JSAtom atom, int64_t idx)
{
    JSValue key = JS_UNDEFINED, v, f;
    JSValueConst args[2];

    if (JS_IsObject(val)
#ifdef CONFIG_BIGNUM
        || JS_IsBigInt(ctx, val)
#endif
        ) {
        f = JS_GetProperty(ctx, val, JS_ATOM_toJSON);
        if (JS_IsException(f))
            goto exception;
        if (JS_IsFunction(ctx, f)) {
            key = uee_json_key(ctx, atom, idx);
            if (JS_IsException(key)) {
                JS_FreeValue(ctx, f);
                goto exception;
            }
            v = JS_CallFree(ctx, f, val, 1, (JSValueConst *)&key);
            JS_FreeValue(ctx, val);
            val = v;
            if (JS_IsException(val))
                goto exception;
        } else {
            JS_FreeValue(ctx, f);
        }
    }
    if (!JS_IsUndefined(jsc->replacer_func)) {
        if (JS_IsUndefined(key)) {
            key = uee_json_key(ctx, atom, idx);
            if (JS_IsException(key))
                goto exception;
        }
        args[0] = key;
        args[1] = val;
        v = JS_Call(ctx, jsc->replacer_func, holder, 2, args);
        JS_FreeValue(ctx, val);
        val = v;
        if (JS_IsException(val))
            goto exception;
    }
    JS_FreeValue(ctx, key);
    /* what js_json_check keeps */
    switch (JS_VALUE_GET_NORM_TAG(val)) {
    case JS_TAG_OBJECT:
        if (JS_IsFunction(ctx, val))
            break;
    case JS_TAG_STRING:
    case JS_TAG_INT:
    case JS_TAG_FLOAT64:
#ifdef CONFIG_BIGNUM
    case JS_TAG_BIG_FLOAT:
#endif
    case JS_TAG_BOOL:
    case JS_TAG_NULL:
#ifdef CONFIG_BIGNUM
    case JS_TAG_BIG_INT:
#endif
    case JS_TAG_EXCEPTION:
        return val;
    default:
        break;
    }
    JS_FreeValue(ctx, val);
    return JS_UNDEFINED;
 exception:
    JS_FreeValue(ctx, key);
    JS_FreeValue(ctx, val);
    return JS_EXCEPTION;
}

static int js_json_to_str(JSContext *ctx, JSONStringifyContext *jsc, JSValueConst holder, JSValue val,
                          JSValueConst indent);

/* The properties of an ordinary object (class Object) without a property-list replacer: the keys
   are taken as atoms (string keys, enumerable, in the order of EnumerableOwnPropertyNames) before
   any value is read, then each is read with [[Get]] (getters run, a key deleted meanwhile reads the
   prototype chain), as the generic path does with an array of key strings. */
static int uee_json_object(JSContext *ctx, JSONStringifyContext *jsc, JSValueConst val, JSValueConst indent,
                           JSValueConst indent1, JSValueConst sep, JSValueConst sep1)
{
    JSObject *p = JS_VALUE_GET_OBJ(val);
    JSPropertyEnum *atoms;
    uint32_t len, i;
    JSValue v, key;
    JSAtom atom;
    BOOL has_content = FALSE, gap = !JS_IsEmptyString(jsc->gap);
    int ret = -1;

    if (JS_GetOwnPropertyNamesInternal(ctx, &atoms, &len, p, JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY))
        return -1;
    if (string_buffer_putc8(jsc->b, '{'))
        goto done;
    for (i = 0; i < len; i++) {
        atom = atoms[i].atom;
        v = JS_GetProperty(ctx, val, atom);
        if (JS_IsException(v))
            goto done;
        v = uee_json_check_key(ctx, jsc, val, v, atom, 0);
        if (JS_IsException(v))
            goto done;
        if (JS_IsUndefined(v))
            continue;
        if (has_content && string_buffer_putc8(jsc->b, ','))
            goto fail_v;
        if (gap && string_buffer_concat_value(jsc->b, sep))
            goto fail_v;
        if (__JS_AtomIsTaggedInt(atom)) {
            key = JS_AtomToString(ctx, atom);
            if (JS_IsException(key))
                goto fail_v;
            if (uee_json_quote(jsc->b, JS_VALUE_GET_STRING(key))) {
                JS_FreeValue(ctx, key);
                goto fail_v;
            }
            JS_FreeValue(ctx, key);
        } else if (uee_json_quote(jsc->b, ctx->rt->atom_array[atom])) {
            goto fail_v;
        }
        if (string_buffer_putc8(jsc->b, ':'))
            goto fail_v;
        if (gap && string_buffer_concat_value(jsc->b, sep1))
            goto fail_v;
        if (js_json_to_str(ctx, jsc, val, v, indent1))
            goto done;
        has_content = TRUE;
    }
    if (has_content && gap) {
        if (string_buffer_putc8(jsc->b, '\\n') || string_buffer_concat_value(jsc->b, indent))
            goto done;
    }
    ret = string_buffer_putc8(jsc->b, '}');
    goto done;
 fail_v:
    JS_FreeValue(ctx, v);
 done:
    js_free_prop_enum(ctx, atoms, len);
    return ret;
}
`;

const SORT = `
/* UEE_PERF_SORT: Array.prototype.sort as a top-down merge sort over the slots (stable by itself;
   js_array_cmp_generic still breaks ties by position, so the order is the one rqsort gave). */
static void uee_merge_sort(ValueSlot *a, ValueSlot *tmp, size_t n, struct array_sort_context *psc)
{
    size_t h, i, j, k;

    if (n < 2 || psc->exception)
        return;
    h = n / 2;
    uee_merge_sort(a, tmp, h, psc);
    uee_merge_sort(a + h, tmp, n - h, psc);
    /* already in order (sorted or presorted input): one comparison instead of a merge */
    if (psc->exception || js_array_cmp_generic(&a[h - 1], &a[h], psc) <= 0)
        return;
    memcpy(tmp, a, h * sizeof(*a));
    i = 0;
    j = h;
    k = 0;
    while (i < h && j < n) {
        if (js_array_cmp_generic(&a[j], &tmp[i], psc) < 0)
            a[k++] = a[j++];
        else
            a[k++] = tmp[i++];
    }
    while (i < h)
        a[k++] = tmp[i++];
}
`;

/** The JSON patches, in order; each `find` must occur exactly once (after the speed patches). */
export const QUICKJS_JSON_PATCH: readonly Replacement[] = [
  {
    // UEE_JSON_NUM_TABLE + UEE_JSON_DTOA + UEE_JSON_STRTOD, before UEE_PERF_STRTOD's helper
    find: '/* UEE_PERF_STRTOD: exact fast path of strtod for short decimals (Clinger), else strtod itself. */\n',
    replace: `${NUMBER_CONVERSIONS}\n/* UEE_PERF_STRTOD: exact fast path of strtod for short decimals (Clinger), else strtod itself. */\n`,
  },
  {
    // UEE_JSON_STRTOD: more than 2^53 or a power of ten beyond 22, still at most 19 digits
    find: `    if (m > ((uint64_t)1 << 53) || exp10 < -22 || exp10 > 22)
        goto slow;`,
    replace: `    if (m > ((uint64_t)1 << 53) || exp10 < -22 || exp10 > 22) {
        if (m != 0 && uee_strtod_wide(m, exp10, neg, &d)) {
            if (endp)
                *endp = (char *)s;
            return d;
        }
        goto slow;
    }`,
  },
  {
    // UEE_JSON_INTEGERS: a decimal integer (literal, Number(), JSON.parse, parseInt) is converted like
    // any decimal; the generic loop rounded twice past 2^64 ("244674624048565600000" came out an ulp off)
    find: `    if (!is_float || radix != 10) {
        uint64_t n_max, n;`,
    replace: `    if (radix == 10)
        return uee_strtod(p, NULL);
    if (!is_float || radix != 10) {
        uint64_t n_max, n;`,
  },
  {
    // UEE_JSON_DTOA, ahead of UEE_PERF_DTOA
    find: `        n_digits_min = 1;
        n_digits_max = 17;
        /* UEE_PERF_DTOA:`,
    replace: `        n_digits = uee_dtoa_fast(d, decpt, sign, buf);
        if (n_digits > 0)
            return n_digits;
        n_digits_min = 1;
        n_digits_max = 17;
        /* UEE_PERF_DTOA:`,
  },
  {
    // UEE_JSON_STRINGIFY helpers, after js_json_check
    find: `static int js_json_to_str(JSContext *ctx, JSONStringifyContext *jsc,
                          JSValueConst holder, JSValue val,
                          JSValueConst indent)
{`,
    replace: `${STRINGIFY}
static int js_json_to_str(JSContext *ctx, JSONStringifyContext *jsc,
                          JSValueConst holder, JSValue val,
                          JSValueConst indent)
{`,
  },
  {
    // UEE_JSON_STRINGIFY: an element's key string only when something receives it
    find: `                /* XXX: could do this string conversion only when needed */
                prop = JS_ToStringFree(ctx, JS_NewInt64(ctx, i));
                if (JS_IsException(prop))
                    goto exception;
                v = js_json_check(ctx, jsc, val, v, prop);
                JS_FreeValue(ctx, prop);
                prop = JS_UNDEFINED;`,
    replace: `                /* UEE_JSON_STRINGIFY: the key string only when a toJSON or replacer gets it */
                v = uee_json_check_key(ctx, jsc, val, v, JS_ATOM_NULL, i);`,
  },
  {
    // UEE_JSON_STRINGIFY: ordinary objects without a property list
    find: `        } else {
            if (!JS_IsUndefined(jsc->property_list))
                tab = JS_DupValue(ctx, jsc->property_list);`,
    replace: `        } else if (JS_IsUndefined(jsc->property_list) && p->class_id == JS_CLASS_OBJECT) {
            if (uee_json_object(ctx, jsc, val, indent, indent1, sep, sep1))
                goto exception;
        } else {
            if (!JS_IsUndefined(jsc->property_list))
                tab = JS_DupValue(ctx, jsc->property_list);`,
  },
  {
    // UEE_JSON_STRINGIFY: strings quoted and numbers printed straight into the buffer
    find: `    case JS_TAG_STRING:
        val = JS_ToQuotedStringFree(ctx, val);
        if (JS_IsException(val))
            goto exception;
        goto concat_value;
    case JS_TAG_FLOAT64:
        if (!isfinite(JS_VALUE_GET_FLOAT64(val))) {
            val = JS_NULL;
        }
        goto concat_value;
    case JS_TAG_INT:`,
    replace: `    case JS_TAG_STRING:
        ret = uee_json_quote(jsc->b, JS_VALUE_GET_STRING(val));
        JS_FreeValue(ctx, val);
        return ret;
    case JS_TAG_FLOAT64:
        if (!isfinite(JS_VALUE_GET_FLOAT64(val))) {
            val = JS_NULL;
            goto concat_value;
        }
        return uee_json_number(jsc->b, val);
    case JS_TAG_INT:
        return uee_json_number(jsc->b, val);`,
  },
  {
    // UEE_PERF_SORT: the merge sort, after the comparison it calls
    find: `static JSValue js_array_sort(JSContext *ctx, JSValueConst this_val,
                             int argc, JSValueConst *argv)
{`,
    replace: `${SORT}
static JSValue js_array_sort(JSContext *ctx, JSValueConst this_val,
                             int argc, JSValueConst *argv)
{`,
  },
  {
    // UEE_PERF_SORT: ~n·log2(n) comparator calls instead of quicksort's ~1.4·n·log2(n); the scratch
    // half is allocated like any engine memory (counted against the heap limit)
    find: `    rqsort(array, pos, sizeof(*array), js_array_cmp_generic, &asc);
    if (asc.exception)
        goto exception;

    /* XXX: should special case fast arrays */`,
    replace: `    if (pos > 1) {
        ValueSlot *uee_tmp = js_malloc(ctx, (pos / 2) * sizeof(*array));
        if (!uee_tmp)
            goto exception;
        uee_merge_sort(array, uee_tmp, pos, &asc);
        js_free(ctx, uee_tmp);
    }
    if (asc.exception)
        goto exception;

    /* XXX: should special case fast arrays */`,
  },
  {
    // UEE_PERF_SORT: a comparator's double result without the conversion call
    find: `        if (JS_VALUE_GET_TAG(res) == JS_TAG_INT) {
            int val = JS_VALUE_GET_INT(res);
            cmp = (val > 0) - (val < 0);
        } else {
            double val;
            if (JS_ToFloat64Free(ctx, &val, res) < 0)
                goto exception;
            cmp = (val > 0) - (val < 0);
        }`,
    replace: `        if (JS_VALUE_GET_TAG(res) == JS_TAG_INT) {
            int val = JS_VALUE_GET_INT(res);
            cmp = (val > 0) - (val < 0);
        } else if (JS_TAG_IS_FLOAT64(JS_VALUE_GET_TAG(res))) {
            double val = JS_VALUE_GET_FLOAT64(res);
            cmp = (val > 0) - (val < 0);
        } else {
            double val;
            if (JS_ToFloat64Free(ctx, &val, res) < 0)
                goto exception;
            cmp = (val > 0) - (val < 0);
        }`,
  },
  {
    // UEE_JSON_PARSE_STRING: a quoted string of printable ASCII without escapes in one allocation
    find: `    /* string */
    if (string_buffer_init(s->ctx, b, 32))
        goto fail;
    for(;;) {
        if (p >= s->buf_end)
            goto invalid_char;`,
    replace: `    /* UEE_JSON_PARSE_STRING */
    if (sep != '\`') {
        const uint8_t *q = p;
        while (q < s->buf_end && *q >= 0x20 && *q < 0x80 && *q != sep && *q != '\\\\')
            q++;
        if (q < s->buf_end && *q == sep) {
            JSValue str = js_new_string8(s->ctx, p, q - p);
            if (JS_IsException(str))
                return -1;
            token->val = TOK_STRING;
            token->u.str.sep = sep;
            token->u.str.str = str;
            *pp = q + 1;
            return 0;
        }
    }
    /* string */
    if (string_buffer_init(s->ctx, b, 32))
        goto fail;
    for(;;) {
        if (p >= s->buf_end)
            goto invalid_char;`,
  },
  {
    // UEE_JSON_PARSE_NUMBER: a number of the strict JSON grammar straight to its value
    find: `    parse_number:
        {
            JSValue ret;
            int flags, radix;
            if (!s->ext_json) {`,
    replace: `    parse_number:
        if (!s->ext_json) {
            /* UEE_JSON_PARSE_NUMBER: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? is what js_atof
               would read here too, and its value is uee_strtod's (js_strtod's for radix 10). Anything
               else is not JSON ("-01" and "1." parsed as -1 and 1; "1e" and "1.e5" failed one token
               later): a SyntaxError here, as in Node. Longer than 63 characters: js_atof. */
            const uint8_t *q = p;
            char nbuf[64];
            if (*q == '-')
                q++;
            if (*q == '0') {
                q++;
                if (is_digit(*q))
                    goto uee_number_bad;
            } else {
                while (is_digit(*q))
                    q++;
            }
            if (*q == '.') {
                q++;
                if (!is_digit(*q))
                    goto uee_number_bad;
                while (is_digit(*q))
                    q++;
            }
            if (*q == 'e' || *q == 'E') {
                q++;
                if (*q == '+' || *q == '-')
                    q++;
                if (!is_digit(*q))
                    goto uee_number_bad;
                while (is_digit(*q))
                    q++;
            }
            if (q - p >= (int)sizeof(nbuf))
                goto uee_number_slow;
            memcpy(nbuf, p, q - p);
            nbuf[q - p] = '\\0';
            s->token.val = TOK_NUMBER;
            s->token.u.num.val = JS_NewFloat64(s->ctx, uee_strtod(nbuf, NULL));
            p = q;
            break;
        uee_number_bad:
            js_parse_error(s, "invalid number in JSON");
            goto fail;
        }
    uee_number_slow:
        {
            JSValue ret;
            int flags, radix;
            if (!s->ext_json) {`,
  },
];

/** Applies {@link QUICKJS_JSON_PATCH} to quickjs.c already patched by `patchQuickjsPerf`. */
export function patchQuickjsJson(source: string): string {
  return applyPatch(source, QUICKJS_JSON_PATCH);
}
