import { createHash } from 'node:crypto';
import { UeeError } from '../core/index.js';

/**
 * Opaque keyset cursors: base64url JSON of the last row's sort-key values and a short hash of the
 * query they belong to. A cursor from another query (other filter, sort, type or view) or anything
 * that does not decode answers `INVALID_CURSOR`. Cursors are not signed: they carry only values the
 * caller already saw, and tenant scoping is applied by the store on every page.
 */

/** Max encoded cursor length accepted. */
const MAX_CURSOR_LENGTH = 8192;

interface CursorBody {
  /** Format version. */
  v: 1;
  /** Hash of the query shape. */
  q: string;
  /** Sort-key values of the last row returned, tie-breakers last. */
  k: unknown[];
}

/** JSON with object keys sorted, so equal queries hash equally whatever their key order. */
function stableStringify(value: unknown): string {
  if (value instanceof RegExp) return JSON.stringify({ $regex: value.source, $options: value.flags });
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/** A short, stable hash of a query's shape (everything but limit and cursor). */
export function queryHash(shape: unknown): string {
  return createHash('sha256').update(stableStringify(shape)).digest('base64url').slice(0, 16);
}

/** Encodes the keyset position after the last row of a page. */
export function encodeCursor(hash: string, keys: unknown[]): string {
  const body: CursorBody = { v: 1, q: hash, k: keys };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

function invalidCursor(reason: string): UeeError {
  return new UeeError('INVALID_CURSOR', `invalid cursor: ${reason}`, {
    details: { reason },
    hint: 'pass back nextCursor exactly as returned by the previous page of the same query, or omit it to start over',
  });
}

/**
 * Decodes a cursor for the query with hash `hash`, expecting `keyCount` sort-key values.
 * Throws `INVALID_CURSOR` on anything else.
 */
export function decodeCursor(cursor: string, hash: string, keyCount: number): unknown[] {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw invalidCursor('not a cursor');
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor('not a cursor');
  }
  if (body === null || typeof body !== 'object') throw invalidCursor('not a cursor');
  const { v, q, k } = body as Partial<CursorBody>;
  if (v !== 1 || typeof q !== 'string' || !Array.isArray(k)) throw invalidCursor('not a cursor');
  if (q !== hash) throw invalidCursor('the cursor belongs to a different query');
  if (k.length !== keyCount || k.some((x) => x !== null && typeof x === 'object')) throw invalidCursor('malformed position');
  return k;
}
