/**
 * Engine patches for test262 cases the engine failed where Node 20 passes, applied after the
 * semantic (`engine-patch-semantics.ts`) and speed (`engine-patch-perf.ts`) patches:
 *
 * - Array lengths out of range: `new Array(2 ** 32 + 1)`, `arr.length = 2 ** 32` and ArraySpeciesCreate
 *   of a huge length (`Array.prototype.slice/splice/map/filter` on an array-like of length 2³²+1)
 *   answered an array of length 2³²-1 instead of a RangeError — and `slice` then copied until its
 *   fuel ran out. `(uint32_t)d` is undefined in C for a double out of range, and clang folds the
 *   round trip `(uint32_t)d != d` into `trunc(d) != d`, which holds for every integral double; the
 *   range is now checked first. The same check guards a typed array's `indexOf`/`includes` of a
 *   double beyond int64.
 * - Running out of stack throws a RangeError ("Maximum call stack size exceeded"), as Node does, not
 *   QuickJS's non-standard InternalError.
 * - RegExp `v` flag properties of strings: `\p{RGI_Emoji}`, `\p{Basic_Emoji}`,
 *   `\p{Emoji_Keycap_Sequence}`, `\p{RGI_Emoji_Flag_Sequence}`, `\p{RGI_Emoji_Modifier_Sequence}`,
 *   `\p{RGI_Emoji_Tag_Sequence}`, `\p{RGI_Emoji_ZWJ_Sequence}`, as an atom or inside a class (with
 *   `--` and `&&`), from the building Node's data (`engine-emoji.ts`); `\P{…}` of them, a negated class
 *   holding them, and the `u` flag stay SyntaxErrors, as the spec says.
 */

interface Replacement {
  readonly find: string;
  readonly replace: string;
}

/** Patches to quickjs.c. */
export const QUICKJS_CONFORMANCE_PATCH: readonly Replacement[] = [
  {
    find: '            d = JS_VALUE_GET_FLOAT64(val);\n            len = (uint32_t)d;\n            if (len != d)\n                goto fail;',
    replace:
      '            d = JS_VALUE_GET_FLOAT64(val);\n            /* UEE: (uint32_t)d of a double out of range is undefined: clang folds the round trip to trunc(d) != d */\n            if (!(d >= 0 && d <= 4294967295.0))\n                goto fail;\n            len = (uint32_t)d;\n            if (len != d)\n                goto fail;',
  },
  {
    find: '        d = JS_VALUE_GET_FLOAT64(argv[0]);\n        v64 = d;\n        is_int = (v64 == d);',
    replace:
      '        d = JS_VALUE_GET_FLOAT64(argv[0]);\n        /* UEE: range first, (int64_t)d is undefined beyond int64 */\n        is_int = 0;\n        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {\n            v64 = d;\n            is_int = (v64 == d);\n        }',
  },
  {
    // running out of stack is a RangeError, as on V8 (QuickJS threw its non-standard InternalError)
    find: 'static JSValue JS_ThrowStackOverflow(JSContext *ctx)\n{\n    return JS_ThrowInternalError(ctx, "stack overflow");\n}',
    replace: 'static JSValue JS_ThrowStackOverflow(JSContext *ctx)\n{\n    return JS_ThrowRangeError(ctx, "Maximum call stack size exceeded");\n}',
  },
];

/** libregexp.c, before the v-mode class code: the properties of strings and their generated strings. */
const STRING_PROPS = String.raw`
#include "uee-emoji-strings.h"

/* UEE: the property of strings named at p (just after "\p{"), up to "}": its index in uee_emoji_index,
   countof(uee_emoji_index) for RGI_Emoji (their union), -1 if p names no property of strings. */
static int uee_string_prop_at(const uint8_t *p, const uint8_t **pend)
{
    size_t n = 0, i;

    while (n < 40 && p[n] != '\0' && p[n] != '}')
        n++;
    if (p[n] != '}')
        return -1;
    *pend = p + n + 1;
    for (i = 0; i < countof(uee_emoji_index); i++) {
        if (strlen(uee_emoji_index[i].name) == n && !memcmp(p, uee_emoji_index[i].name, n))
            return i;
    }
    if (n == 9 && !memcmp(p, "RGI_Emoji", 9))
        return countof(uee_emoji_index);
    return -1;
}

static uint32_t uee_emoji_leb(const uint8_t **pp)
{
    const uint8_t *p = *pp;
    uint32_t v = 0, shift = 0;

    do {
        v |= (uint32_t)(*p & 0x7f) << shift;
        shift += 7;
    } while (*p++ & 0x80);
    *pp = p;
    return v;
}

/* Adds the property's single code points to cr and its strings (entries [n, cp0 .. cpn-1]) to strs. */
static int uee_string_prop_fill(CharRange *cr, DynBuf *strs, int idx)
{
    size_t i, first = idx, last = idx;
    uint32_t j, k, n, buf[16];
    const uint8_t *q;

    if (idx == countof(uee_emoji_index)) {
        first = 0;
        last = countof(uee_emoji_index) - 1;
    }
    for (i = first; i <= last; i++) {
        q = uee_emoji_data + uee_emoji_index[i].offset;
        for (j = 0; j < uee_emoji_index[i].count; j++) {
            n = uee_emoji_leb(&q);
            for (k = 0; k < n; k++) {
                uint32_t c = uee_emoji_leb(&q);
                if (k < countof(buf))
                    buf[k] = c;
            }
            if (n > countof(buf))
                continue;
            if (n == 1) {
                if (cr_union_interval(cr, buf[0], buf[0]))
                    return -1;
            } else if (dbuf_put_u32(strs, n) || dbuf_put(strs, (const uint8_t *)buf, n * 4)) {
                return -1;
            }
        }
    }
    return 0;
}
`;

/** Patches to libregexp.c (after the semantic patch, whose v-mode class code they extend). */
export const LIBREGEXP_CONFORMANCE_PATCH: readonly Replacement[] = [
  {
    find: 'static int re_parse_disjunction(REParseState *s, BOOL is_backward_dir);\n',
    replace: `${STRING_PROPS}\nstatic int re_parse_disjunction(REParseState *s, BOOL is_backward_dir);\n`,
  },
  {
    // a property of strings as a class operand: [\p{RGI_Emoji}--\q{…}]
    find: "    *pc = -1;\n    if (*p == '[')\n        return uee_parse_class_set(s, op, pp);\n    uee_cs_init(s, op);\n",
    replace:
      "    *pc = -1;\n    if (*p == '[')\n        return uee_parse_class_set(s, op, pp);\n    uee_cs_init(s, op);\n    if (p[0] == '\\\\' && p[1] == 'p' && p[2] == '{') {\n        const uint8_t *uee_end;\n        int uee_idx = uee_string_prop_at(p + 3, &uee_end);\n        if (uee_idx >= 0) {\n            if (uee_string_prop_fill(&op->cr, &op->strs, uee_idx)) {\n                uee_cs_free(op);\n                return re_parse_out_of_memory(s);\n            }\n            *pp = uee_end;\n            return 0;\n        }\n    }\n",
  },
  {
    // a property of strings as an atom: /^\p{RGI_Emoji}+$/v
    find: "    case '\\\\':\n        switch(p[1]) {\n        case 'b':\n        case 'B':\n",
    replace: `    case '\\\\':
        if (s->uee_unicode_sets && p[1] == 'p' && p[2] == '{') {
            const uint8_t *uee_end;
            int uee_idx = uee_string_prop_at(p + 3, &uee_end);
            if (uee_idx >= 0) {
                UeeClassSet uee_cs;
                last_atom_start = s->byte_code.size;
                last_capture_count = s->capture_count;
                uee_cs_init(s, &uee_cs);
                if (uee_string_prop_fill(&uee_cs.cr, &uee_cs.strs, uee_idx) ||
                    (s->ignore_case && cr_canonicalize(&uee_cs.cr, s->is_utf16))) {
                    uee_cs_free(&uee_cs);
                    return re_parse_out_of_memory(s);
                }
                p = uee_end;
                if (uee_emit_class_set(s, uee_cs, is_backward_dir))
                    return -1;
                break;
            }
        }
        switch(p[1]) {
        case 'b':
        case 'B':
`,
  },
];
