import type { Document } from 'mongodb';
import { UeeError } from '../../core/index.js';

/**
 * Keyset pagination for MongoDB. The "after the cursor" condition follows MongoDB's sort order,
 * including its order across types (null/missing < numbers < strings < objects < arrays <
 * booleans), so rows whose sort field holds another type than the cursor's are neither skipped
 * nor repeated. Sort values must be scalars to be carried in a cursor.
 */

/** A sort key: a document path and its direction. */
export interface MongoKey {
  field: string;
  dir: 1 | -1;
}

const TYPE_ORDER = ['number', 'string', 'object', 'array', 'bool'] as const;

function rankOf(value: unknown): number {
  if (typeof value === 'number') return 0;
  if (typeof value === 'string') return 1;
  if (typeof value === 'boolean') return 4;
  return Array.isArray(value) ? 3 : 2;
}

function equalTo(field: string, value: unknown): Document {
  return { [field]: value === null ? null : { $eq: value } };
}

function after(field: string, dir: 1 | -1, value: unknown): Document | undefined {
  if (value === null) return dir === 1 ? { [field]: { $ne: null } } : undefined;
  const rank = rankOf(value);
  if (dir === 1) {
    const later = TYPE_ORDER.slice(rank + 1);
    return later.length === 0 ? { [field]: { $gt: value } } : { $or: [{ [field]: { $gt: value } }, { [field]: { $type: [...later] } }] };
  }
  const earlier = TYPE_ORDER.slice(0, rank);
  return { $or: [{ [field]: { $lt: value } }, ...(earlier.length === 0 ? [] : [{ [field]: { $type: [...earlier] } }]), { [field]: null }] };
}

/** The filter selecting rows strictly after position `values` in the order of `keys`. */
export function afterFilter(keys: MongoKey[], values: unknown[]): Document {
  const branches: Document[] = [];
  keys.forEach((key, i) => {
    const tail = after(key.field, key.dir, values[i] ?? null);
    if (tail === undefined) return;
    const head = keys.slice(0, i).map((k, j) => equalTo(k.field, values[j] ?? null));
    branches.push(head.length === 0 ? tail : { $and: [...head, tail] });
  });
  return branches.length === 0 ? { _id: { $exists: false } } : { $or: branches };
}

/** `sort` then the tie-breakers it does not already name (a sort document holds each field once). */
export function withTieBreakers(sort: MongoKey[], tieBreakers: MongoKey[]): MongoKey[] {
  const named = new Set(sort.map((k) => k.field));
  return [...sort, ...tieBreakers.filter((k) => !named.has(k.field))];
}

/** The MongoDB sort document for `keys`. */
export function sortDocument(keys: MongoKey[]): Record<string, 1 | -1> {
  return Object.fromEntries(keys.map((k) => [k.field, k.dir]));
}

/** The value at a dotted path (missing → null), as a cursor key: scalars only. */
export function keyValue(doc: unknown, field: string): unknown {
  let value: unknown = doc;
  for (const segment of field.split('.')) {
    value = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[segment] : undefined;
  }
  if (value === undefined || value === null) return null;
  if (typeof value === 'object') {
    throw new UeeError('VALIDATION_FAILED', `cannot page on "${field}": it holds an object or array`, {
      details: { field },
      hint: 'sort on a field holding numbers, strings or booleans',
    });
  }
  return value;
}
