import type { Database, Statement } from 'better-sqlite3';
import { UeeError } from '../../core/index.js';
import type { SortKey } from '../query.js';

/**
 * Keyset pagination in SQL. Each sort field becomes SQL expressions whose SQLite ordering is used
 * both by ORDER BY and by the "after the cursor" condition, so pages never skip or repeat rows.
 * A JSON field sorts as (type rank, value) with MongoDB's type order — missing/null, numbers,
 * strings, objects, arrays, booleans — and values of one type in their natural order (objects and
 * arrays by their JSON text, a simplification of MongoDB's element-wise comparison).
 */

/** One ordering expression with its bound parameters. */
export interface SqlKey {
  expr: string;
  params: unknown[];
  dir: 1 | -1;
}

const RANK = (column: string): string =>
  `(CASE json_type(${column}, ?) WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3 WHEN 'object' THEN 4 ` +
  `WHEN 'array' THEN 5 WHEN 'true' THEN 8 WHEN 'false' THEN 8 ELSE 1 END)`;

function jsonPath(field: string): string {
  const segments = field.split('.');
  if (segments.some((s) => s.includes('"'))) {
    throw new UeeError('VALIDATION_FAILED', `cannot sort on "${field}": field names with '"' are not sortable`, {
      details: { field },
      hint: 'sort on another field',
    });
  }
  return '$' + segments.map((s) => `."${s}"`).join('');
}

/**
 * SQL keys for a sort over JSON column `column`; fields in `columns` map to plain SQL columns.
 * `tieBreakers` are appended so the order is total.
 */
export function sqlKeys(sort: SortKey[], column: string, columns: Record<string, string>, tieBreakers: SqlKey[]): SqlKey[] {
  const keys: SqlKey[] = [];
  for (const { field, dir } of sort) {
    const plain = columns[field];
    if (plain !== undefined) {
      keys.push({ expr: plain, params: [], dir });
      continue;
    }
    const path = jsonPath(field);
    keys.push({ expr: RANK(column), params: [path], dir }, { expr: `json_extract(${column}, ?)`, params: [path], dir });
  }
  return [...keys, ...tieBreakers];
}

/** `(k1, k2, …) after (v1, v2, …)` in the keys' directions, NULL-safe. */
function afterCondition(keys: SqlKey[], values: unknown[]): { sql: string; params: unknown[] } {
  const branches: string[] = [];
  const params: unknown[] = [];
  keys.forEach((key, i) => {
    const parts: string[] = [];
    for (let j = 0; j < i; j++) {
      parts.push(`${keys[j]!.expr} IS ?`);
      params.push(...keys[j]!.params, values[j]);
    }
    parts.push(`${key.expr} ${key.dir === 1 ? '>' : '<'} ?`);
    params.push(...key.params, values[i]);
    branches.push(`(${parts.join(' AND ')})`);
  });
  return { sql: `(${branches.join(' OR ')})`, params };
}

/** A bounded cache of prepared statements keyed by SQL text. */
export class StatementCache {
  readonly #db: Database;
  readonly #cache = new Map<string, Statement<unknown[], unknown>>();
  constructor(db: Database, private readonly max = 256) {
    this.#db = db;
  }

  get(sql: string): Statement<unknown[], unknown> {
    let stmt = this.#cache.get(sql);
    if (stmt === undefined) {
      if (this.#cache.size >= this.max) this.#cache.clear();
      stmt = this.#db.prepare<unknown[], unknown>(sql);
      this.#cache.set(sql, stmt);
    }
    return stmt;
  }
}

/** A keyset query: `columns` are selected as they are, `keys` as k0…kn. */
export interface KeysetQuery {
  /** Table name, or a derived table `(SELECT …)` whose `?`s are `tableParams`. */
  table: string;
  tableParams?: unknown[];
  columns: string[];
  where: string[];
  whereParams: unknown[];
  keys: SqlKey[];
  /** Position after which to start (decoded cursor), if any. */
  after: unknown[] | undefined;
  limit: number;
  /** Whether every row is accepted, so SQL may apply the LIMIT itself. */
  acceptsAll: boolean;
}

/** A row that passed the caller's test, with its sort-key values for the next cursor. */
export interface KeyedRow<T> {
  item: T;
  keys: unknown[];
}

/**
 * Runs a keyset query, streaming rows in order through `accept` (which returns the item, or
 * undefined to skip the row) until `limit + 1` items are collected.
 */
export function runKeyset<T>(
  cache: StatementCache,
  q: KeysetQuery,
  accept: (row: Record<string, unknown>) => T | undefined,
  onSql?: (sql: string, params: unknown[]) => void,
): Array<KeyedRow<T>> {
  const { sql, params } = keysetSql(q);
  onSql?.(sql, params);
  const out: Array<KeyedRow<T>> = [];
  for (const row of cache.get(sql).iterate(...params) as IterableIterator<Record<string, unknown>>) {
    const item = accept(row);
    if (item === undefined) continue;
    out.push({ item, keys: q.keys.map((_, i) => row[`k${i}`]) });
    if (out.length > q.limit) break;
  }
  return out;
}

/** The SQL and parameters of a keyset query. */
export function keysetSql(q: KeysetQuery): { sql: string; params: unknown[] } {
  const select = q.keys.map((k, i) => `${k.expr} AS k${i}`);
  const params: unknown[] = q.keys.flatMap((k) => k.params);
  if (q.tableParams !== undefined) params.push(...q.tableParams);
  const where = [...q.where];
  params.push(...q.whereParams);
  if (q.after !== undefined) {
    const after = afterCondition(q.keys, q.after);
    where.push(after.sql);
    params.push(...after.params);
  }
  const order = q.keys.map((k, i) => `k${i} ${k.dir === 1 ? 'ASC' : 'DESC'}`);
  let sql = `SELECT ${[...q.columns, ...select].join(', ')} FROM ${q.table} WHERE ${where.join(' AND ')} ORDER BY ${order.join(', ')}`;
  if (q.acceptsAll) {
    sql += ' LIMIT +?';
    params.push(q.limit + 1);
  }
  return { sql, params };
}
