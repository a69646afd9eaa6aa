// Number.prototype.toString(radix) for radix ≠ 10, digit for digit as V8 writes it: fractions get
// as many digits as the double's precision holds (QuickJS 2021 prints the decimal form instead),
// integers too large to be exact end in zeros.
const nativeToString = Number.prototype.toString;
const CHARS = '0123456789abcdefghijklmnopqrstuvwxyz';
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

const nextDouble = (x) => {
  f64[0] = x;
  u64[0] += 1n;
  return f64[0];
};

function toRadix(value, radix) {
  const negative = value < 0;
  if (negative) value = -value;
  let integer = Math.floor(value);
  let fraction = value - integer;
  let delta = Math.max(0.5 * (nextDouble(value) - value), nextDouble(0));
  let frac = '';
  if (fraction >= delta) {
    const digits = [];
    do {
      fraction *= radix;
      delta *= radix;
      const digit = Math.floor(fraction);
      digits.push(digit);
      fraction -= digit;
      if (fraction > 0.5 || (fraction === 0.5 && digit & 1)) {
        if (fraction + delta > 1) {
          // round up, carrying into earlier digits (and the integer part) as needed
          for (;;) {
            const last = digits.pop();
            if (last === undefined) {
              integer += 1;
              break;
            }
            if (last + 1 < radix) {
              digits.push(last + 1);
              break;
            }
          }
          break;
        }
      }
    } while (fraction >= delta);
    if (digits.length > 0) frac = '.' + digits.map((d) => CHARS[d]).join('');
  }
  let int = '';
  while (integer / radix >= 9007199254740992) {
    integer /= radix;
    int = '0' + int;
  }
  do {
    const remainder = integer % radix;
    int = CHARS[remainder] + int;
    integer = (integer - remainder) / radix;
  } while (integer > 0);
  return (negative ? '-' : '') + int + frac;
}

export function installNumberToString() {
  const toString = {
    toString(radix) {
      const x = typeof this === 'number' ? this : nativeToString.call(this, 10) && Number.prototype.valueOf.call(this);
      if (radix === undefined || radix === 10) return nativeToString.call(x, 10);
      const r = Math.trunc(Number(radix));
      if (!(r >= 2 && r <= 36)) throw new RangeError('toString() radix must be between 2 and 36');
      if (r === 10) return nativeToString.call(x, 10);
      if (!Number.isFinite(x)) return nativeToString.call(x, 10);
      if (Number.isInteger(x) && Math.abs(x) <= Number.MAX_SAFE_INTEGER) return nativeToString.call(x, r);
      return toRadix(x, r);
    },
  }.toString;
  Object.defineProperty(Number.prototype, 'toString', { value: toString, writable: true, configurable: true });
}
