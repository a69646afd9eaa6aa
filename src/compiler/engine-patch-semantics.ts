/**
 * Engine patches for ECMAScript semantics QuickJS 2021-03-27 lacks, applied after the ones in
 * `engine-patch.ts` (which owns portability, speed and the interrupt polls of the interpreter):
 *
 * - RegExp `d` (hasIndices): `exec` results carry `indices` (start/end pairs, `indices.groups`).
 * - RegExp `v` (unicodeSets): the class syntax of ES2024 — nested classes, `--` difference, `&&`
 *   intersection, `\q{…}` strings — parsed into code-point sets (libunicode's `CharRange`) plus
 *   strings, and compiled as `u`-mode bytecode: a class without strings is one range, one with strings
 *   an alternation of the strings (longest first) and the range. Properties of strings
 *   (`\p{RGI_Emoji}`) are not supported (SyntaxError).
 * - `\p{…}` answers from the building Node's Unicode data (`engine-unicode.ts`), not Unicode 13.
 * - Case-insensitive classes hold the case variants of every member (upstream added A-Z for a-z only).
 * - The `d` and `v` flags do not fit the bytecode header's flag byte: they ride in one byte appended
 *   to the bytecode string (after the group names, which nothing reads past), and the `hasIndices`,
 *   `unicodeSets`, `unicode` and `flags` getters read them there.
 * - String methods look up `Symbol.replace` & co. only on object arguments (ES2024).
 * - Date setters convert all their arguments before answering NaN for an invalid date (test262's
 *   arg-coercion-order and date-value-read-before-tonumber cases).
 * - BigInt (libbf) arithmetic polls the interrupt handler inside its long limb loops (each NTT stage,
 *   each row of a schoolbook multiplication), not only from its allocator: one multiplication of two
 *   multi-million-bit numbers used to run past the call's deadline and its grace period.
 */

import { UNICODE_LOOKUP } from './engine-unicode.js';

interface Replacement {
  readonly find: string;
  readonly replace: string;
}

/** The flag bits our quickjs.c passes around besides libregexp's own (which stop at bit 7). */
const FLAG_DEFINES = String.raw`
/* UEE: the v (unicodeSets) and d (hasIndices) flags, above libregexp's header byte */
#define UEE_RE_UNICODE_SETS (1 << 8)
#define UEE_RE_HAS_INDICES (1 << 9)
`;

/**
 * Emitting a v-mode class with strings. The semantic patch inserted one split per string at the
 * front (as upstream does for `a|b|c`), so matching pushed a backtrack state for every string before
 * trying the first, and a match left all the untried ones on the stack: `^\p{RGI_Emoji}+$` over
 * test262's 3,953 emoji (~2,700 strings) filled the 32 MB heap, and building the bytecode moved it
 * once per string. Strings are now grouped by the code point they start with (their last one in a
 * lookbehind), case-folded under `i`: strings starting differently cannot match at the same place, so
 * only the order inside a group matters (longest first, as the spec wants). Each group is one
 * alternative of a chain — split to the next group, its first code point, then its strings' tails
 * (longest first) — followed by the single code points, then the empty string. A match leaves at most
 * one state per chain level, and a position is tried against one split per group, not per string.
 */
const EMIT_CLASS = String.raw`typedef struct {
    const uint32_t *e;
    uint32_t key;
} UeeAlt;

static int uee_alt_cmp(const void *a, const void *b)
{
    const UeeAlt *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->e[0] != y->e[0])
        return x->e[0] > y->e[0] ? -1 : 1;
    return 0;
}

/* Patches the gotos listed in ends (offsets of their u32) to jump to the current end of the bytecode. */
static void uee_patch_ends(REParseState *s, DynBuf *ends, size_t from)
{
    size_t i;
    for (i = from; i < ends->size; i += sizeof(int)) {
        int pos = *(const int *)(ends->buf + i);
        put_u32(s->byte_code.buf + pos, s->byte_code.size - (pos + 4));
    }
    ends->size = from;
}

/* Emits a class (a range, or a chain of string groups, code points and the empty string), frees it. */
static int uee_emit_class_set(REParseState *s, UeeClassSet cs, BOOL is_backward_dir)
{
    UeeAlt *alts = NULL;
    DynBuf ends;
    size_t off, n = 0, i, j, k, groups = 0;
    int has_empty = 0, ret = -1, total, done = 0, pos, split;
    const uint32_t *e;

    if (cs.strs.size == 0) {
        if (is_backward_dir)
            re_emit_op(s, REOP_prev);
        ret = re_emit_range(s, &cs.cr);
        if (is_backward_dir)
            re_emit_op(s, REOP_prev);
        uee_cs_free(&cs);
        return ret;
    }
    dbuf_init2(&ends, s->opaque, lre_realloc);
    for (off = 0; off < cs.strs.size; off += ((size_t)e[0] + 1) * 4) {
        e = (const uint32_t *)(cs.strs.buf + off);
        n++;
    }
    alts = lre_realloc(s->opaque, NULL, n * sizeof(UeeAlt) + 1);
    if (!alts)
        goto oom;
    for (off = 0, n = 0; off < cs.strs.size; off += ((size_t)e[0] + 1) * 4) {
        e = (const uint32_t *)(cs.strs.buf + off);
        if (e[0] == 0) {
            has_empty = 1;
            continue;
        }
        alts[n].e = e;
        alts[n].key = e[is_backward_dir ? e[0] : 1];
        if (s->ignore_case)
            alts[n].key = lre_canonicalize(alts[n].key, s->is_utf16);
        n++;
    }
    qsort(alts, n, sizeof(UeeAlt), uee_alt_cmp);
    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && alts[j].key == alts[i].key; j++)
            continue;
        groups++;
    }
    total = (int)groups + (cs.cr.len > 0) + has_empty;
    for (i = 0; i < n; i = j) {
        size_t group_ends = ends.size;
        for (j = i + 1; j < n && alts[j].key == alts[i].key; j++)
            continue;
        split = ++done < total ? re_emit_op_u32(s, REOP_split_next_first, 0) : -1;
        uee_emit_cp(s, alts[i].key, is_backward_dir);
        for (k = i; k < j; k++) {
            const uint32_t *x = alts[k].e;
            uint32_t m, len = x[0];
            int inner = k + 1 < j ? re_emit_op_u32(s, REOP_split_next_first, 0) : -1;
            /* the tail: every code point but the first matched (the last in a lookbehind) */
            for (m = 1; m < len; m++)
                uee_emit_cp(s, x[1 + (is_backward_dir ? len - 1 - m : m)], is_backward_dir);
            if (inner >= 0) {
                pos = re_emit_op_u32(s, REOP_goto, 0);
                if (dbuf_put(&ends, (const uint8_t *)&pos, sizeof(int)))
                    goto oom;
                put_u32(s->byte_code.buf + inner, s->byte_code.size - (inner + 4));
            }
        }
        uee_patch_ends(s, &ends, group_ends);
        if (split >= 0) {
            pos = re_emit_op_u32(s, REOP_goto, 0);
            if (dbuf_put(&ends, (const uint8_t *)&pos, sizeof(int)))
                goto oom;
            put_u32(s->byte_code.buf + split, s->byte_code.size - (split + 4));
        }
    }
    if (cs.cr.len > 0) {
        split = ++done < total ? re_emit_op_u32(s, REOP_split_next_first, 0) : -1;
        if (is_backward_dir)
            re_emit_op(s, REOP_prev);
        if (re_emit_range(s, &cs.cr))
            goto fail;
        if (is_backward_dir)
            re_emit_op(s, REOP_prev);
        if (split >= 0) {
            pos = re_emit_op_u32(s, REOP_goto, 0);
            if (dbuf_put(&ends, (const uint8_t *)&pos, sizeof(int)))
                goto oom;
            put_u32(s->byte_code.buf + split, s->byte_code.size - (split + 4));
        }
    }
    /* the empty string, if any, is the last alternative: nothing to emit */
    uee_patch_ends(s, &ends, 0);
    ret = s->byte_code.error ? re_parse_out_of_memory(s) : 0;
    goto fail;
oom:
    ret = re_parse_out_of_memory(s);
fail:
    lre_realloc(s->opaque, alts, 0);
    dbuf_free(&ends);
    uee_cs_free(&cs);
    return ret;
}

/* A v-mode class as a term: a range, or (?:longest string|..|[code points]|empty string) with strings */
static int uee_parse_class_set_term(REParseState *s, const uint8_t **pp, BOOL is_backward_dir)
{
    UeeClassSet cs;

    if (uee_parse_class_set(s, &cs, pp))
        return -1;
    return uee_emit_class_set(s, cs, is_backward_dir);
}`;


/** v-mode character classes, compiled into libregexp.c before re_parse_term. */
const CLASS_SETS = String.raw`
/* UEE: RegExp v flag (unicodeSets). A class is a set of code points (cr) plus strings of 0 or >= 2
   code points (strs: entries [n, cp0 .. cpn-1] of uint32). */
#define UEE_LRE_FLAG_UNICODE_SETS (1 << 8)

typedef struct {
    CharRange cr;
    DynBuf strs;
} UeeClassSet;

static void uee_cs_init(REParseState *s, UeeClassSet *cs)
{
    cr_init(&cs->cr, s->opaque, lre_realloc);
    dbuf_init2(&cs->strs, s->opaque, lre_realloc);
}

static void uee_cs_free(UeeClassSet *cs)
{
    cr_free(&cs->cr);
    dbuf_free(&cs->strs);
}

static int uee_strs_has(const DynBuf *d, const uint32_t *str, uint32_t n)
{
    size_t off = 0;
    while (off < d->size) {
        const uint32_t *e = (const uint32_t *)(d->buf + off);
        if (e[0] == n && (n == 0 || !memcmp(e + 1, str, n * 4)))
            return 1;
        off += ((size_t)e[0] + 1) * 4;
    }
    return 0;
}

static int uee_strs_add(DynBuf *d, const uint32_t *str, uint32_t n)
{
    if (uee_strs_has(d, str, n))
        return 0;
    if (dbuf_put_u32(d, n))
        return -1;
    return n ? dbuf_put(d, (const uint8_t *)str, n * 4) : 0;
}

/* a = a op b; op: 0 union, 1 difference, 2 intersection. Frees b. */
static int uee_cs_apply(REParseState *s, UeeClassSet *a, UeeClassSet *b, int op)
{
    CharRange r;
    DynBuf strs;
    size_t off;
    int ret = -1;

    if (op == 0) {
        if (cr_union1(&a->cr, b->cr.points, b->cr.len))
            goto done;
        for (off = 0; off < b->strs.size;) {
            const uint32_t *e = (const uint32_t *)(b->strs.buf + off);
            if (uee_strs_add(&a->strs, e + 1, e[0]))
                goto done;
            off += ((size_t)e[0] + 1) * 4;
        }
        ret = 0;
        goto done;
    }
    cr_init(&r, s->opaque, lre_realloc);
    if (op == 1 && cr_invert(&b->cr)) {
        cr_free(&r);
        goto done;
    }
    if (cr_op(&r, a->cr.points, a->cr.len, b->cr.points, b->cr.len, CR_OP_INTER)) {
        cr_free(&r);
        goto done;
    }
    cr_free(&a->cr);
    a->cr = r;
    dbuf_init2(&strs, s->opaque, lre_realloc);
    for (off = 0; off < a->strs.size;) {
        const uint32_t *e = (const uint32_t *)(a->strs.buf + off);
        int in_b = uee_strs_has(&b->strs, e + 1, e[0]);
        if (in_b == (op == 2) && uee_strs_add(&strs, e + 1, e[0])) {
            dbuf_free(&strs);
            goto done;
        }
        off += ((size_t)e[0] + 1) * 4;
    }
    dbuf_free(&a->strs);
    a->strs = strs;
    ret = 0;
done:
    uee_cs_free(b);
    if (ret)
        re_parse_out_of_memory(s);
    return ret;
}

/* One ClassSetCharacter (or a class escape such as \d or \p{..} into cr1: CLASS_RANGE_BASE). */
static int uee_class_set_char(REParseState *s, CharRange *cr1, const uint8_t **pp)
{
    const uint8_t *p = *pp;
    int c = *p;

    if (p >= s->buf_end)
        return re_parse_error(s, "unexpected end");
    if (c == '\\') {
        if (p[1] != '\0' && strchr("&-!#%,:;<=>@\x60~", p[1])) {
            *pp = p + 2;
            return p[1];
        }
        if (p[1] == 'b') {
            *pp = p + 2;
            return 8;
        }
        return get_class_atom(s, cr1, pp, TRUE);
    }
    if (c != '\0' && strchr("()[]{}/-|", c))
        return re_parse_error(s, "invalid character in class");
    if (c != '\0' && c == p[1] && strchr("&!#$%*+,.:;<=>?@^\x60~", c))
        return re_parse_error(s, "invalid set operation in class");
    return get_class_atom(s, cr1, pp, TRUE);
}

static int uee_parse_class_set(REParseState *s, UeeClassSet *cs, const uint8_t **pp);

/* One operand: a nested class, \q{..}, or a character or class escape. *pc is the character, or -1. */
static int uee_parse_class_operand(REParseState *s, UeeClassSet *op, const uint8_t **pp, int *pc)
{
    const uint8_t *p = *pp;
    int c;

    *pc = -1;
    if (*p == '[')
        return uee_parse_class_set(s, op, pp);
    uee_cs_init(s, op);
    if (p[0] == '\\' && p[1] == 'q' && p[2] == '{') {
        DynBuf str;
        dbuf_init2(&str, s->opaque, lre_realloc);
        p += 3;
        for (;;) {
            if (*p == '}' || *p == '|') {
                uint32_t n = str.size / 4;
                const uint32_t *cps = (const uint32_t *)str.buf;
                int r = n == 1 ? cr_union_interval(&op->cr, cps[0], cps[0]) : uee_strs_add(&op->strs, cps, n);
                if (r) {
                    dbuf_free(&str);
                    uee_cs_free(op);
                    return re_parse_out_of_memory(s);
                }
                str.size = 0;
                if (*p++ == '}')
                    break;
                continue;
            }
            {
                CharRange cr1;
                c = uee_class_set_char(s, &cr1, &p);
                if (c >= CLASS_RANGE_BASE) {
                    cr_free(&cr1);
                    c = re_parse_error(s, "invalid escape in class string");
                }
                if (c < 0 || dbuf_put_u32(&str, c)) {
                    dbuf_free(&str);
                    uee_cs_free(op);
                    return -1;
                }
            }
        }
        dbuf_free(&str);
    } else {
        CharRange cr1;
        c = uee_class_set_char(s, &cr1, &p);
        if (c < 0) {
            uee_cs_free(op);
            return -1;
        }
        if (c >= CLASS_RANGE_BASE) {
            int r = cr_union1(&op->cr, cr1.points, cr1.len);
            cr_free(&cr1);
            if (r) {
                uee_cs_free(op);
                return re_parse_out_of_memory(s);
            }
        } else {
            *pc = c;
            if (cr_union_interval(&op->cr, c, c)) {
                uee_cs_free(op);
                return re_parse_out_of_memory(s);
            }
        }
    }
    *pp = p;
    return 0;
}

/* ClassSetExpression between [ and ]: a union (with ranges), or a chain of -- or of && */
static int uee_parse_class_set(REParseState *s, UeeClassSet *cs, const uint8_t **pp)
{
    const uint8_t *p = *pp;
    UeeClassSet op;
    int invert = 0, mode, c, c2;

    if (lre_check_stack_overflow(s->opaque, 0))
        return re_parse_error(s, "stack overflow");
    p++; /* [ */
    if (*p == '^') {
        p++;
        invert = 1;
    }
    if (*p == ']') {
        uee_cs_init(s, cs);
        p++;
        goto done;
    }
    if (uee_parse_class_operand(s, cs, &p, &c))
        return -1;
    mode = (p[0] == '-' && p[1] == '-') ? 1 : (p[0] == '&' && p[1] == '&') ? 2 : 0;
    for (;;) {
        if (mode == 0 && c >= 0 && p[0] == '-') {
            CharRange cr1;
            p++;
            c2 = uee_class_set_char(s, &cr1, &p);
            if (c2 < 0)
                goto fail;
            if (c2 >= CLASS_RANGE_BASE) {
                cr_free(&cr1);
                re_parse_error(s, "invalid class range");
                goto fail;
            }
            if (c2 < c) {
                re_parse_error(s, "invalid class range");
                goto fail;
            }
            if (cr_union_interval(&cs->cr, c, c2)) {
                re_parse_out_of_memory(s);
                goto fail;
            }
        }
        if (*p == ']') {
            p++;
            break;
        }
        if (p >= s->buf_end) {
            re_parse_error(s, "unexpected end");
            goto fail;
        }
        if (mode != 0) {
            if (!(p[0] == (mode == 1 ? '-' : '&') && p[1] == p[0])) {
                re_parse_error(s, "invalid set operation in class");
                goto fail;
            }
            p += 2;
        } else if ((p[0] == '-' && p[1] == '-') || (p[0] == '&' && p[1] == '&')) {
            re_parse_error(s, "invalid set operation in class");
            goto fail;
        }
        if (uee_parse_class_operand(s, &op, &p, &c))
            goto fail;
        if (mode != 0)
            c = -1;
        if (uee_cs_apply(s, cs, &op, mode))
            goto fail;
    }
done:
    /* like re_parse_char_class: case-canonical code points, then the complement */
    if (invert && cs->strs.size != 0) {
        re_parse_error(s, "negated character class may contain strings");
        goto fail;
    }
    if ((s->ignore_case && cr_canonicalize(&cs->cr, s->is_utf16)) || (invert && cr_invert(&cs->cr))) {
        re_parse_out_of_memory(s);
        goto fail;
    }
    *pp = p;
    return 0;
fail:
    uee_cs_free(cs);
    return -1;
}

static void uee_emit_cp(REParseState *s, uint32_t c, BOOL is_backward_dir)
{
    if (is_backward_dir)
        re_emit_op(s, REOP_prev);
    if (s->ignore_case)
        c = lre_canonicalize(c, s->is_utf16);
    if (c <= 0xffff)
        re_emit_op_u16(s, REOP_char, c);
    else
        re_emit_op_u32(s, REOP_char32, c);
    if (is_backward_dir)
        re_emit_op(s, REOP_prev);
}

${EMIT_CLASS}
`;

/**
 * Case-insensitive classes: upstream only added A-Z for a-z, right for legacy regexps (which compare
 * upper case) but not for `u` (which compares case folds: `/[A-Z]/ui.test("a")` was false) nor for
 * anything beyond ASCII (`/[à-þ]/i.test("É")`). The set becomes S ∪ canon(S), canon being the
 * matcher's own canonicalization; members of S that are not canonical never match, as canon is
 * idempotent. Only the code points with a case mapping (Changes_When_Casemapped) can differ.
 */
const CANONICALIZE = String.raw`static int uee_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* With u and i, \w also holds U+017F and U+212A, whose case folds are s and k; \W is its complement. */
static int uee_fold_word_chars(CharRange *cr, BOOL invert)
{
    if (invert && cr_invert(cr))
        return -1;
    if (cr_union_interval(cr, 0x017F, 0x017F) || cr_union_interval(cr, 0x212A, 0x212A))
        return -1;
    return invert ? cr_invert(cr) : 0;
}

static int cr_canonicalize(CharRange *cr, BOOL is_utf16)
{
    CharRange cased, a, b;
    DynBuf out;
    uint32_t c, d, *v;
    size_t n, i, j;
    int k, ret = -1;

    cr_init(&cased, cr->mem_opaque, lre_realloc);
    cr_init(&a, cr->mem_opaque, lre_realloc);
    cr_init(&b, cr->mem_opaque, lre_realloc);
    dbuf_init2(&out, cr->mem_opaque, lre_realloc);
    if (unicode_prop(&cased, "Changes_When_Casemapped") ||
        cr_op(&a, cr->points, cr->len, cased.points, cased.len, CR_OP_INTER))
        goto done;
    for (k = 0; k + 1 < a.len; k += 2) {
        for (c = a.points[k]; c < a.points[k + 1]; c++) {
            d = lre_canonicalize(c, is_utf16);
            if (d != c && dbuf_put_u32(&out, d))
                goto done;
        }
    }
    n = out.size / 4;
    v = (uint32_t *)out.buf;
    if (n > 0)
        qsort(v, n, sizeof(uint32_t), uee_u32_cmp);
    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && v[j] <= v[j - 1] + 1; j++)
            continue;
        if (cr_add_interval(&b, v[i], v[j - 1] + 1))
            goto done;
    }
    ret = cr_union1(cr, b.points, b.len);
done:
    cr_free(&cased);
    cr_free(&a);
    cr_free(&b);
    dbuf_free(&out);
    return ret;
}
`;

/** Patches to libregexp.c for the v flag, case-insensitive classes and current Unicode properties. */
export const LIBREGEXP_SEMANTICS_PATCH: readonly Replacement[] = [
  {
    find: 'static int parse_unicode_property(REParseState *s, CharRange *cr,\n',
    replace: `${UNICODE_LOOKUP}\nstatic int parse_unicode_property(REParseState *s, CharRange *cr,\n`,
  },
  {
    // \p{…} from the generated table of the building Node's Unicode (engine-unicode.ts) first
    find: '    p++;\n    //    printf("name=%s value=%s\\n", name, value);\n',
    replace:
      '    p++;\n    ret = uee_unicode_lookup(cr, s->opaque, name, value);\n    if (ret == -1)\n        goto out_of_memory;\n    if (ret == 0)\n        goto uee_found;\n',
  },
  {
    find: '    if (is_inv) {\n        if (cr_invert(cr)) {\n            cr_free(cr);\n            return -1;\n        }\n    }\n    *pp = p;\n    return 0;\n out_of_memory:',
    replace: ' uee_found:\n    if (is_inv) {\n        if (cr_invert(cr)) {\n            cr_free(cr);\n            return -1;\n        }\n    }\n    *pp = p;\n    return 0;\n out_of_memory:',
  },
  {
    find: `static int cr_canonicalize(CharRange *cr)
{
    CharRange a;
    uint32_t pt[2];
    int i, ret;

    cr_init(&a, cr->mem_opaque, lre_realloc);
    pt[0] = 'a';
    pt[1] = 'z' + 1;
    ret = cr_op(&a, cr->points, cr->len, pt, 2, CR_OP_INTER);
    if (ret)
        goto fail;
    /* convert to upper case */
    /* XXX: the generic unicode case would be much more complicated
       and not really useful */
    for(i = 0; i < a.len; i++) {
        a.points[i] += 'A' - 'a';
    }
    /* Note: for simplicity we keep the lower case ranges */
    ret = cr_union1(cr, a.points, a.len);
 fail:
    cr_free(&a);
    return ret;
}`,
    replace: CANONICALIZE,
  },
  { find: '        if (cr_canonicalize(cr))', replace: '        if (cr_canonicalize(cr, s->is_utf16))' },
  {
    find: '        class_range:\n            if (cr_init_char_range(s, cr, c))\n                return -1;\n',
    replace:
      '        class_range:\n            if (cr_init_char_range(s, cr, c))\n                return -1;\n            if (s->ignore_case && s->is_utf16 && (c == CHAR_RANGE_w || c == CHAR_RANGE_W) && uee_fold_word_chars(cr, c == CHAR_RANGE_W)) {\n                cr_free(cr);\n                return re_parse_out_of_memory(s);\n            }\n',
  },
  {
    // \p{..} and \P{..} outside a class (the only class escapes ending in "}") are case-insensitive too
    find: '    parse_class_atom:\n        c = get_class_atom(s, cr, &p, FALSE);\n        if ((int)c < 0)\n            return -1;\n',
    replace:
      '    parse_class_atom:\n        c = get_class_atom(s, cr, &p, FALSE);\n        if ((int)c < 0)\n            return -1;\n        if (c == CLASS_RANGE_BASE && s->ignore_case && p[-1] == \'}\' && cr_canonicalize(cr, s->is_utf16)) {\n            cr_free(cr);\n            return re_parse_out_of_memory(s);\n        }\n',
  },
  { find: '    BOOL dotall;\n    int capture_count;', replace: '    BOOL dotall;\n    BOOL uee_unicode_sets;\n    int capture_count;' },
  {
    find: '    s->dotall = ((re_flags & LRE_FLAG_DOTALL) != 0);',
    replace: '    s->dotall = ((re_flags & LRE_FLAG_DOTALL) != 0);\n    s->uee_unicode_sets = ((re_flags & UEE_LRE_FLAG_UNICODE_SETS) != 0);',
  },
  {
    find: 'static int re_parse_disjunction(REParseState *s, BOOL is_backward_dir);\n',
    replace: `static int re_parse_disjunction(REParseState *s, BOOL is_backward_dir);\n${CLASS_SETS}\n`,
  },
  {
    find: `        last_capture_count = s->capture_count;
        if (is_backward_dir)
            re_emit_op(s, REOP_prev);
        if (re_parse_char_class(s, &p))
            return -1;`,
    replace: `        last_capture_count = s->capture_count;
        if (s->uee_unicode_sets) {
            if (uee_parse_class_set_term(s, &p, is_backward_dir))
                return -1;
            break;
        }
        if (is_backward_dir)
            re_emit_op(s, REOP_prev);
        if (re_parse_char_class(s, &p))
            return -1;`,
  },
];

const INDICES = String.raw`
        if (uee_re_extra(re) & (UEE_RE_HAS_INDICES >> 8)) {
            /* UEE: d flag: indices[i] = [start, end] or undefined, indices.groups by name */
            JSValue uee_ind = JS_NewArray(ctx), uee_groups = JS_UNDEFINED, uee_pair;
            const char *uee_gn = lre_get_groupnames(re_bytecode);
            if (JS_IsException(uee_ind))
                goto fail1;
            if (JS_DefinePropertyValueStr(ctx, obj, "indices", uee_ind, prop_flags) < 0)
                goto fail1;
            if (uee_gn) {
                uee_groups = JS_NewObjectProto(ctx, JS_NULL);
                if (JS_IsException(uee_groups))
                    goto fail1;
            }
            for (i = 0; i < capture_count; i++) {
                uee_pair = JS_UNDEFINED;
                if (capture[2 * i] != NULL && capture[2 * i + 1] != NULL) {
                    uee_pair = JS_NewArray(ctx);
                    if (JS_IsException(uee_pair) ||
                        JS_DefinePropertyValueUint32(ctx, uee_pair, 0, JS_NewInt32(ctx, (capture[2 * i] - str_buf) >> shift), prop_flags) < 0 ||
                        JS_DefinePropertyValueUint32(ctx, uee_pair, 1, JS_NewInt32(ctx, (capture[2 * i + 1] - str_buf) >> shift), prop_flags) < 0) {
                        JS_FreeValue(ctx, uee_pair);
                        JS_FreeValue(ctx, uee_groups);
                        goto fail1;
                    }
                }
                if (uee_gn && i > 0) {
                    if (*uee_gn && JS_DefinePropertyValueStr(ctx, uee_groups, uee_gn, JS_DupValue(ctx, uee_pair), prop_flags) < 0) {
                        JS_FreeValue(ctx, uee_pair);
                        JS_FreeValue(ctx, uee_groups);
                        goto fail1;
                    }
                    uee_gn += strlen(uee_gn) + 1;
                }
                if (JS_DefinePropertyValueUint32(ctx, uee_ind, i, uee_pair, prop_flags) < 0) {
                    JS_FreeValue(ctx, uee_groups);
                    goto fail1;
                }
            }
            if (JS_DefinePropertyValue(ctx, uee_ind, JS_ATOM_groups, uee_groups, prop_flags) < 0)
                goto fail1;
        }
`;

/** In quickjs.c before JS_NewRuntime2: what libbf's polls call. */
const BF_HOOK = String.raw`
/* UEE: libbf's long limb loops call this through uee_bf_poll_hook */
extern int (*uee_bf_poll_hook)(void *opaque);
extern void *uee_bf_poll_opaque;
static int uee_bf_interrupt(void *opaque)
{
    JSRuntime *rt = opaque;
    return rt->interrupt_handler && rt->interrupt_handler(rt, rt->interrupt_opaque);
}
`;

/** Patches to quickjs.c: the d and v flags, Date setters' argument coercion, and libbf's interrupt hook. */
export const QUICKJS_SEMANTICS_PATCH: readonly Replacement[] = [
  // String.prototype.match/matchAll/search/replace/replaceAll/split look up Symbol.match etc. only on
  // an object argument (ES2024): a string primitive no longer reaches String.prototype[Symbol.replace]
  { find: '    if (!JS_IsUndefined(regexp) && !JS_IsNull(regexp)) {\n', replace: '    if (JS_IsObject(regexp)) {\n' },
  {
    find: '    if (!JS_IsUndefined(searchValue) && !JS_IsNull(searchValue)) {\n        JSValue replacer;\n',
    replace: '    if (JS_IsObject(searchValue)) {\n        JSValue replacer;\n',
  },
  {
    find: '    if (!JS_IsUndefined(separator) && !JS_IsNull(separator)) {\n        JSValue splitter;\n',
    replace: '    if (JS_IsObject(separator)) {\n        JSValue splitter;\n',
  },
  {
    // Date setters convert every argument (valueOf runs) even on an invalid date or after a NaN
    // argument, reading the time value first, as the spec orders it
    find: `    if (res && argc > 0) {
        n = end_field - first_field;
        if (argc < n)
            n = argc;
        for(i = 0; i < n; i++) {
            if (JS_ToFloat64(ctx, &a, argv[i]))
                return JS_EXCEPTION;
            if (!isfinite(a))
                goto done;
            fields[first_field + i] = trunc(a);
        }
        d = set_date_fields(fields, is_local);
    }`,
    replace: `    if (argc > 0) {
        BOOL uee_finite = TRUE;
        n = end_field - first_field;
        if (argc < n)
            n = argc;
        for(i = 0; i < n; i++) {
            if (JS_ToFloat64(ctx, &a, argv[i]))
                return JS_EXCEPTION;
            if (!isfinite(a))
                uee_finite = FALSE;
            else
                fields[first_field + i] = trunc(a);
        }
        if (!res)
            return JS_NAN; /* an invalid date stays as it is (a valueOf may have set it) */
        if (uee_finite)
            d = set_date_fields(fields, is_local);
    }`,
  },
  {
    find: 'static JSValue js_compile_regexp(JSContext *ctx, JSValueConst pattern,\n                                 JSValueConst flags)\n{',
    replace: `${FLAG_DEFINES}\nstatic JSValue js_compile_regexp(JSContext *ctx, JSValueConst pattern,\n                                 JSValueConst flags)\n{`,
  },
  {
    find: "            case 'y':\n                mask = LRE_FLAG_STICKY;\n                break;\n",
    replace: "            case 'y':\n                mask = LRE_FLAG_STICKY;\n                break;\n            case 'd':\n                mask = UEE_RE_HAS_INDICES;\n                break;\n            case 'v':\n                mask = UEE_RE_UNICODE_SETS;\n                break;\n",
  },
  {
    find: '        JS_FreeCString(ctx, str);\n    }\n\n    str = JS_ToCStringLen2(ctx, &len, pattern, !(re_flags & LRE_FLAG_UTF16));',
    replace: `        JS_FreeCString(ctx, str);
        if ((re_flags & UEE_RE_UNICODE_SETS) && (re_flags & LRE_FLAG_UTF16))
            return JS_ThrowSyntaxError(ctx, "invalid regular expression flags");
        if (re_flags & UEE_RE_UNICODE_SETS)
            re_flags |= LRE_FLAG_UTF16;
    }

    str = JS_ToCStringLen2(ctx, &len, pattern, !(re_flags & LRE_FLAG_UTF16));`,
  },
  {
    find: '    ret = js_new_string8(ctx, re_bytecode_buf, re_bytecode_len);\n    js_free(ctx, re_bytecode_buf);\n    return ret;\n',
    replace: `    {
        /* UEE: the d and v flags ride in one byte after the bytecode and its group names */
        uint8_t *uee_buf = js_realloc(ctx, re_bytecode_buf, re_bytecode_len + 1);
        if (!uee_buf) {
            js_free(ctx, re_bytecode_buf);
            return JS_EXCEPTION;
        }
        uee_buf[re_bytecode_len] = (re_flags >> 8) & 3;
        ret = js_new_string8(ctx, uee_buf, re_bytecode_len + 1);
        js_free(ctx, uee_buf);
    }
    return ret;
`,
  },
  {
    find: 'static JSValue js_regexp_get_flag(JSContext *ctx, JSValueConst this_val, int mask)\n{',
    replace: `static inline int uee_re_extra(const JSRegExp *re)
{
    const JSString *b = re->bytecode;
    return b->len > 0 ? b->u.str8[b->len - 1] : 0;
}

static JSValue js_regexp_get_flag(JSContext *ctx, JSValueConst this_val, int mask)
{`,
  },
  {
    find: '    flags = lre_get_flags(re->bytecode->u.str8);\n    return JS_NewBool(ctx, (flags & mask) != 0);\n',
    replace: `    flags = lre_get_flags(re->bytecode->u.str8) | (uee_re_extra(re) << 8);
    if (flags & UEE_RE_UNICODE_SETS)
        flags &= ~LRE_FLAG_UTF16;
    return JS_NewBool(ctx, (flags & mask) != 0);
`,
  },
  {
    find: `    char str[8], *p = str;
    int res;

    if (JS_VALUE_GET_TAG(this_val) != JS_TAG_OBJECT)
        return JS_ThrowTypeErrorNotAnObject(ctx);

    res = JS_ToBoolFree(ctx, JS_GetProperty(ctx, this_val, JS_ATOM_global));`,
    replace: `    char str[16], *p = str;
    int res;

    if (JS_VALUE_GET_TAG(this_val) != JS_TAG_OBJECT)
        return JS_ThrowTypeErrorNotAnObject(ctx);

    res = JS_ToBoolFree(ctx, JS_GetPropertyStr(ctx, this_val, "hasIndices"));
    if (res < 0)
        goto exception;
    if (res)
        *p++ = 'd';
    res = JS_ToBoolFree(ctx, JS_GetProperty(ctx, this_val, JS_ATOM_global));`,
  },
  {
    find: "        *p++ = 'u';\n    res = JS_ToBoolFree(ctx, JS_GetPropertyStr(ctx, this_val, \"sticky\"));",
    replace:
      "        *p++ = 'u';\n    res = JS_ToBoolFree(ctx, JS_GetPropertyStr(ctx, this_val, \"unicodeSets\"));\n    if (res < 0)\n        goto exception;\n    if (res)\n        *p++ = 'v';\n    res = JS_ToBoolFree(ctx, JS_GetPropertyStr(ctx, this_val, \"sticky\"));",
  },
  {
    find: `        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_input, str_val, prop_flags) < 0)
            goto fail1;
    }
    js_free(ctx, capture);
    return obj;`,
    replace: `        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_input, str_val, prop_flags) < 0)
            goto fail1;
${INDICES}    }
    js_free(ctx, capture);
    return obj;`,
  },
  {
    find: '    JS_CGETSET_MAGIC_DEF("sticky", js_regexp_get_flag, NULL, 32 ),\n',
    replace:
      '    JS_CGETSET_MAGIC_DEF("sticky", js_regexp_get_flag, NULL, 32 ),\n    JS_CGETSET_MAGIC_DEF("hasIndices", js_regexp_get_flag, NULL, 0x200 ),\n    JS_CGETSET_MAGIC_DEF("unicodeSets", js_regexp_get_flag, NULL, 0x100 ),\n',
  },
  {
    find: 'JSRuntime *JS_NewRuntime2(const JSMallocFunctions *mf, void *opaque)\n{',
    replace: `${BF_HOOK}\nJSRuntime *JS_NewRuntime2(const JSMallocFunctions *mf, void *opaque)\n{`,
  },
  {
    // libbf's long loops ask the runtime's interrupt handler (see LIBBF_PATCH)
    find: '    bf_context_init(&rt->bf_ctx, js_bf_realloc, rt);',
    replace: '    bf_context_init(&rt->bf_ctx, js_bf_realloc, rt);\n    uee_bf_poll_hook = uee_bf_interrupt;\n    uee_bf_poll_opaque = rt;',
  },
];


const BF_POLL = String.raw`
/* UEE: long limb loops poll the engine's interrupt handler every ~1M limb operations; nonzero stops
   the operation (it then fails like an allocation failure; the engine has already decided to stop). */
int (*uee_bf_poll_hook)(void *opaque);
void *uee_bf_poll_opaque;
static int64_t uee_bf_budget = 1 << 20;
static int uee_bf_poll(int64_t units)
{
    uee_bf_budget -= units;
    if (uee_bf_budget > 0)
        return 0;
    uee_bf_budget = 1 << 20;
    return uee_bf_poll_hook ? uee_bf_poll_hook(uee_bf_poll_opaque) : 0;
}
`;

/** Patches to libbf.c: interrupt polls inside the NTT stages and the schoolbook multiplication. */
export const LIBBF_PATCH: readonly Replacement[] = [
  { find: '#include "cutils.h"\n#include "libbf.h"\n', replace: `#include "cutils.h"\n#include "libbf.h"\n${BF_POLL}` },
  {
    // the portable NTT (the AVX2 one is not built for wasm): one poll per butterfly stage
    find: '    l = fft_len_log2;\n    while (nb_blocks != 2) {\n        nb_blocks >>= 1;\n',
    replace: '    l = fft_len_log2;\n    while (nb_blocks != 2) {\n        if (uee_bf_poll(n))\n            return -1;\n        nb_blocks >>= 1;\n',
  },
  {
    // upstream drops the recursive convolution's failure
    find: '        for(i = 0; i < n1; i++) {\n            ntt_conv(s, buf1 + i * n2, buf2 + i * n2, k2, k_tot, m_idx);\n        }',
    replace: '        for(i = 0; i < n1; i++) {\n            if (ntt_conv(s, buf1 + i * n2, buf2 + i * n2, k2, k_tot, m_idx))\n                return -1;\n        }',
  },
  {
    // a huge number times a small one stays schoolbook: O(n) per row
    find: '    for(i=1;i<op2_size;i++) {\n        r = mp_add_mul1(result + i, op1, op1_size, op2[i]);\n',
    replace: '    for(i=1;i<op2_size;i++) {\n        if (uee_bf_poll(op1_size))\n            break;\n        r = mp_add_mul1(result + i, op1, op1_size, op2[i]);\n',
  },
];
