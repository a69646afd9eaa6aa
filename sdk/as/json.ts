// A small JSON value type for AssemblyScript plugins: parse, build, stringify.
// (AssemblyScript has no built-in JSON; this is enough for the UEE ABI's requests and answers.)

export enum Kind { Null, Bool, Num, Str, Arr, Obj }

/** A JSON value. Objects keep insertion order. */
export class Value {
  kind: Kind = Kind.Null;
  b: bool = false;
  n: f64 = 0;
  s: string = "";
  items: Array<Value> = [];
  keys: Array<string> = [];

  static null(): Value { return new Value(); }
  static bool(v: bool): Value { const x = new Value(); x.kind = Kind.Bool; x.b = v; return x; }
  static num(v: f64): Value { const x = new Value(); x.kind = Kind.Num; x.n = v; return x; }
  static str(v: string): Value { const x = new Value(); x.kind = Kind.Str; x.s = v; return x; }
  static arr(): Value { const x = new Value(); x.kind = Kind.Arr; return x; }
  static obj(): Value { const x = new Value(); x.kind = Kind.Obj; return x; }

  isNull(): bool { return this.kind == Kind.Null; }
  /** Member of an object (a Null value when absent or not an object). */
  get(key: string): Value {
    if (this.kind == Kind.Obj) {
      for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return this.items[i];
    }
    return Value.null();
  }
  has(key: string): bool {
    if (this.kind != Kind.Obj) return false;
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] == key) return true;
    return false;
  }
  /** Sets a member (objects) and returns this, for chaining. */
  set(key: string, v: Value): Value {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) { this.items[i] = v; return this; }
    }
    this.keys.push(key);
    this.items.push(v);
    return this;
  }
  setStr(key: string, v: string): Value { return this.set(key, Value.str(v)); }
  setNum(key: string, v: f64): Value { return this.set(key, Value.num(v)); }
  setBool(key: string, v: bool): Value { return this.set(key, Value.bool(v)); }
  push(v: Value): Value { this.items.push(v); return this; }
  at(i: i32): Value { return i >= 0 && i < this.items.length ? this.items[i] : Value.null(); }
  get length(): i32 { return this.items.length; }
  /** String content ("" unless a string). */
  str(): string { return this.kind == Kind.Str ? this.s : ""; }
  num(): f64 { return this.kind == Kind.Num ? this.n : 0; }
  bool(): bool { return this.kind == Kind.Bool ? this.b : false; }

  stringify(): string {
    switch (this.kind) {
      case Kind.Null: return "null";
      case Kind.Bool: return this.b ? "true" : "false";
      case Kind.Num: return numToString(this.n);
      case Kind.Str: return quote(this.s);
      case Kind.Arr: {
        const parts = new Array<string>();
        for (let i = 0; i < this.items.length; i++) parts.push(this.items[i].stringify());
        return "[" + parts.join(",") + "]";
      }
      default: {
        const parts = new Array<string>();
        for (let i = 0; i < this.keys.length; i++) parts.push(quote(this.keys[i]) + ":" + this.items[i].stringify());
        return "{" + parts.join(",") + "}";
      }
    }
  }
}

function numToString(n: f64): string {
  if (!isFinite(n)) return "null";
  if (n == Math.floor(n) && Math.abs(n) < 9007199254740992) return (<i64>n).toString();
  return n.toString();
}

/** JSON string literal of `s`. */
export function quote(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c < 0x20) out += "\\u" + (<u32>c).toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

class Parser {
  pos: i32 = 0;
  failed: bool = false;
  constructor(public src: string) {}

  ws(): void {
    while (this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) this.pos++;
      else break;
    }
  }
  value(): Value {
    this.ws();
    if (this.pos >= this.src.length) { this.failed = true; return Value.null(); }
    const c = this.src.charCodeAt(this.pos);
    if (c == 0x7b) return this.object();
    if (c == 0x5b) return this.array();
    if (c == 0x22) return Value.str(this.string());
    if (this.src.startsWith("true", this.pos)) { this.pos += 4; return Value.bool(true); }
    if (this.src.startsWith("false", this.pos)) { this.pos += 5; return Value.bool(false); }
    if (this.src.startsWith("null", this.pos)) { this.pos += 4; return Value.null(); }
    return this.number();
  }
  object(): Value {
    const o = Value.obj();
    this.pos++;
    this.ws();
    if (this.src.charCodeAt(this.pos) == 0x7d) { this.pos++; return o; }
    while (!this.failed) {
      this.ws();
      if (this.src.charCodeAt(this.pos) != 0x22) { this.failed = true; break; }
      const k = this.string();
      this.ws();
      if (this.src.charCodeAt(this.pos) != 0x3a) { this.failed = true; break; }
      this.pos++;
      o.set(k, this.value());
      this.ws();
      const c = this.src.charCodeAt(this.pos);
      this.pos++;
      if (c == 0x7d) break;
      if (c != 0x2c) { this.failed = true; break; }
    }
    return o;
  }
  array(): Value {
    const a = Value.arr();
    this.pos++;
    this.ws();
    if (this.src.charCodeAt(this.pos) == 0x5d) { this.pos++; return a; }
    while (!this.failed) {
      a.push(this.value());
      this.ws();
      const c = this.src.charCodeAt(this.pos);
      this.pos++;
      if (c == 0x5d) break;
      if (c != 0x2c) { this.failed = true; break; }
    }
    return a;
  }
  string(): string {
    this.pos++;
    let out = "";
    let start = this.pos;
    while (this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      if (c == 0x22) { out += this.src.substring(start, this.pos); this.pos++; return out; }
      if (c == 0x5c) {
        out += this.src.substring(start, this.pos);
        const e = this.src.charCodeAt(this.pos + 1);
        this.pos += 2;
        if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else if (e == 0x75) {
          out += String.fromCharCode(<i32>parseInt(this.src.substring(this.pos, this.pos + 4), 16));
          this.pos += 4;
        } else out += String.fromCharCode(e);
        start = this.pos;
      } else this.pos++;
    }
    this.failed = true;
    return out;
  }
  number(): Value {
    const start = this.pos;
    while (this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      if ((c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45) this.pos++;
      else break;
    }
    if (this.pos == start) { this.failed = true; return Value.null(); }
    return Value.num(parseFloat(this.src.substring(start, this.pos)));
  }
}

/** Parses JSON text; returns null when it is not valid JSON. */
export function parse(text: string): Value | null {
  const p = new Parser(text);
  const v = p.value();
  p.ws();
  if (p.failed || p.pos != text.length) return null;
  return v;
}
