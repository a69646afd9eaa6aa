// crypto.getRandomValues / randomUUID, drawn from Math.random: the engine reseeds it per event from
// context.randomSeed, so a replayed event draws the same values. Not for secrets.
const random = Math.random;
const INTEGER_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array];
if (typeof BigInt64Array === 'function') INTEGER_ARRAYS.push(BigInt64Array, BigUint64Array);

function getRandomValues(array) {
  if (!INTEGER_ARRAYS.some((T) => array instanceof T)) {
    throw new DOMException("The data argument must be an integer-type TypedArray", 'TypeMismatchError');
  }
  if (array.byteLength > 65536) {
    throw new DOMException(
      `The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (65536)`,
      'QuotaExceededError',
    );
  }
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  for (let i = 0; i < bytes.length; i += 4) {
    let r = Math.floor(random() * 4294967296);
    for (let k = 0; k < 4 && i + k < bytes.length; k++) {
      bytes[i + k] = r & 255;
      r >>>= 8;
    }
  }
  return array;
}

function randomUUID() {
  const b = getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  let h = '';
  for (let i = 0; i < 16; i++) {
    h += (b[i] + 0x100).toString(16).slice(1);
    if (i === 3 || i === 5 || i === 7 || i === 9) h += '-';
  }
  return h;
}

export const crypto = { getRandomValues, randomUUID };
