/**
 * A small reader and rewriter for the parts of the WebAssembly binary format that the toolchains
 * (artifact reports) and the runtime (deploy and load checks) inspect: types, imports, exports,
 * memories, the start section and custom sections. Everything else is copied through untouched,
 * byte for byte. Structural validation of code is left to `WebAssembly.validate`/`compile`.
 */
import { UeeError } from '../errors.js';

/** A value type as written in a function signature. */
export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

/** A function signature. */
export interface FuncType {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

/** What an import or export refers to. */
export type ExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

/** Memory limits in 64 KiB pages; `max` is `null` when the module declares none. */
export interface MemoryLimits {
  readonly min: number;
  readonly max: number | null;
}

/** One import of a module. */
export interface WasmImport {
  readonly module: string;
  readonly name: string;
  readonly kind: ExternKind;
  /** The signature, for function imports. */
  readonly type?: FuncType;
  /** The limits, for memory imports. */
  readonly memory?: MemoryLimits;
}

/** One export of a module. */
export interface WasmExport {
  readonly name: string;
  readonly kind: ExternKind;
  /** Index in the export kind's index space. */
  readonly index: number;
  /** The signature, for function exports. */
  readonly type?: FuncType;
}

/** What {@link parseWasm} found. */
export interface WasmInfo {
  readonly imports: readonly WasmImport[];
  readonly exports: readonly WasmExport[];
  /** Memories the module defines itself (imported memories are listed in `imports`). */
  readonly memories: readonly MemoryLimits[];
  /** Whether the module has a start section (code that would run during instantiation). */
  readonly hasStart: boolean;
  /** Type of every function in the function index space (imports first). */
  readonly functionTypes: readonly FuncType[];
  /** Names of the custom sections, in order. */
  readonly customSections: readonly string[];
  /** Tables the module defines itself, in elements (imported tables are listed in `imports`). */
  readonly tables: readonly MemoryLimits[];
  /** Globals the module defines itself. */
  readonly globals: number;
}

interface Section {
  readonly id: number;
  /** Offset of the section id byte. */
  readonly headerStart: number;
  /** Offset of the first payload byte. */
  readonly start: number;
  readonly end: number;
}

const VALTYPES: Readonly<Record<number, ValType>> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};
const KINDS = ['function', 'table', 'memory', 'global', 'tag'] as const;

function invalid(message: string, details: Record<string, unknown> = {}): UeeError {
  return new UeeError('INVALID_MODULE', message, { details, hint: 'build the module with an Extism PDK or a UEE toolchain (docs/plugin-abi.md)' });
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
    if (this.pos >= this.end) throw invalid('unexpected end of module', { offset: this.pos });
    return this.bytes[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 28) throw invalid('malformed LEB128 integer', { offset: this.pos });
    }
  }
  name(): string {
    const len = this.u32();
    if (this.pos + len > this.end) throw invalid('name runs past its section', { offset: this.pos });
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
  limits(): MemoryLimits {
    const flags = this.byte();
    if (flags !== 0 && flags !== 1) throw invalid('shared and 64-bit memories are not supported', { flags });
    const min = this.u32();
    return { min, max: flags === 1 ? this.u32() : null };
  }
}

function readSections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new UeeError('INVALID_MODULE', 'not a WebAssembly binary (bad magic number)', {
      hint: 'upload the compiled .wasm binary, not text or a component',
    });
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw invalid('unsupported WebAssembly binary version (components are not modules)');
  }
  const sections: Section[] = [];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const headerStart = r.pos;
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    const end = start + size;
    if (end > bytes.length) throw invalid('section runs past the end of the module', { id });
    sections.push({ id, headerStart, start, end });
    r.pos = end;
  }
  return sections;
}

/** Parses the module's types, imports, exports, memories, start and custom sections. `INVALID_MODULE` on malformed input. */
export function parseWasm(bytes: Uint8Array): WasmInfo {
  const types: FuncType[] = [];
  const imports: WasmImport[] = [];
  const rawExports: { name: string; kind: ExternKind; index: number }[] = [];
  const memories: MemoryLimits[] = [];
  const functionTypes: FuncType[] = [];
  const customSections: string[] = [];
  const tables: MemoryLimits[] = [];
  let globals = 0;
  let hasStart = false;
  const typeAt = (index: number, what: Record<string, unknown>): FuncType => {
    const t = types[index];
    if (t === undefined) throw invalid('a function refers to an unknown type', { ...what, type: index });
    return t;
  };
  for (const s of readSections(bytes)) {
    const r = new Reader(bytes, s.start, s.end);
    switch (s.id) {
      case 0:
        customSections.push(r.name());
        break;
      case 1:
        for (let n = r.u32(); n > 0; n--) {
          const form = r.byte();
          if (form !== 0x60) throw invalid(`unsupported type form 0x${form.toString(16)} (GC types?)`);
          const params = Array.from({ length: r.u32() }, () => r.valtype());
          const results = Array.from({ length: r.u32() }, () => r.valtype());
          types.push({ params, results });
        }
        break;
      case 2:
        for (let n = r.u32(); n > 0; n--) {
          const module = r.name();
          const name = r.name();
          const kindCode = r.byte();
          const kind = KINDS[kindCode];
          if (kind === undefined) throw invalid(`unknown import kind ${kindCode}`, { module, name });
          if (kind === 'function') {
            const type = typeAt(r.u32(), { module, name });
            functionTypes.push(type);
            imports.push({ module, name, kind, type });
          } else if (kind === 'memory') {
            imports.push({ module, name, kind, memory: r.limits() });
          } else {
            if (kind === 'table') {
              r.byte();
              r.limits();
            } else if (kind === 'global') {
              r.valtype();
              r.byte();
            } else {
              r.byte();
              r.u32();
            }
            imports.push({ module, name, kind });
          }
        }
        break;
      case 3:
        for (let n = r.u32(); n > 0; n--) functionTypes.push(typeAt(r.u32(), {}));
        break;
      case 4:
        for (let n = r.u32(); n > 0; n--) {
          r.valtype();
          tables.push(r.limits());
        }
        break;
      case 5:
        for (let n = r.u32(); n > 0; n--) memories.push(r.limits());
        break;
      case 6:
        // Only the count is needed; the initialisers are left to WebAssembly.validate.
        globals = r.u32();
        break;
      case 7:
        for (let n = r.u32(); n > 0; n--) {
          const name = r.name();
          const kindCode = r.byte();
          const kind = KINDS[kindCode];
          if (kind === undefined) throw invalid(`unknown export kind ${kindCode}`, { name });
          rawExports.push({ name, kind, index: r.u32() });
        }
        break;
      case 8:
        hasStart = true;
        break;
      default:
        break;
    }
  }
  const exports = rawExports.map((e): WasmExport => {
    const type = e.kind === 'function' ? functionTypes[e.index] : undefined;
    return type === undefined ? e : { ...e, type };
  });
  return { imports, exports, memories, hasStart, functionTypes, customSections, tables, globals };
}

/** Feature names from the `target_features` custom section that the objects use (`+` or `=`), sorted. */
export function readTargetFeatures(bytes: Uint8Array): string[] {
  for (const s of readSections(bytes)) {
    if (s.id !== 0) continue;
    const r = new Reader(bytes, s.start, s.end);
    if (r.name() !== 'target_features') continue;
    const out: string[] = [];
    for (let n = r.u32(); n > 0; n--) {
      const prefix = r.byte();
      const name = r.name();
      if (prefix === 0x2b /* + */ || prefix === 0x3d /* = */) out.push(name);
    }
    return out.sort();
  }
  return [];
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

/** Rewrites the limits of every entry of section `id` (4 tables, 5 memories); `prefix` bytes precede each limits. */
function rewriteLimits(bytes: Uint8Array, id: 4 | 5, maximum: (limits: MemoryLimits) => number): Uint8Array {
  const sec = readSections(bytes).find((s) => s.id === id);
  if (sec === undefined) return bytes;
  const r = new Reader(bytes, sec.start, sec.end);
  const count = r.u32();
  if (count === 0) return bytes;
  const payload = u32leb(count);
  for (let i = 0; i < count; i++) {
    if (id === 4) payload.push(r.byte());
    const limits = r.limits();
    payload.push(0x01, ...u32leb(limits.min), ...u32leb(maximum(limits)));
  }
  const header = [id, ...u32leb(payload.length)];
  const out = new Uint8Array(sec.headerStart + header.length + payload.length + (bytes.length - sec.end));
  out.set(bytes.subarray(0, sec.headerStart), 0);
  out.set(header, sec.headerStart);
  out.set(payload, sec.headerStart + header.length);
  out.set(bytes.subarray(sec.end), sec.headerStart + header.length + payload.length);
  return out;
}

/**
 * Returns a copy of the module whose defined memories declare the maximum `maximum(limits)` chose
 * for each (the callers' policies: {@link capMemory}, {@link setMemoryMaximum}). A module without a
 * defined memory is returned as is.
 */
export function rewriteMemoryMaximum(bytes: Uint8Array, maximum: (limits: MemoryLimits) => number): Uint8Array {
  return rewriteLimits(bytes, 5, maximum);
}

/**
 * The runtime's table policy: every defined table declares `max ≤ maxElements` (a missing or larger
 * maximum is lowered), so `table.grow` fails (returns -1) instead of growing until V8 aborts the
 * process. `INVALID_MODULE` when a minimum is already above it (the contract check reports that first).
 */
export function capTables(bytes: Uint8Array, maxElements: number): Uint8Array {
  return rewriteLimits(bytes, 4, ({ min, max }) => {
    if (min > maxElements) throw invalid('table minimum exceeds the platform limit', { min, maxElements });
    return max === null ? maxElements : Math.min(max, maxElements);
  });
}

/**
 * The runtime's policy: every defined memory declares `max ≤ maxPages` (a missing or larger maximum
 * is lowered to `maxPages`). `INVALID_MODULE` when a minimum is already above it (callers report
 * that as `BUDGET_EXCEEDED` first).
 */
export function capMemory(bytes: Uint8Array, maxPages: number): Uint8Array {
  return rewriteMemoryMaximum(bytes, ({ min, max }) => {
    if (min > maxPages) throw invalid('memory minimum exceeds the budget', { min, maxPages });
    return max === null ? maxPages : Math.min(max, maxPages);
  });
}

/** The toolchains' policy: every defined memory declares exactly `maxPages` as its maximum (at least its minimum). */
export function setMemoryMaximum(bytes: Uint8Array, maxPages: number): Uint8Array {
  return rewriteMemoryMaximum(bytes, ({ min }) => Math.max(min, maxPages));
}

/** Formats a signature like `(i64) -> i64` for messages. */
export function formatFuncType(t: FuncType | undefined): string {
  if (t === undefined) return '?';
  return `(${t.params.join(', ')}) -> ${t.results.length === 0 ? '()' : t.results.join(', ')}`;
}

/** Whether two signatures are the same. */
export function sameFuncType(a: FuncType, b: FuncType): boolean {
  return (
    a.params.length === b.params.length &&
    a.results.length === b.results.length &&
    a.params.every((p, i) => p === b.params[i]) &&
    a.results.every((q, i) => q === b.results[i])
  );
}
