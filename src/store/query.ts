import { z } from 'zod';
import { EntityTypeIdSchema, SortSchema, UeeError, parseOrThrow, type JsonObject, type Page } from '../core/index.js';
import { DEFAULT_FILTER_LIMITS, checkFieldPath, type FilterLimits } from './filter.js';
import { compileFilter, type CompiledFilter } from './filter-compile.js';
import { encodeCursor, queryHash } from './cursor.js';
import type { EntityQuery, HistoryOptions } from './port.js';

/** Query normalisation shared by both adapters: limits, sort keys, filters and cursor hashing. */

/** Page size bounds. */
export const MAX_PAGE_SIZE = 1000;
/** Page size when none is given. */
export const DEFAULT_PAGE_SIZE = 100;

/** One sort key: a document path and a direction. */
export interface SortKey {
  field: string;
  dir: 1 | -1;
}

/** A query ready for an adapter: validated filter, sort keys (tie-breakers excluded), page size. */
export interface NormalisedQuery {
  filter: JsonObject;
  /** The filter compiled for in-process evaluation under the store's filter budget. */
  compiled: CompiledFilter;
  sort: SortKey[];
  limit: number;
  cursor: string | undefined;
  /** Hash of the query shape, embedded in and checked against cursors. */
  hash: string;
}

/** Entity fields a query may sort on besides `attributes.*` and `metadata.*`. */
const ENTITY_SORT_FIELDS = new Set(['entityId', 'entityTypeId', 'tenantId', 'ownerId', 'version', 'createdAt', 'createdBy']);

const LimitSchema = z.number().int().min(1).max(MAX_PAGE_SIZE);

function limitOf(limit: unknown): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  // Hot path: a well-formed limit needs no zod; zod words the error otherwise.
  if (typeof limit === 'number' && Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE_SIZE) return limit;
  return parseOrThrow(LimitSchema, limit, 'page size (limit)');
}

/** `hash` computed on first use: only cursors (a page with a next one, or a cursor given) need it. */
function lazyHash<T extends object>(base: T, shape: () => unknown): T & { hash: string } {
  let hash: string | undefined;
  return Object.defineProperty(base, 'hash', { enumerable: true, get: () => (hash ??= queryHash(shape())) }) as T & { hash: string };
}

function sortOf(sort: unknown, allowed: (field: string) => boolean): SortKey[] {
  if (sort === undefined) return [];
  const parsed = parseOrThrow(SortSchema, sort, 'sort');
  const keys = Object.entries(parsed).map(([field, dir]) => ({ field, dir }));
  if (keys.length > 8) throw new UeeError('VALIDATION_FAILED', 'sort takes at most 8 fields', { details: { actual: keys.length }, hint: 'sort on fewer fields' });
  for (const { field } of keys) {
    try {
      checkFieldPath(field);
    } catch (err) {
      throw new UeeError('VALIDATION_FAILED', `invalid sort field "${field}"`, { details: { field }, hint: 'sort on plain dotted field paths', cause: err });
    }
    if (!allowed(field)) {
      throw new UeeError('VALIDATION_FAILED', `cannot sort on "${field}"`, {
        details: { field },
        hint: `sort on ${[...ENTITY_SORT_FIELDS].join(', ')}, attributes.* or metadata.*`,
      });
    }
  }
  return keys;
}

function cursorOf(cursor: unknown): string | undefined {
  if (cursor === undefined) return undefined;
  if (typeof cursor !== 'string') {
    throw new UeeError('INVALID_CURSOR', 'invalid cursor: not a string', { hint: 'pass back nextCursor exactly as returned' });
  }
  return cursor;
}

/**
 * Validates an entity query. The default order is by `entityId`; the adapter appends
 * `entityId` then the tenant key as tie-breakers so every order is total.
 */
export function normaliseEntityQuery(
  query: EntityQuery,
  limits: FilterLimits = DEFAULT_FILTER_LIMITS,
): NormalisedQuery & { entityTypeId: string; includeDeleted: boolean } {
  if (query === null || typeof query !== 'object') throw new UeeError('VALIDATION_FAILED', 'query must be an object', { hint: 'pass { entityTypeId, filter?, sort?, limit?, cursor? }' });
  const entityTypeId = parseOrThrow(EntityTypeIdSchema, query.entityTypeId, 'entityTypeId');
  const compiled = compileFilter(query.filter, limits);
  const filter = compiled.filter;
  const sort = sortOf(query.sort, (f) => ENTITY_SORT_FIELDS.has(f) || f.startsWith('attributes.') || f.startsWith('metadata.'));
  const includeDeleted = query.includeDeleted === true;
  return lazyHash({ entityTypeId, filter, compiled, sort, limit: limitOf(query.limit), cursor: cursorOf(query.cursor), includeDeleted }, () => ({
    k: 'entities',
    entityTypeId,
    filter,
    sort,
    includeDeleted,
  }));
}

/** Validates a read-model query; sort fields are document paths, the document id is the tie-breaker. */
export function normaliseReadModelQuery(
  view: string,
  q: { filter?: JsonObject; sort?: Record<string, 1 | -1>; limit?: number; cursor?: string } = {},
  limits: FilterLimits = DEFAULT_FILTER_LIMITS,
): NormalisedQuery {
  const compiled = compileFilter(q.filter, limits);
  const filter = compiled.filter;
  const sort = sortOf(q.sort, () => true);
  return lazyHash({ filter, compiled, sort, limit: limitOf(q.limit), cursor: cursorOf(q.cursor) }, () => ({ k: 'readModels', view, filter, sort }));
}

/** Validates history options; pages go newest first, keyed by version. */
export function normaliseHistory(entityId: string, options: HistoryOptions = {}): { limit: number; cursor: string | undefined; hash: string } {
  return { limit: limitOf(options.limit), cursor: cursorOf(options.cursor), hash: queryHash({ k: 'history', entityId }) };
}

/**
 * Builds a page from up to `limit + 1` rows: the extra row only proves there is a next page, whose
 * cursor is the sort-key position of the last row returned. `hash` may be a thunk, called only
 * when there is a next page.
 */
export function toPage<R, T>(rows: R[], limit: number, hash: string | (() => string), keysOf: (row: R) => unknown[], itemOf: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return {
    items: kept.map(itemOf),
    nextCursor: more && last !== undefined ? encodeCursor(typeof hash === 'string' ? hash : hash(), keysOf(last)) : null,
  };
}
