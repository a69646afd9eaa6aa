/**
 * The post-processing of a JS plugin snapshot, without binaryen: one linear pass over the binary
 * that removes function exports the plugin does not keep and replaces chosen function imports with
 * defined stub functions (appended after the module's own functions). Removing imports renumbers the
 * function index space, so every function reference is rewritten: `call`, `return_call` and
 * `ref.func` in code, exports, the start function, element segments and global initialisers. The
 * `name` section (which would name the old indices) is dropped; everything else is copied byte for
 * byte. Instructions outside the MVP, bulk-memory, reference-types, sign-ext, non-trapping
 * conversions, extended-const, tail-call and legacy exceptions proposals throw
 * {@link UnsupportedWasm}, so a caller can fall back to a general tool (the binaryen worker).
 * Takes ~20-40 ms for the 700 KB engine, against 1-3 s to load binaryen in a fresh process.
 */
import { UeeError } from '../core/errors.js';

/** `WebAssembly.validate` (the project's lib declares no WebAssembly values). */
const wasmApi = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
const validate = (bytes: Uint8Array): boolean => wasmApi.validate(bytes);

/** Thrown when the module uses an encoding this pass does not know; nothing was written. */
export class UnsupportedWasm extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedWasm';
  }
}

/** What becomes of one function import. */
export type ImportFate = { readonly kind: 'keep' } | { readonly kind: 'stub'; readonly body: 'zero' | 'unreachable' | { readonly i32: number } };

/** Options for {@link stubImports}. */
export interface StubImportsOptions {
  /** Function exports to keep by name; other function exports are removed (other kinds are kept). */
  readonly keepExports: readonly string[];
  /** Decides each function import: kept as an import, or replaced by a stub body. */
  readonly fate: (module: string, name: string, results: readonly number[]) => ImportFate;
}

class Cursor {
  pos: number;
  constructor(
    readonly b: Uint8Array,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }
  byte(): number {
    if (this.pos >= this.end) throw new UnsupportedWasm(`unexpected end at ${this.pos}`);
    return this.b[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const v = this.byte();
      result += (v & 0x7f) * 2 ** shift;
      if ((v & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new UnsupportedWasm(`malformed LEB128 at ${this.pos}`);
    }
  }
  /** Skips one LEB128 number of any width and sign. */
  leb(): void {
    for (let i = 0; i < 10; i++) if ((this.byte() & 0x80) === 0) return;
    throw new UnsupportedWasm(`malformed LEB128 at ${this.pos}`);
  }
  name(): string {
    const len = this.u32();
    const s = new TextDecoder().decode(this.b.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }
}

/** A growable byte buffer. */
class Out {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  byte(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }
  u32(value: number): void {
    let v = value >>> 0;
    do {
      let x = v & 0x7f;
      v >>>= 7;
      if (v !== 0) x |= 0x80;
      this.byte(x);
    } while (v !== 0);
  }
  bytes(src: Uint8Array): void {
    this.room(src.length);
    this.buf.set(src, this.length);
    this.length += src.length;
  }
  /** Writes `body` (built in another Out) prefixed with its size. */
  sized(body: Out): void {
    this.u32(body.length);
    this.bytes(body.view());
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Block types: 0x40, a value type, or a type index (s33). */
function blockType(c: Cursor): void {
  const v = c.b[c.pos];
  if (v === 0x40 || v === 0x7f || v === 0x7e || v === 0x7d || v === 0x7c || v === 0x7b || v === 0x70 || v === 0x6f) c.pos++;
  else c.leb();
}

/**
 * Copies instructions from `c` to `out` until the `end` that closes the outermost level (or the
 * cursor's end, for code bodies), rewriting function indices through `remap`.
 */
function copyInstructions(c: Cursor, out: Out, remap: (index: number) => number, untilEnd: boolean): void {
  let depth = 0;
  let from = c.pos;
  const flush = (to: number): void => {
    out.bytes(c.b.subarray(from, to));
    from = c.pos;
  };
  while (c.pos < c.end) {
    const op = c.byte();
    switch (op) {
      case 0x02: case 0x03: case 0x04: case 0x06:
        blockType(c);
        depth++;
        break;
      case 0x0b:
        if (depth === 0 && untilEnd) {
          flush(c.pos);
          return;
        }
        depth--;
        break;
      case 0x10: case 0x12: case 0xd2: {
        const at = c.pos;
        const index = c.u32();
        out.bytes(c.b.subarray(from, at));
        out.u32(remap(index));
        from = c.pos;
        break;
      }
      case 0x18: // delegate closes its try
        c.leb();
        depth--;
        break;
      case 0x07: case 0x08: case 0x09: case 0x0c: case 0x0d:
      case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26:
      case 0x3f: case 0x40: case 0x41: case 0x42: case 0xd0:
        c.leb();
        break;
      case 0x0e:
        for (let n = c.u32(); n >= 0; n--) c.leb();
        break;
      case 0x11: case 0x13:
        c.leb();
        c.leb();
        break;
      case 0x1c:
        for (let n = c.u32(); n > 0; n--) c.byte();
        break;
      case 0x43:
        c.pos += 4;
        break;
      case 0x44:
        c.pos += 8;
        break;
      case 0xfc: {
        const sub = c.u32();
        if (sub <= 7) break;
        if (sub === 8 || sub === 10 || sub === 12 || sub === 14) {
          c.leb();
          c.leb();
        } else if (sub <= 17) c.leb();
        else throw new UnsupportedWasm(`unsupported instruction 0xfc ${sub}`);
        break;
      }
      default:
        if (op >= 0x28 && op <= 0x3e) {
          const align = c.u32();
          if (align & 0x40) c.leb();
          c.leb();
        } else if (!(op <= 0x01 || op === 0x05 || op === 0x0f || op === 0x19 || op === 0x1a || op === 0x1b || op === 0xd1 || (op >= 0x45 && op <= 0xc4))) {
          throw new UnsupportedWasm(`unsupported opcode 0x${op.toString(16)} at ${c.pos - 1}`);
        }
    }
  }
  if (untilEnd) throw new UnsupportedWasm('constant expression without end');
  flush(c.pos);
}

const STUB_BODIES = {
  i32: [0x41, 0x00], i64: [0x42, 0x00], f32: [0x43, 0, 0, 0, 0], f64: [0x44, 0, 0, 0, 0, 0, 0, 0, 0],
} as const;

function stubBody(fate: Extract<ImportFate, { kind: 'stub' }>, results: readonly number[]): number[] {
  const body = [0x00]; // no locals
  if (fate.body === 'unreachable') body.push(0x00);
  else if (fate.body !== 'zero') body.push(0x41, ...leb32(fate.body.i32));
  else {
    for (const r of results) {
      const code = r === 0x7f ? STUB_BODIES.i32 : r === 0x7e ? STUB_BODIES.i64 : r === 0x7d ? STUB_BODIES.f32 : r === 0x7c ? STUB_BODIES.f64 : undefined;
      if (code === undefined) throw new UnsupportedWasm(`no zero value for result type 0x${r.toString(16)}`);
      body.push(...code);
    }
  }
  body.push(0x0b);
  return body;
}

function leb32(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const x = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (x & 0x40) === 0) || (v === -1 && (x & 0x40) !== 0)) {
      out.push(x);
      return out;
    }
    out.push(x | 0x80);
  }
}

/**
 * Rewrites `bytes` as described in the file comment. Throws {@link UnsupportedWasm} for encodings it
 * does not know and `INTERNAL` when the result does not validate.
 */
export function stubImports(bytes: Uint8Array, options: StubImportsOptions): Uint8Array {
  if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new UnsupportedWasm('not a wasm module');
  const sections: { id: number; start: number; end: number; headerStart: number }[] = [];
  const top = new Cursor(bytes, 8, bytes.length);
  while (top.pos < bytes.length) {
    const headerStart = top.pos;
    const id = top.byte();
    const size = top.u32();
    sections.push({ id, start: top.pos, end: top.pos + size, headerStart });
    top.pos += size;
  }
  // types: results of each type index (for stub bodies)
  const typeResults: number[][] = [];
  const typeSec = sections.find((s) => s.id === 1);
  if (typeSec) {
    const c = new Cursor(bytes, typeSec.start, typeSec.end);
    for (let n = c.u32(); n > 0; n--) {
      if (c.byte() !== 0x60) throw new UnsupportedWasm('non-function type');
      for (let p = c.u32(); p > 0; p--) c.byte();
      const results: number[] = [];
      for (let r = c.u32(); r > 0; r--) results.push(c.byte());
      typeResults.push(results);
    }
  }
  // imports: decide each function import's fate
  const importSec = sections.find((s) => s.id === 2);
  const importsOut = new Out();
  const stubs: { type: number; body: number[] }[] = [];
  const importedFuncNewIndex: number[] = []; // old import index -> new index, or -(stub number + 1)
  let keptImports = 0;
  if (importSec) {
    const c = new Cursor(bytes, importSec.start, importSec.end);
    const entries = new Out();
    let count = 0;
    for (let n = c.u32(); n > 0; n--) {
      const entryStart = c.pos;
      const module = c.name();
      const name = c.name();
      const kind = c.byte();
      if (kind === 0x00) {
        const type = c.u32();
        const fate = options.fate(module, name, typeResults[type] ?? []);
        if (fate.kind === 'stub') {
          importedFuncNewIndex.push(-(stubs.length + 1));
          stubs.push({ type, body: stubBody(fate, typeResults[type] ?? []) });
          continue;
        }
        importedFuncNewIndex.push(keptImports++);
      } else if (kind === 0x01) {
        c.byte();
        const flags = c.byte();
        c.leb();
        if (flags & 1) c.leb();
      } else if (kind === 0x02) {
        const flags = c.byte();
        c.leb();
        if (flags & 1) c.leb();
      } else if (kind === 0x03) {
        c.byte();
        c.byte();
      } else if (kind === 0x04) {
        c.byte();
        c.leb();
      } else throw new UnsupportedWasm(`import kind ${kind}`);
      entries.bytes(bytes.subarray(entryStart, c.pos));
      count++;
    }
    importsOut.u32(count);
    importsOut.bytes(entries.view());
  }
  const importedFuncs = importedFuncNewIndex.length;
  const removed = stubs.length;
  const funcSec = sections.find((s) => s.id === 3);
  const definedCount = funcSec ? new Cursor(bytes, funcSec.start, funcSec.end).u32() : 0;
  if (removed > 0 && (!funcSec || !sections.some((s) => s.id === 10))) throw new UnsupportedWasm('no function or code section to add stubs to');
  const remap = (index: number): number => {
    if (index >= importedFuncs) return index - removed;
    const n = importedFuncNewIndex[index]!;
    return n >= 0 ? n : keptImports + definedCount + (-n - 1);
  };
  const out = new Out();
  out.bytes(bytes.subarray(0, 8));
  const section = (id: number, body: Out): void => {
    out.byte(id);
    out.sized(body);
  };
  for (const s of sections) {
    const c = new Cursor(bytes, s.start, s.end);
    switch (s.id) {
      case 0: {
        if (c.name() === 'name') break;
        out.bytes(bytes.subarray(s.headerStart, s.end));
        break;
      }
      case 2:
        section(2, importsOut);
        break;
      case 3: {
        const body = new Out();
        body.u32(definedCount + removed);
        c.u32();
        body.bytes(bytes.subarray(c.pos, s.end));
        for (const stub of stubs) body.u32(stub.type);
        section(3, body);
        break;
      }
      case 6: {
        const body = new Out();
        const n = c.u32();
        body.u32(n);
        for (let i = 0; i < n; i++) {
          body.bytes(bytes.subarray(c.pos, c.pos + 2)); // valtype, mutability
          c.pos += 2;
          copyInstructions(c, body, remap, true);
        }
        section(6, body);
        break;
      }
      case 7: {
        const body = new Out();
        const entries = new Out();
        let count = 0;
        for (let n = c.u32(); n > 0; n--) {
          const name = c.name();
          const kind = c.byte();
          const index = c.u32();
          if (kind === 0x00 && !options.keepExports.includes(name)) continue;
          const encoded = new TextEncoder().encode(name);
          entries.u32(encoded.length);
          entries.bytes(encoded);
          entries.byte(kind);
          entries.u32(kind === 0x00 ? remap(index) : index);
          count++;
        }
        body.u32(count);
        body.bytes(entries.view());
        section(7, body);
        break;
      }
      case 8: {
        const body = new Out();
        body.u32(remap(c.u32()));
        section(8, body);
        break;
      }
      case 9: {
        const body = new Out();
        const n = c.u32();
        body.u32(n);
        for (let i = 0; i < n; i++) {
          const flags = c.u32();
          body.u32(flags);
          if (flags > 7) throw new UnsupportedWasm(`element segment flags ${flags}`);
          const passiveOrDeclared = (flags & 1) !== 0;
          const explicitTable = (flags & 2) !== 0;
          const usesExprs = (flags & 4) !== 0;
          if (!passiveOrDeclared && explicitTable) body.u32(c.u32());
          if (!passiveOrDeclared) copyInstructions(c, body, remap, true);
          if (passiveOrDeclared || explicitTable) body.byte(c.byte()); // elemkind or reftype
          const items = c.u32();
          body.u32(items);
          for (let k = 0; k < items; k++) {
            if (usesExprs) copyInstructions(c, body, remap, true);
            else body.u32(remap(c.u32()));
          }
        }
        section(9, body);
        break;
      }
      case 10: {
        const body = new Out();
        const n = c.u32();
        body.u32(n + removed);
        const fn = new Out();
        for (let i = 0; i < n; i++) {
          const size = c.u32();
          const end = c.pos + size;
          const f = new Cursor(bytes, c.pos, end);
          for (let locals = f.u32(); locals > 0; locals--) {
            f.u32();
            f.byte();
          }
          fn.length = 0;
          fn.bytes(bytes.subarray(c.pos, f.pos));
          copyInstructions(f, fn, remap, false);
          body.sized(fn);
          c.pos = end;
        }
        for (const stub of stubs) {
          body.u32(stub.body.length);
          body.bytes(Uint8Array.from(stub.body));
        }
        section(10, body);
        break;
      }
      default:
        out.bytes(bytes.subarray(s.headerStart, s.end));
    }
  }
  const result = out.view().slice();
  if (!validate(result)) {
    throw new UeeError('INTERNAL', 'the post-processed plugin module does not validate', { hint: 'Report this with the plugin source; the compiler produced an invalid module.' });
  }
  return result;
}
