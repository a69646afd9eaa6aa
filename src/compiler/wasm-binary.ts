/**
 * A small reader for the parts of the WebAssembly binary format the toolchains inspect: imports and
 * exports with their signatures, the memory limits, custom sections. It also rewrites the memory
 * maximum in place of a full re-encode. Structural validation is left to `WebAssembly.validate`.
 */
import { UeeError } from '../core/errors.js';

/** A wasm value type as text (`i32`, `i64`, `f32`, `f64`, `v128`, `funcref`, `externref`, `other`). */
export type ValType = string;

/** A function signature. */
export interface FuncType {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

/** One import. */
export interface WasmImport {
  readonly module: string;
  readonly name: string;
  readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  /** For functions. */
  readonly type?: FuncType;
}

/** One export. */
export interface WasmExport {
  readonly name: string;
  readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
  /** For functions. */
  readonly type?: FuncType;
}

/** Memory limits, in 64 KiB pages. */
export interface MemoryLimits {
  readonly min: number;
  readonly max?: number;
  readonly imported: boolean;
}

/** What {@link parseWasm} extracts. */
export interface WasmInfo {
  readonly imports: readonly WasmImport[];
  readonly exports: readonly WasmExport[];
  readonly memory?: MemoryLimits;
  readonly customSections: readonly string[];
}

const KINDS = ['function', 'table', 'memory', 'global', 'tag'] as const;
const VALTYPES: Record<number, string> = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };

class Reader {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    start = 0,
    readonly end = b.length,
  ) {
    this.pos = start;
  }
  byte(): number {
    if (this.pos >= this.end) throw new UeeError('INVALID_MODULE', 'truncated wasm binary', { details: { offset: this.pos } });
    return this.b[this.pos++] ?? 0;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new UeeError('INVALID_MODULE', 'malformed LEB128', { details: { offset: this.pos } });
    }
  }
  name(): string {
    const len = this.u32();
    const s = new TextDecoder().decode(this.b.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
  limits(): { min: number; max?: number; flags: number } {
    const flags = this.byte();
    const min = this.u32();
    return (flags & 1) !== 0 ? { min, max: this.u32(), flags } : { min, flags };
  }
}

interface Section {
  readonly id: number;
  readonly start: number;
  readonly end: number;
  /** Offset of the section id byte. */
  readonly headerStart: number;
}

function sections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new UeeError('INVALID_MODULE', 'not a WebAssembly module (bad magic number)', {
      hint: 'Upload the compiled .wasm binary, not text or a component.',
    });
  }
  const out: Section[] = [];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const headerStart = r.pos;
    const id = r.byte();
    const size = r.u32();
    out.push({ id, start: r.pos, end: r.pos + size, headerStart });
    r.pos += size;
  }
  return out;
}

function valtype(r: Reader): ValType {
  const t = r.byte();
  return VALTYPES[t] ?? 'other';
}

/** Parses imports, exports (with function signatures), memory limits and custom section names. */
export function parseWasm(bytes: Uint8Array): WasmInfo {
  const types: FuncType[] = [];
  const funcTypeIdx: number[] = [];
  const imports: WasmImport[] = [];
  const rawExports: { name: string; kind: number; index: number }[] = [];
  const customSections: string[] = [];
  let memory: MemoryLimits | undefined;
  for (const s of sections(bytes)) {
    const r = new Reader(bytes, s.start, s.end);
    if (s.id === 0) customSections.push(r.name());
    else if (s.id === 1) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const form = r.byte();
        if (form !== 0x60) throw new UeeError('INVALID_MODULE', 'unsupported type form (GC types?)', { details: { form } });
        const params = Array.from({ length: r.u32() }, () => valtype(r));
        const results = Array.from({ length: r.u32() }, () => valtype(r));
        types.push({ params, results });
      }
    } else if (s.id === 2) {
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const module = r.name();
        const name = r.name();
        const kind = r.byte();
        if (kind === 0) {
          const t = r.u32();
          funcTypeIdx.push(t);
          imports.push({ module, name, kind: 'function', ...(types[t] ? { type: types[t] } : {}) });
        } else if (kind === 1) {
          r.byte();
          r.limits();
          imports.push({ module, name, kind: 'table' });
        } else if (kind === 2) {
          const l = r.limits();
          memory = { min: l.min, ...(l.max === undefined ? {} : { max: l.max }), imported: true };
          imports.push({ module, name, kind: 'memory' });
        } else if (kind === 3) {
          r.byte();
          r.byte();
          imports.push({ module, name, kind: 'global' });
        } else if (kind === 4) {
          r.byte();
          r.u32();
          imports.push({ module, name, kind: 'tag' });
        } else throw new UeeError('INVALID_MODULE', `unknown import kind ${kind}`, { details: { module, name } });
      }
    } else if (s.id === 3) {
      const n = r.u32();
      for (let i = 0; i < n; i++) funcTypeIdx.push(r.u32());
    } else if (s.id === 5) {
      if (r.u32() > 0) {
        const l = r.limits();
        memory = { min: l.min, ...(l.max === undefined ? {} : { max: l.max }), imported: false };
      }
    } else if (s.id === 7) {
      const n = r.u32();
      for (let i = 0; i < n; i++) rawExports.push({ name: r.name(), kind: r.byte(), index: r.u32() });
    }
  }
  const exports = rawExports.map((e): WasmExport => {
    const kind = KINDS[e.kind] ?? 'function';
    const ti = kind === 'function' ? funcTypeIdx[e.index] : undefined;
    const type = ti === undefined ? undefined : types[ti];
    return { name: e.name, kind, ...(type ? { type } : {}) };
  });
  return { imports, exports, ...(memory ? { memory } : {}), customSections };
}

/** Feature names from the `target_features` custom section that are used (`+`) by the objects. */
export function readTargetFeatures(bytes: Uint8Array): string[] {
  for (const s of sections(bytes)) {
    if (s.id !== 0) continue;
    const r = new Reader(bytes, s.start, s.end);
    if (r.name() !== 'target_features') continue;
    const n = r.u32();
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const prefix = r.byte();
      const name = r.name();
      if (prefix === 0x2b /* + */ || prefix === 0x3d /* = */) out.push(name);
    }
    return out.sort();
  }
  return [];
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/**
 * Returns a copy whose own (defined) memory declares `maxPages` as its maximum (at least its minimum).
 * Modules without a defined memory are returned unchanged.
 */
export function setMemoryMaximum(bytes: Uint8Array, maxPages: number): Uint8Array {
  const mem = sections(bytes).find((s) => s.id === 5);
  if (!mem) return bytes;
  const r = new Reader(bytes, mem.start, mem.end);
  const count = r.u32();
  if (count === 0) return bytes;
  const l = r.limits();
  if ((l.flags & ~1) !== 0) return bytes; // shared or memory64: leave to the runtime's checks
  const rest = bytes.subarray(r.pos, mem.end);
  const body = [...leb(count), 0x01, ...leb(l.min), ...leb(Math.max(l.min, maxPages)), ...rest];
  const section = new Uint8Array([0x05, ...leb(body.length), ...body]);
  const out = new Uint8Array(bytes.length - (mem.end - mem.headerStart) + section.length);
  out.set(bytes.subarray(0, mem.headerStart), 0);
  out.set(section, mem.headerStart);
  out.set(bytes.subarray(mem.end), mem.headerStart + section.length);
  return out;
}
