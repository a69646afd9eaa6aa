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
 *   JS_ToPrimitiveFree and JS_ConcatString, calls that did the same after their own checks.
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
`,
  },
];

const APPEND = `
/* UEE_PERF_APPEND: appends the 8-bit p2 to the unshared 8-bit p1 when p1's allocation has room;
   FALSE (nothing changed) when the generic concatenation must run. */
static inline BOOL uee_append_in_place(JSContext *ctx, JSString *p1, JSString *p2)
{
    uint32_t len = p1->len, n = p2->len;
    if (p1->header.ref_count != 1 || p1->atom_type || p1->is_wide_char || p2->is_wide_char ||
        len + n > JS_STRING_LEN_MAX || js_malloc_usable_size(ctx, p1) < sizeof(JSString) + len + n + 1)
        return FALSE;
    memcpy(p1->u.str8 + len, p2->u.str8, n);
    p1->u.str8[len + n] = '\\0';
    p1->len = len + n;
    return TRUE;
}
`;

/** TDZ check of the local an `*_loc_check` opcode names, as `get_loc_check` throws it. */
const LOC_CHECK = (opcode: string, value: string): string => `
                if (opcode == ${opcode} && unlikely(JS_IsUninitialized(${value}))) {
                    JS_ThrowReferenceErrorUninitialized2(ctx, b, idx, FALSE);
                    goto exception;
                }`;

/** The replacements, in order; each `find` must occur exactly once. */
export const QUICKJS_STRING_PATCH: readonly Replacement[] = [
  {
    find: 'static JSValue JS_ConcatString(JSContext *ctx, JSValue op1, JSValue op2)\n{',
    replace: `${APPEND}\nstatic JSValue JS_ConcatString(JSContext *ctx, JSValue op1, JSValue op2)\n{`,
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
    replace: `        CASE(OP_add_loc_check):
        CASE(OP_add_loc):
            {
                JSValue *pv;
                int idx;
                idx = *pc;
                pc += 1;

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
  {
    find: '                } else if (JS_VALUE_GET_TAG(*pv) == JS_TAG_STRING) {\n',
    replace: `                } else if (JS_VALUE_GET_TAG(*pv) == JS_TAG_STRING && !JS_IsObject(sp[-1])) {
                    /* UEE_ADD_LOC_ORDER: an object's valueOf/toString may assign the variable; the
                       generic add below reads the variable first, as \`s += x\` does */
`,
  },
];

/** Applies {@link QUICKJS_STRING_PATCH} to quickjs.c; throws `INTERNAL` when the sources do not match. */
export function patchQuickjsString(source: string): string {
  return applyPatch(source, QUICKJS_STRING_PATCH);
}

/** Applies {@link QUICKJS_OPCODE_PATCH} to quickjs-opcode.h. */
export function patchQuickjsOpcodes(source: string): string {
  return applyPatch(source, QUICKJS_OPCODE_PATCH);
}
