/**
 * Speed patches to QuickJS applied last (after `engine-patch-string.ts`). Each block is named and
 * changes no observable result.
 *
 * - `UEE_PERF_TDZ`: a `let`/`const`/`class` local whose every read and write follows its
 *   initialization on every path is read and written without the TDZ check (`get_loc` instead of
 *   `get_loc_check`), so the loop peepholes of plain locals (`inc_loc`, `add_loc`, `dup put_loc drop`
 *   → `put_loc`) apply to it as well. Decided per function on the bytecode `resolve_labels` receives,
 *   by a data flow over its jumps (see the C comment): a check stays wherever some path could reach it
 *   before the initialization. (Until 2026-12-04 one jump from before the declaration to anywhere after
 *   it kept every check of the local, so a loop inside one branch of `if (type === …)` ran checked:
 *   a 1 MB string built there took 2.07 ms against 1.25 ms in a method of its own.)
 * - `UEE_PERF_SORT_SUB`: `Array.prototype.sort` with a comparator whose whole bytecode is
 *   `return a - b` or `return b - a` compares two numbers directly, as the subtraction's sign would;
 *   anything else (a string, an object with `valueOf`, a BigInt) still calls the comparator.
 * - `UEE_PERF_SWITCH`: the interpreter dispatches with `switch`, as upstream does for Emscripten. Wasm
 *   has no indirect branch: clang turned the computed gotos into a table of block numbers loaded at
 *   every dispatch and then a switch over them (`scripts/js-engines.ts`, same run: the arithmetic
 *   loop 0.92×, string building 0.97×, the rest unchanged).
 * - `UEE_PERF_EXEC_RESULT`: a RegExp exec result (`exec`, `matchAll`, `match` without g, `replace`
 *   with a function…) is made from a shape the context keeps (the array's length, index, input,
 *   groups), its captures stored straight into the array, instead of four property definitions that
 *   rebuilt the same shapes for every result (the previous result's shapes died with it).
 */
import type { Replacement } from './engine-patch.js';
import { applyPatch } from './engine-patch.js';

const TDZ = `
/* UEE_PERF_TDZ: drops the TDZ checks of a lexical local that cannot be read or written uninitialized.
   On the bytecode resolve_labels receives, a local is a candidate when it has exactly one
   set_loc_uninitialized (U), its first reference after U is a plain put_loc (I, what its declaration's
   initialization becomes; assignments are put_loc_check), and no reference lies before I other than
   U; make_loc_ref or put_loc_check_init (derived constructors' this) disqualify it, and a function
   with a direct eval keeps every check. Then a forward data flow over the bytecode finds where each
   candidate is initialized on every path: U clears its bit, I sets it, a label takes the AND of the
   paths reaching it (fall-through and every jump, gosub and with_* branch), code after goto, return,
   throw or ret is unreachable, and a catch handler gets the state at its catch instruction without
   the candidates whose U lies between the two (anything in the try block may throw, and inside it only
   a U clears a bit). Passes repeat until no label's state changes (a loop's back jump lowers its head's
   state; at most UEE_TDZ_PASSES, else nothing is dropped; nor past UEE_TDZ_MAX_WORDS words of label
   state). A get_loc_check or put_loc_check where its
   candidate's bit is set cannot throw and becomes get_loc or put_loc (same size). A local declared in
   one branch of an if chain keeps its checks dropped although the branch's if_false jumps over I. */
#define UEE_TDZ_PASSES 16
#define UEE_TDZ_MAX_WORDS (1 << 20)
static void uee_drop_tdz_checks(JSFunctionDef *s, uint8_t *bc, int bc_len)
{
    int nv = s->var_count, nl = s->label_count, pos, op, idx, k, nc = 0, nw, pass, changed, final_pass = 0;
    int *u_count, *init_pos, *u_pos, *cand, *label_pos;
    uint8_t *bad;
    uint32_t *state = NULL, *cur, *edge;

    if (nv <= 0 || s->has_eval_call)
        return;
    u_count = js_mallocz(s->ctx, sizeof(int) * (4 * nv + nl + 1) + nv);
    if (!u_count)
        return;
    init_pos = u_count + nv;
    u_pos = init_pos + nv;
    cand = u_pos + nv;
    label_pos = cand + nv;
    bad = (uint8_t *)(label_pos + nl + 1);
    for (idx = 0; idx < nv; idx++)
        init_pos[idx] = -1;
    for (k = 0; k < nl; k++)
        label_pos[k] = -1;
    for (pos = 0; pos < bc_len; pos += opcode_info[op].size) {
        op = bc[pos];
        if (op == OP_label) {
            k = get_u32(bc + pos + 1);
            if (k >= 0 && k < nl)
                label_pos[k] = pos;
            continue;
        }
        if (op == OP_make_loc_ref) {
            idx = get_u16(bc + pos + 5);
            if (idx < nv)
                bad[idx] = 1;
            continue;
        }
        if (opcode_info[op].fmt != OP_FMT_loc)
            continue;
        idx = get_u16(bc + pos + 1);
        if (idx >= nv)
            continue;
        if (op == OP_set_loc_uninitialized) {
            u_pos[idx] = pos;
            if (++u_count[idx] > 1 || init_pos[idx] >= 0)
                bad[idx] = 1;
        } else if (op == OP_put_loc_check_init) {
            bad[idx] = 1;
        } else if (init_pos[idx] < 0) {
            if (u_count[idx] == 1 && op == OP_put_loc)
                init_pos[idx] = pos;
            else
                bad[idx] = 1;
        }
    }
    for (idx = 0; idx < nv; idx++)
        cand[idx] = (!bad[idx] && init_pos[idx] >= 0) ? nc++ : -1;
    if (nc == 0)
        goto done;
    nw = (nc + 31) / 32;
    /* bounded work and memory for any function (a new Function() of megabytes compiles inside the
       plugin's heap limit): past a million words of label state, nothing is dropped */
    if ((int64_t)nw * (nl + 2) > UEE_TDZ_MAX_WORDS || (int64_t)nv * nl > 64 * UEE_TDZ_MAX_WORDS)
        goto done;
    state = js_malloc(s->ctx, sizeof(uint32_t) * nw * (nl + 2));
    if (!state)
        goto done;
    cur = state + nw * nl;
    edge = cur + nw;
    /* every label starts at "initialized" (the top of the lattice); passes only clear bits */
    memset(state, 0xff, sizeof(uint32_t) * nw * nl);
    for (pass = 0;; pass++) {
        changed = 0;
        /* at entry no candidate is referenced before its U, so the entry state does not matter */
        memset(cur, 0xff, sizeof(uint32_t) * nw);
        for (pos = 0; pos < bc_len; pos += opcode_info[op].size) {
            int fmt, label = -1, w;
            op = bc[pos];
            fmt = opcode_info[op].fmt;
            if (op == OP_label) {
                k = get_u32(bc + pos + 1);
                if (k >= 0 && k < nl) {
                    for (w = 0; w < nw; w++)
                        cur[w] &= state[k * nw + w];
                }
                continue;
            }
            if (fmt == OP_FMT_loc) {
                idx = get_u16(bc + pos + 1);
                if (idx < nv && cand[idx] >= 0) {
                    int c = cand[idx];
                    uint32_t bit = 1u << (c & 31);
                    if (op == OP_set_loc_uninitialized)
                        cur[c >> 5] &= ~bit;
                    else if (pos == init_pos[idx])
                        cur[c >> 5] |= bit;
                    else if (final_pass && (cur[c >> 5] & bit) && (op == OP_get_loc_check || op == OP_put_loc_check))
                        bc[pos] = op == OP_get_loc_check ? OP_get_loc : OP_put_loc;
                }
                continue;
            }
            if (fmt == OP_FMT_label)
                label = get_u32(bc + pos + 1);
            else if (fmt == OP_FMT_atom_label_u8 || fmt == OP_FMT_atom_label_u16)
                label = get_u32(bc + pos + 5);
            if (label >= 0) {
                if (label >= nl || label_pos[label] < 0)
                    goto done; /* a jump to no label: drop nothing */
                memcpy(edge, cur, sizeof(uint32_t) * nw);
                if (op == OP_catch) {
                    /* the handler: the state at catch, less the candidates whose U is in the try block */
                    if (label_pos[label] < pos) {
                        memset(edge, 0, sizeof(uint32_t) * nw);
                    } else {
                        for (idx = 0; idx < nv; idx++) {
                            if (cand[idx] >= 0 && u_pos[idx] > pos && u_pos[idx] < label_pos[label])
                                edge[cand[idx] >> 5] &= ~(1u << (cand[idx] & 31));
                        }
                    }
                }
                for (w = 0; w < nw; w++) {
                    uint32_t v = state[label * nw + w] & edge[w];
                    if (v != state[label * nw + w]) {
                        state[label * nw + w] = v;
                        changed = 1;
                    }
                }
            }
            if (op == OP_goto || op == OP_return || op == OP_return_undef || op == OP_return_async ||
                op == OP_throw || op == OP_throw_error || op == OP_ret)
                memset(cur, 0xff, sizeof(uint32_t) * nw); /* unreachable until the next label */
        }
        if (final_pass)
            break;
        if (!changed)
            final_pass = 1; /* the states are stable: one more pass rewrites the checks */
        else if (pass >= UEE_TDZ_PASSES)
            break;
    }
 done:
    js_free(s->ctx, state);
    js_free(s->ctx, u_count);
}

static __exception int resolve_labels(JSContext *ctx, JSFunctionDef *s)
{`;

const SORT_SUB_CMP = `    if (psc->has_method) {
        /* UEE_PERF_SORT_SUB: the comparator is return a - b (1) or return b - a (-1): for two numbers
           the sign of the difference is the sign of the comparison (NaN and Infinity - Infinity: 0) */
        if (psc->uee_sub && UEE_IS_NUMBER(ap->val) && UEE_IS_NUMBER(bp->val)) {
            double uee_x = UEE_NUMBER(ap->val), uee_y = UEE_NUMBER(bp->val);
            cmp = (uee_x > uee_y) - (uee_x < uee_y);
            if (psc->uee_sub < 0)
                cmp = -cmp;
            if (cmp != 0)
                return cmp;
            goto cmp_same;
        }
        /* custom sort function is specified as returning 0 for identical`;

const EXEC_RESULT_NEW = `/* UEE_PERF_EXEC_RESULT: a new empty Array for an exec result; once the context keeps the shape an
   array reaches with index, input and groups defined (C_W_E) in that order, the result is made with
   that shape (its prop[1..3] undefined, for the caller to fill) */
static JSValue uee_new_exec_result(JSContext *ctx)
{
    if (!ctx->uee_exec_shape && !ctx->uee_exec_shape_failed) {
        JSValue o = JS_NewArray(ctx);
        JSShape *sh;
        JSShapeProperty *prs;
        if (JS_IsException(o))
            return o;
        if (JS_DefinePropertyValue(ctx, o, JS_ATOM_index, JS_UNDEFINED, JS_PROP_C_W_E) < 0 ||
            JS_DefinePropertyValue(ctx, o, JS_ATOM_input, JS_UNDEFINED, JS_PROP_C_W_E) < 0 ||
            JS_DefinePropertyValue(ctx, o, JS_ATOM_groups, JS_UNDEFINED, JS_PROP_C_W_E) < 0) {
            JS_FreeValue(ctx, o);
            return JS_EXCEPTION;
        }
        sh = JS_VALUE_GET_OBJ(o)->shape;
        prs = get_shape_prop(sh);
        if (sh->is_hashed && sh->prop_count == 4 && prs[0].atom == JS_ATOM_length && prs[1].atom == JS_ATOM_index &&
            prs[2].atom == JS_ATOM_input && prs[3].atom == JS_ATOM_groups)
            ctx->uee_exec_shape = js_dup_shape(sh);
        else
            ctx->uee_exec_shape_failed = 1;
        JS_FreeValue(ctx, o);
    }
    if (ctx->uee_exec_shape)
        return JS_NewObjectFromShape(ctx, js_dup_shape(ctx->uee_exec_shape), JS_CLASS_ARRAY);
    return JS_NewArray(ctx);
}

static JSValue js_regexp_exec(JSContext *ctx, JSValueConst this_val,
                              int argc, JSValueConst *argv)
{`;

/** The {@link Replacement}s, applied to quickjs.c after `patchQuickjsString`. */
export const QUICKJS_SPEED_PATCH: readonly Replacement[] = [
  {
    // UEE_PERF_SWITCH: the interpreter dispatches with a switch, not computed gotos
    find: '#if defined(EMSCRIPTEN) || defined(_MSC_VER)\n#define DIRECT_DISPATCH  0',
    replace: '#if defined(EMSCRIPTEN) || defined(_MSC_VER) || defined(__wasi__) /* UEE_PERF_SWITCH */\n#define DIRECT_DISPATCH  0',
  },
  {
    find: `static __exception int resolve_labels(JSContext *ctx, JSFunctionDef *s)
{`,
    replace: TDZ,
  },
  {
    find: `        put_short_code(&bc_out, OP_put_loc, s->arg_var_object_idx);
    }

    for (pos = 0; pos < bc_len; pos = pos_next) {`,
    replace: `        put_short_code(&bc_out, OP_put_loc, s->arg_var_object_idx);
    }

    uee_drop_tdz_checks(s, s->byte_code.buf, bc_len); /* UEE_PERF_TDZ */

    for (pos = 0; pos < bc_len; pos = pos_next) {`,
  },
  {
    find: `struct array_sort_context {
    JSContext *ctx;
    int exception;
    int has_method;
    JSValueConst method;
};`,
    replace: `struct array_sort_context {
    JSContext *ctx;
    int exception;
    int has_method;
    JSValueConst method;
    int uee_sub; /* UEE_PERF_SORT_SUB: 1 for (a, b) => a - b, -1 for (a, b) => b - a */
};`,
  },
  {
    find: `    if (psc->has_method) {
        /* custom sort function is specified as returning 0 for identical`,
    replace: SORT_SUB_CMP,
  },
  {
    find: `        asc.has_method = 1;
    }
    obj = JS_ToObject(ctx, this_val);`,
    replace: `        asc.has_method = 1;
        /* UEE_PERF_SORT_SUB: a plain function whose whole bytecode is get_arg0 get_arg1 sub return
           (or get_arg1 get_arg0 ...) */
        if (JS_VALUE_GET_OBJ(asc.method)->class_id == JS_CLASS_BYTECODE_FUNCTION) {
            JSFunctionBytecode *uee_b = JS_VALUE_GET_OBJ(asc.method)->u.func.function_bytecode;
            const uint8_t *uee_c = uee_b->byte_code_buf;
            if (uee_b->func_kind == JS_FUNC_NORMAL && uee_b->arg_count >= 2 && uee_b->byte_code_len == 4 &&
                uee_c[2] == OP_sub && uee_c[3] == OP_return) {
                if (uee_c[0] == OP_get_arg0 && uee_c[1] == OP_get_arg1)
                    asc.uee_sub = 1;
                else if (uee_c[0] == OP_get_arg1 && uee_c[1] == OP_get_arg0)
                    asc.uee_sub = -1;
            }
        }
    }
    obj = JS_ToObject(ctx, this_val);`,
  },
  {
    find: '    JSShape *array_shape;   /* initial shape for Array objects */\n',
    replace: '    JSShape *array_shape;   /* initial shape for Array objects */\n    JSShape *uee_exec_shape; /* UEE_PERF_EXEC_RESULT: shape of a RegExp exec result */\n    int uee_exec_shape_failed;\n',
  },
  {
    find: `    if (ctx->array_shape)
        mark_func(rt, &ctx->array_shape->header);
`,
    replace: `    if (ctx->array_shape)
        mark_func(rt, &ctx->array_shape->header);
    if (ctx->uee_exec_shape)
        mark_func(rt, &ctx->uee_exec_shape->header);
`,
  },
  {
    find: '    js_free_shape_null(ctx->rt, ctx->array_shape);\n',
    replace: '    js_free_shape_null(ctx->rt, ctx->array_shape);\n    js_free_shape_null(ctx->rt, ctx->uee_exec_shape);\n',
  },
  {
    find: `            if (likely(sh == ctx->array_shape)) {
                pr = &p->prop[0];
            } else {`,
    replace: `            if (likely(sh == ctx->array_shape)) {
                pr = &p->prop[0];
            } else if (sh == ctx->uee_exec_shape) {
                /* UEE_PERF_EXEC_RESULT: length, index, input, groups */
                pr = &p->prop[0];
                p->prop[1].u.value = JS_UNDEFINED;
                p->prop[2].u.value = JS_UNDEFINED;
                p->prop[3].u.value = JS_UNDEFINED;
            } else {`,
  },
  {
    find: `static JSValue js_regexp_exec(JSContext *ctx, JSValueConst this_val,
                              int argc, JSValueConst *argv)
{`,
    replace: EXEC_RESULT_NEW,
  },
  {
    find: `        int prop_flags;
        if (re_flags & (LRE_FLAG_GLOBAL | LRE_FLAG_STICKY)) {
            if (JS_SetProperty(ctx, this_val, JS_ATOM_lastIndex,
                               JS_NewInt32(ctx, (capture[1] - str_buf) >> shift)) < 0)
                goto fail;
        }
        obj = JS_NewArray(ctx);
        if (JS_IsException(obj))
            goto fail;
`,
    replace: `        int prop_flags, uee_fast;
        if (re_flags & (LRE_FLAG_GLOBAL | LRE_FLAG_STICKY)) {
            if (JS_SetProperty(ctx, this_val, JS_ATOM_lastIndex,
                               JS_NewInt32(ctx, (capture[1] - str_buf) >> shift)) < 0)
                goto fail;
        }
        obj = uee_new_exec_result(ctx);
        if (JS_IsException(obj))
            goto fail;
        uee_fast = JS_VALUE_GET_OBJ(obj)->shape == ctx->uee_exec_shape;
        if (uee_fast && expand_fast_array(ctx, JS_VALUE_GET_OBJ(obj), capture_count))
            goto fail;
`,
  },
  {
    find: `            if (JS_DefinePropertyValueUint32(ctx, obj, i, val, prop_flags) < 0)
                goto fail;
        }
        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_index,
                                   JS_NewInt32(ctx, (capture[0] - str_buf) >> shift), prop_flags) < 0)
            goto fail;
        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_input, str_val, prop_flags) < 0) {
            JS_FreeValue(ctx, groups);
            goto fail1;
        }
        if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_groups, groups, prop_flags) < 0)
            goto fail1;
`,
    replace: `            if (uee_fast) {
                /* UEE_PERF_EXEC_RESULT: the fresh array has room for capture_count values */
                JSObject *uee_p = JS_VALUE_GET_OBJ(obj);
                uee_p->u.array.u.values[i] = val;
                uee_p->u.array.count = i + 1;
                uee_p->prop[0].u.value = JS_NewInt32(ctx, i + 1);
            } else if (JS_DefinePropertyValueUint32(ctx, obj, i, val, prop_flags) < 0)
                goto fail;
        }
        if (uee_fast) {
            JSObject *uee_p = JS_VALUE_GET_OBJ(obj);
            uee_p->prop[1].u.value = JS_NewInt32(ctx, (capture[0] - str_buf) >> shift);
            uee_p->prop[2].u.value = str_val;
            uee_p->prop[3].u.value = groups;
        } else {
            if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_index,
                                       JS_NewInt32(ctx, (capture[0] - str_buf) >> shift), prop_flags) < 0)
                goto fail;
            if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_input, str_val, prop_flags) < 0) {
                JS_FreeValue(ctx, groups);
                goto fail1;
            }
            if (JS_DefinePropertyValue(ctx, obj, JS_ATOM_groups, groups, prop_flags) < 0)
                goto fail1;
        }
`,
  },
];

/** Applies {@link QUICKJS_SPEED_PATCH} to quickjs.c already patched by `patchQuickjsString`. */
export function patchQuickjsSpeed(source: string): string {
  return applyPatch(source, QUICKJS_SPEED_PATCH);
}
