import type { Redis } from 'ioredis';
import type { Delivery } from '../port.js';
import { decodeEntry, rawExcerpt, type CorruptEntry } from '../shared/codec.js';

/** Cap of the fallback lag count (used only when Redis cannot report lag itself). */
const LAG_COUNT_CAP = 100_000;

/** A flat `[field, value, field, value…]` reply as an object. */
export function fieldsToRecord(fields: readonly unknown[] | null | undefined): Record<string, unknown> {
  const record: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (!Array.isArray(fields)) return record;
  for (let i = 0; i + 1 < fields.length; i += 2) record[String(fields[i])] = fields[i + 1];
  return record;
}

/**
 * Decodes stream entries `[id, [field, value…]]`. A valid entry has exactly one field `e` holding
 * the encoded envelope; anything else (other fields, a nil entry) becomes a corrupt entry.
 */
export function parseEntries(entries: ReadonlyArray<readonly [string, readonly unknown[] | null]>, deliveryCount: (index: number) => number): Array<Delivery | CorruptEntry> {
  const out: Array<Delivery | CorruptEntry> = new Array<Delivery | CorruptEntry>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const [id, fields] = entries[i]!;
    const count = deliveryCount(i);
    if (Array.isArray(fields) && fields.length === 2 && fields[0] === 'e' && typeof fields[1] === 'string') {
      out[i] = decodeEntry(id, fields[1], count);
    } else {
      out[i] = { id, deliveryCount: count, raw: rawExcerpt(fields), reason: 'entry is not a UEE event (expected one field "e")' };
    }
  }
  return out;
}

/** Entries after `afterId`, counted page by page (capped); the lag fallback for Redis < 7 or after deletions. */
export async function countAfter(redis: Redis, stream: string, afterId: string): Promise<number> {
  let total = 0;
  let start = afterId === '0-0' ? '-' : `(${afterId}`;
  for (;;) {
    const rows = (await redis.xrange(stream, start, '+', 'COUNT', 1_000)) as Array<[string, unknown]>;
    total += rows.length;
    const last = rows[rows.length - 1];
    if (!last || rows.length < 1_000 || total >= LAG_COUNT_CAP) return total;
    start = `(${last[0]}`;
  }
}
