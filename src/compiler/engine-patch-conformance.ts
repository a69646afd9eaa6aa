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
 * - `split` with a RegExp puts an unmatched capture in its result as undefined, not as the string
 *   `"undefined"`; an `exec` result has its keys in the spec's order (`index`, `input`, `groups`,
 *   then `indices`; upstream created `groups` first), as `Object.keys` and spreading show.
 * - Running out of stack throws a RangeError ("Maximum call stack size exceeded"), as Node does, not
 *   QuickJS's non-standard InternalError.
 * - RegExp `v` flag properties of strings: `\p{RGI_Emoji}`, `\p{Basic_Emoji}`,
 *   `\p{Emoji_Keycap_Sequence}`, `\p{RGI_Emoji_Flag_Sequence}`, `\p{RGI_Emoji_Modifier_Sequence}`,
 *   `\p{RGI_Emoji_Tag_Sequence}`, `\p{RGI_Emoji_ZWJ_Sequence}`, as an atom or inside a class (with
 *   `--` and `&&`), from the building Node's data (`engine-emoji.ts`); `\P{…}` of them, a negated class
 *   holding them, and the `u` flag stay SyntaxErrors, as the spec says.
 * - RegExp quantifiers repeat as the spec's RepeatMatcher does: every iteration of a quantified atom
 *   starts with the atom's captures undefined (`/((a)|(b))*c/.exec('abc')` is
 *   `['abc', 'b', undefined, 'b']`; upstream cleared them once, before a `*` or `?`), and an iteration
 *   past the minimum that matches the empty string fails, so matching tries the atom's other choices
 *   or leaves the loop with the captures from before that iteration (`(a*)*` on `'b'` gives
 *   `['', undefined]`, `(?:|a){0,2}` on `'a'` gives `'a'`; upstream kept the empty iteration). The
 *   check now guards lazy and bounded loops and atoms whose back references read their own captures
 *   too, which upstream repeated until the heap was full (`(?:a?)*?b` on `'ac'`, `(?:()\1)*`).
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
  {
    // RegExp.prototype[Symbol.split] puts each capture in the result as it is: an unmatched group is
    // undefined, not the string "undefined"
    find: '                    sub = JS_ToStringFree(ctx, JS_GetPropertyInt64(ctx, z, i));\n',
    replace: '                    sub = JS_GetPropertyInt64(ctx, z, i);\n',
  },
  {
    // RegExpBuiltinExec creates index, input, then groups (then indices): the result's key order
    find: `        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_groups,
                                   groups, prop_flags) < 0)
            goto fail;
        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_index,
                                   JS_NewInt32(ctx, (capture[0] - str_buf) >> shift), prop_flags) < 0)
            goto fail;
        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_input, str_val, prop_flags) < 0)
            goto fail1;
`,
    replace: `        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_index,
                                   JS_NewInt32(ctx, (capture[0] - str_buf) >> shift), prop_flags) < 0)
            goto fail;
        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_input, str_val, prop_flags) < 0) {
            JS_FreeValue(ctx, groups);
            goto fail1;
        }
        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_groups, groups, prop_flags) < 0)
            goto fail1;
`,
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

/** libregexp.c, before re_parse_term: the optional iterations of a quantifier. */
const REPEAT_OPTIONAL = String.raw`
/* UEE: the optional iterations of a quantifier as RepeatMatcher (ES2024 22.2.2.3.1) runs them: n more
   iterations of the atom (INT32_MAX: unbounded), each a choice (greedy: the atom first), and with
   check, an iteration that matched the empty string fails (step 2.b). The atom is the len bytes at
   atom_start; the loop is built around it when it ends the buffer (in_place), else around a copy.
   Layout: [push_i32 n] L: split END [push_char_pos] atom (unbounded: bne_char_pos L or goto L;
   bounded: [bne_char_pos +0] [loop L]) END: [drop] */
static int uee_emit_optional(REParseState *s, int atom_start, int len, BOOL in_place, uint32_t n,
                             BOOL greedy, BOOL check)
{
    uint8_t pre[11];
    int pre_len = 0, split, tail;

    if (n != 1 && n != INT32_MAX) {
        pre[pre_len++] = REOP_push_i32;
        put_u32(pre + pre_len, n);
        pre_len += 4;
    }
    tail = n == INT32_MAX ? 5 : 5 * check + (n == 1 ? 0 : 5);
    split = pre_len;
    pre[pre_len++] = REOP_split_goto_first + greedy;
    put_u32(pre + pre_len, check + len + tail);
    pre_len += 4;
    if (check)
        pre[pre_len++] = REOP_push_char_pos;
    if (in_place) {
        if (dbuf_insert(&s->byte_code, atom_start, pre_len))
            return -1;
        memcpy(s->byte_code.buf + atom_start, pre, pre_len);
        split += atom_start;
    } else {
        split += s->byte_code.size;
        if (dbuf_put(&s->byte_code, pre, pre_len) || dbuf_put_self(&s->byte_code, atom_start, len))
            return -1;
    }
    if (n == INT32_MAX) {
        re_emit_goto(s, check ? REOP_bne_char_pos : REOP_goto, split);
    } else {
        if (check)
            re_emit_op_u32(s, REOP_bne_char_pos, 0);
        if (n != 1) {
            re_emit_goto(s, REOP_loop, split);
            re_emit_op(s, REOP_drop);
        }
    }
    return dbuf_error(&s->byte_code) ? -1 : 0;
}
`;

/** The quantifier's code in upstream re_parse_term, after its simple-quantifier path. */
const QUANTIFIER_UPSTREAM = String.raw`                if (dbuf_error(&s->byte_code))
                    goto out_of_memory;
                add_zero_advance_check = (re_check_advance(s->byte_code.buf + last_atom_start,
                                                           s->byte_code.size - last_atom_start) == 0);
            } else {
                add_zero_advance_check = FALSE;
            }
            
            {
                int len, pos;
                len = s->byte_code.size - last_atom_start;
                if (quant_min == 0) {
                    /* need to reset the capture in case the atom is
                       not executed */
                    if (last_capture_count != s->capture_count) {
                        if (dbuf_insert(&s->byte_code, last_atom_start, 3))
                            goto out_of_memory;
                        s->byte_code.buf[last_atom_start++] = REOP_save_reset;
                        s->byte_code.buf[last_atom_start++] = last_capture_count;
                        s->byte_code.buf[last_atom_start++] = s->capture_count - 1;
                    }
                    if (quant_max == 0) {
                        s->byte_code.size = last_atom_start;
                    } else if (quant_max == 1) {
                        if (dbuf_insert(&s->byte_code, last_atom_start, 5))
                            goto out_of_memory;
                        s->byte_code.buf[last_atom_start] = REOP_split_goto_first +
                            greedy;
                        put_u32(s->byte_code.buf + last_atom_start + 1, len);
                    } else if (quant_max == INT32_MAX) {
                        if (dbuf_insert(&s->byte_code, last_atom_start, 5 + add_zero_advance_check))
                            goto out_of_memory;
                        s->byte_code.buf[last_atom_start] = REOP_split_goto_first +
                            greedy;
                        put_u32(s->byte_code.buf + last_atom_start + 1,
                                len + 5 + add_zero_advance_check);
                        if (add_zero_advance_check) {
                            /* avoid infinite loop by stoping the
                               recursion if no advance was made in the
                               atom (only works if the atom has no
                               side effect) */
                            s->byte_code.buf[last_atom_start + 1 + 4] = REOP_push_char_pos;
                            re_emit_goto(s, REOP_bne_char_pos, last_atom_start); 
                        } else {
                            re_emit_goto(s, REOP_goto, last_atom_start);
                        }
                    } else {
                        if (dbuf_insert(&s->byte_code, last_atom_start, 10))
                            goto out_of_memory;
                        pos = last_atom_start;
                        s->byte_code.buf[pos++] = REOP_push_i32;
                        put_u32(s->byte_code.buf + pos, quant_max);
                        pos += 4;
                        s->byte_code.buf[pos++] = REOP_split_goto_first + greedy;
                        put_u32(s->byte_code.buf + pos, len + 5);
                        re_emit_goto(s, REOP_loop, last_atom_start + 5);
                        re_emit_op(s, REOP_drop);
                    }
                } else if (quant_min == 1 && quant_max == INT32_MAX &&
                           !add_zero_advance_check) {
                    re_emit_goto(s, REOP_split_next_first - greedy,
                                 last_atom_start);
                } else {
                    if (quant_min == 1) {
                        /* nothing to add */
                    } else {
                        if (dbuf_insert(&s->byte_code, last_atom_start, 5))
                            goto out_of_memory;
                        s->byte_code.buf[last_atom_start] = REOP_push_i32;
                        put_u32(s->byte_code.buf + last_atom_start + 1,
                                quant_min);
                        last_atom_start += 5;
                        re_emit_goto(s, REOP_loop, last_atom_start);
                        re_emit_op(s, REOP_drop);
                    }
                    if (quant_max == INT32_MAX) {
                        pos = s->byte_code.size;
                        re_emit_op_u32(s, REOP_split_goto_first + greedy,
                                       len + 5 + add_zero_advance_check);
                        if (add_zero_advance_check)
                            re_emit_op(s, REOP_push_char_pos);
                        /* copy the atom */
                        dbuf_put_self(&s->byte_code, last_atom_start, len);
                        if (add_zero_advance_check)
                            re_emit_goto(s, REOP_bne_char_pos, pos);
                        else
                            re_emit_goto(s, REOP_goto, pos);
                    } else if (quant_max > quant_min) {
                        re_emit_op_u32(s, REOP_push_i32, quant_max - quant_min);
                        pos = s->byte_code.size;
                        re_emit_op_u32(s, REOP_split_goto_first + greedy, len + 5);
                        /* copy the atom */
                        dbuf_put_self(&s->byte_code, last_atom_start, len);
                        
                        re_emit_goto(s, REOP_loop, pos);
                        re_emit_op(s, REOP_drop);
                    }
                }
                last_atom_start = -1;
            }`;

/** {@link QUANTIFIER_UPSTREAM} as RepeatMatcher runs it (see {@link REPEAT_OPTIONAL}). */
const QUANTIFIER = String.raw`            }
            if (dbuf_error(&s->byte_code))
                goto out_of_memory;
            /* UEE: the empty check unless the atom always advances, greedy or lazy; with the reset
               below, an atom's back references to its own captures cannot see a previous iteration */
            add_zero_advance_check = (re_check_advance(s->byte_code.buf + last_atom_start,
                                                       s->byte_code.size - last_atom_start) != 1);
            {
                int len;
                /* UEE: each iteration starts with the atom's captures undefined (RepeatMatcher step 4):
                   the reset is the atom's first op, so every pass and every copy of the atom runs it */
                if (last_capture_count != s->capture_count && quant_max > 0) {
                    if (dbuf_insert(&s->byte_code, last_atom_start, 3))
                        goto out_of_memory;
                    s->byte_code.buf[last_atom_start] = REOP_save_reset;
                    s->byte_code.buf[last_atom_start + 1] = last_capture_count;
                    s->byte_code.buf[last_atom_start + 2] = s->capture_count - 1;
                }
                len = s->byte_code.size - last_atom_start;
                if (quant_max == 0) {
                    s->byte_code.size = last_atom_start;
                } else if (quant_min == 0) {
                    if (uee_emit_optional(s, last_atom_start, len, TRUE, quant_max, greedy, add_zero_advance_check))
                        goto out_of_memory;
                } else if (quant_min == 1 && quant_max == INT32_MAX && !add_zero_advance_check) {
                    re_emit_goto(s, REOP_split_next_first - greedy, last_atom_start);
                } else {
                    if (quant_min > 1) {
                        /* the mandatory iterations: push_i32 min L: atom loop L drop */
                        if (dbuf_insert(&s->byte_code, last_atom_start, 5))
                            goto out_of_memory;
                        s->byte_code.buf[last_atom_start] = REOP_push_i32;
                        put_u32(s->byte_code.buf + last_atom_start + 1, quant_min);
                        last_atom_start += 5;
                        re_emit_goto(s, REOP_loop, last_atom_start);
                        re_emit_op(s, REOP_drop);
                    }
                    if (quant_max > quant_min &&
                        uee_emit_optional(s, last_atom_start, len, FALSE,
                                          quant_max == INT32_MAX ? INT32_MAX : quant_max - quant_min,
                                          greedy, add_zero_advance_check))
                        goto out_of_memory;
                }
                last_atom_start = -1;
            }`;

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
  {
    find: 'static int re_parse_term(REParseState *s, BOOL is_backward_dir)\n{\n',
    replace: `${REPEAT_OPTIONAL}\nstatic int re_parse_term(REParseState *s, BOOL is_backward_dir)\n{\n`,
  },
  { find: QUANTIFIER_UPSTREAM, replace: QUANTIFIER },
  {
    // RepeatMatcher step 2.b: an iteration past the minimum that matched the empty string fails
    find: '            if (stack[--stack_len] != (uintptr_t)cptr)\n                pc += (int)val;\n',
    replace: '            if (stack[--stack_len] == (uintptr_t)cptr)\n                goto no_match;\n            pc += (int)val;\n',
  },
];
