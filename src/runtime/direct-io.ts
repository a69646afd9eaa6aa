/**
 * Direct I/O with the JS engine (the `uee_io_*` functions of engine/src/uee-shim.c). Through the Extism kernel a
 * module reads its input, its host calls' answers, and writes its output and requests 8 bytes per host
 * call (`input_load_u64`, `load_u64`, `store_u64`, each with a BigInt under V8): ~8 µs per KB in each
 * direction. A module exporting the functions below (the engine does) lets the host copy those bytes
 * straight into and out of its memory instead: the runtime's worker turns it on per instance, and
 * whatever a module does with it stays inside its own memory (every range is checked against it).
 *
 * A module without these exports, or a host that never calls {@link DirectIo.enable} (plain Extism),
 * uses the kernel as before.
 */

import { DIRECT_IO_EXPORTS } from '../core/wasm/index.js';

/** What the engine's `uee_io_flags()` says the memory range `uee_io_ptr()`/`uee_io_len()` holds. */
export const IO_FLAGS = { none: 0, output: 1, error: 2, request: 3 } as const;
/** What a host function returns when it staged its answer with {@link DirectIo.stage}. */
export const IO_STAGED = 1n;

const EXPORTS = DIRECT_IO_EXPORTS;

type Fn = (...args: number[]) => number;

/** Thrown when a module's direct I/O names memory it does not have: the call fails, nothing else. */
export class DirectIoError extends Error {}

/** One instance's direct I/O (see the module comment). */
export class DirectIo {
  readonly #fns: Record<(typeof EXPORTS)[number], Fn>;
  readonly #memory: { buffer: ArrayBuffer };

  private constructor(fns: Record<(typeof EXPORTS)[number], Fn>, memory: { buffer: ArrayBuffer }) {
    this.#fns = fns;
    this.#memory = memory;
  }

  /** The instance's direct I/O, when its exports have it (null: use the kernel). */
  static of(exports: Record<string, unknown>): DirectIo | null {
    const memory = exports.memory as { buffer?: unknown } | undefined;
    if (!(memory?.buffer instanceof ArrayBuffer)) return null;
    const fns = {} as Record<(typeof EXPORTS)[number], Fn>;
    for (const name of EXPORTS) {
      const f = exports[name];
      if (typeof f !== 'function') return null;
      fns[name] = f as Fn;
    }
    return new DirectIo(fns, memory as { buffer: ArrayBuffer });
  }

  /** Turns direct I/O on in the instance (once, after its `_initialize`). */
  enable(): void {
    this.#fns.uee_io_enable();
  }

  /** Copies `bytes` into a buffer the module gives for them: the next call's input, or a host call's answer. */
  stage(bytes: Uint8Array): void {
    const ptr = this.#fns.uee_io_stage(bytes.length) >>> 0;
    if (ptr === 0) throw new DirectIoError(`the module could not take ${bytes.length} bytes (out of memory)`);
    this.#view(ptr, bytes.length).set(bytes);
  }

  /** The request of the host call being made (a view of the module's memory: use it before the module runs again), or null. */
  request(): Uint8Array | null {
    return this.#fns.uee_io_flags() === IO_FLAGS.request ? this.#range() : null;
  }

  /** What the call that just returned left: its output, its error, or nothing. */
  result(): { kind: 'output' | 'error'; bytes: Uint8Array } | null {
    const flags = this.#fns.uee_io_flags();
    if (flags === IO_FLAGS.output) return { kind: 'output', bytes: this.#range() };
    if (flags === IO_FLAGS.error) return { kind: 'error', bytes: this.#range() };
    return null;
  }

  #range(): Uint8Array {
    return this.#view(this.#fns.uee_io_ptr() >>> 0, this.#fns.uee_io_len() >>> 0);
  }

  /** `len` bytes of the module's memory at `ptr` (read after the module ran: its memory may have grown). */
  #view(ptr: number, len: number): Uint8Array {
    const buffer = this.#memory.buffer;
    if (ptr + len > buffer.byteLength) throw new DirectIoError(`the module named bytes ${ptr}..${ptr + len} outside its memory of ${buffer.byteLength}`);
    return new Uint8Array(buffer, ptr, len);
  }
}
