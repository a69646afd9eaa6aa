/** The binaryen-free post-processing pass of JS snapshots (src/compiler/stub-imports.ts). */
import { describe, expect, it } from 'vitest';
import wabtInit from 'wabt';
import { UnsupportedWasm, stubImports } from '../../src/compiler/stub-imports.js';
import type { ImportFate } from '../../src/compiler/stub-imports.js';
import { parseWasm } from '../../src/core/wasm/index.js';

interface Wasm {
  Module: new (b: Uint8Array) => object;
  Instance: new (m: object, i: Record<string, Record<string, unknown>>) => { exports: Record<string, (...a: (number | bigint)[]) => number | bigint> };
}
const W = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

async function wat(text: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const mod = wabt.parseWat('t.wat', text, { reference_types: true, bulk_memory: true, tail_call: true, simd: true });
  try {
    mod.resolveNames();
    mod.validate();
    return mod.toBinary({ write_debug_names: true }).buffer;
  } finally {
    mod.destroy();
  }
}

/** Imports in every position of the function index space, referenced from calls, tail calls, tables, globals and exports. */
const SOURCE = `(module
  (type $h (func (param i64) (result i64)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "extism:host/user" "read_entity" (func $read (type $h)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "extism:host/user" "emit" (func $emit (type $h)))
  (import "extism:env" "input_length" (func $len (result i64)))
  (memory (export "memory") 1)
  (table $t 4 funcref)
  (elem (table $t) (i32.const 0) func $twice $read $emit $wasi)
  (elem declare func $emit)
  (global $g funcref (ref.func $read))
  (func $twice (param i64) (result i64) (i64.mul (local.get 0) (i64.const 2)))
  (func $wasi (param i64) (result i64) (i64.extend_i32_u (call $fd_write (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))
  (func (export "handle") (result i32)
    (i32.wrap_i64 (i64.add (call $read (i64.const 5)) (call $len))))
  (func (export "via_table") (param i32 i64) (result i64)
    (call_indirect $t (type $h) (local.get 1) (local.get 0)))
  (func (export "via_tail") (result i64) (return_call $emit (i64.const 7)))
  (func (export "via_global") (result i32) (ref.is_null (global.get $g)))
  (func (export "die") (call $exit (i32.const 1)))
  (func (export "dropped") (result i32) (i32.const 1))
)`;

const fate = (keep: readonly string[]) => (module: string, name: string, results: readonly number[]): ImportFate => {
  if (module === 'extism:host/user') return keep.includes(name) ? { kind: 'keep' } : { kind: 'stub', body: 'zero' };
  if (module.startsWith('wasi')) return name === 'proc_exit' || results.length === 0 ? { kind: 'stub', body: 'unreachable' } : { kind: 'stub', body: { i32: 52 } };
  return { kind: 'keep' };
};

describe('stubImports', () => {
  it('STUB-1 removes unused host and every WASI import, renumbers every function reference, keeps only the named exports', async () => {
    const out = stubImports(await wat(SOURCE), {
      keepExports: ['handle', 'via_table', 'via_tail', 'via_global', 'die'],
      fate: fate(['read_entity']),
    });
    const info = parseWasm(out);
    expect(info.imports.map((i) => `${i.module}/${i.name}`)).toEqual(['extism:host/user/read_entity', 'extism:env/input_length']);
    expect(info.exports.map((e) => e.name).sort()).toEqual(['die', 'handle', 'memory', 'via_global', 'via_table', 'via_tail']);
    expect(info.customSections).not.toContain('name');
    const calls: bigint[] = [];
    const { exports } = new W.Instance(new W.Module(out), {
      'extism:host/user': { read_entity: (x: bigint) => (calls.push(x), 100n) },
      'extism:env': { input_length: () => 3n },
    });
    expect(exports.handle!()).toBe(103); // kept import and the import after the removed ones
    expect(calls).toEqual([5n]);
    expect(exports.via_table!(0, 21n)).toBe(42n); // defined function through the element segment
    expect(exports.via_table!(1, 9n)).toBe(100n); // kept import through the table
    expect(exports.via_table!(2, 9n)).toBe(0n); // removed host import: a stub answering 0
    expect(exports.via_table!(3, 9n)).toBe(52n); // WASI fd_write: a stub answering ENOSYS
    expect(exports.via_tail!()).toBe(0n); // return_call to a stub
    expect(exports.via_global!()).toBe(0); // ref.func in a global initialiser
    expect(() => exports.die!()).toThrow(/unreachable/); // proc_exit traps
  });

  it('STUB-2 an encoding it does not know (SIMD) is refused as UnsupportedWasm, so the caller can fall back', async () => {
    const simd = await wat(`(module (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
      (func (export "handle") (result i32) (i32x4.extract_lane 0 (v128.const i32x4 1 2 3 4))))`);
    expect(() => stubImports(simd, { keepExports: ['handle'], fate: fate([]) })).toThrow(UnsupportedWasm);
  });
});
