/*
 * uee_plugin.h — the UEE plugin SDK for C (compiled by compileC: clang for wasm32, freestanding).
 * Dependency-free and header-only: the Extism kernel and UEE host imports, the input, the output,
 * errors, and host calls that take a JSON request and return the JSON answer
 * ({"ok":true,"value":…} or {"ok":false,"error":{"code","message"}}), with the same host functions
 * and shapes as the other SDKs (docs/sdk.md). There is no libc: memory comes from a bump allocator
 * over the module's heap (one event per instance at a time). Under the UEE runtime (direct I/O) the
 * heap starts over at each call, so keep nothing in it across calls; on another Extism host nothing
 * is freed until the instance is replaced.
 *
 *   #include "uee_plugin.h"
 *   UEE_EXPORT("handle") int handle(void) {
 *     uee_str in = uee_input();                       // the event input as JSON text
 *     uee_str seen = uee_host_log("{\"level\":\"info\",\"message\":\"hi\"}");
 *     return uee_output_cstr("{\"ok\":true}");
 *   }
 */
#ifndef UEE_PLUGIN_H
#define UEE_PLUGIN_H

typedef unsigned long long uee_u64;
typedef unsigned long uee_size;

/** A byte string (not NUL-terminated unless made by this SDK, which always terminates). */
typedef struct { const char *ptr; uee_size len; } uee_str;

#define UEE_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
/** Marks a plugin entry (`handle` for events and workflows, `infer` for models). */
#define UEE_EXPORT(name) __attribute__((export_name(name)))

UEE_IMPORT("extism:host/env", "input_length") uee_u64 uee_k_input_length(void);
UEE_IMPORT("extism:host/env", "input_load_u8") unsigned char uee_k_input_load_u8(uee_u64);
UEE_IMPORT("extism:host/env", "alloc") uee_u64 uee_k_alloc(uee_u64);
UEE_IMPORT("extism:host/env", "length") uee_u64 uee_k_length(uee_u64);
UEE_IMPORT("extism:host/env", "load_u8") unsigned char uee_k_load_u8(uee_u64);
UEE_IMPORT("extism:host/env", "store_u8") void uee_k_store_u8(uee_u64, unsigned char);
UEE_IMPORT("extism:host/env", "output_set") void uee_k_output_set(uee_u64, uee_u64);
UEE_IMPORT("extism:host/env", "error_set") void uee_k_error_set(uee_u64);

#define UEE_HOST(name) UEE_IMPORT("extism:host/user", #name) uee_u64 uee_h_##name(uee_u64);
UEE_HOST(read_entity)
UEE_HOST(write_entity)
UEE_HOST(emit_event)
UEE_HOST(query_read_model)
UEE_HOST(update_read_model)
UEE_HOST(get_tenant_config)
UEE_HOST(call_model)
UEE_HOST(schedule_timer)
UEE_HOST(cancel_timer)
UEE_HOST(spawn_workflow)
UEE_HOST(log)
#undef UEE_HOST

/* clang may lower loops and struct copies to these calls; weak so several files may include this header. */
__attribute__((weak)) void *memcpy(void *d, const void *s, uee_size n) { char *o = (char *)d; const char *i = (const char *)s; while (n--) *o++ = *i++; return d; }
__attribute__((weak)) void *memmove(void *d, const void *s, uee_size n) {
  char *o = (char *)d; const char *i = (const char *)s;
  if (o < i) { while (n--) *o++ = *i++; } else { o += n; i += n; while (n--) *--o = *--i; }
  return d;
}
__attribute__((weak)) void *memset(void *d, int c, uee_size n) { unsigned char *o = (unsigned char *)d; while (n--) *o++ = (unsigned char)c; return d; }

extern unsigned char __heap_base;
/* The SDK's state is weak, not static: a plugin of several files has one heap and one direct-I/O
   state, whichever of its files allocates or answers. */
#define UEE_SHARED __attribute__((weak))
UEE_SHARED uee_size uee_heap_top;

/** Allocates `n` bytes from the bump heap (8-byte aligned; grows memory as needed). */
static void *uee_alloc(uee_size n) {
  if (uee_heap_top == 0) uee_heap_top = (uee_size)&__heap_base;
  uee_size at = (uee_heap_top + 7) & ~(uee_size)7;
  uee_size end = at + n;
  uee_size have = __builtin_wasm_memory_size(0) * 65536ul;
  if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535) / 65536) == (uee_size)-1) __builtin_trap();
  uee_heap_top = end;
  return (void *)at;
}

static uee_size uee_strlen(const char *s) { uee_size n = 0; while (s[n]) n++; return n; }

static uee_u64 uee_to_kernel(const char *p, uee_size n) {
  uee_u64 off = uee_k_alloc(n);
  for (uee_size i = 0; i < n; i++) uee_k_store_u8(off + i, (unsigned char)p[i]);
  return off;
}

static uee_str uee_from_kernel(uee_u64 off) {
  uee_size n = (uee_size)uee_k_length(off);
  char *p = (char *)uee_alloc(n + 1);
  for (uee_size i = 0; i < n; i++) p[i] = (char)uee_k_load_u8(off + i);
  p[n] = 0;
  return (uee_str){ p, n };
}

/*
 * Direct I/O (docs/plugin-abi.md, "Direct I/O"): a host that calls uee_io_enable (the UEE runtime)
 * copies the input, the output and each host call's request and answer as whole ranges of this
 * module's memory instead of one byte per kernel call. Plain Extism hosts never enable it, and the
 * kernel path runs unchanged. The runtime stages each call's input just before the call: the bump
 * heap starts over there (the previous call's output was read when that call ended).
 */
#define UEE_IO_NONE 0
#define UEE_IO_OUTPUT 1
#define UEE_IO_ERROR 2
#define UEE_IO_REQUEST 3
#define UEE_IO_STAGED 1
UEE_SHARED int uee_io_on, uee_io_fl, uee_io_stage_answer;
UEE_SHARED const char *uee_io_p;
UEE_SHARED uee_size uee_io_n;
UEE_SHARED char *uee_io_stage_p;
UEE_SHARED uee_size uee_io_stage_n;

/* weak: several files may include this header, the module exports each once */
__attribute__((weak, export_name("uee_io_enable"))) int uee_io_enable(void) { uee_io_on = 1; return 1; }
__attribute__((weak, export_name("uee_io_flags"))) int uee_io_flags(void) { return uee_io_fl; }
__attribute__((weak, export_name("uee_io_ptr"))) unsigned uee_io_ptr(void) { return (unsigned)(uee_size)uee_io_p; }
__attribute__((weak, export_name("uee_io_len"))) unsigned uee_io_len(void) { return (unsigned)uee_io_n; }
__attribute__((weak, export_name("uee_io_stage"))) unsigned uee_io_stage(unsigned len) {
  uee_io_stage_answer = uee_io_fl == UEE_IO_REQUEST;
  if (!uee_io_stage_answer) {
    /* a call's input, staged just before the call: the call before is over and its output or error
       read, so its heap is free again and nothing of it is left to read */
    uee_heap_top = 0;
    uee_io_fl = UEE_IO_NONE;
    uee_io_p = 0;
    uee_io_n = 0;
  }
  uee_io_stage_p = (char *)uee_alloc((uee_size)len + 1);
  uee_io_stage_p[len] = 0;
  uee_io_stage_n = len;
  return (unsigned)(uee_size)uee_io_stage_p;
}

/* The staged bytes of that kind (an answer, or an input); anything else staged is dropped. */
static int uee_io_take(int answer, uee_str *out) {
  char *p = uee_io_stage_p;
  uee_io_stage_p = 0;
  if (!p || uee_io_stage_answer != answer) return 0;
  *out = (uee_str){ p, uee_io_stage_n };
  return 1;
}

static void uee_io_set(int flags, const char *p, uee_size n) { uee_io_fl = flags; uee_io_p = p; uee_io_n = n; }

/** The event input `{ event, entity?, settings, context }` as JSON text. */
static uee_str uee_input(void) {
  uee_str staged;
  if (uee_io_take(0, &staged)) return staged;
  uee_size n = (uee_size)uee_k_input_length();
  char *p = (char *)uee_alloc(n + 1);
  for (uee_size i = 0; i < n; i++) p[i] = (char)uee_k_input_load_u8(i);
  p[n] = 0;
  return (uee_str){ p, n };
}

/** Sets the handler's output (JSON text); returns 0 for `return uee_output(…)`. */
static int uee_output(uee_str json) {
  if (uee_io_on) uee_io_set(UEE_IO_OUTPUT, json.ptr, json.len);
  else uee_k_output_set(uee_to_kernel(json.ptr, json.len), json.len);
  return 0;
}
static int uee_output_cstr(const char *json) { return uee_output((uee_str){ json, uee_strlen(json) }); }

/** Fails the event with `{"code":…,"message":…}` (JSON text you built); returns 1 for `return uee_fail(…)`. */
static int uee_fail_json(const char *error_json) {
  if (uee_io_on) uee_io_set(UEE_IO_ERROR, error_json, uee_strlen(error_json));
  else uee_k_error_set(uee_to_kernel(error_json, uee_strlen(error_json)));
  return 1;
}

/* A host call: under direct I/O the host reads the request where it is and stages its answer. */
static uee_str uee_call(uee_u64 (*fn)(uee_u64), const char *request_json) {
  uee_size n = uee_strlen(request_json);
  if (!uee_io_on) return uee_from_kernel(fn(uee_to_kernel(request_json, n)));
  uee_str answer;
  uee_io_take(1, &answer);
  int kept = uee_io_fl;
  const char *kept_p = uee_io_p;
  uee_size kept_n = uee_io_n;
  uee_io_set(UEE_IO_REQUEST, request_json, n);
  uee_u64 off = fn(0);
  /* an output set before this call stays the output */
  uee_io_set(kept, kept_p, kept_n);
  if (uee_io_take(1, &answer) && off == UEE_IO_STAGED) return answer;
  return uee_from_kernel(off);
}

#define UEE_CALL(name) \
  static uee_str uee_host_##name(const char *request_json) { return uee_call(uee_h_##name, request_json); }
/* Each takes the request as JSON text and returns the host's JSON answer. */
UEE_CALL(read_entity)
UEE_CALL(write_entity)
UEE_CALL(emit_event)
UEE_CALL(query_read_model)
UEE_CALL(update_read_model)
UEE_CALL(get_tenant_config)
UEE_CALL(call_model)
UEE_CALL(schedule_timer)
UEE_CALL(cancel_timer)
UEE_CALL(spawn_workflow)
UEE_CALL(log)
#undef UEE_CALL

/** Whether the answer of a host call is `{"ok":true,…}`. */
static int uee_ok(uee_str answer) {
  const char *k = "\"ok\":true";
  for (uee_size i = 0; i + 9 <= answer.len; i++) {
    uee_size j = 0;
    while (j < 9 && answer.ptr[i + j] == k[j]) j++;
    if (j == 9) return 1;
  }
  return 0;
}

#endif
