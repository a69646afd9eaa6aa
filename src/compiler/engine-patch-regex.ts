/**
 * Speed patches to QuickJS 2021-03-27's regular expressions (libregexp.c and the `RegExp` built-ins in
 * quickjs.c), applied after the semantic patches and the other speed patches
 * (`engine-patch-perf.ts`). Each block is named and changes no observable result; the cases that prove
 * it are `JS-REGEX-FAST-*` (`test/compiler/js-regex-fast.test.ts`, engine against Node 20), what they
 * measured is in the README ("JS engine vs Node 20").
 *
 * - `UEE_PERF_REGEX_STATE` (libregexp.c): the backtracking state stack starts in a 2 KB buffer on the C
 *   stack and moves to the heap only when it outgrows it, instead of a `malloc`, `realloc`s and a
 *   `free` on every `exec`.
 * - `UEE_PERF_REGEX_FIRST` (libregexp.c): for a pattern whose match must begin with a character from a
 *   known set (a literal, a class, or a class repeated at least once, after captures and `\b`), the
 *   start positions are scanned with a 256-bit table and the matcher runs only where a match can
 *   begin, instead of pushing and popping a backtrack state for every position of the implicit
 *   leading `[^]*?`. When the pattern begins with `\b` and the set holds word characters only, a start
 *   must also follow a non-word character (`/\b\w+@/` tries word starts only). Not for `i`, `y`, or
 *   `u` on a string with characters beyond Latin-1 (code points there are not single units).
 * - `UEE_PERF_REGEX_GREEDY` (libregexp.c): a greedy quantifier over one character test (`\w+`, `[^,]*`,
 *   `.*`) loops in place instead of one recursive matcher call per character; and when what follows
 *   it is a literal that the repeated class cannot match (`\w+@`), giving characters back can never
 *   help, so no backtrack state is kept for it.
 * - `UEE_PERF_REGEX_LOOP` (quickjs.c): `String.prototype.match`/`replace`/`replaceAll` with a global
 *   RegExp run the match loop in C without an `exec` result object per match — only when the spec's
 *   per-match steps cannot be observed: the object is a RegExp with RegExp.prototype as prototype, no
 *   own `exec`, the intrinsic `exec` as a data property of RegExp.prototype, a writable `lastIndex`,
 *   and the `global`/`unicode` answers agree with its flags. A replacement string is expanded in C
 *   (`$$ $& $\` $' $n $nn`; `$<name>` on a pattern with named groups takes the generic path); a
 *   replacement function is called with the same arguments after all matches are found, as the spec
 *   orders it. `lastIndex` ends at 0, as the final failing `exec` leaves it.
 * - `UEE_PERF_REGEX_TEST` (quickjs.c): `RegExp.prototype.test` on such a RegExp (any flags) runs the
 *   builtin exec's steps — `lastIndex` read and converted, the match, `lastIndex` written for `g`/`y` —
 *   without building the result object it throws away. Its argument becomes a string before `exec` is
 *   looked up, as the spec orders it (QuickJS looked `exec` up first).
 */
import type { Replacement } from './engine-patch.js';
import { applyPatch } from './engine-patch.js';

const FIRST_SET = String.raw`
/* UEE_PERF_REGEX_FIRST: the set of code units that can begin a match of the body at pc (after the
   implicit prefix), or -1 when it is not known. */
typedef struct {
    uint32_t bits[8];   /* code units 0..255 */
    BOOL high;          /* a code unit >= 256 may begin a match */
    BOOL word_start;    /* \b first and every member a word char: the previous char must be a non-word char */
} UEEFirstSet;

static void uee_first_add(UEEFirstSet *f, uint32_t lo, uint32_t hi)
{
    uint32_t c;
    if (hi >= 256) {
        f->high = TRUE;
        hi = 255;
    }
    for (c = lo; c <= hi; c++) {
        if ((c & 31) == 0 && c + 31 <= hi) {
            f->bits[c >> 5] = 0xffffffff;
            c += 31;
        } else {
            f->bits[c >> 5] |= (uint32_t)1 << (c & 31);
        }
    }
}

static BOOL is_word_char(uint32_t c);

static int uee_first_set(const uint8_t *pc, UEEFirstSet *f)
{
    BOOL boundary = FALSE, in_quant = FALSE;
    int n, i;
    uint32_t c;

    memset(f, 0, sizeof(*f));
    for (;;) {
        switch (*pc) {
        case REOP_save_start:
        case REOP_save_end:
            pc += 2;
            continue;
        case REOP_save_reset:
            pc += 3;
            continue;
        case REOP_word_boundary:
            if (in_quant)
                return -1;
            boundary = TRUE;
            pc += 1;
            continue;
        case REOP_simple_greedy_quant:
            if (in_quant || get_u32(pc + 5) == 0)
                return -1;
            in_quant = TRUE;
            pc += 17;
            continue;
        case REOP_char:
            uee_first_add(f, get_u16(pc + 1), get_u16(pc + 1));
            break;
        case REOP_char32:
            uee_first_add(f, get_u32(pc + 1), get_u32(pc + 1));
            break;
        case REOP_range:
            n = get_u16(pc + 1);
            for (i = 0; i < n; i++)
                uee_first_add(f, get_u16(pc + 3 + i * 4), get_u16(pc + 3 + i * 4 + 2));
            break;
        case REOP_range32:
            n = get_u16(pc + 1);
            for (i = 0; i < n; i++)
                uee_first_add(f, get_u32(pc + 3 + i * 8), get_u32(pc + 3 + i * 8 + 4));
            break;
        default:
            return -1;
        }
        break;
    }
    if (boundary && !f->high) {
        /* [0-9A-Z_a-z] as 32-bit words of the code units 0..255 */
        static const uint32_t word_bits[8] = { 0, 0x03ff0000, 0x87fffffe, 0x07fffffe, 0, 0, 0, 0 };
        f->word_start = TRUE;
        for (c = 0; c < 8; c++) {
            if (f->bits[c] & ~word_bits[c])
                f->word_start = FALSE;
        }
    }
    return 0;
}

/* UEE_PERF_REGEX_FIRST: try the matcher only at positions where a match can begin. Returns -3 when
   the pattern does not qualify. */
static intptr_t lre_exec_backtrack(REExecContext *s, uint8_t **capture,
                                   StackInt *stack, int stack_len,
                                   const uint8_t *pc, const uint8_t *cptr,
                                   BOOL no_recurse);
static int uee_exec_first_scan(REExecContext *s, uint8_t **capture, StackInt *stack_buf, const uint8_t *bc_buf,
                               const uint8_t *cbuf, int cindex, int clen, int cbuf_type)
{
    const uint8_t *pc = bc_buf + RE_HEADER_LEN;
    int re_flags = bc_buf[RE_HEADER_FLAGS];
    UEEFirstSet f;
    int i, p, end;
    uint32_t c;
    intptr_t ret;

    if ((re_flags & (LRE_FLAG_STICKY | LRE_FLAG_IGNORECASE)) || s->cbuf_type == 2 ||
        pc[0] != REOP_split_goto_first || pc[5] != REOP_any || pc[6] != REOP_goto || pc[11] != REOP_save_start)
        return -3;
    if (uee_first_set(pc + 11, &f) < 0)
        return -3;
    p = cindex;
    while (p < clen) {
        end = clen - p > 4096 ? p + 4096 : clen;
        if (cbuf_type == 0) {
            for (; p < end; p++) {
                c = cbuf[p];
                if (((f.bits[c >> 5] >> (c & 31)) & 1) &&
                    (!f.word_start || p == 0 || !is_word_char(cbuf[p - 1])))
                    goto try_here;
            }
        } else {
            const uint16_t *b16 = (const uint16_t *)cbuf;
            for (; p < end; p++) {
                c = b16[p];
                if ((c < 256 ? ((f.bits[c >> 5] >> (c & 31)) & 1) : f.high) &&
                    (!f.word_start || p == 0 || !is_word_char(b16[p - 1])))
                    goto try_here;
            }
        }
        if (p >= clen)
            break;
        if (lre_check_timeout(s->opaque))
            return -2;
        continue;
    try_here:
        for (i = 0; i < s->capture_count * 2; i++)
            capture[i] = NULL;
        ret = lre_exec_backtrack(s, capture, stack_buf, 0, pc + 11, cbuf + (p << cbuf_type), FALSE);
        if (ret != 0)
            return ret;
        p++;
    }
    return 0;
}

/* UEE_PERF_REGEX_FIRST (runs): a body "[\b] R+ L" (captures may open or close around R+) with R one class, L a literal outside R
   (\b\w+@…): R+ keeps its whole run (UEE_PERF_REGEX_GREEDY), so a match ends its run right before an
   L. Find the next L, walk back over the run of R before it, and try the matcher only at the run's
   starts that qualify; every earlier position's run ends at a char that is neither in R nor L. */
static int uee_exec_run_scan(REExecContext *s, uint8_t **capture, StackInt *stack_buf, const uint8_t *bc_buf,
                             const uint8_t *cbuf, int cindex, int clen, int cbuf_type)
{
    const uint8_t *pc = bc_buf + RE_HEADER_LEN, *q, *body, *next;
    const uint16_t *b16 = (const uint16_t *)cbuf;
    int re_flags = bc_buf[RE_HEADER_FLAGS];
    UEEFirstSet f;
    uint32_t lit, qmin, c;
    int i, p, from, at, st, cand, end, steps = 0;
    intptr_t ret;

    if ((re_flags & (LRE_FLAG_STICKY | LRE_FLAG_IGNORECASE)) || s->cbuf_type == 2 ||
        pc[0] != REOP_split_goto_first || pc[5] != REOP_any || pc[6] != REOP_goto || pc[11] != REOP_save_start)
        return -3;
    for (q = pc + 13, i = 0;; ) {
        if (*q == REOP_save_start || *q == REOP_save_end)
            q += 2;
        else if (*q == REOP_save_reset)
            q += 3;
        else if (*q == REOP_word_boundary && !i++)
            q++;
        else
            break;
    }
    if (*q != REOP_simple_greedy_quant || get_u32(q + 9) != INT32_MAX)
        return -3;
    qmin = get_u32(q + 5);
    body = q + 17;
    if (qmin == 0 || qmin > (uint32_t)clen || !uee_single_char_body(body) || (body[0] != REOP_range && body[0] != REOP_char))
        return -3;
    next = body + get_u32(q + 1);
    while (*next == REOP_save_start || *next == REOP_save_end || *next == REOP_save_reset)
        next += *next == REOP_save_reset ? 3 : 2;
    if (*next != REOP_char)
        return -3;
    lit = get_u16(next + 1);
    if (uee_char_test(body, lit) || uee_first_set(pc + 11, &f) < 0)
        return -3;
    if (cbuf_type == 0 && lit > 0xff)
        return 0;
    if (body[0] == REOP_range)
        uee_ascii_fill(s, body);
    p = cindex;
    while (p < clen) {
        /* the next L at or after p */
        for (from = p;;) {
            end = clen - from > 4096 ? from + 4096 : clen;
            if (cbuf_type == 0) {
                const uint8_t *hit = memchr(cbuf + from, lit, end - from);
                at = hit ? hit - cbuf : -1;
            } else {
                for (at = from; at < end && b16[at] != lit; at++)
                    ;
                if (at == end)
                    at = -1;
            }
            if (at >= 0)
                break;
            if (end >= clen)
                return 0;
            from = end;
            if (lre_check_timeout(s->opaque))
                return -2;
        }
        /* back over the run of R that ends at 'at' (not before p) */
        for (st = at; st > p; st--) {
            c = cbuf_type == 0 ? cbuf[st - 1] : b16[st - 1];
            if (body[0] == REOP_range && c < 128 ? !((s->uee_ascii[c >> 5] >> (c & 31)) & 1) : !uee_char_test(body, c))
                break;
            if ((++steps & 4095) == 0 && lre_check_timeout(s->opaque))
                return -2;
        }
        for (cand = st; cand + (int)qmin <= at; cand++) {
            if (f.word_start && cand > 0 && is_word_char(cbuf_type == 0 ? cbuf[cand - 1] : b16[cand - 1]))
                continue;
            for (i = 0; i < s->capture_count * 2; i++)
                capture[i] = NULL;
            ret = lre_exec_backtrack(s, capture, stack_buf, 0, pc + 11, cbuf + (cand << cbuf_type), FALSE);
            if (ret != 0)
                return ret;
        }
        p = at + 1;
    }
    return 0;
}
`;

const GREEDY_HELPERS = String.raw`
/* UEE_PERF_REGEX_GREEDY: the body of a simple greedy quantifier that is one character test followed
   by REOP_match, else NULL. */
static inline BOOL uee_single_char_body(const uint8_t *pc1)
{
    switch (pc1[0]) {
    case REOP_char:
        return pc1[3] == REOP_match;
    case REOP_char32:
        return pc1[5] == REOP_match;
    case REOP_dot:
    case REOP_any:
        return pc1[1] == REOP_match;
    case REOP_range:
        return pc1[3 + get_u16(pc1 + 1) * 4] == REOP_match;
    case REOP_range32:
        return pc1[3 + get_u16(pc1 + 1) * 8] == REOP_match;
    default:
        return FALSE;
    }
}

static BOOL is_line_terminator(uint32_t c);

/* the character test of a single-char body, exactly as lre_exec_backtrack performs it (c already
   canonicalized when the body compares canonical forms) */
static BOOL uee_char_test(const uint8_t *pc1, uint32_t c)
{
    int n;
    uint32_t low, high, idx_min, idx_max, idx;

    switch (pc1[0]) {
    case REOP_char:
        return c == get_u16(pc1 + 1);
    case REOP_char32:
        return c == get_u32(pc1 + 1);
    case REOP_dot:
        return !is_line_terminator(c);
    case REOP_any:
        return TRUE;
    case REOP_range:
        n = get_u16(pc1 + 1);
        pc1 += 3;
        low = get_u16(pc1);
        if (c < low)
            return FALSE;
        idx_max = n - 1;
        high = get_u16(pc1 + idx_max * 4 + 2);
        if (unlikely(c >= 0xffff) && high == 0xffff)
            return TRUE;
        if (c > high)
            return FALSE;
        idx_min = 0;
        while (idx_min <= idx_max) {
            idx = (idx_min + idx_max) / 2;
            low = get_u16(pc1 + idx * 4);
            high = get_u16(pc1 + idx * 4 + 2);
            if (c < low)
                idx_max = idx - 1;
            else if (c > high)
                idx_min = idx + 1;
            else
                return TRUE;
        }
        return FALSE;
    default: /* REOP_range32 */
        n = get_u16(pc1 + 1);
        pc1 += 3;
        low = get_u32(pc1);
        if (c < low)
            return FALSE;
        idx_max = n - 1;
        high = get_u32(pc1 + idx_max * 8 + 4);
        if (c > high)
            return FALSE;
        idx_min = 0;
        while (idx_min <= idx_max) {
            idx = (idx_min + idx_max) / 2;
            low = get_u32(pc1 + idx * 8);
            high = get_u32(pc1 + idx * 8 + 4);
            if (c < low)
                idx_max = idx - 1;
            else if (c > high)
                idx_min = idx + 1;
            else
                return TRUE;
        }
        return FALSE;
    }
}

/* the members below 128 of the REOP_range at pc1, as a bitmap cached in s */
static void uee_ascii_fill(REExecContext *s, const uint8_t *pc1)
{
    int i, n = get_u16(pc1 + 1);
    uint32_t c, lo, hi;
    for (i = 0; i < 4; i++)
        s->uee_ascii[i] = 0;
    for (i = 0; i < n; i++) {
        lo = get_u16(pc1 + 3 + i * 4);
        hi = get_u16(pc1 + 3 + i * 4 + 2);
        if (hi > 127)
            hi = 127;
        for (c = lo; c <= hi; c++)
            s->uee_ascii[c >> 5] |= (uint32_t)1 << (c & 31);
    }
    s->uee_ascii_pc = pc1;
}

/* TRUE when the code after a greedy quantifier (pc, past save ops) must match a literal that the
   quantified single-char body cannot: then a shorter repetition puts a body character where the
   literal must be, and giving characters back can never succeed. */
static BOOL uee_greedy_no_giveback(const uint8_t *pc, const uint8_t *pc1)
{
    uint32_t val;
    for (;;) {
        if (*pc == REOP_save_start || *pc == REOP_save_end)
            pc += 2;
        else if (*pc == REOP_save_reset)
            pc += 3;
        else
            break;
    }
    if (*pc == REOP_char)
        val = get_u16(pc + 1);
    else if (*pc == REOP_char32)
        val = get_u32(pc + 1);
    else
        return FALSE;
    return !uee_char_test(pc1, val);
}
`;

/** The regex speed patches to libregexp.c, after the semantic and `UEE_PERF_*` ones. */
export const LIBREGEXP_REGEX_PATCH: readonly Replacement[] = [
  {
    // UEE_PERF_REGEX_STATE: the on-stack first block of the state stack
    find: '    void *opaque; /* used for stack overflow check */\n    int uee_poll_counter;\n',
    replace:
      '    void *opaque; /* used for stack overflow check */\n    int uee_poll_counter;\n' +
      '    uint8_t *uee_state_init; /* UEE_PERF_REGEX_STATE: the on-stack first block of state_stack */\n' +
      '    const uint8_t *uee_ascii_pc; /* UEE_PERF_REGEX_GREEDY: the range body whose ASCII members uee_ascii holds */\n' +
      '    uint32_t uee_ascii[4];\n',
  },
  {
    find: `        new_stack = lre_realloc(s->opaque, s->state_stack, new_size * s->state_size);
        if (!new_stack)
            return -1;`,
    replace: `        if (s->state_stack == s->uee_state_init) {
            /* UEE_PERF_REGEX_STATE: leave the on-stack block */
            new_stack = lre_realloc(s->opaque, NULL, new_size * s->state_size);
            if (new_stack)
                memcpy(new_stack, s->state_stack, s->state_stack_len * s->state_size);
        } else {
            new_stack = lre_realloc(s->opaque, s->state_stack, new_size * s->state_size);
        }
        if (!new_stack)
            return -1;`,
  },
  {
    // UEE_PERF_REGEX_GREEDY helpers, before the matcher
    find: '/* return 1 if match, 0 if not match or -1 if error. */\nint lre_check_timeout(void *opaque);\n',
    replace: `/* return 1 if match, 0 if not match or -1 if error. */\nint lre_check_timeout(void *opaque);\n${GREEDY_HELPERS}`,
  },
  {
    // UEE_PERF_REGEX_GREEDY: loop in place over a single-char body; no backtrack state when useless
    find: `                q = 0;
                for(;;) {
                    res = lre_exec_backtrack(s, capture, stack, stack_len,
                                             pc1, cptr, TRUE);
                    if (res == -1 || res == -2)
                        return res;
                    if (!res)
                        break;
                    cptr = (uint8_t *)res;
                    q++;
                    if (q >= quant_max && quant_max != INT32_MAX)
                        break;
                }
                if (q < quant_min)
                    goto no_match;
                if (q > quant_min) {`,
    replace: `                q = 0;
                if (uee_single_char_body(pc1)) {
                    /* UEE_PERF_REGEX_GREEDY */
                    const uint8_t *cptr1;
                    for(;;) {
                        if (cptr >= cbuf_end)
                            break;
                        if (unlikely(--s->uee_poll_counter <= 0)) {
                            s->uee_poll_counter = 256;
                            if (lre_check_timeout(s->opaque))
                                return -2;
                        }
                        cptr1 = cptr;
                        GET_CHAR(c, cptr1, cbuf_end);
                        if (s->ignore_case && pc1[0] != REOP_dot && pc1[0] != REOP_any)
                            c = lre_canonicalize(c, s->is_utf16);
                        if (c < 128 && pc1[0] == REOP_range) {
                            if (s->uee_ascii_pc != pc1)
                                uee_ascii_fill(s, pc1);
                            if (!((s->uee_ascii[c >> 5] >> (c & 31)) & 1))
                                break;
                        } else if (!uee_char_test(pc1, c)) {
                            break;
                        }
                        cptr = cptr1;
                        q++;
                        if (q >= quant_max && quant_max != INT32_MAX)
                            break;
                    }
                } else {
                for(;;) {
                    res = lre_exec_backtrack(s, capture, stack, stack_len,
                                             pc1, cptr, TRUE);
                    if (res == -1 || res == -2)
                        return res;
                    if (!res)
                        break;
                    cptr = (uint8_t *)res;
                    q++;
                    if (q >= quant_max && quant_max != INT32_MAX)
                        break;
                }
                }
                if (q < quant_min)
                    goto no_match;
                if (q > quant_min && !s->ignore_case && uee_single_char_body(pc1) &&
                    uee_greedy_no_giveback(pc, pc1))
                    break;
                if (q > quant_min) {`,
  },
  {
    // UEE_PERF_REGEX_FIRST, before lre_exec
    find: 'int lre_exec(uint8_t **capture,\n',
    replace: `${FIRST_SET}\nint lre_exec(uint8_t **capture,\n`,
  },
  {
    find: `    REExecContext s_s, *s = &s_s;
    int re_flags, i, alloca_size, ret;
    StackInt *stack_buf;
`,
    replace: `    REExecContext s_s, *s = &s_s;
    int re_flags, i, alloca_size, ret;
    StackInt *stack_buf;
    uint64_t uee_state_buf[256]; /* UEE_PERF_REGEX_STATE: 2 KB */
`,
  },
  {
    find: `    s->state_stack = NULL;
    s->state_stack_len = 0;
    s->state_stack_size = 0;
`,
    replace: `    s->state_stack = NULL;
    s->state_stack_len = 0;
    s->state_stack_size = 0;
    s->uee_state_init = NULL;
    s->uee_ascii_pc = NULL;
    if (s->state_size * 8 <= sizeof(uee_state_buf)) {
        s->state_stack = s->uee_state_init = (uint8_t *)uee_state_buf;
        s->state_stack_size = sizeof(uee_state_buf) / s->state_size;
    }
`,
  },
  {
    find: `    ret = uee_exec_scan(s, capture, stack_buf, bc_buf, cbuf, cindex, clen, cbuf_type);
    if (ret == -3)
        ret = lre_exec_backtrack(s, capture, stack_buf, 0, bc_buf + RE_HEADER_LEN,
                                 cbuf + (cindex << cbuf_type), FALSE);
    lre_realloc(s->opaque, s->state_stack, 0);`,
    replace: `    ret = uee_exec_scan(s, capture, stack_buf, bc_buf, cbuf, cindex, clen, cbuf_type);
    if (ret == -3)
        ret = uee_exec_run_scan(s, capture, stack_buf, bc_buf, cbuf, cindex, clen, cbuf_type);
    if (ret == -3)
        ret = uee_exec_first_scan(s, capture, stack_buf, bc_buf, cbuf, cindex, clen, cbuf_type);
    if (ret == -3)
        ret = lre_exec_backtrack(s, capture, stack_buf, 0, bc_buf + RE_HEADER_LEN,
                                 cbuf + (cindex << cbuf_type), FALSE);
    if (s->state_stack != s->uee_state_init)
        lre_realloc(s->opaque, s->state_stack, 0);`,
  },
];

const LOOP = String.raw`
/* UEE_PERF_REGEX_LOOP: the RegExp when rx is a global RegExp whose per-match exec steps no code can
   observe (see engine-patch-regex.ts), else NULL. */
static JSRegExp *uee_plain_regexp(JSContext *ctx, JSValueConst rx)
{
    JSObject *p, *proto;
    JSShapeProperty *prs;
    JSProperty *pr;

    if (JS_VALUE_GET_TAG(rx) != JS_TAG_OBJECT)
        return NULL;
    p = JS_VALUE_GET_OBJ(rx);
    if (p->class_id != JS_CLASS_REGEXP || !p->u.regexp.bytecode)
        return NULL;
    if (find_own_property(&pr, p, JS_ATOM_exec))
        return NULL;
    prs = find_own_property(&pr, p, JS_ATOM_lastIndex);
    if (!prs || (prs->flags & (JS_PROP_TMASK | JS_PROP_WRITABLE)) != JS_PROP_WRITABLE)
        return NULL;
    proto = p->shape->proto;
    if (!proto || JS_VALUE_GET_TAG(ctx->class_proto[JS_CLASS_REGEXP]) != JS_TAG_OBJECT ||
        proto != JS_VALUE_GET_OBJ(ctx->class_proto[JS_CLASS_REGEXP]))
        return NULL;
    prs = find_own_property(&pr, proto, JS_ATOM_exec);
    if (!prs || (prs->flags & JS_PROP_TMASK) != JS_PROP_NORMAL ||
        !JS_IsCFunction(ctx, pr->u.value, js_regexp_exec, 0))
        return NULL;
    return &p->u.regexp;
}

static JSRegExp *uee_plain_global_regexp(JSContext *ctx, JSValueConst rx, int full_unicode)
{
    JSRegExp *re = uee_plain_regexp(ctx, rx);
    int flags;
    if (!re)
        return NULL;
    flags = lre_get_flags(re->bytecode->u.str8);
    if (!(flags & LRE_FLAG_GLOBAL) || !(flags & LRE_FLAG_UTF16) != !full_unicode)
        return NULL;
    return re;
}

/* UEE_PERF_REGEX_TEST: RegExp.prototype.test on a plain RegExp: the builtin exec's steps (lastIndex
   read and converted, matched, lastIndex written for g/y) without building the result object. str is
   a string. */
static JSValue uee_regexp_test(JSContext *ctx, JSValueConst rx, JSRegExp *re, JSValueConst str_val)
{
    JSString *str = JS_VALUE_GET_STRING(str_val);
    const uint8_t *bc;
    uint8_t **capture;
    int re_flags, ret;
    int64_t last_index;

    if (JS_ToLengthFree(ctx, &last_index, JS_GetProperty(ctx, rx, JS_ATOM_lastIndex)))
        return JS_EXCEPTION;
    /* read after lastIndex's conversion, which may have called compile() */
    bc = re->bytecode->u.str8;
    re_flags = lre_get_flags(bc);
    if ((re_flags & (LRE_FLAG_GLOBAL | LRE_FLAG_STICKY)) == 0)
        last_index = 0;
    if (last_index > str->len) {
        ret = 2;
    } else {
        capture = alloca(sizeof(capture[0]) * lre_get_capture_count(bc) * 2);
        ret = lre_exec(capture, bc, str->u.str8, last_index, str->len, str->is_wide_char, ctx);
        if (ret == 1 && (re_flags & (LRE_FLAG_GLOBAL | LRE_FLAG_STICKY))) {
            if (JS_SetProperty(ctx, rx, JS_ATOM_lastIndex,
                               JS_NewInt32(ctx, (capture[1] - str->u.str8) >> str->is_wide_char)) < 0)
                return JS_EXCEPTION;
        }
    }
    if (ret < 0) {
        if (ret != -2)
            JS_ThrowInternalError(ctx, "out of memory in regexp execution");
        return JS_EXCEPTION;
    }
    if (ret != 1 && (ret == 2 || (re_flags & (LRE_FLAG_GLOBAL | LRE_FLAG_STICKY)))) {
        if (JS_SetProperty(ctx, rx, JS_ATOM_lastIndex, JS_NewInt32(ctx, 0)) < 0)
            return JS_EXCEPTION;
    }
    return JS_NewBool(ctx, ret == 1);
}

/* TRUE when the replacement may hold a $<name> that the generic GetSubstitution would look up */
static BOOL uee_replacement_names_groups(JSRegExp *re, JSString *rp)
{
    int j;
    if (!lre_get_groupnames(re->bytecode->u.str8))
        return FALSE;
    for (j = string_indexof_char(rp, '$', 0); j >= 0 && j + 1 < rp->len; j = string_indexof_char(rp, '$', j + 1)) {
        if (string_get(rp, j + 1) == '<')
            return TRUE;
    }
    return FALSE;
}

/* GetSubstitution (as js_string___GetSubstitution) for a match given by its capture positions
   (cap[2k], cap[2k+1]; -1 when group k did not participate), without $<name> */
static int uee_substitute(StringBuffer *b, JSString *sp, JSString *rp, const int *cap, int captures_len)
{
    uint32_t len = rp->len;
    int i = 0, j, j0, k, k1, c, c1;

    for (;;) {
        j = string_indexof_char(rp, '$', i);
        if (j < 0 || j + 1 >= len)
            break;
        string_buffer_concat(b, rp, i, j);
        j0 = j++;
        c = string_get(rp, j++);
        if (c == '$') {
            string_buffer_putc8(b, '$');
        } else if (c == '&') {
            string_buffer_concat(b, sp, cap[0], cap[1]);
        } else if (c == '\x60') {
            string_buffer_concat(b, sp, 0, cap[0]);
        } else if (c == '\'') {
            string_buffer_concat(b, sp, cap[1], sp->len);
        } else if (c >= '0' && c <= '9') {
            k = c - '0';
            if (j < len) {
                c1 = string_get(rp, j);
                if (c1 >= '0' && c1 <= '9') {
                    k1 = k * 10 + c1 - '0';
                    if (k1 >= 1 && k1 < captures_len) {
                        k = k1;
                        j++;
                    }
                }
            }
            if (k >= 1 && k < captures_len) {
                if (cap[2 * k] >= 0)
                    string_buffer_concat(b, sp, cap[2 * k], cap[2 * k + 1]);
            } else {
                goto norep;
            }
        } else {
        norep:
            string_buffer_concat(b, rp, j0, j);
        }
        i = j;
    }
    return string_buffer_concat(b, rp, i, rp->len);
}

/* The spec's exec loop of a global match/replace (lastIndex already set to 0) over sp: an empty match
   advances lastIndex by one code unit, or one code point with the u flag; lastIndex ends at 0. Each
   match goes to arr (match: the matched substrings), or is expanded into b with rp (replace with a
   string), or its capture positions are appended to *pcol (replace with a function). Returns the
   number of matches, or -1 with an exception pending. */
static int uee_regexp_loop(JSContext *ctx, JSValueConst rx, JSRegExp *re, JSString *sp, JSValueConst arr,
                           StringBuffer *b, JSString *rp, int **pcol, size_t *pcol_len)
{
    const uint8_t *bc = re->bytecode->u.str8;
    int capture_count = lre_get_capture_count(bc);
    int full_unicode = (lre_get_flags(bc) & LRE_FLAG_UTF16) != 0;
    int shift = sp->is_wide_char, ret, i, n = 0, next_src = 0;
    int64_t last_index = 0;
    uint8_t **capture = alloca(sizeof(capture[0]) * capture_count * 2);
    int *cap = alloca(sizeof(cap[0]) * capture_count * 2);
    size_t col_size = 0;

    for (;;) {
        if (last_index > sp->len)
            break;
        ret = lre_exec(capture, bc, sp->u.str8, (int)last_index, sp->len, shift, ctx);
        if (ret == 0)
            break;
        if (ret != 1) {
            if (ret != -2)
                JS_ThrowInternalError(ctx, "out of memory in regexp execution");
            return -1;
        }
        for (i = 0; i < capture_count; i++) {
            if (capture[2 * i] == NULL || capture[2 * i + 1] == NULL) {
                cap[2 * i] = cap[2 * i + 1] = -1;
            } else {
                cap[2 * i] = (capture[2 * i] - sp->u.str8) >> shift;
                cap[2 * i + 1] = (capture[2 * i + 1] - sp->u.str8) >> shift;
            }
        }
        if (JS_IsObject(arr)) {
            JSValue v = js_sub_string(ctx, sp, cap[0], cap[1]);
            if (JS_IsException(v) ||
                JS_DefinePropertyValueInt64(ctx, arr, n, v, JS_PROP_C_W_E | JS_PROP_THROW) < 0)
                return -1;
        } else if (b) {
            if (cap[0] >= next_src) {
                string_buffer_concat(b, sp, next_src, cap[0]);
                uee_substitute(b, sp, rp, cap, capture_count);
                next_src = cap[1];
            }
        } else {
            size_t need = *pcol_len + 2 * capture_count;
            if (need > col_size) {
                size_t new_size = col_size < 64 ? 64 : col_size * 3 / 2;
                int *col;
                while (new_size < need)
                    new_size = new_size * 3 / 2;
                col = js_realloc(ctx, *pcol, new_size * sizeof(int));
                if (!col)
                    return -1;
                *pcol = col;
                col_size = new_size;
            }
            memcpy(*pcol + *pcol_len, cap, 2 * capture_count * sizeof(int));
            *pcol_len = need;
        }
        n++;
        last_index = cap[1];
        if (cap[1] == cap[0])
            last_index = string_advance_index(sp, last_index, full_unicode);
        /* the matcher polls every 256 steps; a loop of short matches is charged here */
        if (uee_poll_units(ctx, 1))
            return -1;
    }
    if (b && string_buffer_concat(b, sp, next_src, sp->len))
        return -1;
    if (JS_SetProperty(ctx, rx, JS_ATOM_lastIndex, JS_NewInt32(ctx, 0)) < 0)
        return -1;
    return n;
}

/* replace with a function: all matches first (as the spec's loop finds them before the first call),
   then one call per match with (matched, p1…pn, position, S[, groups]) */
static JSValue uee_regexp_replace_fn(JSContext *ctx, JSValueConst rx, JSRegExp *re, JSValueConst str,
                                     JSValueConst rep)
{
    JSString *sp = JS_VALUE_GET_STRING(str);
    const uint8_t *bc = re->bytecode->u.str8;
    int capture_count = lre_get_capture_count(bc);
    const char *group_names = lre_get_groupnames(bc);
    int *col = NULL;
    size_t col_len = 0;
    int n, m, i, nargs, next_src = 0;
    StringBuffer b_s, *b = &b_s;
    JSValue *args, r;

    string_buffer_init(ctx, b, 0);
    args = js_malloc(ctx, sizeof(JSValue) * (capture_count + 3));
    if (!args)
        goto fail;
    n = uee_regexp_loop(ctx, rx, re, sp, JS_UNDEFINED, NULL, NULL, &col, &col_len);
    if (n < 0)
        goto fail;
    for (m = 0; m < n; m++) {
        const int *cap = col + (size_t)m * 2 * capture_count;
        nargs = 0;
        for (i = 0; i < capture_count; i++) {
            r = cap[2 * i] < 0 ? JS_UNDEFINED : js_sub_string(ctx, sp, cap[2 * i], cap[2 * i + 1]);
            if (JS_IsException(r))
                goto fail_args;
            args[nargs++] = r;
        }
        args[nargs++] = JS_NewInt32(ctx, cap[0]);
        args[nargs++] = JS_DupValue(ctx, str);
        if (group_names) {
            const char *gn = group_names;
            r = JS_NewObjectProto(ctx, JS_NULL);
            if (JS_IsException(r))
                goto fail_args;
            args[nargs++] = r;
            for (i = 1; i < capture_count; i++) {
                if (*gn && JS_DefinePropertyValueStr(ctx, r, gn, JS_DupValue(ctx, args[i]),
                                                     JS_PROP_C_W_E | JS_PROP_THROW) < 0)
                    goto fail_args;
                gn += strlen(gn) + 1;
            }
        }
        r = JS_Call(ctx, rep, JS_UNDEFINED, nargs, (JSValueConst *)args);
        for (i = 0; i < nargs; i++)
            JS_FreeValue(ctx, args[i]);
        r = JS_ToStringFree(ctx, r);
        if (JS_IsException(r))
            goto fail;
        if (cap[0] >= next_src) {
            string_buffer_concat(b, sp, next_src, cap[0]);
            if (string_buffer_concat_value_free(b, r))
                goto fail;
            next_src = cap[1];
        } else {
            JS_FreeValue(ctx, r);
        }
    }
    if (string_buffer_concat(b, sp, next_src, sp->len))
        goto fail;
    js_free(ctx, col);
    js_free(ctx, args);
    return string_buffer_end(b);
fail_args:
    for (i = 0; i < nargs; i++)
        JS_FreeValue(ctx, args[i]);
fail:
    js_free(ctx, col);
    js_free(ctx, args);
    string_buffer_free(b);
    return JS_EXCEPTION;
}

`;

/** The regex speed patches to quickjs.c, after the semantic and `UEE_PERF_*` ones. */
export const QUICKJS_REGEX_PATCH: readonly Replacement[] = [
  {
    // UEE_PERF_REGEX_LOOP and UEE_PERF_REGEX_TEST helpers, before their first use
    find: 'static JSValue js_regexp_test(JSContext *ctx, JSValueConst this_val,\n',
    replace: `${LOOP}static JSValue js_regexp_test(JSContext *ctx, JSValueConst this_val,\n`,
  },
  {
    // UEE_PERF_REGEX_TEST: the argument becomes a string first (as the spec orders it), then a plain
    // RegExp skips the result object
    find: `    JSValue val;
    BOOL ret;

    val = JS_RegExpExec(ctx, this_val, argv[0]);
    if (JS_IsException(val))
        return JS_EXCEPTION;
    ret = !JS_IsNull(val);`,
    replace: `    JSValue val;
    BOOL ret;

    if (JS_IsObject(this_val)) {
        JSValue uee_str = JS_ToString(ctx, argv[0]);
        JSRegExp *uee_re;
        if (JS_IsException(uee_str))
            return JS_EXCEPTION;
        uee_re = uee_plain_regexp(ctx, this_val);
        if (uee_re) {
            val = uee_regexp_test(ctx, this_val, uee_re, uee_str);
            JS_FreeValue(ctx, uee_str);
            return val;
        }
        val = JS_RegExpExec(ctx, this_val, uee_str);
        JS_FreeValue(ctx, uee_str);
    } else {
        val = JS_RegExpExec(ctx, this_val, argv[0]);
    }
    if (JS_IsException(val))
        return JS_EXCEPTION;
    ret = !JS_IsNull(val);`,
  },
  {
    // UEE_PERF_REGEX_LOOP: [Symbol.match] of a global plain RegExp
    find: `        if (JS_SetProperty(ctx, rx, JS_ATOM_lastIndex, JS_NewInt32(ctx, 0)) < 0)
            goto exception;
        A = JS_NewArray(ctx);
        if (JS_IsException(A))
            goto exception;
        n = 0;
        for(;;) {`,
    replace: `        if (JS_SetProperty(ctx, rx, JS_ATOM_lastIndex, JS_NewInt32(ctx, 0)) < 0)
            goto exception;
        A = JS_NewArray(ctx);
        if (JS_IsException(A))
            goto exception;
        n = 0;
        {
            JSRegExp *uee_re = uee_plain_global_regexp(ctx, rx, fullUnicode);
            if (uee_re) {
                n = uee_regexp_loop(ctx, rx, uee_re, JS_VALUE_GET_STRING(S), A, NULL, NULL, NULL, NULL);
                if (n < 0)
                    goto exception;
                if (n == 0) {
                    JS_FreeValue(ctx, A);
                    A = JS_NULL;
                }
                goto uee_match_done;
            }
        }
        for(;;) {`,
  },
  {
    find: `        if (n == 0) {
            JS_FreeValue(ctx, A);
            A = JS_NULL;
        }
    }
    JS_FreeValue(ctx, result);
    JS_FreeValue(ctx, S);
    return A;
`,
    replace: `        if (n == 0) {
            JS_FreeValue(ctx, A);
            A = JS_NULL;
        }
    }
 uee_match_done:
    JS_FreeValue(ctx, result);
    JS_FreeValue(ctx, S);
    return A;
`,
  },
  {
    // UEE_PERF_REGEX_LOOP: [Symbol.replace] of a global plain RegExp
    find: `        res = JS_RegExpDelete(ctx, rx, str);
        goto done;
    }
`,
    replace: `        res = JS_RegExpDelete(ctx, rx, str);
        goto done;
    }
    if (is_global) {
        JSRegExp *uee_re = uee_plain_global_regexp(ctx, rx, fullUnicode);
        if (uee_re && functionalReplace) {
            res = uee_regexp_replace_fn(ctx, rx, uee_re, str, rep);
            goto done;
        }
        if (uee_re && !uee_replacement_names_groups(uee_re, rp)) {
            if (uee_regexp_loop(ctx, rx, uee_re, sp, JS_UNDEFINED, b, rp, NULL, NULL) < 0)
                goto exception;
            res = string_buffer_end(b);
            goto done1;
        }
    }
`,
  },
];

/** Applies {@link LIBREGEXP_REGEX_PATCH} to libregexp.c already patched by the semantic and perf patches. */
export function patchLibregexpRegex(source: string): string {
  return applyPatch(source, LIBREGEXP_REGEX_PATCH);
}

/** Applies {@link QUICKJS_REGEX_PATCH} to quickjs.c already patched by the semantic and perf patches. */
export function patchQuickjsRegex(source: string): string {
  return applyPatch(source, QUICKJS_REGEX_PATCH);
}
