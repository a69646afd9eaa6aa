import { randomBytes } from 'node:crypto';

let lastMs = 0;
let counter = 0;
/** Random bytes drawn 4 KiB at a time (one CSPRNG call per 256 ids instead of one per id). */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = POOL_BYTES;

/**
 * A UUIDv7 (RFC 9562): 48-bit millisecond timestamp, then a 12-bit counter that keeps ids minted in
 * the same millisecond strictly increasing within this process, then random bits. Lexicographic order
 * of the string equals creation order within a process.
 */
export function newId(now: number = Date.now()): string {
  let ms = now;
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // Counter exhausted within one millisecond: borrow the next millisecond.
      ms = ++lastMs;
      counter = 0;
    }
  } else {
    lastMs = ms;
    counter = 0;
  }
  if (poolAt + 8 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  // Written out from a table of byte pairs: no Buffer, hex string and slices per id (ids are minted
  // per invocation record, per event).
  const r = pool;
  const j = poolAt;
  poolAt += 8;
  const t = ms.toString(16).padStart(12, '0');
  return (
    t.slice(0, 8) + '-' + t.slice(8) + '-' +
    HEX[0x70 | ((counter >> 8) & 0x0f)]! + HEX[counter & 0xff]! + '-' +
    HEX[0x80 | (r[j]! & 0x3f)]! + HEX[r[j + 1]!]! + '-' +
    HEX[r[j + 2]!]! + HEX[r[j + 3]!]! + HEX[r[j + 4]!]! + HEX[r[j + 5]!]! + HEX[r[j + 6]!]! + HEX[r[j + 7]!]!
  );
}

/** Two lower-case hex digits of every byte value. */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The millisecond timestamp embedded in a UUIDv7. */
export function idTimestamp(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a canonical lower-case UUID string. */
export function isId(value: string): boolean {
  return UUID_RE.test(value);
}

/** Murmur3's 32-bit finalizer: every input bit flips about half of the output bits. */
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The random seed of one plugin invocation (`context.randomSeed`, 32 hex characters): a function
 * of the event id and the plugin version id only, so a replay of the event draws the same values
 * (JS `Math.random`, `crypto.getRandomValues`). Four multiplicative hash lanes with a cross-lane
 * finaliser — about 20× cheaper than the sha256 it replaces on the per-event path. Not for secrets.
 */
export function eventSeed(eventId: string, pluginId: string): string {
  const text = `${eventId}:${pluginId}`;
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  let c = 0x85ebca6b;
  let d = 0xc2b2ae35;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    a = Math.imul(a ^ k, 0x01000193);
    b = Math.imul(b ^ k, 0x5bd1e995);
    c = Math.imul(c ^ k, 0x27d4eb2f);
    d = Math.imul(d ^ k, 0x165667b1);
  }
  a = mix32(a ^ d);
  b = mix32(b ^ a);
  c = mix32(c ^ b);
  d = mix32(d ^ c);
  return hex8(a) + hex8(b) + hex8(c) + hex8(d);
}

/** 8 hex digits of an unsigned 32-bit number. */
function hex8(n: number): string {
  return HEX[n >>> 24]! + HEX[(n >>> 16) & 0xff]! + HEX[(n >>> 8) & 0xff]! + HEX[n & 0xff]!;
}
