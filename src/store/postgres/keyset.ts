import type { SortKey } from '../query.js';
import type { Queryable } from './core.js';

/**
 * Keyset pagination in PostgreSQL. Each sort field becomes SQL expressions used both by ORDER BY
 * and by the "after the cursor" condition, so pages never skip or repeat rows. A JSON field sorts
 * as (type rank, number, text) with MongoDB's type order — missing/null, numbers, strings,
 * objects, arrays, booleans — numbers numerically, strings by code point, objects and arrays by
 * their JSON text (as the SQLite adapter does). Within one rank only one of number/text is set, so
 * the NULLs of the other never decide an order.
 */

/** One ordering expression; `cast` types the cursor value compared with it. */
export interface PgKey {
  expr: string;
  cast: 'integer' | 'numeric' | 'text';
  dir: 1 | -1;
  /** The expression is never NULL (a plain NOT NULL column). */
  notNull?: boolean;
}

/** A SQL literal for a jsonb path: `'{"a","b"}'`, quoted for the array syntax and for SQL. */
function pathLiteral(field: string): string {
  const elements = field.split('.').map((s) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  return `'${`{${elements.join(',')}}`.replace(/'/g, "''")}'`;
}

function jsonKeys(column: string, field: string, dir: 1 | -1): PgKey[] {
  const x = `(${column} #> ${pathLiteral(field)})`;
  return [
    {
      expr: `(CASE jsonb_typeof(${x}) WHEN 'number' THEN 2 WHEN 'string' THEN 3 WHEN 'object' THEN 4 WHEN 'array' THEN 5 WHEN 'boolean' THEN 8 ELSE 1 END)`,
      cast: 'integer',
      dir,
      notNull: true,
    },
    { expr: `(CASE WHEN jsonb_typeof(${x}) = 'number' THEN ${x}::numeric END)`, cast: 'numeric', dir },
    {
      expr: `((CASE jsonb_typeof(${x}) WHEN 'string' THEN ${x} #>> '{}' WHEN 'object' THEN ${x}::text WHEN 'array' THEN ${x}::text WHEN 'boolean' THEN ${x}::text END) COLLATE "C")`,
      cast: 'text',
      dir,
    },
  ];
}

/**
 * Keys for a sort over the jsonb column `column`; fields in `columns` map to plain NOT NULL
 * columns. `tieBreakers` (plain columns) are appended so the order is total.
 */
export function pgKeys(sort: SortKey[], column: string, columns: Record<string, { expr: string; cast: PgKey['cast'] }>, tieBreakers: PgKey[]): PgKey[] {
  const keys: PgKey[] = [];
  for (const { field, dir } of sort) {
    const plain = columns[field];
    keys.push(...(plain !== undefined ? [{ ...plain, dir, notNull: true }] : jsonKeys(column, field, dir)));
  }
  return [...keys, ...tieBreakers];
}

/** Collects parameters and hands out their `$n` placeholders. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown, cast?: string): string {
    this.values.push(value);
    return cast === undefined ? `$${this.values.length}` : `$${this.values.length}::${cast}`;
  }
}

/** `(k1, k2, …) after (v1, v2, …)` in the keys' directions, NULL-safe. */
function afterCondition(keys: PgKey[], values: unknown[], p: Params): string {
  const first = keys[0];
  if (first !== undefined && keys.every((k) => k.notNull === true && k.dir === first.dir) && values.every((v) => v !== null)) {
    // A row comparison lets an index on the key columns start right after the cursor.
    return `((${keys.map((k) => k.expr).join(', ')}) ${first.dir === 1 ? '>' : '<'} (${keys.map((k, i) => p.add(values[i], k.cast)).join(', ')}))`;
  }
  const branches = keys.map((key, i) => {
    const parts = keys.slice(0, i).map((k, j) => `${k.expr} IS NOT DISTINCT FROM ${p.add(values[j], k.cast)}`);
    parts.push(`${key.expr} ${key.dir === 1 ? '>' : '<'} ${p.add(values[i], key.cast)}`);
    return `(${parts.join(' AND ')})`;
  });
  return `(${branches.join(' OR ')})`;
}

/** A keyset query: `columns` are selected as they are, `keys` as k0…kn. */
export interface KeysetQuery {
  table: string;
  columns: string[];
  /** Conditions with their placeholders already taken from `params`. */
  where: string[];
  params: unknown[];
  keys: PgKey[];
  /** Position after which to start (decoded cursor), if any. */
  after: unknown[] | undefined;
  limit: number;
  /** Whether every row is accepted, so one SQL page of `limit + 1` rows is enough. */
  acceptsAll: boolean;
}

/** A row that passed the caller's test, with its sort-key values for the next cursor. */
export interface KeyedRow<T> {
  item: T;
  keys: unknown[];
}

/** Rows fetched per round trip when rows are tested in JavaScript. */
const CHUNK = 256;

/**
 * Runs a keyset query, passing rows in order through `accept` (which returns the item, or
 * undefined to skip the row) until `limit + 1` items are collected. When rows are tested here,
 * they are fetched in chunks, each chunk continuing after the last row of the previous one.
 */
export async function runKeyset<T>(
  db: Queryable,
  q: KeysetQuery,
  accept: (row: Record<string, unknown>) => T | undefined,
  onSql?: (sql: string, params: unknown[]) => void,
): Promise<Array<KeyedRow<T>>> {
  const out: Array<KeyedRow<T>> = [];
  let after = q.after;
  const chunk = q.acceptsAll ? q.limit + 1 : Math.max(q.limit + 1, CHUNK);
  for (;;) {
    const p = new Params();
    p.values.push(...q.params);
    const where = [...q.where];
    if (after !== undefined) where.push(afterCondition(q.keys, after, p));
    const select = q.keys.map((k, i) => `${k.expr} AS k${i}`);
    const order = q.keys.map((k, i) => `k${i} ${k.dir === 1 ? 'ASC' : 'DESC'}`);
    const sql = `SELECT ${[...q.columns, ...select].join(', ')} FROM ${q.table} WHERE ${where.join(' AND ')} ORDER BY ${order.join(', ')} LIMIT ${p.add(chunk)}`;
    onSql?.(sql, p.values);
    const { rows } = await db.query(sql, p.values);
    for (const row of rows) {
      const item = accept(row);
      if (item === undefined) continue;
      out.push({ item, keys: q.keys.map((_, i): unknown => row[`k${i}`]) });
      if (out.length > q.limit) return out;
    }
    const last = rows[rows.length - 1];
    if (rows.length < chunk || last === undefined) return out;
    after = q.keys.map((_, i): unknown => last[`k${i}`]);
  }
}
