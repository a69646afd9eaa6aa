// The PostgreSQL section of bench/store.ts: the PostgreSQL store port beside raw `pg` statements on
// the same server, same run. Both sides use one schema each in the same database, dropped afterwards.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { TenantContext } from '../src/core/index.js';
import { openPostgresStore } from '../src/store/index.js';

const SINGLE = 600;
const BATCH = 100;
const BATCHES = 15;
const GETS = 1500;
const QUERIES = 200;
const QUERY_LIMIT = 50;
const ROUNDS = 3;

/** The server the section runs against (same variable as the tests). */
export const BENCH_POSTGRES_URL = process.env.UEE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Figures of the section: port and raw rates per operation. */
export interface PostgresFigures {
  pgSinglePutPerSec: number;
  pgRawSingleInsertPerSec: number;
  pgBatchedWritesPerSec: number;
  pgRawBatchedInsertsPerSec: number;
  pgRawBatchedSameRowsPerSec: number;
  pgGetPerSec: number;
  pgRawGetPerSec: number;
  pgQueryPerSec: number;
  pgRawQueryPerSec: number;
}

async function rate(n: number, fn: (i: number) => Promise<unknown>, per = 1): Promise<number> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(-1 - i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return (n * per) / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** Best of alternating runs of raw and port, so a busy neighbour skews both alike. */
async function pair(raw: () => Promise<number>, port: () => Promise<number>): Promise<[number, number]> {
  let bestRaw = 0;
  let bestPort = 0;
  for (let r = 0; r < ROUNDS; r++) {
    bestRaw = Math.max(bestRaw, await raw());
    bestPort = Math.max(bestPort, await port());
  }
  return [bestPort, bestRaw];
}

/** Runs the section; `attributes(i)` is the same document generator the SQLite section uses. */
export async function postgresSection(attributes: (i: number) => Record<string, unknown>): Promise<PostgresFigures> {
  const tag = randomBytes(5).toString('hex');
  const rawSchema = `uee_bench_raw_${tag}`;
  const portSchema = `uee_bench_port_${tag}`;
  // Raw baseline: one pooled connection, parameterised statements, JSON encoded by the caller —
  // what an application on `pg` would write for the same rows (a row per write, plus an outbox row
  // for the "same rows" figure).
  const raw = new pg.Pool({ connectionString: BENCH_POSTGRES_URL, max: 1, options: `-c search_path=${rawSchema}` });
  const store = await openPostgresStore({ url: BENCH_POSTGRES_URL, schema: portSchema, poolSize: 1 });
  try {
    await raw.query(`CREATE SCHEMA ${rawSchema}`);
    await raw.query('CREATE TABLE rows (id text PRIMARY KEY, type text NOT NULL, attributes jsonb NOT NULL)');
    await raw.query('CREATE TABLE outbox (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event json NOT NULL)');
    const ids: string[] = [];
    const rawInsert = async (i: number): Promise<void> => {
      const id = randomUUID();
      if (i >= 0) ids.push(id);
      await raw.query('INSERT INTO rows (id, type, attributes) VALUES ($1, $2, $3)', [id, 'Task', JSON.stringify(attributes(i))]);
    };
    const rawBatch = async (b: number, withOutbox: boolean): Promise<void> => {
      const docs = Array.from({ length: BATCH }, (_, k) => JSON.stringify(attributes(b * BATCH + k)));
      const client = await raw.connect();
      try {
        await client.query('BEGIN');
        await client.query("INSERT INTO rows (id, type, attributes) SELECT gen_random_uuid()::text, 'Task', a FROM unnest($1::jsonb[]) AS t(a)", [docs]);
        if (withOutbox) await client.query('INSERT INTO outbox (event) SELECT e FROM unnest($1::json[]) AS t(e)', [docs]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    };

    await store.tenants.create('bench');
    const ctx: TenantContext = { tenantId: 'bench', actor: 'user:bench' };
    const entityIds: string[] = [];
    const [portSingle, rawSingle] = await pair(
      () => rate(SINGLE, rawInsert),
      () =>
        rate(SINGLE, async (i) => {
          const v = await store.put(ctx, { entityTypeId: 'Task', attributes: attributes(i) });
          if (i >= 0) entityIds.push(v.entityId);
        }),
    );
    const [portBatch, rawBatched] = await pair(
      () => rate(BATCHES, (b) => rawBatch(b, false), BATCH),
      () => rate(BATCHES, (b) => store.commit(ctx, { writes: Array.from({ length: BATCH }, (_, k) => ({ entityTypeId: 'Task', attributes: attributes(b * BATCH + k) })) }), BATCH),
    );
    const [, rawSameRows] = await pair(() => rate(BATCHES, (b) => rawBatch(b, true), BATCH), () => Promise.resolve(0));
    const [portGet, rawGet] = await pair(
      () => rate(GETS, (i) => raw.query('SELECT attributes FROM rows WHERE id = $1', [ids[Math.abs(i) % ids.length]])),
      () => rate(GETS, (i) => store.get(ctx, entityIds[Math.abs(i) % entityIds.length]!)),
    );
    const [portQuery, rawQuery] = await pair(
      () => rate(QUERIES, () => raw.query('SELECT id, attributes FROM rows WHERE type = $1 ORDER BY id LIMIT $2', ['Task', QUERY_LIMIT])),
      () => rate(QUERIES, () => store.query(ctx, { entityTypeId: 'Task', limit: QUERY_LIMIT })),
    );
    return {
      pgSinglePutPerSec: Math.round(portSingle),
      pgRawSingleInsertPerSec: Math.round(rawSingle),
      pgBatchedWritesPerSec: Math.round(portBatch),
      pgRawBatchedInsertsPerSec: Math.round(rawBatched),
      pgRawBatchedSameRowsPerSec: Math.round(rawSameRows),
      pgGetPerSec: Math.round(portGet),
      pgRawGetPerSec: Math.round(rawGet),
      pgQueryPerSec: Math.round(portQuery),
      pgRawQueryPerSec: Math.round(rawQuery),
    };
  } finally {
    await store.close();
    await raw.query(`DROP SCHEMA IF EXISTS ${rawSchema} CASCADE`).catch(() => undefined);
    await raw.query(`DROP SCHEMA IF EXISTS ${portSchema} CASCADE`).catch(() => undefined);
    await raw.end();
  }
}
