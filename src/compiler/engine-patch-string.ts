/**
 * String-building patches to QuickJS 2021-03-27, applied after the regex patches
 * (`engine-patch-regex.ts`). test/compiler/js-string-concat.test.ts holds the cases (aliasing,
 * closures, properties, 16-bit strings, the heap limit, `valueOf` that assigns the variable).
 *
 * - UEE_PERF_ADD_LOC_CHECK: `s += x` on a `let` local compiled to `get_loc_check(n) x add dup
 *   put_loc_check(n) drop` (the TDZ-checked forms), so it missed upstream's `x add_loc(n)` rewrite
 *   and went through the generic add (js_add_slow, and uee_release_target to find the variable that
 *   the next instruction overwrites) and three more dispatches per step. The bytecode optimizer now
 *   rewrites it to `get_loc_check(n) drop x add_loc(n)`: the TDZ check stays where it was (before
 *   `x` is evaluated), and `x` is a constant (an atom string or an int: upstream's other forms, a local or
 *   an argument on the right, would read the variable after the right side's `valueOf` ran), so the variable cannot be uninitialized when
 *   `add_loc` runs; `put_loc_check`'s check could then never fire. `add_loc` appends in place only
 *   when the variable holds the string's sole reference (JS_ConcatString's reference-count test).
 * - UEE_ADD_LOC_ORDER: `s += x` reads `s` before `x` becomes a primitive, so a `valueOf`/`toString`
 *   of `x` that assigns `s` changes neither the sum nor the result stored (`s` is `'ab'`, `o`'s
 *   `valueOf` sets `s = 'zz'` and returns `'o'`: `s += o` leaves `'abo'`, as on Node). Upstream's
 *   `add_loc` (the `var`-local form of `s += x`, with `x` a local, an argument or a closure variable)
 *   converted `x` first and appended it to the variable's value of that moment; an object on the
 *   right now takes the generic add, which reads the variable first.
 */
import type { Replacement } from './engine-patch.js';
import { applyPatch } from './engine-patch.js';

/** The replacements, in order; each `find` must occur exactly once. */
export const QUICKJS_STRING_PATCH: readonly Replacement[] = [
  {
    find: `        case OP_get_loc:
            if (OPTIMIZE) {
                /* transformation:
                   get_loc(n) post_dec put_loc(n) drop -> dec_loc(n)`,
    replace: `        case OP_get_loc_check:
            if (OPTIMIZE) {
                /* UEE_PERF_ADD_LOC_CHECK:
                   get_loc_check(n) x add dup put_loc_check(n) drop -> get_loc_check(n) drop x add_loc(n)
                   with x push_atom_value or push_i32: constants, so no user code runs between the
                   check and add_loc's read of the variable (upstream's get_loc/get_arg/get_var_ref
                   forms read it after the right side's valueOf/toString, which may assign it) */
                int idx, uee_x = pos_next;
                idx = get_u16(bc_buf + pos + 1);
                if (idx < 256 &&
                    (code_match(&cc, pos_next, OP_push_atom_value, OP_add, OP_dup, OP_put_loc_check, idx, OP_drop, -1) ||
                     code_match(&cc, pos_next, OP_push_i32, OP_add, OP_dup, OP_put_loc_check, idx, OP_drop, -1))) {
                    int uee_end = cc.pos, uee_op;
                    if (cc.line_num >= 0) line_num = cc.line_num;
                    add_pc2line_info(s, bc_out.size, line_num);
                    dbuf_putc(&bc_out, OP_get_loc_check);
                    dbuf_put_u16(&bc_out, idx);
                    dbuf_putc(&bc_out, OP_drop);
                    while (bc_buf[uee_x] == OP_line_num)
                        uee_x += opcode_info[OP_line_num].size;
                    uee_op = bc_buf[uee_x];
                    if (uee_op == OP_push_atom_value) {
                        dbuf_putc(&bc_out, OP_push_atom_value);
                        dbuf_put_u32(&bc_out, get_u32(bc_buf + uee_x + 1));
                    } else {
                        push_short_int(&bc_out, get_i32(bc_buf + uee_x + 1));
                    }
                    dbuf_putc(&bc_out, OP_add_loc);
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
