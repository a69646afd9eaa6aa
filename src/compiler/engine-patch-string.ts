/**
 * String-building patches to QuickJS 2021-03-27, applied after the regex patches
 * (`engine-patch-regex.ts`). test/compiler/js-string-concat.test.ts holds the cases (aliasing,
 * closures, properties, 16-bit strings, the heap limit, `valueOf` that assigns the variable, the TDZ).
 *
 * - UEE_PERF_LOC_CHECK: a `let` local is read and written through the TDZ-checked forms
 *   (`get_loc_check`, `put_loc_check`), so `s += 'x'` and `i++` on it missed upstream's `add_loc`,
 *   `inc_loc` and `dec_loc` rewrites: `s += x` went through the generic add (js_add_slow, and
 *   uee_release_target to find the variable that the next instruction overwrites) and `i++` took four
 *   dispatches. Three new opcodes (appended to quickjs-opcode.h, {@link QUICKJS_OPCODE_PATCH}) are
 *   `add_loc`, `inc_loc` and `dec_loc` that first throw the ReferenceError `get_loc_check` would:
 *   `get_loc_check(n) x add dup put_loc_check(n) drop` becomes `x add_loc_check(n)` and
 *   `get_loc_check(n) post_inc put_loc_check(n) drop` (or `inc dup`, and the `dec` forms) becomes
 *   `inc_loc_check(n)`. The check moves after `x`, which is a constant (an atom string or an int), so
 *   nothing observable runs in between; upstream's other `add_loc` forms (a local, an argument or a
 *   closure variable on the right) would read the variable after the right side's `valueOf`, which
 *   may assign it. `put_loc_check`'s check could never fire after `get_loc_check`'s: nothing turns an
 *   initialized variable uninitialized again.
 * - UEE_ADD_LOC_ORDER: `s += x` reads `s` before `x` becomes a primitive, so a `valueOf`/`toString`
 *   of `x` that assigns `s` changes neither the sum nor the result stored (`s` is `'ab'`, `o`'s
 *   `valueOf` sets `s = 'zz'` and returns `'o'`: `s += o` leaves `'abo'`, as on Node). Upstream's
 *   `add_loc` (the `var`-local form of `s += x`, with `x` a local, an argument or a closure variable)
 *   converted `x` first and appended it to the variable's value of that moment; an object on the
 *   right now takes the generic add, which reads the variable first.
 * - UEE_PERF_APPEND: `add_loc` of two 8-bit strings, the variable's string unshared and with room
 *   left (the slack JS_ConcatString's growth leaves), appends the bytes where they are, without
 *   JS_ToPrimitiveFree and JS_ConcatString, calls that did the same after their own checks. The
 *   growth records the capacity in the string's `hash_next` (only atoms use it; becoming an atom
 *   overwrites it), so the check for room is a field, not a call to `malloc_usable_size` through the
 *   allocator's function pointer; the bytes are copied with 4- and 8-byte moves (`memory.copy`, which
 *   V8 runs as a call, only past 16 bytes).
 * - UEE_PERF_APPEND_ATOM: `s += 'constant'` on a local (`push_atom_value` + `add_loc`) is one opcode,
 *   `append_atom_loc`, that appends the atom's bytes in place without making a value of the constant;
 *   whenever the fast path does not apply (a left side that is not an unshared 8-bit string with
 *   room, a 16-bit or numeric constant) it pushes the constant and runs `add_loc`.
 * - UEE_PERF_APPEND_STR: `append_atom_loc` of an 8-bit constant of at most 16 characters carries the
 *   constant's bytes in the instruction (`append_str_loc`: length, 16 bytes, the local's index): the
 *   fast path no longer loads the runtime, its atom table and the atom's string one after the other
 *   before the copy (a `perf` profile of the string build put 12% of the interpreter's samples on the
 *   load at the end of that chain). The instruction holds no atom, so the peephole frees it.
 * - UEE_PERF_STEP_PEEK: the handlers that end a statement (`put_loc`, `drop`, the in-place appends)
 *   take the loop step that follows (`inc_loc` / `dec_loc` of an int, its back jump and loop test) in
 *   the same dispatch ({@link STEP_PEEK_MACRO}).
 * - UEE_PERF_CMP_I32: `x < k` (and `<=`, `>`, `>=`) with an int constant `k` is one opcode that
 *   compares an int at once and takes the `if_false` after it, as UEE_PERF_CMP_BRANCH does for two
 *   values; anything else goes through `js_relational_slow` exactly as `push_i32` + the comparison did.
 * - UEE_PERF_INC_GOTO: `inc_loc` / `dec_loc` of an int followed by a `goto` (a `for` loop's `i++` and
 *   its back jump) take the jump in the same dispatch, still polling for interrupts.
 *
 * - UEE_PERF_LOOP_TEST: that back jump, landing on the loop's test of the same counter against an
 *   int constant, takes the test too ({@link LOOP_TEST}): a counted loop is one dispatch per step
 *   besides its body, not three.
 * - UEE_PERF_INC_REG: `inc_loc` / `dec_loc`'s slow path (a counter that is not an int) passes a copy
 *   of the value by address, so the fast path's value is not kept on the shadow stack.
 * - UEE_PERF_FOR_STEP: `i++` and the back jump to the loop's test `i < k` (an int constant) are one
 *   instruction, `for_inc_lt`, made by `resolve_labels` ({@link FOR_STEP_EMIT}): the step no longer
 *   decodes at every turn which step, jump, read and comparison follow.
 *
 * Measured with `scripts/js-engines.ts` (the engine before these and UEE_PERF_SWITCH against
 * after, same run, 15 rounds): building a 1 MB string with `+=` 2.08 → 1.13 ms, the 1e6-step
 * arithmetic loop 24.1 → 21.5 ms, sort, JSON and regex unchanged. Fusing `get_loc` into the
 * comparison as well (one opcode for `i < k`) measured no faster: the dispatch is not what is left.
 * UEE_PERF_LOOP_TEST and UEE_PERF_INC_REG (2026-12-04, 15 rounds, a slower machine): string 1.74 →
 * 1.20 ms, arithmetic 35.7 → 32.7 ms, the rest within ±4%. What a dispatch costs is V8's code for
 * the interpreter loop: `pc` and `sp` live in stack slots, stored by each handler and loaded again
 * with the next opcode (`node --print-wasm-code`), ~2.5 ns per instruction on this machine.
 * UEE_PERF_STEP_PEEK and UEE_PERF_APPEND_STR (2026-12-04, `scripts/js-engines.ts`, 15–25 rounds):
 * string building 0.83–0.90 → 0.63–0.70 ms; a loop whose body ends in an assignment 0.88–0.92×; the
 * rest within ±3%. UEE_PERF_FOR_STEP (2026-12-04 23:30, `scripts/js-engines.ts --rounds 15`, the
 * engine before against after): string building 0.790 → 0.659 ms (0.83×), the arithmetic loop
 * 23.5 → 20.7 ms (0.88×), sort, JSON and regex within ±6%; a battery of loop shapes (scratch, same
 * run): an empty counted loop 0.80×, a body ending in an assignment 0.71×, `while (i < k) … i++`
 * 0.73×, `var` counters 0.72×, a counting-down loop (not fused) 0.98×, `i < arr.length` 0.94×.
 */
import type { Replacement } from './engine-patch.js';
import { applyPatch } from './engine-patch.js';

/** The opcodes UEE_PERF_LOC_CHECK adds, after the last one (246 of 256 were in use). */
export const QUICKJS_OPCODE_PATCH: readonly Replacement[] = [
  {
    find: `DEF( typeof_is_function, 1, 1, 1, none)
#endif
`,
    replace: `DEF( typeof_is_function, 1, 1, 1, none)
#endif

/* UEE_PERF_LOC_CHECK (engine-patch-string.ts): add_loc, inc_loc, dec_loc with get_loc_check's TDZ check */
DEF(  add_loc_check, 2, 1, 0, loc8)
DEF(  inc_loc_check, 2, 0, 0, loc8)
DEF(  dec_loc_check, 2, 0, 0, loc8)
/* UEE_PERF_APPEND_ATOM (engine-patch-string.ts): push_atom_value(a) add_loc(n) in one; the local's index last */
DEF(append_atom_loc, 6, 0, 0, atom_u8)
/* UEE_PERF_CMP_I32 (engine-patch-string.ts): push_i32(k) lt, lte, gt, gte in one (in the order of lt..gte) */
DEF(         lt_i32, 5, 1, 1, i32)
DEF(        lte_i32, 5, 1, 1, i32)
DEF(         gt_i32, 5, 1, 1, i32)
DEF(        gte_i32, 5, 1, 1, i32)
/* UEE_PERF_APPEND_STR (engine-patch-string.ts): append_atom_loc of a short 8-bit constant carried in the
   instruction: its length, its bytes (zero-padded to 16) and the local's index last */
DEF( append_str_loc, 19, 0, 0, none)
/* UEE_PERF_FOR_STEP (engine-patch-string.ts): inc_loc(n) and the back jump to the loop's test
   \`get_loc(n) lt_i32(k) if_false(exit)\` at L: n, k, the if_false's place in the test, L (relative) */
DEF(    for_inc_lt, 11, 0, 0, none)
`,
  },
];

const APPEND = `
/* UEE_PERF_APPEND: copies n bytes without memory.copy, which V8 runs as a call (most appends are a
   few bytes); every access stays inside [d, d + n) and [src, src + n) */
static inline __attribute__((always_inline)) void uee_copy8(uint8_t *d, const uint8_t *src, uint32_t n)
{
    uint64_t a, b;
    uint32_t c, e;
    if (n >= 8) {
        if (n > 16) {
            memcpy(d, src, n);
            return;
        }
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        memcpy(&c, src, 4);
        memcpy(&e, src + n - 4, 4);
        memcpy(d, &c, 4);
        memcpy(d + n - 4, &e, 4);
    } else if (n > 0) {
        d[0] = src[0];
        d[n >> 1] = src[n >> 1];
        d[n - 1] = src[n - 1];
    }
}
/* UEE_PERF_APPEND: appends the 8-bit p2 to the unshared 8-bit p1 when p1's allocation has room;
   FALSE (nothing changed) when the generic concatenation must run. */
static inline BOOL uee_append_in_place(JSContext *ctx, JSString *p1, JSString *p2)
{
    uint32_t len = p1->len, n = p2->len;
    if (p1->header.ref_count != 1 || p1->atom_type || p1->is_wide_char || p2->is_wide_char ||
        len + n > JS_STRING_LEN_MAX ||
        (len + n > p1->hash_next && js_malloc_usable_size(ctx, p1) < sizeof(JSString) + len + n + 1))
        return FALSE;
    p1->len = len + n; /* before the copy: no reload of the header word */
    uee_copy8(p1->u.str8 + len, p2->u.str8, n);
    p1->u.str8[len + n] = '\\0';
    return TRUE;
}
`;

/** The peephole that emits {@link QUICKJS_OPCODE_PATCH}'s append_atom_loc. */
const APPEND_ATOM_PEEPHOLE: Replacement = {
  find: `                    {
                        dbuf_putc(&bc_out, OP_push_atom_value);
                        dbuf_put_u32(&bc_out, cc.atom);
                    }
                    dbuf_putc(&bc_out, OP_add_loc);
                    dbuf_putc(&bc_out, idx);
                    pos_next = cc.pos;
                    break;`,
  replace: `                    {
                        /* UEE_PERF_APPEND_STR: push_atom_value(x) add_loc(n) -> append_str_loc(len, bytes, n)
                           when x is an 8-bit string of at most 16 characters; the instruction holds no atom */
                        JSString *uee_str = __JS_AtomIsTaggedInt(cc.atom) ? NULL : ctx->rt->atom_array[cc.atom];
                        if (uee_str && !uee_str->is_wide_char && uee_str->len <= 16) {
                            uint8_t uee_bytes[16];
                            memset(uee_bytes, 0, sizeof(uee_bytes));
                            memcpy(uee_bytes, uee_str->u.str8, uee_str->len);
                            dbuf_putc(&bc_out, OP_append_str_loc);
                            dbuf_putc(&bc_out, uee_str->len);
                            dbuf_put(&bc_out, uee_bytes, sizeof(uee_bytes));
                            dbuf_putc(&bc_out, idx);
                            JS_FreeAtom(ctx, cc.atom);
                            pos_next = cc.pos;
                            break;
                        }
                        /* UEE_PERF_APPEND_ATOM: push_atom_value(x) add_loc(n) -> append_atom_loc(x, n) */
                        dbuf_putc(&bc_out, OP_append_atom_loc);
                        dbuf_put_u32(&bc_out, cc.atom);
                        dbuf_putc(&bc_out, idx);
                        pos_next = cc.pos;
                        break;
                    }
                    dbuf_putc(&bc_out, OP_add_loc);
                    dbuf_putc(&bc_out, idx);
                    pos_next = cc.pos;
                    break;`,
};

/**
 * UEE_PERF_LOOP_TEST: where a loop's back jump lands on the test of the counter just stepped against
 * an int constant (`get_loc(n)` or `get_loc_check(n)`, one of UEE_PERF_CMP_I32's opcodes, `if_false`:
 * what `i < k` compiles to), the test is taken with the jump — the counter is an int (the step just made it one) and reading
 * it runs no code — so the loop's next dispatch is its body's first instruction. Any other target
 * runs as it did. Returns where to go on: past the `if_false`, at its target, or `pc` unchanged.
 */
const LOOP_TEST = `
/* UEE_PERF_LOOP_TEST (engine-patch-string.ts): the back jump of a counted loop takes the loop's test */
static inline __attribute__((always_inline)) const uint8_t *uee_loop_test(const uint8_t *pc, int idx, int32_t v)
{
    const uint8_t *t = pc;
    int op = *t, li;
    int32_t k;
    BOOL res;
    if (op >= OP_get_loc0 && op <= OP_get_loc3) {
        li = op - OP_get_loc0;
        t += 1;
    } else if (op == OP_get_loc8) {
        li = t[1];
        t += 2;
    } else if (op == OP_get_loc || op == OP_get_loc_check) {
        /* get_loc_check's TDZ check cannot fire: the step just stored an int in the variable */
        li = get_u16(t + 1);
        t += 3;
    } else {
        return pc;
    }
    op = *t;
    if (li != idx || op < OP_lt_i32 || op > OP_gte_i32 || (t[5] != OP_if_false8 && t[5] != OP_if_false))
        return pc;
    k = get_u32(t + 1);
    res = op == OP_lt_i32 ? v < k : op == OP_lte_i32 ? v <= k : op == OP_gt_i32 ? v > k : v >= k;
    t += 5;
    if (*t == OP_if_false8)
        return res ? t + 2 : t + 1 + (int8_t)t[1];
    return res ? t + 5 : t + 1 + (int32_t)get_u32(t + 1);
}

/* UEE_PERF_FOR_STEP: where a for_inc_lt goes on: past the test at l when the counter passed it (the
   if_false at l + head taken as not jumping), else to the test itself, which takes the loop's exit */
static inline __attribute__((always_inline)) const uint8_t *uee_for_next(const uint8_t *l, int head, BOOL res)
{
    const uint8_t *t = l + head;
    if (!res)
        return l;
    return t + (*t == OP_if_false8 ? 2 : 5);
}
`;

/**
 * C that moves `pc` to where the goto at `pc` lands, or runs `otherwise` when `pc` is not a goto;
 * each line indented by `indent`. Written into both places that take a loop's back jump as text, not
 * as one C helper: a shared inline helper made V8's code for the whole interpreter slower (an empty
 * loop 1.29×), so the C stays what each place had.
 */
const TAKE_GOTO = (indent: string, otherwise: string): string =>
  [
    'if (*pc == OP_goto8)',
    '    pc += 1 + (int8_t)pc[1];',
    'else if (*pc == OP_goto16)',
    '    pc += 1 + (int16_t)get_u16(pc + 1);',
    'else if (*pc == OP_goto)',
    '    pc += 1 + (int32_t)get_u32(pc + 1);',
    'else',
    `    ${otherwise}`,
  ]
    .map((line) => `${indent}${line}\n`)
    .join('');

/** A loop's back jump right after its counter's `inc_loc` / `dec_loc`, taken without its own dispatch. */
const LOOP_BACK = (value: string): string => `
                    /* UEE_PERF_INC_GOTO: the goto after i++ / i-- (a for loop's back jump) taken here */
${TAKE_GOTO('                    ', 'BREAK;')}                    pc = uee_loop_test(pc, idx, ${value}); /* UEE_PERF_LOOP_TEST */
                    if (unlikely(js_poll_interrupts(ctx)))
                        goto exception;`;

/**
 * One of UEE_PERF_CMP_I32's opcodes: an int compared with the constant, and the if_false after it
 * taken at once, as OP_CMP does; anything else goes through js_relational_slow as push_i32 and the
 * comparison would. One opcode per comparison: one for all four with the kind in the operand was
 * 3–5% slower on a loop (the switch on the kind).
 */
const CMP_I32 = (op: string, c: string): string => `
        CASE(OP_${op}_i32):
            {
                int32_t uee_k = get_u32(pc);
                int uee_res;
                pc += 4;
                if (unlikely(JS_VALUE_GET_TAG(sp[-1]) != JS_TAG_INT)) {
                    *sp++ = JS_NewInt32(ctx, uee_k);
                    if (js_relational_slow(ctx, sp, OP_${op}))
                        goto exception;
                    sp--;
                    BREAK;
                }
                uee_res = JS_VALUE_GET_INT(sp[-1]) ${c} uee_k;
                if (*pc == OP_if_false8 || *pc == OP_if_false) {
                    sp--;
                    if (uee_res)
                        pc += *pc == OP_if_false8 ? 2 : 5;
                    else
                        pc += 1 + (*pc == OP_if_false8 ? (int8_t)pc[1] : (int32_t)get_u32(pc + 1));
                    if (unlikely(js_poll_interrupts(ctx)))
                        goto exception;
                    BREAK;
                }
                sp[-1] = JS_NewBool(ctx, uee_res);
            }
            BREAK;`;

/**
 * UEE_PERF_STEP_PEEK: an instruction that ends a loop's body takes the loop's step too when the next
 * instruction is `inc_loc` / `dec_loc` (checked or not) of an int that stays an int: the step, its back
 * jump, the loop's test ({@link LOOP_TEST}) and the interrupt poll run as that instruction's handler
 * would run them, without a dispatch of their own. Anything else (a counter that is not an int or is
 * uninitialized, an overflow) is left to the step's own handler. The step's fast path is repeated
 * here rather than jumped into: a jump into its handler from other handlers made V8's code for the
 * whole interpreter loop slower (an empty counted loop 1.3–1.5× slower, `.scratch` runs). The back
 * jump is decoded by the same C text as in {@link LOOP_BACK} ({@link TAKE_GOTO}).
 */
const STEP_PEEK_MACRO = `
/* UEE_PERF_STEP_PEEK (engine-patch-string.ts): the next instruction when it is a loop's step of an
   int counter, taken here; NULL when it is not, or when its own handler must take it */
static inline __attribute__((always_inline)) const uint8_t *uee_step_peek(JSContext *ctx, const uint8_t *pc, JSValue *var_buf, BOOL *jumped)
{
    int op = *pc, idx, val, step;
    if (op == OP_for_inc_lt) {
        /* UEE_PERF_FOR_STEP: the loop's step, back jump and test in one instruction */
        idx = pc[1];
        if (JS_VALUE_GET_TAG(var_buf[idx]) != JS_TAG_INT || JS_VALUE_GET_INT(var_buf[idx]) == INT32_MAX)
            return NULL;
        val = JS_VALUE_GET_INT(var_buf[idx]) + 1;
        var_buf[idx] = JS_NewInt32(ctx, val);
        *jumped = TRUE;
        return uee_for_next(pc + 7 + (int32_t)get_u32(pc + 7), pc[6], val < (int32_t)get_u32(pc + 2));
    }
    if (op == OP_inc_loc || op == OP_inc_loc_check)
        step = 1;
    else if (op == OP_dec_loc || op == OP_dec_loc_check)
        step = -1;
    else
        return NULL;
    idx = pc[1];
    if (JS_VALUE_GET_TAG(var_buf[idx]) != JS_TAG_INT)
        return NULL;
    val = JS_VALUE_GET_INT(var_buf[idx]);
    if (val == (step > 0 ? INT32_MAX : INT32_MIN))
        return NULL;
    val += step;
    var_buf[idx] = JS_NewInt32(ctx, val);
    pc += 2;
${TAKE_GOTO('    ', 'return pc;')}    *jumped = TRUE;
    return uee_loop_test(pc, idx, val);
}
#define UEE_STEP_PEEK {                                                  \\
        BOOL uee_jumped = FALSE;                                         \\
        const uint8_t *uee_next = uee_step_peek(ctx, pc, var_buf, &uee_jumped); \\
        if (uee_next) {                                                  \\
            pc = uee_next;                                               \\
            if (uee_jumped && unlikely(js_poll_interrupts(ctx)))         \\
                goto exception;                                          \\
        }                                                                \\
        BREAK;                                                           \\
    }
`;

/** `body` then `BREAK;` (a handler's end in upstream's C) becomes `body` then {@link STEP_PEEK_MACRO}'s `UEE_STEP_PEEK`. */
const peekAfter = (body: string, breakLine = 'BREAK;\n'): Replacement => ({ find: body + breakLine, replace: body + breakLine.replace('BREAK;', 'UEE_STEP_PEEK') });

/** The statement-ending handlers that take {@link STEP_PEEK_MACRO} instead of `BREAK`. */
const STEP_PEEK_HANDLERS: readonly Replacement[] = [
  ...['0', '1', '2', '3'].map((n) => peekAfter(`        CASE(OP_put_loc${n}): set_value(ctx, &var_buf[${n}], *--sp); `)),
  peekAfter('        CASE(OP_put_loc8): set_value(ctx, &var_buf[*pc++], *--sp); '),
  peekAfter(
    `        CASE(OP_put_loc):
            {
                int idx;
                idx = get_u16(pc);
                pc += 2;
                set_value(ctx, &var_buf[idx], sp[-1]);
                sp--;
            }
`,
    '            BREAK;\n',
  ),
  // put_loc_check's end (after its TDZ check)
  peekAfter(
    `                    JS_ThrowReferenceErrorUninitialized2(ctx, b, idx, FALSE);
                    goto exception;
                }
                set_value(ctx, &var_buf[idx], sp[-1]);
                sp--;
            }
`,
    '            BREAK;\n',
  ),
  peekAfter(
    `        CASE(OP_drop):
            JS_FreeValue(ctx, sp[-1]);
            sp--;
`,
    '            BREAK;\n',
  ),
];

/**
 * The fast path's end in `append_atom_loc` and `append_str_loc`: `uee_n` bytes from `src` appended to
 * the unshared 8-bit `uee_p1` where its room is, then the loop step that may follow.
 */
const APPEND_HERE = (src: string): string => `                        uee_p1->len = uee_len + uee_n; /* before the copy: no reload of the header word */
                        uee_copy8(uee_p1->u.str8 + uee_len, ${src}, uee_n);
                        uee_p1->u.str8[uee_len + uee_n] = '\\0';
                        UEE_STEP_PEEK`;

/**
 * UEE_PERF_INC_REG: a counter that is not an int stepped by the generic `inc` / `dec` (\`op\`), on a
 * copy whose address is taken, so the fast path's value stays out of memory; the text of `inc_loc` /
 * `dec_loc`'s slow path and of `for_inc_lt`'s.
 */
const INC_SLOW = (op: 'inc' | 'dec'): string => `                    {
                        JSValue uee_arg[1]; /* UEE_PERF_INC_REG */
                        uee_arg[0] = JS_DupValue(ctx, op1);
                        if (js_unary_arith_slow(ctx, uee_arg + 1, OP_${op}))
                            goto exception;
                        set_value(ctx, &var_buf[idx], uee_arg[0]);
                    }
`;

/** TDZ check of the local an `*_loc_check` opcode names, as `get_loc_check` throws it. */
const LOC_CHECK = (opcode: string, value: string): string => `
                if (opcode == ${opcode} && unlikely(JS_IsUninitialized(${value}))) {
                    JS_ThrowReferenceErrorUninitialized2(ctx, b, idx, FALSE);
                    goto exception;
                }`;

/**
 * UEE_PERF_FOR_STEP: `resolve_labels` fuses a `for` loop's step `i++` (`inc_loc` / `inc_loc_check`)
 * with its back jump when the jump lands on the loop's test of the same local against an int constant
 * (`get_loc(n) lt_i32(k) if_false(exit)`, what `i < k` compiles to): `for_inc_lt(n, k, head, L)`
 * increments an int counter and, while it stays below `k`, goes straight to the loop's body after the
 * test at L, else to the test itself (which takes the exit). The step's own decoding — which step,
 * which goto, which read of the counter, which comparison — was most of what a one-instruction loop
 * body cost per step (`perf annotate` of the string build: ~40% of its samples). Only where the jump
 * is a back jump to code already emitted and no label was placed between the step and the jump (a
 * guard: no JavaScript tried leaves one that is jumped to — `if (c) i++;` at a body's end has its
 * `if_false` threaded straight to the loop's test — so JS-FAST-1 cannot break it). Anything else — a counter that is not an int, at INT32_MAX, or uninitialized — runs
 * as `inc_loc` would and then the test at L. The offset to L is a jump slot, so the short-jump pass
 * that moves code afterwards keeps it right; `compute_stack_size` follows it as a goto. Its fast path
 * stands twice, in its handler and in `uee_step_peek`, for the reason {@link STEP_PEEK_MACRO} gives
 * (a jump into a handler, or one shared helper, moved V8's code for the whole interpreter).
 */
const FOR_STEP_EMIT = `
            /* UEE_PERF_FOR_STEP: inc_loc(n) goto(L), L: get_loc(n) lt_i32(k) if_false -> for_inc_lt(n, k, head, L) */
#if SHORT_OPCODES
            if (OPTIMIZE && op == OP_goto && ls->addr != -1 && uee_inc_at >= 0 && uee_inc_at == bc_out.size - 2 &&
                uee_label_at != bc_out.size &&
                (bc_out.buf[uee_inc_at] == OP_inc_loc || bc_out.buf[uee_inc_at] == OP_inc_loc_check)) {
                const uint8_t *uee_t = bc_out.buf + ls->addr;
                int uee_idx = bc_out.buf[uee_inc_at + 1], uee_li = -1, uee_g = 0;
                if (*uee_t >= OP_get_loc0 && *uee_t <= OP_get_loc3) {
                    uee_li = *uee_t - OP_get_loc0;
                    uee_g = 1;
                } else if (*uee_t == OP_get_loc8) {
                    uee_li = uee_t[1];
                    uee_g = 2;
                } else if (*uee_t == OP_get_loc || *uee_t == OP_get_loc_check) {
                    uee_li = get_u16(uee_t + 1);
                    uee_g = 3;
                }
                if (uee_li == uee_idx && uee_t[uee_g] == OP_lt_i32 &&
                    (uee_t[uee_g + 5] == OP_if_false8 || uee_t[uee_g + 5] == OP_if_false)) {
                    uint32_t uee_k = get_u32(uee_t + uee_g + 1);
                    bc_out.size = uee_inc_at;
                    dbuf_putc(&bc_out, OP_for_inc_lt);
                    dbuf_putc(&bc_out, uee_idx);
                    dbuf_put_u32(&bc_out, uee_k);
                    dbuf_putc(&bc_out, uee_g + 5);
                    jp = &s->jump_slots[s->jump_count++];
                    jp->op = OP_for_inc_lt;
                    jp->size = 4;
                    jp->pos = bc_out.size;
                    jp->label = label;
                    dbuf_put_u32(&bc_out, ls->addr - bc_out.size);
                    uee_inc_at = -1;
                    break;
                }
            }
#endif
`;

/** The for_inc_lt instruction's handler (see {@link FOR_STEP_EMIT}); `pc` is past the opcode. */
const FOR_STEP_HANDLER = `        CASE(OP_for_inc_lt):
            {
                /* UEE_PERF_FOR_STEP (engine-patch-string.ts): i++, the back jump and the test i < k */
                int idx = pc[0];
                JSValue op1 = var_buf[idx];
                const uint8_t *uee_l = pc + 6 + (int32_t)get_u32(pc + 6);
                if (likely(JS_VALUE_GET_TAG(op1) == JS_TAG_INT && JS_VALUE_GET_INT(op1) != INT32_MAX)) {
                    int32_t uee_v = JS_VALUE_GET_INT(op1) + 1;
                    var_buf[idx] = JS_NewInt32(ctx, uee_v);
                    pc = uee_for_next(uee_l, pc[5], uee_v < (int32_t)get_u32(pc + 1));
                } else {
                    /* as inc_loc_check does (an inc_loc's local is never uninitialized), then the test */
                    if (unlikely(JS_IsUninitialized(op1))) {
                        JS_ThrowReferenceErrorUninitialized2(ctx, b, idx, FALSE);
                        goto exception;
                    }
${INC_SLOW('inc')}                    pc = uee_l;
                }
                if (unlikely(js_poll_interrupts(ctx)))
                    goto exception;
            }
            BREAK;
`;

/** UEE_PERF_FOR_STEP's replacements (after the others: the handler goes before the one `inc_loc`'s replacement made). */
const FOR_STEP_PATCH: readonly Replacement[] = [
  {
    find: `    CodeContext cc;
    int label;
#if SHORT_OPCODES
    JumpSlot *jp;
#endif
`,
    replace: `    CodeContext cc;
    int label;
#if SHORT_OPCODES
    JumpSlot *jp;
#endif
    /* UEE_PERF_FOR_STEP: where the last inc_loc was emitted, and the last label placed */
    int uee_inc_at = -1, uee_label_at = -1;
`,
  },
  {
    find: '                ls->addr = bc_out.size;\n                /* resolve the relocation entries */\n',
    replace: '                ls->addr = bc_out.size;\n                uee_label_at = bc_out.size; /* UEE_PERF_FOR_STEP */\n                /* resolve the relocation entries */\n',
  },
  {
    find: '                    dbuf_putc(&bc_out, (cc.op == OP_inc || cc.op == OP_post_inc) ? OP_inc_loc : OP_dec_loc);\n',
    replace: '                    uee_inc_at = bc_out.size; /* UEE_PERF_FOR_STEP */\n                    dbuf_putc(&bc_out, (cc.op == OP_inc || cc.op == OP_post_inc) ? OP_inc_loc : OP_dec_loc);\n',
  },
  {
    find: `            assert(label >= 0 && label < s->label_count);
            ls = &label_slots[label];
#if SHORT_OPCODES
            jp = &s->jump_slots[s->jump_count++];`,
    replace: `            assert(label >= 0 && label < s->label_count);
            ls = &label_slots[label];${FOR_STEP_EMIT}#if SHORT_OPCODES
            jp = &s->jump_slots[s->jump_count++];`,
  },
  {
    find: `        case OP_goto:
            diff = get_u32(bc_buf + pos + 1);
            pos_next = pos + 1 + diff;
            break;
#if SHORT_OPCODES
        case OP_goto16:`,
    replace: `        case OP_goto:
            diff = get_u32(bc_buf + pos + 1);
            pos_next = pos + 1 + diff;
            break;
        case OP_for_inc_lt:
            /* UEE_PERF_FOR_STEP: a goto to the loop's test (the body after it is reached from there) */
            diff = get_u32(bc_buf + pos + 7);
            pos_next = pos + 7 + diff;
            break;
#if SHORT_OPCODES
        case OP_goto16:`,
  },
  {
    find: '        CASE(OP_inc_loc_check):\n        CASE(OP_inc_loc):\n',
    replace: `${FOR_STEP_HANDLER}        CASE(OP_inc_loc_check):\n        CASE(OP_inc_loc):\n`,
  },
];

/** The replacements, in order; each `find` must occur exactly once. */
export const QUICKJS_STRING_PATCH: readonly Replacement[] = [
  APPEND_ATOM_PEEPHOLE,
  ...STEP_PEEK_HANDLERS,
  {
    find: `                /* Optimize constant tests: \`if (0)\`, \`if (1)\`, \`if (!0)\`... */
                if (code_match(&cc, pos_next, M2(OP_if_false, OP_if_true), -1)) {
                    val = (val != 0);
                    goto has_constant_test;
                }
                add_pc2line_info(s, bc_out.size, line_num);
                push_short_int(&bc_out, val);`,
    replace: `                /* Optimize constant tests: \`if (0)\`, \`if (1)\`, \`if (!0)\`... */
                if (code_match(&cc, pos_next, M2(OP_if_false, OP_if_true), -1)) {
                    val = (val != 0);
                    goto has_constant_test;
                }
                /* UEE_PERF_CMP_I32: push_i32(k) lt -> lt_i32(k), and lte, gt, gte alike */
                if (code_match(&cc, pos_next, M4(OP_lt, OP_lte, OP_gt, OP_gte), -1)) {
                    if (cc.line_num >= 0) line_num = cc.line_num;
                    add_pc2line_info(s, bc_out.size, line_num);
                    dbuf_putc(&bc_out, OP_lt_i32 + (cc.op - OP_lt));
                    dbuf_put_u32(&bc_out, val);
                    pos_next = cc.pos;
                    break;
                }
                add_pc2line_info(s, bc_out.size, line_num);
                push_short_int(&bc_out, val);`,
  },
  {
    find: '            OP_CMP(OP_gte, >=, js_relational_slow(ctx, sp, opcode));\n',
    replace: `            OP_CMP(OP_gte, >=, js_relational_slow(ctx, sp, opcode));\n${CMP_I32('lt', '<')}${CMP_I32('lte', '<=')}${CMP_I32('gt', '>')}${CMP_I32('gte', '>=')}\n`,
  },
  {
    find: '                    var_buf[idx] = JS_NewInt32(ctx, val + 1);\n',
    replace: `                    var_buf[idx] = JS_NewInt32(ctx, val + 1);${LOOP_BACK('val + 1')}\n`,
  },
  {
    find: '                    var_buf[idx] = JS_NewInt32(ctx, val - 1);\n',
    replace: `                    var_buf[idx] = JS_NewInt32(ctx, val - 1);${LOOP_BACK('val - 1')}\n`,
  },
  {
    find: 'static JSValue JS_ConcatString(JSContext *ctx, JSValue op1, JSValue op2)\n{',
    replace: `${APPEND}${LOOP_TEST}${STEP_PEEK_MACRO}\nstatic JSValue JS_ConcatString(JSContext *ctx, JSValue op1, JSValue op2)\n{`,
  },
  {
    find: `        CASE(OP_add_loc):
            {
                JSValue *pv;
                int idx;
                idx = *pc;
                pc += 1;

                pv = &var_buf[idx];
`,
    replace: `        CASE(OP_append_atom_loc):
            {
                /* UEE_PERF_APPEND_ATOM: the local holds an unshared 8-bit string with room for the
                   8-bit constant (the capacity JS_ConcatString's slack growth records in hash_next,
                   unused by a string that is not an atom): append it there; else push the constant
                   and run add_loc, which finds the local's index as the instruction's last byte */
                JSValue *uee_pv = &var_buf[pc[4]];
                JSAtom uee_atom = get_u32(pc);
                pc += 5;
                if (likely(JS_VALUE_GET_TAG(*uee_pv) == JS_TAG_STRING && !__JS_AtomIsTaggedInt(uee_atom))) {
                    JSString *uee_p1 = JS_VALUE_GET_STRING(*uee_pv), *uee_p2 = rt->atom_array[uee_atom];
                    uint32_t uee_len = uee_p1->len, uee_n = uee_p2->len;
                    if (uee_p1->header.ref_count == 1 && !uee_p1->atom_type && !uee_p1->is_wide_char &&
                        !uee_p2->is_wide_char && uee_len + uee_n <= uee_p1->hash_next) {
${APPEND_HERE('uee_p2->u.str8')}
                    }
                }
                *sp++ = JS_AtomToValue(ctx, uee_atom);
                goto uee_add_loc_tail;
            }
        CASE(OP_append_str_loc):
            {
                /* UEE_PERF_APPEND_STR: as append_atom_loc, the constant's bytes read from the
                   instruction (len, 16 bytes, the local's index) instead of through the atom table */
                JSValue *uee_pv = &var_buf[pc[17]];
                const uint8_t *uee_src = pc + 1;
                uint32_t uee_n = pc[0];
                pc += 18;
                if (likely(JS_VALUE_GET_TAG(*uee_pv) == JS_TAG_STRING)) {
                    JSString *uee_p1 = JS_VALUE_GET_STRING(*uee_pv);
                    uint32_t uee_len = uee_p1->len;
                    if (uee_p1->header.ref_count == 1 && !uee_p1->atom_type && !uee_p1->is_wide_char &&
                        uee_len + uee_n <= uee_p1->hash_next) {
${APPEND_HERE('uee_src')}
                    }
                }
                {
                    JSValue uee_v = js_new_string8(ctx, uee_src, uee_n);
                    if (JS_IsException(uee_v))
                        goto exception;
                    *sp++ = uee_v;
                }
                goto uee_add_loc_tail;
            }
        CASE(OP_add_loc_check):
        CASE(OP_add_loc):
            {
                JSValue *pv;
                int idx;
                pc += 1;
            uee_add_loc_tail:
                idx = pc[-1];

                pv = &var_buf[idx];${LOC_CHECK('OP_add_loc_check', '*pv')}
`,
  },
  {
    find: `                } else if (JS_VALUE_GET_TAG(*pv) == JS_TAG_STRING) {
                    JSValue op1;
                    op1 = sp[-1];
                    sp--;
                    op1 = JS_ToPrimitiveFree(ctx, op1, HINT_NONE);`,
    replace: `                } else if (JS_VALUE_GET_TAG(*pv) == JS_TAG_STRING && JS_VALUE_GET_TAG(sp[-1]) == JS_TAG_STRING &&
                           uee_append_in_place(ctx, JS_VALUE_GET_STRING(*pv), JS_VALUE_GET_STRING(sp[-1]))) {
                    JS_FreeValue(ctx, sp[-1]);
                    sp--;
                } else if (JS_VALUE_GET_TAG(*pv) == JS_TAG_STRING) {
                    JSValue op1;
                    op1 = sp[-1];
                    sp--;
                    op1 = JS_ToPrimitiveFree(ctx, op1, HINT_NONE);`,
  },
  ...(['inc', 'dec'] as const).map((op) => ({
    find: `        CASE(OP_${op}_loc):
            {
                JSValue op1;
                int val;
                int idx;
                idx = *pc;
                pc += 1;

                op1 = var_buf[idx];
`,
    replace: `        CASE(OP_${op}_loc_check):
        CASE(OP_${op}_loc):
            {
                JSValue op1;
                int val;
                int idx;
                idx = *pc;
                pc += 1;

                op1 = var_buf[idx];${LOC_CHECK(`OP_${op}_loc_check`, 'op1')}
`,
  })),
  {
    find: `        case OP_get_loc:
            if (OPTIMIZE) {
                /* transformation:
                   get_loc(n) post_dec put_loc(n) drop -> dec_loc(n)`,
    replace: `        case OP_get_loc_check:
            if (OPTIMIZE) {
                /* UEE_PERF_LOC_CHECK:
                   get_loc_check(n) post_dec put_loc_check(n) drop -> dec_loc_check(n)
                   get_loc_check(n) post_inc put_loc_check(n) drop -> inc_loc_check(n)
                   get_loc_check(n) dec dup put_loc_check(n) drop -> dec_loc_check(n)
                   get_loc_check(n) inc dup put_loc_check(n) drop -> inc_loc_check(n)
                   get_loc_check(n) x add dup put_loc_check(n) drop -> x add_loc_check(n)
                   with x push_atom_value or push_i32: constants, so no user code runs between the
                   check and add_loc_check's read of the variable (upstream's get_loc/get_arg/get_var_ref
                   forms read it after the right side's valueOf/toString, which may assign it) */
                int idx, uee_x = pos_next;
                idx = get_u16(bc_buf + pos + 1);
                if (idx < 256 &&
                    (code_match(&cc, pos_next, M2(OP_post_dec, OP_post_inc), OP_put_loc_check, idx, OP_drop, -1) ||
                     code_match(&cc, pos_next, M2(OP_dec, OP_inc), OP_dup, OP_put_loc_check, idx, OP_drop, -1))) {
                    if (cc.line_num >= 0) line_num = cc.line_num;
                    add_pc2line_info(s, bc_out.size, line_num);
                    uee_inc_at = bc_out.size; /* UEE_PERF_FOR_STEP */
                    dbuf_putc(&bc_out, (cc.op == OP_inc || cc.op == OP_post_inc) ? OP_inc_loc_check : OP_dec_loc_check);
                    dbuf_putc(&bc_out, idx);
                    pos_next = cc.pos;
                    break;
                }
                if (idx < 256 &&
                    (code_match(&cc, pos_next, OP_push_atom_value, OP_add, OP_dup, OP_put_loc_check, idx, OP_drop, -1) ||
                     code_match(&cc, pos_next, OP_push_i32, OP_add, OP_dup, OP_put_loc_check, idx, OP_drop, -1))) {
                    int uee_end = cc.pos, uee_op;
                    if (cc.line_num >= 0) line_num = cc.line_num;
                    add_pc2line_info(s, bc_out.size, line_num);
                    while (bc_buf[uee_x] == OP_line_num)
                        uee_x += opcode_info[OP_line_num].size;
                    uee_op = bc_buf[uee_x];
                    if (uee_op == OP_push_atom_value) {
                        dbuf_putc(&bc_out, OP_push_atom_value);
                        dbuf_put_u32(&bc_out, get_u32(bc_buf + uee_x + 1));
                    } else {
                        push_short_int(&bc_out, get_i32(bc_buf + uee_x + 1));
                    }
                    dbuf_putc(&bc_out, OP_add_loc_check);
                    dbuf_putc(&bc_out, idx);
                    pos_next = uee_end;
                    break;
                }
            }
            goto no_change;
        case OP_get_loc:
            if (OPTIMIZE) {
                /* transformation:
                   get_loc(n) post_dec put_loc(n) drop -> dec_loc(n)`,
  },
  ...(['inc', 'dec'] as const).map((op) => ({
    // UEE_PERF_INC_REG: only the slow path's copy of the counter has its address taken, so the fast
    // path's value stays out of memory (clang kept \`op1\` on the shadow stack: a store per step)
    find: `                    op1 = JS_DupValue(ctx, op1);
                    if (js_unary_arith_slow(ctx, &op1 + 1, OP_${op}))
                        goto exception;
                    set_value(ctx, &var_buf[idx], op1);
`,
    replace: INC_SLOW(op),
  })),
  {
    find: '                } else if (JS_VALUE_GET_TAG(*pv) == JS_TAG_STRING) {\n',
    replace: `                } else if (JS_VALUE_GET_TAG(*pv) == JS_TAG_STRING && !JS_IsObject(sp[-1])) {
                    /* UEE_ADD_LOC_ORDER: an object's valueOf/toString may assign the variable; the
                       generic add below reads the variable first, as \`s += x\` does */
`,
  },
  ...FOR_STEP_PATCH,
];

/** Applies {@link QUICKJS_STRING_PATCH} to quickjs.c; throws `INTERNAL` when the sources do not match. */
export function patchQuickjsString(source: string): string {
  return applyPatch(source, QUICKJS_STRING_PATCH);
}

/** Applies {@link QUICKJS_OPCODE_PATCH} to quickjs-opcode.h. */
export function patchQuickjsOpcodes(source: string): string {
  return applyPatch(source, QUICKJS_OPCODE_PATCH);
}
