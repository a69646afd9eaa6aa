// A console formatter that follows Node 20's util.inspect / util.format defaults (depth 2,
// breakLength 80, compact 3, array grouping) for the values plugins log.
const { getPrototypeOf, getOwnPropertyNames, getOwnPropertySymbols, keys: objectKeys, prototype: ObjectProto } = Object;
const isIdent = /^[A-Za-z_$][\w$]*$/;

const quote = (s) => {
  const q = !s.includes("'") ? "'" : !s.includes('"') ? '"' : !s.includes('`') && !s.includes('${') ? '`' : "'";
  let out = '';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === q || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).toUpperCase().padStart(2, '0');
    else out += ch;
  }
  return q + out + q;
};

const keyText = (k) => (typeof k === 'symbol' ? `[${k.toString()}]` : isIdent.test(k) ? k : quote(k));

function constructorName(v) {
  let p = v;
  while (p !== null) {
    const d = Object.getOwnPropertyDescriptor(p, 'constructor');
    if (d && typeof d.value === 'function' && d.value.name !== '') return d.value.name;
    p = getPrototypeOf(p);
  }
  return null;
}

const fnBase = (v) => {
  let src = '';
  try {
    src = Function.prototype.toString.call(v);
  } catch {
    src = '';
  }
  const isClass = src.startsWith('class') && /^class\b/.test(src);
  const name = v.name ? `: ${v.name}` : isClass ? ' (anonymous)' : ' (anonymous)';
  const kind = isClass
    ? 'class'
    : v.constructor && v.constructor.name === 'AsyncFunction'
      ? 'AsyncFunction'
      : v.constructor && v.constructor.name === 'GeneratorFunction'
        ? 'GeneratorFunction'
        : v.constructor && v.constructor.name === 'AsyncGeneratorFunction'
          ? 'AsyncGeneratorFunction'
          : 'Function';
  if (isClass) {
    const ext = getPrototypeOf(v);
    return `[class ${v.name || '(anonymous)'}${ext && ext.name ? ` extends ${ext.name}` : ''}]`;
  }
  return `[${kind}${v.name ? name : ' (anonymous)'}]`;
};

function isBelowBreakLength(output, start, base) {
  let total = output.length + start;
  if (total + output.length > 80) return false;
  for (const o of output) {
    total += o.length;
    if (total > 80) return false;
  }
  return base === '' || !base.includes('\n');
}

function groupArrayElements(ctx, output, value) {
  let totalLength = 0;
  let maxLength = 0;
  let outputLength = output.length;
  if (ctx.extra) outputLength--;
  const separatorSpace = 2;
  const dataLen = new Array(outputLength);
  for (let i = 0; i < outputLength; i++) {
    const len = output[i].length;
    dataLen[i] = len;
    totalLength += len + separatorSpace;
    if (maxLength < len) maxLength = len;
  }
  const actualMax = maxLength + separatorSpace;
  if (actualMax * 3 + ctx.indentationLvl < 80 && (totalLength / actualMax > 5 || maxLength <= 6)) {
    const averageBias = Math.sqrt(actualMax - totalLength / output.length);
    const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
    const columns = Math.min(
      Math.round(Math.sqrt(2.5 * biasedMax * outputLength) / biasedMax),
      Math.floor((80 - ctx.indentationLvl) / actualMax),
      3 * 4,
      15,
    );
    if (columns <= 1) return output;
    const tmp = [];
    const maxLineLength = [];
    for (let i = 0; i < columns; i++) {
      let lineLength = 0;
      for (let j = i; j < output.length; j += columns) if (dataLen[j] > lineLength) lineLength = dataLen[j];
      maxLineLength.push(lineLength + separatorSpace);
    }
    let padStart = true;
    if (value !== undefined) {
      for (let i = 0; i < output.length; i++) {
        if (typeof value[i] !== 'number' && typeof value[i] !== 'bigint') {
          padStart = false;
          break;
        }
      }
    }
    for (let i = 0; i < outputLength; i += columns) {
      const max = Math.min(i + columns, outputLength);
      let str = '';
      let j = i;
      for (; j < max - 1; j++) {
        const cell = `${output[j]}, `;
        str += padStart ? cell.padStart(maxLineLength[j - i], ' ') : cell.padEnd(maxLineLength[j - i], ' ');
      }
      str += padStart ? output[j].padStart(maxLineLength[j - i] - separatorSpace, ' ') : output[j];
      tmp.push(str);
    }
    if (ctx.extra) tmp.push(output[outputLength]);
    return tmp;
  }
  return output;
}

function reduceToSingleString(ctx, output, base, braces, isArrayLike, recurseTimes, value) {
  const entries = output.length;
  if (isArrayLike && entries > 6) output = groupArrayElements(ctx, output, value);
  if (ctx.currentDepth - recurseTimes < 3 && entries === output.length) {
    const start = output.length + ctx.indentationLvl + braces[0].length + base.length + 10;
    if (isBelowBreakLength(output, start, base)) {
      const joined = output.join(', ');
      if (!joined.includes('\n')) return `${base ? `${base} ` : ''}${braces[0]} ${joined} ${braces[1]}`;
    }
  }
  const ind = `\n${' '.repeat(ctx.indentationLvl)}`;
  return `${base ? `${base} ` : ''}${braces[0]}${ind}  ${output.join(`,${ind}  `)}${ind}${braces[1]}`;
}

function formatPrimitive(v, nested) {
  switch (typeof v) {
    case 'string':
      return nested ? quote(v) : v;
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint':
      return `${v}n`;
    case 'symbol':
      return v.toString();
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(v);
    default:
      return 'null';
  }
}

let mapStack = (s) => s;
/** Lets the prelude map bundle lines in stacks to the author's files. */
export function setStackMapper(fn) {
  mapStack = fn;
}

function formatError(err, ctx) {
  const name = err.name !== undefined ? String(err.name) : 'Error';
  const message = err.message !== undefined ? String(err.message) : '';
  let stack = typeof err.stack === 'string' ? mapStack(err.stack) : '';
  const head = message ? `${name}: ${message}` : name;
  stack = stack.replace(/\n+$/, '');
  let out = stack.startsWith(head) ? stack : stack ? `${head}\n${stack}` : `[${head}]`;
  if (ctx.indentationLvl > 0) out = out.split('\n').join(`\n${' '.repeat(ctx.indentationLvl)}`);
  return out;
}

function formatValue(ctx, v, recurseTimes, nested) {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return formatPrimitive(v, nested);
  if (ctx.seen.includes(v)) {
    let idx = ctx.circular.get(v);
    if (idx === undefined) {
      idx = ctx.circular.size + 1;
      ctx.circular.set(v, idx);
    }
    return `[Circular *${idx}]`;
  }
  return formatRaw(ctx, v, recurseTimes);
}

function formatRaw(ctx, value, recurseTimes) {
  const ctor = constructorName(value);
  const proto = getPrototypeOf(value);
  let keys = objectKeys(value).concat(getOwnPropertySymbols(value).filter((s) => Object.prototype.propertyIsEnumerable.call(value, s)));
  let braces;
  let base = '';
  let isArrayLike = false;
  let entriesFn = null;
  const prefix = (fallback, size) => {
    const name = ctor === null ? `[${fallback}: null prototype]` : ctor;
    const tag = value[Symbol.toStringTag];
    const t = typeof tag === 'string' && tag !== '' && tag !== name ? ` [${tag}]` : '';
    return `${name}${size !== undefined ? `(${size})` : ''}${t} `;
  };
  if (Array.isArray(value)) {
    isArrayLike = true;
    keys = keys.filter((k) => typeof k === 'symbol' || !(String(k >>> 0) === k && (k >>> 0) < value.length));
    braces = [`${ctor === 'Array' ? '' : prefix('Array', value.length)}[`, ']'];
    entriesFn = () => formatList(ctx, value, recurseTimes);
    if (value.length === 0 && keys.length === 0) return `${braces[0]}]`;
  } else if (value instanceof Map) {
    braces = [`${prefix('Map', value.size)}{`, '}'];
    entriesFn = () => {
      const out = [];
      for (const [k, v] of value) out.push(`${formatValue(ctx, k, recurseTimes, true)} => ${formatValue(ctx, v, recurseTimes, true)}`);
      return out;
    };
    if (value.size === 0 && keys.length === 0) return `${braces[0]}}`;
  } else if (value instanceof Set) {
    braces = [`${prefix('Set', value.size)}{`, '}'];
    entriesFn = () => [...value].map((v) => formatValue(ctx, v, recurseTimes, true));
    if (value.size === 0 && keys.length === 0) return `${braces[0]}}`;
  } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    isArrayLike = true;
    const n = value.length;
    braces = [`${prefix(ctor || 'TypedArray', n)}[`, ']'];
    keys = keys.filter((k) => typeof k === 'symbol' || !(String(k >>> 0) === k && (k >>> 0) < n));
    entriesFn = () => formatList(ctx, value, recurseTimes);
    if (n === 0 && keys.length === 0) return `${braces[0]}]`;
  } else if (typeof value === 'function') {
    base = fnBase(value);
    keys = keys.filter((k) => k !== 'prototype');
    if (keys.length === 0) return base;
    braces = ['{', '}'];
  } else if (value instanceof RegExp) {
    base = RegExp.prototype.toString.call(value);
    if (keys.length === 0) return base;
    braces = ['{', '}'];
  } else if (value instanceof Date) {
    base = Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (keys.length === 0) return base;
    braces = ['{', '}'];
  } else if (value instanceof Error) {
    base = formatError(value, ctx);
    keys = keys.filter((k) => k !== 'stack' && k !== 'message');
    if (keys.length === 0) return base;
    braces = ['{', '}'];
  } else if (value instanceof Promise) {
    braces = [`${prefix('Promise')}{`, '}'];
    entriesFn = () => ['<pending>'];
  } else if (value instanceof WeakMap || value instanceof WeakSet) {
    return `${ctor} { <items unknown> }`;
  } else if (value instanceof Number || value instanceof String || value instanceof Boolean) {
    const kind = value instanceof Number ? 'Number' : value instanceof String ? 'String' : 'Boolean';
    base = `[${kind}: ${formatPrimitive(value.valueOf(), true)}]`;
    if (value instanceof String) keys = keys.filter((k) => !(String(k >>> 0) === k && (k >>> 0) < value.length));
    if (keys.length === 0) return base;
    braces = ['{', '}'];
  } else if (value instanceof ArrayBuffer) {
    braces = [`ArrayBuffer {`, '}'];
    entriesFn = () => {
      const bytes = [...new Uint8Array(value, 0, Math.min(value.byteLength, 50))].map((b) => b.toString(16).padStart(2, '0'));
      return [`[Uint8Contents]: <${bytes.join(' ')}${value.byteLength > 50 ? ` ... ${value.byteLength - 50} more bytes` : ''}>`, `byteLength: ${value.byteLength}`];
    };
  } else {
    const tag = value[Symbol.toStringTag];
    if (ctor === 'Object' && proto === ObjectProto) {
      braces = [typeof tag === 'string' && tag !== '' ? `Object [${tag}] {` : '{', '}'];
    } else if (ctor === null) {
      braces = ['[Object: null prototype] {', '}'];
    } else {
      braces = [`${prefix('Object')}{`, '}'];
    }
    if (keys.length === 0) {
      if (ctor === 'Object' && proto === ObjectProto && !(typeof tag === 'string' && tag !== '')) return '{}';
      return `${braces[0]}}`;
    }
  }
  if (recurseTimes > ctx.depth) {
    return Array.isArray(value) ? '[Array]' : `[${ctor === null ? 'Object: null prototype' : ctor || 'Object'}]`;
  }
  recurseTimes++;
  ctx.seen.push(value);
  ctx.currentDepth = recurseTimes;
  let output;
  const savedExtra = ctx.extra;
  ctx.extra = false;
  try {
    output = entriesFn ? entriesFn() : [];
    if (ctx.showHidden && Array.isArray(value)) output.push(`[length]: ${value.length}`);
    for (const k of keys) {
      const d = Object.getOwnPropertyDescriptor(value, k);
      let text;
      if (d.get || d.set) text = d.get && d.set ? '[Getter/Setter]' : d.get ? '[Getter]' : '[Setter]';
      else {
        ctx.indentationLvl += 2;
        text = formatValue(ctx, d.value, recurseTimes, true);
        ctx.indentationLvl -= 2;
      }
      output.push(`${keyText(k)}: ${text}`);
    }
  } finally {
    ctx.seen.pop();
  }
  const idx = ctx.circular.get(value);
  if (idx !== undefined) {
    const ref = `<ref *${idx}>`;
    if (base === '') braces[0] = `${ref} ${braces[0]}`;
    else base = `${ref} ${base}`;
  }
  const res = reduceToSingleString(ctx, output, base, braces, isArrayLike, recurseTimes, value);
  ctx.extra = savedExtra;
  return res;
}

function formatList(ctx, value, recurseTimes) {
  const out = [];
  const n = value.length;
  const shown = Math.min(n, 100);
  let holes = 0;
  for (let i = 0; i < shown; i++) {
    if (!Object.prototype.hasOwnProperty.call(value, i)) {
      holes++;
      continue;
    }
    if (holes > 0) {
      out.push(`<${holes} empty item${holes > 1 ? 's' : ''}>`);
      holes = 0;
    }
    ctx.indentationLvl += 2;
    out.push(formatValue(ctx, value[i], recurseTimes, true));
    ctx.indentationLvl -= 2;
  }
  if (holes > 0) out.push(`<${holes} empty item${holes > 1 ? 's' : ''}>`);
  if (n > shown) {
    out.push(`... ${n - shown} more item${n - shown > 1 ? 's' : ''}`);
    ctx.extra = true;
  }
  return out;
}

/** util.inspect(value) with Node's defaults. */
export function inspect(value, opts) {
  const depth = opts && typeof opts.depth === 'number' ? opts.depth : opts && opts.depth === null ? Infinity : 2;
  const ctx = { seen: [], circular: new Map(), indentationLvl: 0, currentDepth: 0, depth, extra: false, showHidden: Boolean(opts && opts.showHidden) };
  return formatValue(ctx, value, 0, true);
}

const formatTop = (v) => (typeof v === 'string' ? v : inspect(v));

/** util.format(...args): printf-like specifiers %s %d %i %f %j %o %O %c %%, then the rest inspected. */
export function format(...args) {
  const first = args[0];
  let i = 1;
  let out = '';
  if (typeof first === 'string' && args.length > 1) {
    let last = 0;
    for (let p = 0; p < first.length - 1; p++) {
      if (first.charCodeAt(p) !== 37) continue;
      const c = first[p + 1];
      if (c === '%') {
        out += first.slice(last, p) + '%';
        last = p + 2;
        p++;
        continue;
      }
      if (i >= args.length || !'sdifjoOc'.includes(c)) continue;
      const a = args[i];
      let r;
      if (c === 's') r = typeof a === 'string' ? a : typeof a === 'bigint' ? `${a}n` : typeof a === 'symbol' ? String(a) : a !== null && typeof a === 'object' ? inspect(a, { depth: 0 }) : formatPrimitive(a, false);
      else if (c === 'd') r = typeof a === 'bigint' ? `${a}n` : typeof a === 'symbol' ? 'NaN' : formatPrimitive(Number(a), false);
      else if (c === 'i') r = typeof a === 'bigint' ? `${a}n` : typeof a === 'symbol' ? 'NaN' : formatPrimitive(parseInt(a), false);
      else if (c === 'f') r = typeof a === 'symbol' ? 'NaN' : formatPrimitive(parseFloat(a), false);
      else if (c === 'j') {
        try {
          r = JSON.stringify(a);
        } catch {
          r = '[Circular]';
        }
      } else if (c === 'o' || c === 'O') r = inspect(a, c === 'o' ? { depth: 4, showHidden: true } : undefined);
      else r = '';
      out += first.slice(last, p) + r;
      last = p + 2;
      p++;
      i++;
    }
    out += first.slice(last);
  } else {
    out = formatTop(first);
  }
  for (; i < args.length; i++) out += ' ' + formatTop(args[i]);
  return args.length === 0 ? '' : out;
}
