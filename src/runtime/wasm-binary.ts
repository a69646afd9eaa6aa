import { UeeError } from '../core/errors.js';

/**
 * A small reader and rewriter for the parts of the WebAssembly binary format the runtime must
 * inspect before it lets a module anywhere near a worker: types, imports, exports, memories and the
 * start section. Everything else is copied through untouched, byte for byte.
 */

/** A value type as written in a function signature (`i32`, `i64`, …). */
export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

/** A function signature. */
export interface FuncType {
  params: ValType[];
  results: ValType[];
}

/** Memory limits in 64 KiB pages; `max` is `null` when the module declares none. */
export interface MemoryLimits {
  min: number;
  max: number | null;
}

/** One import of a module. */
export interface WasmImport {
  module: string;
  name: string;
  kind: 'func' | 'table' | 'memory' | 'global' | 'tag';
  /** The signature, for function imports. */
  type?: FuncType;
}

/** One export of a module. */
export interface WasmExport {
  name: string;
  kind: 'func' | 'table' | 'memory' | 'global' | 'tag';
  index: number;
}

/** What {@link parseWasm} found. */
export interface WasmInfo {
  imports: WasmImport[];
  exports: WasmExport[];
  /** Memories the module defines itself (imported memories are listed in `imports`). */
  memories: MemoryLimits[];
  /** Whether the module has a start section (code that would run during instantiation). */
  hasStart: boolean;
  /** Type of every function in the function index space (imports first). */
  functionTypes: FuncType[];
}

interface Section {
  id: number;
  start: number;
  end: number;
}

const VALTYPES: Record<number, ValType> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};
const KINDS = ['func', 'table', 'memory', 'global', 'tag'] as const;

function invalid(message: string, details: Record<string, unknown> = {}): UeeError {
  return new UeeError('INVALID_MODULE', message, { details, hint: 'build the module with an Extism PDK or a UEE toolchain' });
}

class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    pos = 0,
    readonly end = bytes.length,
  ) {
    this.pos = pos;
  }
  byte(): number {
    if (this.pos >= this.end) throw invalid('unexpected end of module');
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw invalid('malformed LEB128 integer');
    }
    return result;
  }
  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) throw invalid('name runs past its section');
    const text = new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return text;
  }
  valtype(): ValType {
    const code = this.byte();
    const t = VALTYPES[code];
    if (t === undefined) throw invalid(`unsupported value type 0x${code.toString(16)}`);
    return t;
  }
  limits(): MemoryLimits & { flags: number } {
    const flags = this.byte();
    if (flags !== 0 && flags !== 1) {
      throw invalid('shared and 64-bit memories are not supported', { flags });
    }
    const min = this.u32();
    const max = flags === 1 ? this.u32() : null;
    return { flags, min, max };
  }
  skipConstExpr(): void {
    // Global initialisers are short constant expressions ending in `end` (0x0b); scan for it the
    // way the spec's constant instructions allow (no nested blocks).
    for (;;) {
      const op = this.byte();
      if (op === 0x0b) return;
      if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2) this.sleb();
      else if (op === 0x43) this.pos += 4;
      else if (op === 0x44) this.pos += 8;
      else if (op === 0xd0) this.byte();
      else if (op === 0xfd) {
        this.u32();
        this.pos += 16;
      } else if (op !== 0x6a && op !== 0x6b && op !== 0x6c && op !== 0x7c && op !== 0x7d && op !== 0x7e) {
        throw invalid(`unsupported constant expression opcode 0x${op.toString(16)}`);
      }
    }
  }
  sleb(): void {
    for (;;) if ((this.byte() & 0x80) === 0) return;
  }
}

function readSections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw invalid('not a WebAssembly binary (bad magic)');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw invalid('unsupported WebAssembly binary version (components are not modules)');
  }
  const sections: Section[] = [];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    if (end > bytes.length) throw invalid('section runs past the end of the module', { id });
    sections.push({ id, start, end });
    r.pos = end;
  }
  return sections;
}

/** Parses the module's types, imports, exports, memories and start section. `INVALID_MODULE` on malformed input. */
export function parseWasm(bytes: Uint8Array): WasmInfo {
  const sections = readSections(bytes);
  const types: FuncType[] = [];
  const info: WasmInfo = { imports: [], exports: [], memories: [], hasStart: false, functionTypes: [] };
  for (const s of sections) {
    const r = new Reader(bytes, s.start, s.end);
    switch (s.id) {
      case 1: {
        for (let n = r.u32(); n > 0; n--) {
          const form = r.byte();
          if (form !== 0x60) throw invalid(`unsupported type form 0x${form.toString(16)}`);
          const params: ValType[] = [];
          for (let p = r.u32(); p > 0; p--) params.push(r.valtype());
          const results: ValType[] = [];
          for (let q = r.u32(); q > 0; q--) results.push(r.valtype());
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        for (let n = r.u32(); n > 0; n--) {
          const module = r.name();
          const name = r.name();
          const kindCode = r.byte();
          const kind = KINDS[kindCode];
          if (kind === undefined) throw invalid(`unknown import kind ${kindCode}`);
          const imp: WasmImport = { module, name, kind };
          if (kind === 'func') {
            const t = types[r.u32()];
            if (t === undefined) throw invalid('import refers to an unknown type', { module, name });
            imp.type = t;
            info.functionTypes.push(t);
          } else if (kind === 'table') {
            r.byte();
            r.limits();
          } else if (kind === 'memory') r.limits();
          else if (kind === 'global') {
            r.valtype();
            r.byte();
          } else {
            r.byte();
            r.u32();
          }
          info.imports.push(imp);
        }
        break;
      }
      case 3: {
        for (let n = r.u32(); n > 0; n--) {
          const t = types[r.u32()];
          if (t === undefined) throw invalid('function refers to an unknown type');
          info.functionTypes.push(t);
        }
        break;
      }
      case 5: {
        for (let n = r.u32(); n > 0; n--) {
          const { min, max } = r.limits();
          info.memories.push({ min, max });
        }
        break;
      }
      case 7: {
        for (let n = r.u32(); n > 0; n--) {
          const name = r.name();
          const kindCode = r.byte();
          const kind = KINDS[kindCode];
          if (kind === undefined) throw invalid(`unknown export kind ${kindCode}`);
          info.exports.push({ name, kind, index: r.u32() });
        }
        break;
      }
      case 8:
        info.hasStart = true;
        break;
      default:
        break;
    }
  }
  return info;
}

function u32leb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/**
 * Returns a copy of the module whose defined memories all declare `max ≤ maxPages` (a missing or
 * larger maximum is lowered to `maxPages`). The caller rejects a minimum above the budget first.
 */
export function capMemory(bytes: Uint8Array, maxPages: number): Uint8Array {
  const sections = readSections(bytes);
  const mem = sections.find((s) => s.id === 5);
  if (mem === undefined) return bytes;
  const r = new Reader(bytes, mem.start, mem.end);
  const payload: number[] = [];
  const count = r.u32();
  payload.push(...u32leb(count));
  for (let i = 0; i < count; i++) {
    const { min, max } = r.limits();
    if (min > maxPages) throw invalid('memory minimum exceeds the budget', { min, maxPages });
    payload.push(0x01, ...u32leb(min), ...u32leb(max === null ? maxPages : Math.min(max, maxPages)));
  }
  const header = [5, ...u32leb(payload.length)];
  // Section header starts one id byte plus the size LEB before the payload.
  const headerStart = findSectionHeaderStart(bytes, mem);
  const out = new Uint8Array(headerStart + header.length + payload.length + (bytes.length - mem.end));
  out.set(bytes.subarray(0, headerStart), 0);
  out.set(header, headerStart);
  out.set(payload, headerStart + header.length);
  out.set(bytes.subarray(mem.end), headerStart + header.length + payload.length);
  return out;
}

function findSectionHeaderStart(bytes: Uint8Array, section: Section): number {
  // Walk the section list again to find where this section's id byte sits.
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const at = r.pos;
    r.byte();
    const size = r.u32();
    if (r.pos === section.start) return at;
    r.pos += size;
  }
  throw invalid('section not found');
}

/** Formats a signature like `(i64) -> i64` for error messages. */
export function formatFuncType(t: FuncType): string {
  return `(${t.params.join(', ')}) -> ${t.results.length === 0 ? '()' : t.results.join(', ')}`;
}
