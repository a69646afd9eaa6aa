// Date.parse (and new Date(string)) accepting the common formats Node/V8 accept beyond ISO 8601:
// "2024-01-15 10:30", "2024/01/15", "01/15/2024", "Jan 15, 2024 10:30 PM", "15 January 2024",
// RFC 2822 "Mon, 15 Jan 2024 10:30:00 GMT", with Z / GMT / UTC / ±hh:mm offsets. The engine's local
// time zone is UTC.
const NativeDate = Date;
const nativeParse = Date.parse;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = /^(sun|mon|tue|wed|thu|fri|sat)[a-z]*\.?,?$/;

function looseParse(input) {
  let s = String(input).trim().replace(/\s+/g, ' ');
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2}|GMT|UTC)?$/i.exec(s);
  if (m) return build(+m[1], +m[2], +m[3], +m[4], +m[5], +(m[6] || 0), m[7], m[8]);
  m = /^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:[ T](.*))?$/.exec(s);
  if (m) return withTime(+m[1], +m[2], +m[3], m[4]);
  m = /^(\d{1,2})[/-](\d{1,2})[/-](\d{4})(?:[ T,]+(.*))?$/.exec(s);
  if (m) return withTime(+m[3], +m[1], +m[2], m[4]);
  // word formats: weekday? month-name day, year / day month-name year, then time and zone
  const words = s.replace(/,/g, ' ').trim().split(' ').filter((w) => w !== '' && !WEEKDAYS.test(w.toLowerCase()));
  let month = -1;
  let day = NaN;
  let year = NaN;
  let i = 0;
  for (; i < words.length && i < 3; i++) {
    const w = words[i].toLowerCase();
    const mi = MONTHS.indexOf(w.slice(0, 3));
    if (mi >= 0 && /^[a-z]+\.?$/.test(w) && month < 0) month = mi;
    else if (/^\d{1,2}(st|nd|rd|th)?$/.test(w) && Number.isNaN(day)) day = parseInt(w, 10);
    else if (/^\d{4}$/.test(w) && Number.isNaN(year)) year = +w;
    else break;
  }
  if (month < 0 || Number.isNaN(day) || Number.isNaN(year)) return NaN;
  return withTime(year, month + 1, day, words.slice(i).join(' '));
}

function withTime(y, mo, d, rest) {
  if (!rest) return build(y, mo, d, 0, 0, 0, undefined, undefined);
  const m = /^(\d{1,2})(?::(\d{2}))?(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(am|pm)?\s*(Z|[+-]\d{2}:?\d{2}|(?:GMT|UTC)(?:[+-]\d{2}:?\d{2})?)?(?:\s*\([^)]*\))?$/i.exec(rest.trim());
  if (!m) return NaN;
  let h = +m[1];
  if (m[5]) {
    if (h < 1 || h > 12) return NaN;
    h = (h % 12) + (m[5].toLowerCase() === 'pm' ? 12 : 0);
  }
  return build(y, mo, d, h, +(m[2] || 0), +(m[3] || 0), m[4], m[6]);
}

function build(y, mo, d, h, mi, sec, frac, zone) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 59) return NaN;
  const ms = frac ? Math.floor(+`0.${frac}` * 1000) : 0;
  let t = NativeDate.UTC(y, mo - 1, d, h, mi, sec, ms);
  if (zone) {
    const z = /([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (z) t -= (z[1] === '-' ? -1 : 1) * (+z[2] * 60 + +z[3]) * 60000;
  }
  return t;
}

// the engine rolls "2020-02-30" over into March; ISO dates name real days only
const ISO_DAY = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})/;
function realDay(s) {
  const m = ISO_DAY.exec(s);
  if (!m) return true;
  const y = +m[1];
  const mo = +m[2];
  const d = +m[3];
  const last = new NativeDate(0);
  last.setUTCFullYear(y, mo, 0);
  return mo >= 1 && mo <= 12 && d >= 1 && d <= last.getUTCDate();
}

export function parse(s) {
  const t = nativeParse(s);
  if (!Number.isNaN(t)) return realDay(s) ? t : NaN;
  return looseParse(s);
}

/** A Date constructor whose one-string form uses {@link parse}; everything else is the native Date. */
export function installLooseDate(global) {
  function Date(...args) {
    if (new.target === undefined) return NativeDate();
    if (args.length === 1 && typeof args[0] === 'string') return Reflect.construct(NativeDate, [parse(args[0])], new.target);
    return Reflect.construct(NativeDate, args, new.target);
  }
  Object.defineProperty(Date, 'length', { value: 7 });
  Object.defineProperty(Date, 'prototype', { value: NativeDate.prototype, writable: false });
  Object.defineProperty(NativeDate.prototype, 'constructor', { value: Date, writable: true, configurable: true });
  Date.now = NativeDate.now;
  Date.UTC = NativeDate.UTC;
  Object.defineProperty(Date, 'parse', {
    value: { parse: (s) => parse(String(s)) }.parse,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(global, 'Date', { value: Date, writable: true, configurable: true });
}
