/**
 * The Rust (Debian rustc → wasm32-unknown-unknown, sdk/rust) and C (@yowasp/clang, freestanding,
 * sdk/c) toolchains: diagnostics, what they refuse to read, cancel. The TaskPrioritizer in Rust is
 * held to the TS and AssemblyScript ones in seed-plugins.test.ts (SEED-1).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { compileC, compileRust, isUeeErrorLike } from './compile-helpers.js';
import { FakeHost, eventInput, load } from './plugin-host.js';
import { stopCompilerThreads } from '../../src/compiler/worker-pool.js';

type Failure = { code: string; message: string; details: { diagnostics: { file?: string; line?: number; col?: number; code?: string; message: string }[] } };

function childCount(name: string): number {
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(name)) n++;
    } catch {
      // gone
    }
  }
  return n;
}

const RUST_ECHO = `use uee_plugin::*;
fn echo(input: &Value) -> Result<Option<Value>, Error> {
    log("info", "echo", None);
    Ok(Some(Value::obj().set("type", input.get("event").get("type"))))
}
#[no_mangle]
pub extern "C" fn handle() -> i32 { dispatch(&[("*", echo)]) }
`;

afterAll(async () => {
  await stopCompilerThreads();
});

describe('Rust plugins', () => {
  it('RUST-1 a Rust plugin compiles against sdk/rust, imports only what it uses and runs', async () => {
    const { wasm, report } = await compileRust({ entry: 'lib.rs', files: { 'lib.rs': RUST_ECHO } });
    expect(report.language).toBe('rust');
    expect(report.hostFunctions).toEqual(['log']);
    expect(report.capabilities).toEqual([]);
    const p = await load(wasm, new FakeHost());
    expect(await p.call(eventInput('TaskCreated'))).toEqual({ ok: true, output: { type: 'TaskCreated' } });
    await p.close();
  }, 120_000);

  it('RUST-2 a type error is COMPILE_FAILED with file:line:col and the rustc code', async () => {
    const err = (await compileRust({
      entry: 'lib.rs',
      files: { 'lib.rs': `mod score;\n${RUST_ECHO}`, 'score.rs': 'pub fn score() -> u32 {\n    "high"\n}\n' },
    }).catch((e: unknown) => e)) as Failure;
    expect(err.code).toBe('COMPILE_FAILED');
    expect(err.details.diagnostics[0]).toMatchObject({ file: 'score.rs', line: 2, col: 5, code: 'E0308' });
    expect(err.message).toMatch(/^score\.rs:2:5: E0308: mismatched types/);
  }, 120_000);

  it('RUST-3 include_str!, env! and #[path] are refused before rustc runs (they would read the server)', async () => {
    for (const [src, line] of [
      ['const S: &str = include_str!("/etc/passwd");', 1],
      ['\nconst T: &str = std::env!("HOME");', 2],
      ['#[path = "/etc/hostname"]\nmod x;', 1],
    ] as const) {
      const err = (await compileRust({ entry: 'lib.rs', files: { 'lib.rs': `${src}\n${RUST_ECHO}` } }).catch((e: unknown) => e)) as Failure;
      expect(err.code).toBe('COMPILE_FAILED');
      expect(err.details.diagnostics[0]).toMatchObject({ file: 'lib.rs', line });
    }
  });

  it('RUST-4 a cancelled Rust compile kills rustc within 1 s', async () => {
    // warm the SDK build first, so rustc is compiling the plugin when the cancel comes
    await compileRust({ entry: 'lib.rs', files: { 'lib.rs': RUST_ECHO } });
    const slow = `${RUST_ECHO}\n${Array.from({ length: 400 }, (_, i) => `pub fn f${i}(v: &Value) -> String { format!("{:?}{}", v, ${i}) }`).join('\n')}`;
    const controller = new AbortController();
    const work = compileRust({ entry: 'lib.rs', files: { 'lib.rs': slow }, optimizeLevel: 3, signal: controller.signal }).catch((e: unknown) => e);
    // rustc is running (on a loaded machine its start may take longer than any fixed pause)
    const started = Date.now() + 30_000;
    while (childCount('rustc') === 0 && Date.now() < started) await new Promise((r) => setTimeout(r, 20));
    expect(childCount('rustc')).toBe(1);
    const abortedAt = performance.now();
    controller.abort();
    const err = await work;
    expect(performance.now() - abortedAt).toBeLessThan(1000);
    expect(isUeeErrorLike(err, 'CANCELLED')).toBe(true);
    const end = Date.now() + 1000;
    while (childCount('rustc') > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(childCount('rustc')).toBe(0);
  }, 120_000);
});

const C_ECHO = `#include "uee_plugin.h"
UEE_EXPORT("handle") int handle(void) {
  uee_str in = uee_input();
  uee_str answer = uee_host_log("{\\"level\\":\\"info\\",\\"message\\":\\"hello from C\\"}");
  if (!uee_ok(answer)) return uee_fail_json("{\\"code\\":\\"LOG_FAILED\\",\\"message\\":\\"log refused\\"}");
  return uee_output(in);
}
`;

describe('C plugins', () => {
  it('C-1 a C plugin compiles freestanding with sdk/c/uee_plugin.h and runs on Extism', async () => {
    const { wasm, report } = await compileC({ entry: 'main.c', files: { 'main.c': C_ECHO } });
    expect(report.language).toBe('c');
    expect(report.hostFunctions).toEqual(['log']);
    expect(report.imports.every((i) => i.module.startsWith('extism:'))).toBe(true);
    const host = new FakeHost();
    const p = await load(wasm, host);
    const input = eventInput('TaskCreated');
    expect(await p.call(input)).toEqual({ ok: true, output: input });
    await p.close();
  }, 180_000);

  it('C-3 a C plugin of several files has one heap: what one file allocates never overlaps another\'s', async () => {
    const a = `#include "uee_plugin.h"
const char *b_note(void);
UEE_EXPORT("handle") int handle(void) {
  uee_str in = uee_input();
  char *mine = (char *)uee_alloc(8);
  for (int i = 0; i < 7; i++) mine[i] = 'a';
  mine[7] = 0;
  const char *theirs = b_note();
  char *out = (char *)uee_alloc(64);
  const char *parts[] = { "{\\"mine\\":\\"", mine, "\\",\\"theirs\\":\\"", theirs, "\\"}" };
  uee_size n = 0;
  for (int p = 0; p < 5; p++) for (const char *c = parts[p]; *c; c++) out[n++] = *c;
  (void)in;
  return uee_output((uee_str){ out, n });
}
`;
    const b = `#include "uee_plugin.h"
const char *b_note(void) {
  /* a large block: with a heap of its own, this file's allocator starts where the other's did */
  char *s = (char *)uee_alloc(4096);
  for (int i = 0; i < 4095; i++) s[i] = 'b';
  s[4095] = 0;
  return s + 4088;
}
`;
    const { wasm } = await compileC({ entry: 'a.c', files: { 'a.c': a, 'b.c': b } });
    const host = new FakeHost();
    const p = await load(wasm, host);
    expect(await p.call(eventInput('TaskCreated'))).toEqual({ ok: true, output: { mine: 'aaaaaaa', theirs: 'bbbbbbb' } });
    await p.close();
  }, 180_000);

  it('C-2 errors come back with file:line:col; an absolute #include cannot reach the server', async () => {
    const err = (await compileC({ entry: 'main.c', files: { 'main.c': `${C_ECHO}\nint broken(void) { return nope; }\n` } }).catch((e: unknown) => e)) as Failure;
    expect(err.code).toBe('COMPILE_FAILED');
    expect(err.details.diagnostics[0]).toMatchObject({ file: 'main.c', line: 9 });
    const leak = (await compileC({ entry: 'main.c', files: { 'main.c': `#include "/etc/hostname"\n${C_ECHO}` } }).catch((e: unknown) => e)) as Failure;
    expect(leak.code).toBe('COMPILE_FAILED');
    expect(leak.message).toMatch(/file not found/);
  }, 180_000);
});
