/*
 * UEE JS engine: an Extism-ABI shim over QuickJS.
 *
 * Lifecycle
 *   1. `wizer.initialize` runs once at compile time under Wizer: it reads the JS payload from stdin
 *      (engine prelude, a NUL byte, then the user's bundle), creates the runtime, evaluates both and
 *      returns. Wizer snapshots the memory, so every instance starts with the plugin already loaded.
 *   2. `handle` / `infer` run per event: read the Extism input, hand it to the prelude's dispatcher,
 *      drain the promise job queue, then `output_set` the result or `error_set` a JSON error
 *      `{ "code", "message" }` and return 1.
 *
 * No ambient authority: the clock (`Date`) and `Math.random` are driven by `context.now` and
 * `context.randomSeed` of each input (see docs/plugin-abi.md); WASI imports left by wasi-libc are
 * replaced with stubs by the compiler's post-processing step.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <malloc.h>
#include "quickjs.h"

#define IMPORT(mod, name) __attribute__((import_module(mod), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

/* ---- Extism kernel (extism:host/env) ------------------------------------------------------- */
IMPORT("extism:host/env", "input_length") extern uint64_t extism_input_length(void);
IMPORT("extism:host/env", "input_load_u8") extern uint32_t extism_input_load_u8(uint64_t);
IMPORT("extism:host/env", "input_load_u64") extern uint64_t extism_input_load_u64(uint64_t);
IMPORT("extism:host/env", "alloc") extern uint64_t extism_alloc(uint64_t);
IMPORT("extism:host/env", "free") extern void extism_free(uint64_t);
IMPORT("extism:host/env", "length") extern uint64_t extism_length(uint64_t);
IMPORT("extism:host/env", "load_u8") extern uint32_t extism_load_u8(uint64_t);
IMPORT("extism:host/env", "load_u64") extern uint64_t extism_load_u64(uint64_t);
IMPORT("extism:host/env", "store_u8") extern void extism_store_u8(uint64_t, uint32_t);
IMPORT("extism:host/env", "store_u64") extern void extism_store_u64(uint64_t, uint64_t);
IMPORT("extism:host/env", "output_set") extern void extism_output_set(uint64_t, uint64_t);
IMPORT("extism:host/env", "error_set") extern void extism_error_set(uint64_t);

/* ---- UEE host functions (extism:host/user), all (i64 request block) -> i64 response block ---- */
#define HOST_IMPORT(n) IMPORT("extism:host/user", #n) extern uint64_t uee_host_##n(uint64_t);
HOST_IMPORT(read_entity)
HOST_IMPORT(write_entity)
HOST_IMPORT(emit_event)
HOST_IMPORT(query_read_model)
HOST_IMPORT(update_read_model)
HOST_IMPORT(get_tenant_config)
HOST_IMPORT(call_model)
HOST_IMPORT(schedule_timer)
HOST_IMPORT(cancel_timer)
HOST_IMPORT(spawn_workflow)
HOST_IMPORT(log)
HOST_IMPORT(record_metric)

static const char *const HOST_NAMES[] = {
    "read_entity", "write_entity", "emit_event", "query_read_model", "update_read_model", "get_tenant_config",
    "call_model", "schedule_timer", "cancel_timer", "spawn_workflow", "log", "record_metric",
};
#define HOST_COUNT ((int)(sizeof(HOST_NAMES) / sizeof(HOST_NAMES[0])))

/* Direct calls only (no function pointers): the compiler swaps imports the source never names for
 * stubs returning 0, which must not sit in the indirect-call table. Offset 0 means "not linked" and is
 * answered as CAPABILITY_DENIED without reaching the host. */
static uint64_t call_host(int i, uint64_t req) {
    switch (i) {
    case 0: return uee_host_read_entity(req);
    case 1: return uee_host_write_entity(req);
    case 2: return uee_host_emit_event(req);
    case 3: return uee_host_query_read_model(req);
    case 4: return uee_host_update_read_model(req);
    case 5: return uee_host_get_tenant_config(req);
    case 6: return uee_host_call_model(req);
    case 7: return uee_host_schedule_timer(req);
    case 8: return uee_host_cancel_timer(req);
    case 9: return uee_host_spawn_workflow(req);
    case 11: return uee_host_record_metric(req);
    default: return uee_host_log(req);
    }
}

/* ---- engine state (snapshotted by Wizer) ---------------------------------------------------- */
static JSRuntime *g_rt;
static JSContext *g_ctx;
static JSMallocState *g_mstate;
static int g_initializing;
static int64_t g_now_ms;
static int64_t g_fuel;
static int g_interrupted;
static int g_oom;
static char *g_result;      /* JSON text of the output, or of the error */
static size_t g_result_len;
static int g_result_is_error;
static int g_result_set;

/* ---- direct I/O (uee_io_*, version 1) ---------------------------------------------------------
 * The Extism kernel moves bytes across the boundary 8 at a time (input_load_u64, load_u64,
 * store_u64: one host call each, with a BigInt per call under V8): ~8 µs per KB in each direction,
 * for the input, the output and every host call's request and answer. A host that knows this engine
 * (the UEE runtime) turns direct I/O on once per instance with uee_io_enable(); from then on it
 * copies bytes straight into and out of this module's memory:
 * - input: before calling handle/infer the host asks uee_io_stage(len) for a buffer, writes the
 *   input there, and the call takes it (without a staged input it reads the kernel's input as before);
 * - output and error: left in this module's memory; after the call uee_io_flags() says which
 *   (UEE_IO_OUTPUT / UEE_IO_ERROR) and uee_io_ptr() / uee_io_len() where;
 * - a host call: made with request offset 0 while uee_io_flags() is UEE_IO_REQUEST and ptr/len hold
 *   the request; the host stages its answer with uee_io_stage(len) and returns UEE_IO_STAGED.
 * Any other answer (a block offset, or 0 for "not linked") is handled as before, so a host may
 * still answer through the kernel. Plain Extism hosts never call uee_io_enable: nothing changes
 * for them. Staged buffers are plain malloc (not counted against the JS heap), as block_read's are. */
#define UEE_IO_NONE 0
#define UEE_IO_OUTPUT 1
#define UEE_IO_ERROR 2
#define UEE_IO_REQUEST 3
#define UEE_IO_STAGED 1
static int g_io;             /* direct I/O on (set by the host) */
static int g_io_flags;
static const char *g_io_ptr;
static size_t g_io_len;
static char *g_stage;        /* the host's staged bytes, NUL-terminated, until taken */
static size_t g_stage_len;
static int g_stage_answer;   /* staged during a host call: its answer, never a call's input */

EXPORT("uee_io_enable") int32_t uee_io_enable(void) { g_io = 1; return 1; }
EXPORT("uee_io_flags") int32_t uee_io_flags(void) { return g_io_flags; }
EXPORT("uee_io_ptr") uint32_t uee_io_ptr(void) { return (uint32_t)(uintptr_t)g_io_ptr; }
EXPORT("uee_io_len") uint32_t uee_io_len(void) { return (uint32_t)g_io_len; }
/* A buffer of len bytes for the host to fill (0: out of memory); replaces one not yet taken. */
EXPORT("uee_io_stage") uint32_t uee_io_stage(uint32_t len) {
    free(g_stage);
    g_stage = malloc((size_t)len + 1);
    g_stage_len = g_stage ? len : 0;
    g_stage_answer = g_io_flags == UEE_IO_REQUEST;
    if (g_stage) g_stage[len] = 0;
    return (uint32_t)(uintptr_t)g_stage;
}
/* Takes the bytes staged as an answer (answer = 1) or as an input (0), the caller frees them; NULL
   when nothing of that kind is staged (anything else staged is dropped: an answer left by a host
   call that never returned must not become the next call's input). */
static char *take_stage(size_t *len, int answer) {
    char *s = g_stage;
    *len = g_stage_len;
    if (s && g_stage_answer != answer) {
        free(s);
        s = NULL;
        *len = 0;
    }
    g_stage = NULL;
    g_stage_len = 0;
    return s;
}

#define DEFAULT_FUEL 20000                    /* interrupt checks, each ~10k bytecode polls */
#define DEFAULT_HEAP_BYTES (32u * 1024 * 1024) /* on top of the snapshot's own heap */
#define JS_STACK_BYTES (3584 * 1024)           /* the linker gives the shadow stack 4 MiB */

/* Called by the patched quickjs.c instead of gettimeofday(): the host's clock for this event. */
int64_t uee_now_ms(void) { return g_now_ms; }
void JS_SetRandomSeed(JSContext *ctx, uint64_t seed); /* added to quickjs.c by the build patch */

/* ---- allocator with accounting, so JS_SetMemoryLimit works and a breach is observable -------- */
/* The usable size of a block, counted per allocation and free. wasi-libc's dlmalloc (no mmap) keeps an
 * in-use chunk's size in the word before the block, with 3 flag bits, and the block is that less the
 * one-word head: read inline, malloc_usable_size is a call per allocation and free. Checked against
 * malloc_usable_size at start-up (usable_size_check), so another allocator keeps the call. */
static int g_usable_inline;
static inline size_t usable_size(void *p) {
    /* volatile: the word is outside the block malloc returned, so clang may otherwise fold the read
       of a block it has just seen allocated (it did: the start-up check failed) */
    if (g_usable_inline) return (*(volatile size_t *)((char *)p - sizeof(size_t)) & ~(size_t)7) - sizeof(size_t);
    return malloc_usable_size(p);
}
static void usable_size_check(void) {
    static const size_t sizes[] = {1, 7, 8, 13, 24, 100, 1000, 4096, 70000};
    int ok = 1;
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = malloc(sizes[i]);
        if (!p) return;
        g_usable_inline = 1;
        if (usable_size(p) != malloc_usable_size(p) || malloc_usable_size(p) < sizes[i]) ok = 0;
        g_usable_inline = 0;
        free(p);
    }
    g_usable_inline = ok;
}
static void *uee_malloc(JSMallocState *s, size_t size) {
    g_mstate = s;
    if (s->malloc_size + size + 8 > s->malloc_limit) { g_oom = 1; return NULL; }
    void *p = malloc(size);
    if (!p) { g_oom = 1; return NULL; }
    s->malloc_count++;
    s->malloc_size += usable_size(p) + 8;
    return p;
}
/* While Wizer is initialising, freed memory is zeroed: the snapshot stores only non-zero bytes, so
 * the parser's scratch buffers and the payload would otherwise ship in every module. */
static void free_zeroed(void *ptr) {
    if (g_initializing) memset(ptr, 0, usable_size(ptr));
    free(ptr);
}
static void uee_free(JSMallocState *s, void *ptr) {
    if (!ptr) return;
    s->malloc_count--;
    s->malloc_size -= usable_size(ptr) + 8;
    free_zeroed(ptr);
}
static void *uee_realloc(JSMallocState *s, void *ptr, size_t size) {
    if (!ptr) return size == 0 ? NULL : uee_malloc(s, size);
    size_t old = usable_size(ptr);
    if (size == 0) { uee_free(s, ptr); return NULL; }
    if (s->malloc_size + size - old > s->malloc_limit) { g_oom = 1; return NULL; }
    if (g_initializing) {
        void *n = malloc(size);
        if (!n) { g_oom = 1; return NULL; }
        memcpy(n, ptr, old < size ? old : size);
        free_zeroed(ptr);
        s->malloc_size += usable_size(n) - old;
        return n;
    }
    void *p = realloc(ptr, size);
    if (!p) { g_oom = 1; return NULL; }
    s->malloc_size += usable_size(p) - old;
    return p;
}
static size_t uee_usable_size(const void *ptr) { return usable_size((void *)ptr); }
static const JSMallocFunctions MALLOC_FUNCS = {uee_malloc, uee_free, uee_realloc, uee_usable_size};

/* Called every ~10,000 interrupt polls (bytecode branches and calls, 256-step slices of a regex
 * match, string-search and generic-array steps). The input_length call is the runtime's deadline
 * probe: the UEE runtime answers it like any kernel call, but once the call's deadline has passed it
 * ends the call from inside it (TIMEOUT), so a runaway call stops without the worker being killed.
 * Elsewhere (plain Extism) it is a harmless query. */
static int interrupt_handler(JSRuntime *rt, void *opaque) {
    (void)rt; (void)opaque;
    if (g_initializing) return 0;
    (void)extism_input_length();
    if (--g_fuel > 0) return 0;
    g_interrupted = 1;
    return 1;
}

/* ---- Extism memory helpers ------------------------------------------------------------------ */
static uint64_t block_from(const char *s, size_t len) {
    uint64_t off = extism_alloc(len);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        extism_store_u64(off + i, w);
    }
    for (; i < len; i++) extism_store_u8(off + i, (uint8_t)s[i]);
    return off;
}

/* Reads a block into a fresh NUL-terminated buffer (plain malloc: not counted against the JS heap). */
static char *block_read(uint64_t off, size_t *out_len, int is_input) {
    size_t len = (size_t)(is_input ? extism_input_length() : extism_length(off));
    char *buf = malloc(len + 1);
    if (!buf) return NULL;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = is_input ? extism_input_load_u64(i) : extism_load_u64(off + i);
        memcpy(buf + i, &w, 8);
    }
    for (; i < len; i++) buf[i] = (char)(is_input ? extism_input_load_u8(i) : extism_load_u8(off + i));
    buf[len] = 0;
    *out_len = len;
    return buf;
}

static JSValue host_error(JSContext *ctx, const char *code, const char *message) {
    JSValue err = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, err, "code", JS_NewString(ctx, code));
    JS_SetPropertyStr(ctx, err, "message", JS_NewString(ctx, message));
    JSValue res = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, res, "ok", JS_FALSE);
    JS_SetPropertyStr(ctx, res, "error", err);
    return res;
}

/* Host.<name>(request: object | string) -> { ok, value } | { ok: false, error: { code, message } } */
static JSValue js_host_call(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv, int magic) {
    (void)this_val;
    if (magic < 0 || magic >= HOST_COUNT) return JS_ThrowRangeError(ctx, "unknown host function");
    if (g_initializing)
        return JS_ThrowTypeError(ctx, "Host.%s() called at top level: module code runs at compile time; "
                                      "call host functions inside a handler", HOST_NAMES[magic]);
    JSValue text;
    if (argc > 0 && JS_IsString(argv[0])) {
        text = JS_DupValue(ctx, argv[0]);
    } else {
        JSValue req = (argc > 0 && !JS_IsUndefined(argv[0])) ? JS_DupValue(ctx, argv[0]) : JS_NewObject(ctx);
        text = JS_JSONStringify(ctx, req, JS_UNDEFINED, JS_UNDEFINED);
        JS_FreeValue(ctx, req);
        if (JS_IsException(text)) return text;
    }
    size_t len;
    const char *s = JS_ToCStringLen(ctx, &len, text);
    JS_FreeValue(ctx, text);
    if (!s) return JS_EXCEPTION;
    uint64_t res_off;
    if (g_io) {
        /* UEE_IO: the host reads the request where it is (see uee_io_enable) */
        free(take_stage(&(size_t){0}, 1));
        g_io_flags = UEE_IO_REQUEST;
        g_io_ptr = s;
        g_io_len = len;
        res_off = call_host(magic, 0);
        g_io_flags = UEE_IO_NONE;
        g_io_ptr = NULL;
        g_io_len = 0;
        JS_FreeCString(ctx, s);
    } else {
        uint64_t req_off = block_from(s, len);
        JS_FreeCString(ctx, s);
        res_off = call_host(magic, req_off);
        extism_free(req_off);
    }
    size_t res_len;
    char *res;
    if (g_io && res_off == UEE_IO_STAGED && g_stage) {
        res = take_stage(&res_len, 1);
        goto have_answer;
    }
    if (res_off == 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "host function '%s' is not linked into this module (the source never names it)",
                 HOST_NAMES[magic]);
        return host_error(ctx, "CAPABILITY_DENIED", msg);
    }
    res = block_read(res_off, &res_len, 0);
    extism_free(res_off);
have_answer:
    if (!res) return JS_ThrowOutOfMemory(ctx);
    JSValue parsed = JS_ParseJSON(ctx, res, res_len, "<host response>");
    free(res);
    if (JS_IsException(parsed)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return host_error(ctx, "HOST_RESPONSE_INVALID", "the host answered with invalid JSON");
    }
    return parsed;
}

static uint64_t seed_from_hex(const char *hex) {
    uint64_t a = 0x9E3779B97F4A7C15ull, b = 0;
    for (size_t i = 0; hex[i]; i++) {
        char c = hex[i];
        uint64_t v = (c >= '0' && c <= '9') ? (uint64_t)(c - '0')
                   : (c >= 'a' && c <= 'f') ? (uint64_t)(c - 'a' + 10)
                   : (c >= 'A' && c <= 'F') ? (uint64_t)(c - 'A' + 10) : (uint64_t)(uint8_t)c;
        b = (b << 4) | v;
        if (i % 16 == 15) { a ^= b; a *= 0xBF58476D1CE4E5B9ull; a ^= a >> 31; b = 0; }
    }
    a ^= b;
    a ^= a >> 30; a *= 0xBF58476D1CE4E5B9ull; a ^= a >> 27; a *= 0x94D049BB133111EBull; a ^= a >> 31;
    return a ? a : 1;
}

/* native.setContext(nowMs, seedHex, fuel, heapBytes): called by the dispatcher after parsing input. */
static JSValue js_set_context(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    double now = 0, fuel = DEFAULT_FUEL, heap = DEFAULT_HEAP_BYTES;
    if (argc > 0) JS_ToFloat64(ctx, &now, argv[0]);
    g_now_ms = (now == now) ? (int64_t)now : 0;
    const char *seed = argc > 1 ? JS_ToCString(ctx, argv[1]) : NULL;
    JS_SetRandomSeed(ctx, seed_from_hex(seed ? seed : ""));
    if (seed) JS_FreeCString(ctx, seed);
    if (argc > 2 && !JS_IsUndefined(argv[2])) JS_ToFloat64(ctx, &fuel, argv[2]);
    if (argc > 3 && !JS_IsUndefined(argv[3])) JS_ToFloat64(ctx, &heap, argv[3]);
    g_fuel = fuel >= 1 ? (int64_t)fuel : 1;
    size_t base = g_mstate ? g_mstate->malloc_size : 0;
    JS_SetMemoryLimit(g_rt, base + (heap >= 65536 ? (size_t)heap : 65536));
    return JS_UNDEFINED;
}

static JSValue set_result(JSContext *ctx, JSValueConst v, int is_error) {
    if (g_result_set) return JS_UNDEFINED;
    size_t len = 0;
    const char *s = JS_IsString(v) ? JS_ToCStringLen(ctx, &len, v) : NULL;
    free(g_result);
    g_result = NULL;
    g_result_len = 0;
    if (s) {
        g_result = malloc(len + 1);
        if (g_result) { memcpy(g_result, s, len + 1); g_result_len = len; }
        JS_FreeCString(ctx, s);
    }
    g_result_is_error = is_error;
    g_result_set = 1;
    return JS_UNDEFINED;
}
static JSValue js_output(JSContext *ctx, JSValueConst t, int argc, JSValueConst *argv) {
    (void)t;
    return set_result(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, 0);
}
static JSValue js_error(JSContext *ctx, JSValueConst t, int argc, JSValueConst *argv) {
    (void)t;
    return set_result(ctx, argc > 0 ? argv[0] : JS_UNDEFINED, 1);
}

static void install_globals(JSContext *ctx) {
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue host = JS_NewObject(ctx);
    for (int i = 0; i < HOST_COUNT; i++)
        JS_SetPropertyStr(ctx, host, HOST_NAMES[i],
                          JS_NewCFunctionMagic(ctx, js_host_call, HOST_NAMES[i], 1, JS_CFUNC_generic_magic, i));
    JS_SetPropertyStr(ctx, global, "Host", host);
    JSValue native = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, native, "setContext", JS_NewCFunction(ctx, js_set_context, "setContext", 4));
    JS_SetPropertyStr(ctx, native, "output", JS_NewCFunction(ctx, js_output, "output", 1));
    JS_SetPropertyStr(ctx, native, "error", JS_NewCFunction(ctx, js_error, "error", 1));
    JS_SetPropertyStr(ctx, global, "__ueeNative", native);
    JS_FreeValue(ctx, global);
}

static void report_exception(JSContext *ctx, const char *phase) {
    JSValue exc = JS_GetException(ctx);
    const char *msg = JS_ToCString(ctx, exc);
    JSValue stack = JS_IsObject(exc) ? JS_GetPropertyStr(ctx, exc, "stack") : JS_UNDEFINED;
    const char *st = JS_IsString(stack) ? JS_ToCString(ctx, stack) : NULL;
    fprintf(stderr, "UEE_INIT_ERROR %s: %s\n%s", phase, msg ? msg : "(unknown)", st ? st : "");
    if (st) JS_FreeCString(ctx, st);
    if (msg) JS_FreeCString(ctx, msg);
    JS_FreeValue(ctx, stack);
    JS_FreeValue(ctx, exc);
}

static void drain_jobs(void) {
    JSContext *job_ctx;
    for (;;) {
        int r = JS_ExecutePendingJob(g_rt, &job_ctx);
        if (r == 0) break;
        if (r < 0) JS_FreeValue(job_ctx, JS_GetException(job_ctx));
        if (g_interrupted || g_oom) {
            /* keep draining would only re-trigger the limit; drop the remaining jobs' effects */
            if (r == 0) break;
        }
    }
}

extern void __wasm_call_ctors(void);

EXPORT("wizer.initialize") void uee_initialize(void) {
    __wasm_call_ctors();
    g_initializing = 1;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            char *bigger = malloc(cap * 2);
            memcpy(bigger, buf, len);
            free_zeroed(buf);
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(0, buf + len, cap - len - 1);
        if (n <= 0) break;
        len += (size_t)n;
    }
    buf[len] = 0;
    size_t prelude_len = strlen(buf);
    if (prelude_len == len) { fprintf(stderr, "UEE_INIT_ERROR payload: missing NUL separator\n"); exit(2); }

    g_initializing = 1;
    usable_size_check();
    g_rt = JS_NewRuntime2(&MALLOC_FUNCS, NULL);
    JS_SetMaxStackSize(g_rt, JS_STACK_BYTES);
    JS_SetInterruptHandler(g_rt, interrupt_handler, NULL);
    g_ctx = JS_NewContext(g_rt);
    install_globals(g_ctx);

    JSValue r = JS_Eval(g_ctx, buf, prelude_len, "uee-prelude.js", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(r)) { report_exception(g_ctx, "prelude"); exit(3); }
    JS_FreeValue(g_ctx, r);
    r = JS_Eval(g_ctx, buf + prelude_len + 1, len - prelude_len - 1, "plugin.js", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(r)) { report_exception(g_ctx, "plugin"); exit(4); }
    JS_FreeValue(g_ctx, r);
    drain_jobs();
    JS_RunGC(g_rt);
    free_zeroed(buf);
    g_initializing = 0;
}

static int32_t run(const char *kind) {
    size_t in_len;
    /* the previous call's result (under UEE_IO the host reads it after the call: freed only now) */
    free(g_result);
    g_result = NULL;
    g_result_len = 0;
    g_io_flags = UEE_IO_NONE;
    g_io_ptr = NULL;
    g_io_len = 0;
    char *input = g_stage ? take_stage(&in_len, 0) : NULL;
    if (!input) input = block_read(0, &in_len, 1);
    g_interrupted = 0;
    g_oom = 0;
    g_result_set = 0;
    g_fuel = DEFAULT_FUEL;
    JS_UpdateStackTop(g_rt);
    JS_SetMemoryLimit(g_rt, (size_t)-1);

    JSValue global = JS_GetGlobalObject(g_ctx);
    JSValue dispatch = JS_GetPropertyStr(g_ctx, global, "__ueeRun");
    JSValue args[2] = {JS_NewString(g_ctx, kind),
                       input ? JS_NewStringLen(g_ctx, input, in_len) : JS_NewString(g_ctx, "{}")};
    free(input);
    JSValue r = JS_Call(g_ctx, dispatch, global, 2, args);
    if (JS_IsException(r)) {
        JSValue exc = JS_GetException(g_ctx);
        if (!g_result_set) {
            const char *m = JS_ToCString(g_ctx, exc);
            JSValue msg = JS_NewString(g_ctx, m ? m : "dispatcher failed");
            if (m) JS_FreeCString(g_ctx, m);
            JSValue obj = JS_NewObject(g_ctx);
            JS_SetPropertyStr(g_ctx, obj, "code", JS_NewString(g_ctx, "ENGINE_ERROR"));
            JS_SetPropertyStr(g_ctx, obj, "message", msg);
            JSValue txt = JS_JSONStringify(g_ctx, obj, JS_UNDEFINED, JS_UNDEFINED);
            set_result(g_ctx, txt, 1);
            JS_FreeValue(g_ctx, txt);
            JS_FreeValue(g_ctx, obj);
        }
        JS_FreeValue(g_ctx, exc);
    }
    JS_FreeValue(g_ctx, r);
    drain_jobs();
    JS_FreeValue(g_ctx, args[0]);
    JS_FreeValue(g_ctx, args[1]);
    JS_FreeValue(g_ctx, dispatch);
    JS_FreeValue(g_ctx, global);
    JS_SetMemoryLimit(g_rt, (size_t)-1);

    const char *fixed = NULL;
    if (g_interrupted)
        fixed = "{\"code\":\"FUEL_EXHAUSTED\",\"message\":\"the plugin ran out of fuel (interrupt budget): "
                "look for an unbounded loop or raise context.budget.fuel\"}";
    else if (g_oom)
        fixed = "{\"code\":\"OUT_OF_MEMORY\",\"message\":\"the plugin exceeded its JS heap limit "
                "(context.budget.heapBytes): keep less data in memory\"}";
    else if (!g_result_set)
        fixed = "{\"code\":\"PROMISE_PENDING\",\"message\":\"the handler's promise never settled: there is no "
                "event loop, so only host calls and promise chains may be awaited\"}";
    if (g_io) {
        /* UEE_IO: the result stays here for the host to read (freed when the next call starts) */
        if (fixed || g_result_is_error) {
            g_io_flags = UEE_IO_ERROR;
            g_io_ptr = fixed ? fixed : g_result ? g_result : "{}";
            g_io_len = fixed ? strlen(fixed) : g_result ? g_result_len : 2;
            return 1;
        }
        g_io_flags = g_result ? UEE_IO_OUTPUT : UEE_IO_NONE;
        g_io_ptr = g_result;
        g_io_len = g_result ? g_result_len : 0;
        return 0;
    }
    if (fixed) {
        extism_error_set(block_from(fixed, strlen(fixed)));
        return 1;
    }
    if (g_result_is_error) {
        extism_error_set(block_from(g_result ? g_result : "{}", g_result ? g_result_len : 2));
        return 1;
    }
    if (g_result) extism_output_set(block_from(g_result, g_result_len), g_result_len);
    free(g_result);
    g_result = NULL;
    return 0;
}

EXPORT("handle") int32_t uee_handle(void) { return run("handle"); }
EXPORT("infer") int32_t uee_infer(void) { return run("infer"); }
