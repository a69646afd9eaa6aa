import type { JsonObject, ReadModelOp, Sort } from '../core/index.js';
import { compileFilter } from '../store/index.js';

/**
 * Applies a call's own buffered read-model operations over a query's stored results, so
 * `query_read_model` reads the plugin's writes of the same event: deleted documents disappear,
 * upserted ones replace or join the results when they match the filter (the store has already
 * validated the filter; it is compiled again here and evaluated under the same per-document budget),
 * then sort and limit are applied again.
 */
export function overlayReadModel(
  stored: Array<{ id: string; doc: JsonObject }>,
  ops: readonly ReadModelOp[],
  query: { view: string; filter?: JsonObject; sort?: Sort; limit?: number },
): Array<{ id: string; doc: JsonObject }> {
  const mine = ops.filter((op) => op.view === query.view);
  if (mine.length === 0) return stored;
  const byId = new Map(stored.map((item) => [item.id, item.doc]));
  const match = compileFilter(query.filter);
  for (const op of mine) {
    if (op.op === 'delete' || !match.matches(op.doc)) byId.delete(op.id);
    else byId.set(op.id, op.doc);
  }
  const items = [...byId].map(([id, doc]) => ({ id, doc }));
  const sort = Object.entries(query.sort ?? {});
  items.sort((a, b) => {
    for (const [field, dir] of sort) {
      const c = compare(pick(a.doc, field), pick(b.doc, field));
      if (c !== 0) return c * dir;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return items.slice(0, query.limit ?? 100);
}

function pick(doc: JsonObject, path: string): unknown {
  let v: unknown = doc;
  for (const key of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === undefined || a === null) return -1;
  if (b === undefined || b === null) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = typeof a === 'string' ? a : JSON.stringify(a);
  const sb = typeof b === 'string' ? b : JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}
