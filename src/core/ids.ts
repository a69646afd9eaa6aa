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
  if (poolAt + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  const bytes = Buffer.from(pool.subarray(poolAt, poolAt + 16));
  poolAt += 16;
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | ((counter >> 8) & 0x0f);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

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
  return n.toString(16).padStart(8, '0');
}
