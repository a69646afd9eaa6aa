/** A test262-style assertion harness (assert, assert.sameValue, assert.throws, …), written for these cases. */
export const ASSERT = String.raw`
class Test262Error extends Error {}
const fmtv = (v) => (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? v + 'n' : Object.is(v, -0) ? '-0' : String(v));
function assert(ok, message) { if (ok !== true) throw new Test262Error(message || 'expected true, got ' + fmtv(ok)); }
assert.sameValue = (a, b, message) => { if (!Object.is(a, b)) throw new Test262Error((message ? message + ': ' : '') + 'expected ' + fmtv(b) + ', got ' + fmtv(a)); };
assert.notSameValue = (a, b, message) => { if (Object.is(a, b)) throw new Test262Error((message ? message + ': ' : '') + 'did not expect ' + fmtv(a)); };
assert.compareArray = (a, b, message) => {
  if (a.length !== b.length || a.some((x, i) => !Object.is(x, b[i]))) throw new Test262Error((message ? message + ': ' : '') + 'expected [' + b.map(fmtv) + '], got [' + Array.from(a, fmtv) + ']');
};
assert.throws = (C, fn, message) => {
  try { fn(); } catch (e) {
    if (e === null || typeof e !== 'object' || e.constructor !== C) throw new Test262Error((message ? message + ': ' : '') + 'expected ' + C.name + ', got ' + (e && e.constructor && e.constructor.name));
    return;
  }
  throw new Test262Error((message ? message + ': ' : '') + 'expected ' + C.name + ' to be thrown');
};
const verifyProperty = (o, k, d) => {
  const got = Object.getOwnPropertyDescriptor(o, k);
  assert(got !== undefined, 'property ' + String(k) + ' missing');
  for (const f of ['writable', 'enumerable', 'configurable']) if (f in d) assert.sameValue(got[f], d[f], String(k) + '.' + f);
  if ('value' in d) assert.sameValue(got.value, d.value, String(k) + '.value');
};
`;
