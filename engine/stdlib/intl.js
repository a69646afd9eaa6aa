// A small en-US Intl: NumberFormat (decimal, percent, currency), DateTimeFormat (UTC; numeric and
// named parts, dateStyle/timeStyle), Collator (case- and accent-aware ordering, numeric), PluralRules,
// and the toLocaleString family on top of them. Other locales fall back to en-US.
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const SYMBOLS = { USD: '$', EUR: '€', GBP: '£', JPY: '¥', CAD: 'CA$', AUD: 'A$', INR: '₹', CNY: 'CN¥' };

const group = (int) => int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');

class NumberFormat {
  #o;
  constructor(_locales, options = {}) {
    const style = options.style || 'decimal';
    const currency = options.currency ? String(options.currency).toUpperCase() : undefined;
    if (style === 'currency' && !currency) throw new TypeError('Currency code is required with currency style.');
    const cur = style === 'currency' ? (currency === 'JPY' ? 0 : 2) : 0;
    const minF = options.minimumFractionDigits ?? cur;
    const maxF = options.maximumFractionDigits ?? Math.max(minF, style === 'percent' ? 0 : style === 'currency' ? cur : 3);
    if (minF > maxF) throw new RangeError('maximumFractionDigits value is out of range.');
    this.#o = {
      locale: 'en-US',
      numberingSystem: 'latn',
      style,
      ...(currency ? { currency, currencyDisplay: 'symbol', currencySign: 'standard' } : {}),
      minimumIntegerDigits: options.minimumIntegerDigits ?? 1,
      minimumFractionDigits: minF,
      maximumFractionDigits: maxF,
      useGrouping: options.useGrouping === false ? false : 'auto',
      notation: 'standard',
      signDisplay: options.signDisplay || 'auto',
      roundingMode: 'halfExpand',
    };
  }
  format(value) {
    const o = this.#o;
    let n = typeof value === 'bigint' ? Number(value) : Number(value);
    if (Number.isNaN(n)) return 'NaN';
    const neg = n < 0 || Object.is(n, -0);
    n = Math.abs(n);
    if (o.style === 'percent') n *= 100;
    let body;
    if (!Number.isFinite(n)) body = '∞';
    else {
      let fixed = n.toFixed(o.maximumFractionDigits);
      let [int, frac = ''] = fixed.split('.');
      while (frac.length > o.minimumFractionDigits && frac.endsWith('0')) frac = frac.slice(0, -1);
      int = int.padStart(o.minimumIntegerDigits, '0');
      body = (o.useGrouping ? group(int) : int) + (frac ? `.${frac}` : '');
    }
    const zero = /^[0.,]*$/.test(body);
    const sign = neg && !(zero && o.signDisplay === 'auto') ? '-' : o.signDisplay === 'always' || (o.signDisplay === 'exceptZero' && !zero) ? '+' : '';
    if (o.style === 'percent') return `${sign}${body}%`;
    if (o.style === 'currency') return `${sign}${SYMBOLS[o.currency] ?? `${o.currency} `}${body}`;
    return sign + body;
  }
  formatToParts(value) {
    return [{ type: 'literal', value: this.format(value) }];
  }
  resolvedOptions() {
    return { ...this.#o };
  }
  static supportedLocalesOf(locales) {
    return [].concat(locales ?? []).filter((l) => /^en(-US)?$/i.test(l));
  }
}

const pad2 = (n) => String(n).padStart(2, '0');

class DateTimeFormat {
  #o;
  constructor(_locales, options = {}) {
    const o = { ...options };
    if (o.timeZone && !/^(utc|gmt|etc\/utc|etc\/gmt)$/i.test(o.timeZone)) throw new RangeError(`Invalid time zone specified: ${o.timeZone}`);
    const any = ['weekday', 'year', 'month', 'day', 'hour', 'minute', 'second'].some((k) => o[k] !== undefined);
    if (!any && !o.dateStyle && !o.timeStyle) Object.assign(o, { year: 'numeric', month: 'numeric', day: 'numeric' });
    this.#o = { locale: 'en-US', calendar: 'gregory', numberingSystem: 'latn', timeZone: 'UTC', ...o };
  }
  format(date) {
    const d = date === undefined ? new Date() : new Date(typeof date === 'object' ? date.valueOf() : date);
    if (Number.isNaN(d.getTime())) throw new RangeError('Invalid time value');
    const o = this.#o;
    const Y = d.getUTCFullYear();
    const M = d.getUTCMonth();
    const D = d.getUTCDate();
    const h = d.getUTCHours();
    const m = d.getUTCMinutes();
    const s = d.getUTCSeconds();
    const h12 = o.hour12 === false || o.hourCycle === 'h23' ? null : h % 12 === 0 ? 12 : h % 12;
    const ampm = h < 12 ? 'AM' : 'PM';
    const time = (withSec) => (h12 === null ? `${pad2(h)}:${pad2(m)}${withSec ? `:${pad2(s)}` : ''}` : `${h12}:${pad2(m)}${withSec ? `:${pad2(s)}` : ''} ${ampm}`);
    if (o.dateStyle || o.timeStyle) {
      const ds = {
        full: `${DAYS[d.getUTCDay()]}, ${MONTHS[M]} ${D}, ${Y}`,
        long: `${MONTHS[M]} ${D}, ${Y}`,
        medium: `${MONTHS[M].slice(0, 3)} ${D}, ${Y}`,
        short: `${M + 1}/${D}/${String(Y).slice(-2)}`,
      }[o.dateStyle];
      const ts = { full: `${time(true)} Coordinated Universal Time`, long: `${time(true)} UTC`, medium: time(true), short: time(false) }[o.timeStyle];
      if (ds && ts) return `${ds}${o.dateStyle === 'full' || o.dateStyle === 'long' ? ' at' : ','} ${ts}`;
      return ds ?? ts ?? '';
    }
    const parts = [];
    const month = o.month === 'long' ? MONTHS[M] : o.month === 'short' ? MONTHS[M].slice(0, 3) : o.month === 'narrow' ? MONTHS[M][0] : o.month === '2-digit' ? pad2(M + 1) : o.month ? String(M + 1) : '';
    const day = o.day === '2-digit' ? pad2(D) : o.day ? String(D) : '';
    const year = o.year === '2-digit' ? String(Y).slice(-2) : o.year ? String(Y) : '';
    const wd = o.weekday === 'long' ? DAYS[d.getUTCDay()] : o.weekday ? DAYS[d.getUTCDay()].slice(0, 3) : '';
    let text = '';
    if (o.month === 'long' || o.month === 'short' || o.month === 'narrow') {
      text = [month, day].filter(Boolean).join(" ");
      if (year) text += day ? `, ${year}` : ` ${year}`;
    } else text = [month, day, year].filter(Boolean).join('/');
    if (wd) text = text ? `${wd}, ${text}` : wd;
    if (text) parts.push(text);
    if (o.hour !== undefined || o.minute !== undefined || o.second !== undefined) {
      let t = '';
      if (o.hour !== undefined) {
        const hh = h12 === null ? pad2(h) : o.hour === '2-digit' ? pad2(h12) : String(h12);
        t = o.minute !== undefined ? `${hh}:${pad2(m)}` : hh;
        if (o.second !== undefined) t += `:${pad2(s)}`;
        if (h12 !== null) t += ` ${ampm}`;
      } else t = [o.minute !== undefined ? String(m) : '', o.second !== undefined ? pad2(s) : ''].filter(Boolean).join(':');
      parts.push(t);
    }
    return parts.join(', ');
  }
  formatToParts(date) {
    return [{ type: 'literal', value: this.format(date) }];
  }
  resolvedOptions() {
    return { ...this.#o };
  }
  static supportedLocalesOf(locales) {
    return [].concat(locales ?? []).filter((l) => /^en(-US)?$/i.test(l));
  }
}

// primary key: letters without accents, case-folded; ties broken by accents, then lowercase first
const fold = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
class Collator {
  #o;
  constructor(_locales, options = {}) {
    this.#o = { locale: 'en-US', usage: 'sort', sensitivity: options.sensitivity || 'variant', ignorePunctuation: false, collation: 'default', numeric: Boolean(options.numeric), caseFirst: 'false' };
    this.compare = this.compare.bind(this);
  }
  compare(a, b) {
    a = String(a);
    b = String(b);
    const o = this.#o;
    const p = cmpKey(fold(a).toLowerCase(), fold(b).toLowerCase(), o.numeric);
    if (p !== 0 || o.sensitivity === 'base') return p;
    const acc = cmpKey(a.normalize('NFD').toLowerCase(), b.normalize('NFD').toLowerCase(), o.numeric);
    if (acc !== 0 || o.sensitivity === 'accent') return o.sensitivity === 'case' ? 0 : acc;
    if (a === b) return 0;
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (a[i] !== b[i]) return a[i] === a[i].toLowerCase() ? -1 : 1;
    }
    return a.length < b.length ? -1 : 1;
  }
  resolvedOptions() {
    return { ...this.#o };
  }
}

function cmpKey(a, b, numeric) {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (numeric && /\d/.test(a[i]) && /\d/.test(b[j])) {
      let x = '';
      let y = '';
      while (i < a.length && /\d/.test(a[i])) x += a[i++];
      while (j < b.length && /\d/.test(b[j])) y += b[j++];
      const d = Number(x) - Number(y);
      if (d !== 0) return d < 0 ? -1 : 1;
      continue;
    }
    const ca = rank(a[i++]);
    const cb = rank(b[j++]);
    if (ca !== cb) return ca < cb ? -1 : 1;
  }
  return a.length - i === b.length - j ? 0 : a.length - i < b.length - j ? -1 : 1;
}
// punctuation and spaces sort before digits, digits before letters (as in the root collation)
const rank = (c) => {
  const code = c.codePointAt(0);
  if (/[a-z]/.test(c)) return 2000 + code;
  if (/\d/.test(c)) return 1000 + code;
  return code;
};

class PluralRules {
  #type;
  constructor(_locales, options = {}) {
    this.#type = options.type || 'cardinal';
  }
  select(n) {
    n = Number(n);
    if (this.#type === 'ordinal') {
      const t = n % 10;
      const h = n % 100;
      return t === 1 && h !== 11 ? 'one' : t === 2 && h !== 12 ? 'two' : t === 3 && h !== 13 ? 'few' : 'other';
    }
    return n === 1 ? 'one' : 'other';
  }
  resolvedOptions() {
    return { locale: 'en-US', type: this.#type };
  }
}

export function installIntl(global) {
  const Intl = { NumberFormat, DateTimeFormat, Collator, PluralRules, getCanonicalLocales: (l) => [].concat(l ?? []) };
  Object.defineProperty(Intl, Symbol.toStringTag, { value: 'Intl', configurable: true });
  Object.defineProperty(global, 'Intl', { value: Intl, writable: true, configurable: true });
  // ECMA-402's lengths: 0 for the toLocale*String methods (all arguments optional), 1 for localeCompare
  const method = (proto, name, fn, length = 0) => {
    const value = { [name]: fn }[name];
    Object.defineProperty(value, 'length', { value: length, configurable: true });
    Object.defineProperty(proto, name, { value, writable: true, configurable: true });
  };
  method(Number.prototype, 'toLocaleString', function (locales, options) {
    return new NumberFormat(locales, options).format(this.valueOf());
  });
  const DATE = { year: 'numeric', month: 'numeric', day: 'numeric' };
  const TIME = { hour: 'numeric', minute: '2-digit', second: '2-digit' };
  const FIELDS = ['weekday', 'year', 'month', 'day', 'hour', 'minute', 'second', 'dateStyle', 'timeStyle'];
  // options without any date or time field take the method's defaults (as ECMA-402 ToDateTimeOptions)
  const withDefaults = (options, defaults) => (options && FIELDS.some((k) => options[k] !== undefined) ? options : { ...options, ...defaults });
  method(Date.prototype, 'toLocaleDateString', function (locales, options) {
    return new DateTimeFormat(locales, withDefaults(options, DATE)).format(this);
  });
  method(Date.prototype, 'toLocaleTimeString', function (locales, options) {
    return new DateTimeFormat(locales, withDefaults(options, TIME)).format(this);
  });
  method(Date.prototype, 'toLocaleString', function (locales, options) {
    return new DateTimeFormat(locales, withDefaults(options, { ...DATE, ...TIME })).format(this);
  });
  const collator = new Collator();
  method(String.prototype, 'localeCompare', function (that, locales, options) {
    return (options ? new Collator(locales, options) : collator).compare(String(this), String(that));
  }, 1);
}
