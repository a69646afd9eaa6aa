// TextEncoder / TextDecoder (UTF-8), as the WHATWG Encoding standard defines them.
const toBytes = (input) => {
  if (input === undefined) return new Uint8Array(0);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError('The "input" argument must be an ArrayBuffer or ArrayBufferView');
};

function encodeInto(str, out) {
  let read = 0;
  let written = 0;
  const n = str.length;
  const cap = out.length;
  for (let i = 0; i < n; i++) {
    let c = str.charCodeAt(i);
    let units = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = str.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        units = 2;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // lone surrogate
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (written + size > cap) break;
    if (size === 1) out[written++] = c;
    else if (size === 2) {
      out[written++] = 0xc0 | (c >> 6);
      out[written++] = 0x80 | (c & 63);
    } else if (size === 3) {
      out[written++] = 0xe0 | (c >> 12);
      out[written++] = 0x80 | ((c >> 6) & 63);
      out[written++] = 0x80 | (c & 63);
    } else {
      out[written++] = 0xf0 | (c >> 18);
      out[written++] = 0x80 | ((c >> 12) & 63);
      out[written++] = 0x80 | ((c >> 6) & 63);
      out[written++] = 0x80 | (c & 63);
    }
    read += units;
    if (units === 2) i++;
  }
  return { read, written };
}

export class TextEncoder {
  get encoding() {
    return 'utf-8';
  }
  encode(input = '') {
    const str = String(input);
    const buf = new Uint8Array(str.length * 3);
    const { written } = encodeInto(str, buf);
    return buf.slice(0, written);
  }
  encodeInto(input, dest) {
    return encodeInto(String(input), dest);
  }
}

const LABELS = ['utf-8', 'utf8', 'unicode-1-1-utf-8'];

export class TextDecoder {
  #fatal;
  #ignoreBOM;
  constructor(label = 'utf-8', options = {}) {
    const l = String(label).trim().toLowerCase();
    if (!LABELS.includes(l)) throw new RangeError(`The "${label}" encoding is not supported`);
    this.#fatal = Boolean(options && options.fatal);
    this.#ignoreBOM = Boolean(options && options.ignoreBOM);
  }
  get encoding() {
    return 'utf-8';
  }
  get fatal() {
    return this.#fatal;
  }
  get ignoreBOM() {
    return this.#ignoreBOM;
  }
  decode(input, _options) {
    const b = toBytes(input);
    const n = b.length;
    let i = 0;
    if (!this.#ignoreBOM && n >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3;
    const parts = [];
    let units = [];
    const bad = () => {
      if (this.#fatal) throw new TypeError('The encoded data was not valid for encoding utf-8');
      units.push(0xfffd);
    };
    while (i < n) {
      const c = b[i];
      if (c < 0x80) {
        units.push(c);
        i++;
      } else {
        let need = 0;
        let cp = 0;
        let lo = 0x80;
        let hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
          need = 1;
          cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
          need = 2;
          cp = c & 0xf;
          if (c === 0xe0) lo = 0xa0;
          if (c === 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
          need = 3;
          cp = c & 7;
          if (c === 0xf0) lo = 0x90;
          if (c === 0xf4) hi = 0x8f;
        } else {
          bad();
          i++;
          continue;
        }
        let j = 1;
        for (; j <= need; j++) {
          const d = b[i + j];
          if (d === undefined || d < lo || d > hi) break;
          lo = 0x80;
          hi = 0xbf;
          cp = (cp << 6) | (d & 63);
        }
        if (j <= need) {
          bad();
          i += j;
          continue;
        }
        i += need + 1;
        if (cp >= 0x10000) {
          cp -= 0x10000;
          units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 1023));
        } else units.push(cp);
      }
      if (units.length >= 8192) {
        parts.push(String.fromCharCode.apply(null, units));
        units = [];
      }
    }
    parts.push(String.fromCharCode.apply(null, units));
    return parts.join('');
  }
}
