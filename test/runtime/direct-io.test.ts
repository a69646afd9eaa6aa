/**
 * DIRECT-IO-*: the JS engine's direct I/O (src/runtime/direct-io.ts, the shim's `uee_io_*`). With it
 * on, a call's input, output, error and every host call's request and answer cross as whole byte
 * ranges of the module's memory instead of 8 bytes per kernel call: the same answers as the kernel
 * path, byte for byte; a module misusing it fails its own call only.
 */
import createPlugin from '@extism/extism';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileAssemblyScript, compileC, compileJs, compileRust } from '../../src/compiler/index.js';
import { DirectIo, DirectIoError, IO_STAGED } from '../../src/runtime/direct-io.js';
import type { InvocationResult } from '../../src/runtime/index.js';
import { sharedEngine } from '../compiler/plugin-host.js';
import { buildWat } from './wat.js';
import { makeEvent, openRuntime, type RuntimeFixture } from './setup.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Reads an entity (its answer is ~60 KB), logs, and returns the input's payload with the entity's
// size: every direction of the boundary carries tens of KB, in UTF-8 beyond ASCII too.
const SOURCE = `
export function handle(input) {
  const p = input.event.payload;
  if (p.fail) throw new Error('failed: ' + p.text.slice(0, 20));
  if (p.spin) { for (;;) {} }
  const r = Host.read_entity({ entityId: 'big-' + p.n });
  console.log('read', r.ok, p.text.length);
  return { text: p.text + '|' + p.text.length, entity: r.ok ? r.value.attributes.blob.length : r.error.code, echo: r.ok ? r.value.attributes.blob.slice(-12) : null };
}
`;
const TEXT = 'héllo wörld ✓ 🚀 '.repeat(6000); // ~110 KB of UTF-8
const BLOB = 'ü'.repeat(30_000) + 'end-of-blob!';

let wasm: Uint8Array;
beforeAll(async () => {
  wasm = (await compileJs({ files: { 'main.js': SOURCE }, entry: 'main.js', engine: await sharedEngine() })).wasm;
}, 600_000);

const inputOf = (payload: Record<string, unknown>, fuel = 1e6): string =>
  JSON.stringify({ event: makeEvent('acme', { payload }), settings: {}, context: { now: '2026-11-26T12:00:00.000Z', randomSeed: '00', budget: { fuel } } });

/** The host's answer to a request (the same on both paths). */
function answer(fn: string, request: string): string {
  if (fn === 'read_entity') {
    const { entityId } = JSON.parse(request) as { entityId: string };
    return JSON.stringify({ ok: true, value: { entityId, attributes: { blob: BLOB } } });
  }
  return JSON.stringify({ ok: true, value: {} });
}

type Outcome = { ok: true; output: string } | { ok: false; error: string };
interface Ctx {
  read(addr: bigint): { bytes(): Uint8Array } | null;
  store(data: Uint8Array | string): bigint;
}

/**
 * The engine (or `module`) on plain Extism. `direct`: direct I/O on, and the kernel's byte functions
 * throw — a call that still moved bytes through them fails.
 */
async function instance(direct: boolean, module: Uint8Array = wasm) {
  let io: DirectIo | null = null;
  const requests: string[] = [];
  const hostFn = (fn: string) => (ctx: Ctx, addr: bigint): bigint => {
    if (direct) {
      const request = io!.request();
      if (addr !== 0n || request === null) throw new Error('the request did not come by direct I/O');
      requests.push(decoder.decode(request));
      io!.stage(encoder.encode(answer(fn, requests.at(-1))));
      return IO_STAGED;
    }
    const request = decoder.decode(ctx.read(addr)!.bytes());
    requests.push(request);
    return ctx.store(answer(fn, request));
  };
  const kernelTrap = (name: string) => () => {
    throw new Error(`kernel ${name} used with direct I/O on`);
  };
  const env = direct ? Object.fromEntries(['input_load_u8', 'input_load_u64', 'load_u8', 'load_u64', 'store_u8', 'store_u64', 'alloc', 'output_set', 'error_set'].map((n) => [n, kernelTrap(n)])) : {};
  const plugin = await createPlugin(
    { wasm: [{ data: module }] },
    { useWasi: false, functions: { 'extism:host/user': { read_entity: hostFn('read_entity'), log: hostFn('log') }, ...(direct ? { 'extism:host/env': env } : {}) } },
  );
  if (await plugin.functionExists('_initialize')) await plugin.call('_initialize');
  if (direct) {
    io = DirectIo.of(((await plugin.getInstance()) as unknown as { exports: Record<string, unknown> }).exports);
    expect(io).not.toBeNull();
    io!.enable();
  }
  return {
    requests,
    async call(input: string): Promise<Outcome> {
      try {
        if (!direct) {
          const out = await plugin.call('handle', input);
          return { ok: true, output: out?.text() ?? '' };
        }
        io!.stage(encoder.encode(input));
        await plugin.call('handle', '');
        const r = io!.result();
        if (r === null) return { ok: true, output: '' };
        const text = decoder.decode(r.bytes);
        return r.kind === 'output' ? { ok: true, output: text } : { ok: false, error: text };
      } catch (err) {
        return { ok: false, error: (err as Error).message.replace(/^Plugin-originated error: /, '') };
      }
    },
    close: () => plugin.close(),
  };
}

type Instance = Awaited<ReturnType<typeof instance>>;
const textOf = (o: Outcome): string => (o.ok ? o.output : o.error);

/**
 * `module` on plain Extism twice, through the kernel and by direct I/O (the kernel's byte functions
 * throwing): each of `cases` gives the same answer byte for byte (compared whole, reported short: the
 * texts are ~100 KB); then `more` checks the pair further.
 */
async function sameAsKernel(module: Uint8Array, cases: readonly string[], more: (kernel: Instance, direct: Instance) => Promise<void>): Promise<void> {
  const kernel = await instance(false, module);
  const direct = await instance(true, module);
  try {
    for (const input of cases) {
      const a = await kernel.call(input);
      const b = await direct.call(input);
      expect({ ok: b.ok, length: textOf(b).length, start: textOf(b).slice(0, 80) }).toEqual({ ok: a.ok, length: textOf(a).length, start: textOf(a).slice(0, 80) });
      expect(textOf(b) === textOf(a)).toBe(true);
    }
    await more(kernel, direct);
  } finally {
    await kernel.close();
    await direct.close();
  }
}

/** The SDK plugins' cases: a big input, a failure, a smaller input. */
const SDK_CASES = [inputOf({ n: 1, text: TEXT }), inputOf({ n: 2, text: TEXT, fail: true }), inputOf({ n: 4, text: TEXT.slice(0, 5000) })];

/**
 * These tests are not about the time budget: a call's default 1 s ran out for an AssemblyScript call
 * with a ~60 KB host-call answer on a CI machine loaded by the rest of the suite (2026-12-05). 10 s is
 * the operator's default ceiling (UEE_MAX_TIMEOUT_MS).
 */
const UNTIMED = { timeoutMs: 10_000 };

/** A runtime holding entity big-7 (a ~60 KB answer) for `body`. */
async function inRuntime(body: (rt: RuntimeFixture) => Promise<void>): Promise<void> {
  const rt = await openRuntime();
  try {
    await rt.store.commit({ tenantId: 'acme', actor: 'test' }, { writes: [{ entityId: 'big-7', entityTypeId: 'Blob', attributes: { blob: BLOB } }] });
    await body(rt);
  } finally {
    await rt.close();
  }
}

/** Through the runtime: the output budget stops `wasm`'s big output in the worker, and its failure is the plugin's typed error. */
async function budgetAndFailure(rt: RuntimeFixture, id: string, wasm: Uint8Array, message: string): Promise<void> {
  await rt.host.load({ id: `${id}-small`, name: `${id}-small`, version: '1', kind: 'event', capabilities: ['readEntities'], wasm, budget: { ...UNTIMED, outputBytes: 64 * 1024 } });
  const over = await rt.host.invoke(`${id}-small`, { event: makeEvent('acme', { payload: { n: 7, text: TEXT } }) });
  expect(over.ok).toBe(false);
  if (!over.ok) expect(over.error.message).toMatch(/^output of \d+ bytes exceeds the budget of 65536$/);
  const failed = await rt.host.invoke(id, { event: makeEvent('acme', { payload: { n: 7, text: 'x', fail: true } }) });
  expect(failed.ok).toBe(false);
  if (!failed.ok) expect(failed.error).toMatchObject({ code: 'PLUGIN_ERROR', message, details: { pluginCode: 'FAILED' } });
}

describe('direct I/O between the runtime and the JS engine', () => {
  it('DIRECT-IO-1: input, output, errors and host calls give the kernel path\'s bytes, without the kernel moving any', async () => {
    const kernel = await instance(false);
    const direct = await instance(true);
    try {
      const cases = [
        inputOf({ n: 1, text: TEXT }),
        inputOf({ n: 2, text: TEXT, fail: true }),
        inputOf({ n: 3, text: 'x', spin: true }, 3),
        inputOf({ n: 4, text: TEXT.slice(0, 5000) }),
      ];
      for (const input of cases) {
        const a = await kernel.call(input);
        const b = await direct.call(input);
        // Compared whole but reported short (the texts are ~100 KB).
        const text = (o: Outcome): string => (o.ok ? o.output : o.error);
        expect({ ok: b.ok, length: text(b).length, start: text(b).slice(0, 80) }).toEqual({ ok: a.ok, length: text(a).length, start: text(a).slice(0, 80) });
        expect(text(b) === text(a)).toBe(true);
      }
      const first = JSON.parse((await direct.call(cases[0]!) as { output: string }).output) as { text: string; entity: number; echo: string };
      expect(first.text).toBe(`${TEXT}|${TEXT.length}`);
      expect(first.entity).toBe(BLOB.length);
      expect(first.echo).toBe('end-of-blob!');
      expect(((await direct.call(cases[1]!)) as { error: string }).error).toContain('failed: héllo');
      expect(((await direct.call(cases[2]!)) as { error: string }).error).toContain('FUEL_EXHAUSTED');
      expect(direct.requests).toEqual(kernel.requests.concat(direct.requests.slice(kernel.requests.length)));
      expect(direct.requests.filter((r) => r.includes('big-1'))).toHaveLength(2);
    } finally {
      await kernel.close();
      await direct.close();
    }
  }, 120_000);
});

describe('direct I/O in the runtime', () => {
  let rt: RuntimeFixture;
  beforeAll(async () => {
    rt = await openRuntime();
    await rt.store.commit({ tenantId: 'acme', actor: 'test' }, { writes: [{ entityId: 'big-7', entityTypeId: 'Blob', attributes: { blob: BLOB } }] });
  }, 600_000);
  afterAll(async () => {
    await rt?.close();
  });

  const ok = (r: InvocationResult): unknown => {
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    return r.output;
  };

  it('DIRECT-IO-2: a JS plugin\'s big input, host answer and output cross whole; the output budget still holds', async () => {
    await rt.host.load({ id: 'js-io', name: 'js-io', version: '1', kind: 'event', capabilities: ['readEntities'], wasm, budget: UNTIMED });
    const before = rt.host.stats().directIoCalls;
    const out = ok(await rt.host.invoke('js-io', { event: makeEvent('acme', { payload: { n: 7, text: TEXT } }) })) as { text: string; entity: number; echo: string };
    expect(out.text).toBe(`${TEXT}|${TEXT.length}`);
    expect(out.entity).toBe(BLOB.length);
    expect(out.echo).toBe('end-of-blob!');
    // It crossed by direct I/O: the worker says so for each such call.
    expect(rt.host.stats().directIoCalls).toBe(before + 1);
    await rt.host.load({ id: 'js-io-small', name: 'js-io-small', version: '1', kind: 'event', capabilities: ['readEntities'], wasm, budget: { ...UNTIMED, outputBytes: 64 * 1024 } });
    const over = await rt.host.invoke('js-io-small', { event: makeEvent('acme', { payload: { n: 7, text: TEXT } }) });
    expect(over.ok).toBe(false);
    if (!over.ok) {
      expect(over.error.code).toBe('BUDGET_EXCEEDED');
      // Stopped in the worker, before the output crossed to the main thread (whose own check of
      // output plus effects words it "output and effects are …").
      expect(over.error.message).toMatch(/^output of \d+ bytes exceeds the budget of 65536$/);
    }
    const fine = ok(await rt.host.invoke('js-io-small', { event: makeEvent('acme', { payload: { n: 7, text: 'short' } }) })) as { text: string };
    expect(fine.text).toBe('short|5');
  }, 120_000);

  it('DIRECT-IO-3: a module naming memory it does not have fails its own call; the worker and others go on', async () => {
    await rt.host.load({ id: 'bad-io', name: 'bad-io', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('bad-direct-io'), budget: UNTIMED });
    for (let i = 0; i < 3; i++) {
      const r = await rt.host.invoke('bad-io', { event: makeEvent('globex') });
      expect(r.ok).toBe(false);
    }
    await rt.host.load({ id: 'js-io-3', name: 'js-io-3', version: '1', kind: 'event', capabilities: ['readEntities'], wasm, budget: UNTIMED });
    const out = ok(await rt.host.invoke('js-io-3', { event: makeEvent('acme', { payload: { n: 7, text: 'after' } }) })) as { text: string };
    expect(out.text).toBe('after|5');
  }, 120_000);

  it('DIRECT-IO-4: DirectIo refuses ranges outside the module\'s memory', () => {
    const memory = { buffer: new ArrayBuffer(65536) };
    const io = DirectIo.of({ memory, uee_io_enable: () => 1, uee_io_flags: () => 1, uee_io_ptr: () => 65530, uee_io_len: () => 100, uee_io_stage: () => 65000 });
    expect(io).not.toBeNull();
    expect(() => io!.result()).toThrow(DirectIoError);
    expect(() => io!.stage(new Uint8Array(1000))).toThrow(DirectIoError);
    expect(DirectIo.of({ memory, uee_io_enable: () => 1 })).toBeNull();
  });
});

// The same plugin in Rust (sdk/rust/uee_plugin.rs implements the uee_io_* exports too).
const RUST_SOURCE = `use uee_plugin::*;
fn on_any(input: &Value) -> Result<Option<Value>, Error> {
    let p = input.get("event").get("payload");
    let text = p.get("text").str().to_string();
    if p.get("fail").bool() {
        return Err(Error::new("FAILED", &format!("failed: {}", text.chars().take(20).collect::<String>())));
    }
    if p.get("none").bool() {
        return Ok(None);
    }
    let n = p.get("n").as_num().unwrap_or(0.0) as i64;
    let r = read_entity(&format!("big-{}", n));
    log("info", "read", None);
    let (entity, echo) = match &r {
        Ok(v) => {
            let blob = v.get("attributes").get("blob").str();
            let chars: Vec<char> = blob.chars().collect();
            (Value::from(chars.len() as f64), Value::from(chars[chars.len() - 12..].iter().collect::<String>()))
        }
        Err(e) => (Value::from(e.code.as_str()), Value::Null),
    };
    Ok(Some(Value::obj().set("text", format!("{}|{}", text, text.chars().count())).set("entity", entity).set("echo", echo)))
}
#[no_mangle]
pub extern "C" fn handle() -> i32 { dispatch(&[("*", on_any)]) }
`;

describe('direct I/O in the Rust SDK', () => {
  let rust: Uint8Array;
  beforeAll(async () => {
    rust = (await compileRust({ entry: 'lib.rs', files: { 'lib.rs': RUST_SOURCE } })).wasm;
  }, 600_000);

  it('DIRECT-IO-5: a Rust plugin\'s input, output, error and host calls give the kernel path\'s bytes, without the kernel moving any', async () => {
    await sameAsKernel(rust, SDK_CASES, async (kernel, direct) => {
      const first = JSON.parse((await direct.call(SDK_CASES[0]!) as { output: string }).output) as { text: string; entity: number; echo: string };
      expect(first).toEqual({ text: `${TEXT}|${[...TEXT].length}`, entity: BLOB.length, echo: 'end-of-blob!' });
      expect(JSON.parse(((await direct.call(SDK_CASES[1]!)) as { error: string }).error)).toEqual({ code: 'FAILED', message: `failed: ${[...TEXT].slice(0, 20).join('')}` });
      // A call after an error starts clean: the error is not read as its output, nor as the answer
      // of a call that returns nothing.
      expect(JSON.parse(((await direct.call(SDK_CASES[2]!)) as { output: string }).output).text).toBe(`${TEXT.slice(0, 5000)}|${[...TEXT.slice(0, 5000)].length}`);
      expect((await direct.call(SDK_CASES[1]!)).ok).toBe(false);
      expect(await direct.call(inputOf({ n: 5, text: 'x', none: true }))).toEqual({ ok: true, output: '' });
      expect(await kernel.call(inputOf({ n: 5, text: 'x', none: true }))).toEqual({ ok: true, output: '' });
      expect(direct.requests.filter((r) => r.includes('big-1'))).toHaveLength(2);
      expect(direct.requests.some((r) => r.includes('"level":"info"'))).toBe(true);
    });
  }, 120_000);

  it('DIRECT-IO-6: through the runtime, a Rust plugin crosses by direct I/O and its output budget holds', async () => {
    await inRuntime(async (rt) => {
      await rt.host.load({ id: 'rust-io', name: 'rust-io', version: '1', kind: 'event', capabilities: ['readEntities'], wasm: rust, budget: UNTIMED });
      const before = rt.host.stats().directIoCalls;
      const r = await rt.host.invoke('rust-io', { event: makeEvent('acme', { payload: { n: 7, text: TEXT } }) });
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
      expect(r.output).toEqual({ text: `${TEXT}|${[...TEXT].length}`, entity: BLOB.length, echo: 'end-of-blob!' });
      expect(rt.host.stats().directIoCalls).toBe(before + 1);
      await budgetAndFailure(rt, 'rust-io', rust, 'failed: x');
    });
  }, 120_000);
});

// The same plugin in AssemblyScript (sdk/as: compileAssemblyScript exports its uee_io_* functions).
const AS_SOURCE = `import { Value, on, dispatch, readEntity, log, fail } from "uee-plugin";
on("*", (input: Value): Value | null => {
  const p = input.get("event").get("payload");
  const text = p.get("text").str();
  if (p.get("fail").bool()) { fail("FAILED", "failed: " + text.slice(0, 20)); return null; }
  if (p.get("none").bool()) return null;
  if (p.get("quiet").bool()) { log("info", "quiet"); return null; }
  const n = <i64>p.get("n").num();
  const r = readEntity("big-" + n.toString());
  log("info", "read");
  const out = Value.obj().setStr("text", text + "|" + text.length.toString());
  if (r.ok) {
    const blob = r.value.get("attributes").get("blob").str();
    out.setNum("entity", <f64>blob.length);
    out.setStr("echo", blob.slice(blob.length - 12));
  } else {
    out.setStr("entity", r.code);
    out.set("echo", Value.null());
  }
  return out;
});
export function handle(): i32 { return dispatch(); }
`;

describe('direct I/O in the AssemblyScript SDK', () => {
  let as: Uint8Array;
  beforeAll(async () => {
    as = (await compileAssemblyScript({ entry: 'index.ts', files: { 'index.ts': AS_SOURCE } })).wasm;
  }, 600_000);

  it('DIRECT-IO-7: an AssemblyScript plugin\'s input, output, error and host calls give the kernel path\'s bytes, without the kernel moving any', async () => {
    await sameAsKernel(as, SDK_CASES, async (kernel, direct) => {
      const first = JSON.parse((await direct.call(SDK_CASES[0]!) as { output: string }).output) as { text: string; entity: number; echo: string };
      expect(first).toEqual({ text: `${TEXT}|${TEXT.length}`, entity: BLOB.length, echo: 'end-of-blob!' });
      expect(JSON.parse(((await direct.call(SDK_CASES[1]!)) as { error: string }).error)).toEqual({ code: 'FAILED', message: `failed: ${TEXT.slice(0, 20)}` });
      // A call after an error starts clean, also one that returns nothing.
      expect((await direct.call(SDK_CASES[1]!)).ok).toBe(false);
      expect(await direct.call(inputOf({ n: 5, text: 'x', none: true }))).toEqual({ ok: true, output: '' });
      expect(await kernel.call(inputOf({ n: 5, text: 'x', none: true }))).toEqual({ ok: true, output: '' });
      expect(direct.requests.filter((r) => r.includes('big-1'))).toHaveLength(2);
      // log() is a host call too: its answer is taken and the request state cleared, so a call that
      // logs last and returns nothing leaves nothing behind for the next call's input.
      expect(await direct.call(inputOf({ n: 6, text: 'x', quiet: true }))).toEqual({ ok: true, output: '' });
      expect(JSON.parse(((await direct.call(inputOf({ n: 6, text: 'after' }))) as { output: string }).output).text).toBe('after|5');
    });
  }, 120_000);

  it('DIRECT-IO-8: through the runtime, an AssemblyScript plugin crosses by direct I/O and its output budget holds', async () => {
    await inRuntime(async (rt) => {
      await rt.host.load({ id: 'as-io', name: 'as-io', version: '1', kind: 'event', capabilities: ['readEntities'], wasm: as, budget: UNTIMED });
      const before = rt.host.stats().directIoCalls;
      const r = await rt.host.invoke('as-io', { event: makeEvent('acme', { payload: { n: 7, text: TEXT } }) });
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
      expect(r.output).toEqual({ text: `${TEXT}|${TEXT.length}`, entity: BLOB.length, echo: 'end-of-blob!' });
      expect(rt.host.stats().directIoCalls).toBe(before + 1);
      await budgetAndFailure(rt, 'as-io', as, 'failed: x');
    });
  }, 120_000);
});

// A C plugin (sdk/c/uee_plugin.h has no JSON parser: it finds flags by text and echoes its input).
const C_SOURCE = `#include "uee_plugin.h"
static int has(uee_str s, const char *k) {
  uee_size m = uee_strlen(k);
  for (uee_size i = 0; i + m <= s.len; i++) { uee_size j = 0; while (j < m && s.ptr[i + j] == k[j]) j++; if (j == m) return 1; }
  return 0;
}
static char *put(char *o, const char *s, uee_size n) { for (uee_size i = 0; i < n; i++) *o++ = s[i]; return o; }
static char *num(char *o, uee_size v) { char b[24]; int k = 0; do { b[k++] = (char)('0' + v % 10); v /= 10; } while (v); while (k) *o++ = b[--k]; return o; }
UEE_EXPORT("handle") int handle(void) {
  uee_str in = uee_input();
  if (has(in, "\\"fail\\":true")) return uee_fail_json("{\\"code\\":\\"FAILED\\",\\"message\\":\\"failed\\"}");
  if (has(in, "\\"quiet\\":true")) { uee_host_log("{\\"level\\":\\"info\\",\\"message\\":\\"quiet\\"}"); return 0; }
  if (has(in, "\\"none\\":true")) return 0;
  uee_str a = uee_host_read_entity("{\\"entityId\\":\\"big-7\\"}");
  uee_host_log("{\\"level\\":\\"info\\",\\"message\\":\\"read\\"}");
  char *out = (char *)uee_alloc(in.len + 64);
  char *o = out;
  o = put(o, "{\\"in\\":", 6); o = num(o, in.len);
  o = put(o, ",\\"answer\\":", 10); o = num(o, a.len);
  o = put(o, ",\\"ok\\":", 6); o = uee_ok(a) ? put(o, "true", 4) : put(o, "false", 5);
  o = put(o, ",\\"input\\":", 9); o = put(o, in.ptr, in.len); *o++ = '}';
  return uee_output((uee_str){ out, (uee_size)(o - out) });
}
`;

describe('direct I/O in the C SDK', () => {
  let c: Uint8Array;
  beforeAll(async () => {
    c = (await compileC({ entry: 'main.c', files: { 'main.c': C_SOURCE } })).wasm;
  }, 600_000);

  it('DIRECT-IO-9: a C plugin\'s input, output, error and host calls give the kernel path\'s bytes, without the kernel moving any', async () => {
    await sameAsKernel(c, SDK_CASES, async (kernel, direct) => {
      const first = JSON.parse((await direct.call(SDK_CASES[0]!) as { output: string }).output) as { in: number; answer: number; ok: boolean; input: unknown };
      expect(first).toEqual({ in: Buffer.byteLength(SDK_CASES[0]!), answer: Buffer.byteLength(answer('read_entity', '{"entityId":"big-7"}')), ok: true, input: JSON.parse(SDK_CASES[0]!) });
      expect(await direct.call(SDK_CASES[1]!)).toEqual({ ok: false, error: '{"code":"FAILED","message":"failed"}' });
      // A call after an error starts clean, also one that returns nothing or logs last.
      expect(await direct.call(inputOf({ n: 5, text: 'x', none: true }))).toEqual({ ok: true, output: '' });
      expect(await direct.call(inputOf({ n: 6, text: 'x', quiet: true }))).toEqual({ ok: true, output: '' });
      expect(JSON.parse(((await direct.call(inputOf({ n: 6, text: 'after' }))) as { output: string }).output).input.event.payload.text).toBe('after');
      expect(await kernel.call(inputOf({ n: 5, text: 'x', none: true }))).toEqual({ ok: true, output: '' });
    });
  }, 120_000);

  it('DIRECT-IO-10: through the runtime, a C plugin crosses by direct I/O and its heap starts over at each call', async () => {
    await inRuntime(async (rt) => {
      await rt.host.load({ id: 'c-io', name: 'c-io', version: '1', kind: 'event', capabilities: ['readEntities'], wasm: c, budget: UNTIMED });
      const before = rt.host.stats().directIoCalls;
      // 60 calls with ~110 KB of input (and ~170 KB of heap each) on one instance: ~10 MB if the bump
      // heap kept growing, far past what the instance's memory budget allows.
      for (let i = 0; i < 60; i++) {
        const r = await rt.host.invoke('c-io', { event: makeEvent('acme', { payload: { n: 7, text: TEXT } }) });
        if (!r.ok) throw new Error(`call ${i}: ${r.error.code}: ${r.error.message}`);
        expect((r.output as { ok: boolean }).ok).toBe(true);
      }
      expect(rt.host.stats().directIoCalls).toBe(before + 60);
      const failed = await rt.host.invoke('c-io', { event: makeEvent('acme', { payload: { n: 7, text: 'x', fail: true } }) });
      expect(failed.ok).toBe(false);
      if (!failed.ok) expect(failed.error).toMatchObject({ code: 'PLUGIN_ERROR', message: 'failed', details: { pluginCode: 'FAILED' } });
    });
  }, 120_000);
});
