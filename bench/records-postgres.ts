/**
 * Writing invocation records into PostgreSQL, as the PostgreSQL store does for every delivery of a
 * process on that store (`store.invocations.append`, called by the records buffer on the process's
 * main thread): the CPU per record of this process (the client: the `pg` driver's encoding, the
 * adapter's work) and of the PostgreSQL server, with the records of 1 tenant and of 1,000 tenants,
 * in appends of 100 records (a buffer flushed while the process keeps up) and of 1,000 (a backlog).
 * The baseline, in the same run on the same server, is the insert the adapter made before
 * 2026-12-05: one multi-row `VALUES` list per append, 11 parameters a row (its own statement text
 * for each append size, so parsed and planned each time). Rounds of the two alternate, each into a
 * schema of its own holding 20,000 records first; the figure is the median of 3 rounds.
 * The server's CPU is read from /proc (every `postgres` process of this machine): NaN when the
 * server is elsewhere.
 * Run: npm run bench -- records-postgres   (UEE_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg, { type PoolClient } from 'pg';
import { openPostgresStore, type EntityStore } from '../src/store/index.js';
import { INVOCATION_COLUMNS, INVOCATION_COLUMN_COUNT, prepareInvocationRecord, pushInvocationRow, type InvocationRecord } from '../src/store/invocations.js';
import { noopRecords } from './_records.js';
import { BENCH_POSTGRES_URL } from './_store-postgres.js';
import { median, printResult, printTable } from './_table.js';
import { procCpuUs } from './_proc.js';

const PER_ROUND = 10_000;
const PRELOAD = 20_000;
const ROUNDS = 3;

/** The next no-op delivery's record, of one of `tenants` tenants in turn. */
const record = noopRecords().next;

/** CPU µs used so far by every `postgres` process of this machine (NaN without /proc or pgrep). */
function serverCpuUs(): number {
  try {
    const pids = execFileSync('pgrep', ['-x', 'postgres'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
    let total = 0;
    for (const pid of pids) {
      try {
        total += procCpuUs(`/proc/${pid}/stat`);
      } catch {
        // the process ended meanwhile
      }
    }
    return total;
  } catch {
    return NaN;
  }
}

/** The adapter's insert before 2026-12-05: one multi-row VALUES list, 11 parameters a row (the baseline). */
async function valuesInsert(db: Pick<PoolClient, 'query'>, records: readonly InvocationRecord[]): Promise<void> {
  const values: unknown[] = [];
  const rows: string[] = [];
  for (const r of records.map(prepareInvocationRecord)) {
    const base = values.length;
    pushInvocationRow(values, r);
    rows.push(`(${Array.from({ length: INVOCATION_COLUMN_COUNT }, (_, i) => `$${base + i + 1}`).join(', ')})`);
  }
  await db.query(`INSERT INTO invocations (${INVOCATION_COLUMNS}) VALUES ${rows.join(', ')} ON CONFLICT (tenant_key, record_id) DO NOTHING`, values);
}

type Way = 'values' | 'adapter';

/** One round: `PER_ROUND` records of `tenants` tenants in appends of `batch`, one way; CPU µs per record. */
async function round(store: EntityStore, baseline: pg.Pool, way: Way, tenants: number, batch: number): Promise<{ client: number; server: number; perSec: number }> {
  const batches = Array.from({ length: PER_ROUND / batch }, () => Array.from({ length: batch }, () => record(tenants)));
  const server = serverCpuUs();
  const client = process.cpuUsage();
  const start = performance.now();
  for (const b of batches) {
    if (way === 'adapter') await store.invocations.append(b);
    else await valuesInsert(baseline, b);
  }
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(client);
  return { client: (used.user + used.system) / PER_ROUND, server: (serverCpuUs() - server) / PER_ROUND, perSec: PER_ROUND / seconds };
}

const rows: Array<Array<string | number>> = [];
const figures: Record<string, number> = {};
for (const tenants of [1, 1000]) {
  for (const batch of [100, 1000]) {
    const results: Record<Way, Array<Awaited<ReturnType<typeof round>>>> = { values: [], adapter: [] };
    const stores = new Map<Way, EntityStore>();
    const schemas: string[] = [];
    // The baseline's statements go over a pool of its own (one connection, like the store's) into the
    // tables the store made in its schema.
    let baseline: pg.Pool | undefined;
    try {
      for (const way of ['values', 'adapter'] as const) {
        const schema = `uee_bench_records_${randomBytes(5).toString('hex')}`;
        schemas.push(schema);
        const store = await openPostgresStore({ url: BENCH_POSTGRES_URL, schema, poolSize: 1 });
        stores.set(way, store);
        if (way === 'values') baseline = new pg.Pool({ connectionString: BENCH_POSTGRES_URL, max: 1, options: `-c search_path=${schema}` });
        for (let i = 0; i < PRELOAD; i += 1000) await store.invocations.append(Array.from({ length: 1000 }, () => record(tenants)));
      }
      for (let r = 0; r < ROUNDS; r++) for (const way of ['values', 'adapter'] as const) results[way].push(await round(stores.get(way)!, baseline!, way, tenants, batch));
    } finally {
      for (const [, store] of stores) await store.close();
      await baseline?.end();
      const admin = new pg.Client({ connectionString: BENCH_POSTGRES_URL });
      await admin.connect();
      for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await admin.end();
    }
    const key = `t${tenants}b${batch}`;
    for (const way of ['values', 'adapter'] as const) {
      const rs = results[way];
      const client = median(rs.map((x) => x.client));
      const server = median(rs.map((x) => x.server));
      const perSec = median(rs.map((x) => x.perSec));
      rows.push([String(tenants), String(batch), way === 'values' ? 'multi-row VALUES (before)' : 'the adapter (unnest + JSON array)', perSec, client.toFixed(1), server.toFixed(1)]);
      figures[`${key}${way === 'values' ? 'Values' : 'Adapter'}ClientUsPerRecord`] = Number(client.toFixed(1));
      figures[`${key}${way === 'values' ? 'Values' : 'Adapter'}ServerUsPerRecord`] = Number(server.toFixed(1));
      figures[`${key}${way === 'values' ? 'Values' : 'Adapter'}RecordsPerSec`] = Math.round(perSec);
    }
    figures[`${key}ClientRatio`] = Number((figures[`${key}ValuesClientUsPerRecord`]! / figures[`${key}AdapterClientUsPerRecord`]!).toFixed(2));
    figures[`${key}ServerRatio`] = Number((figures[`${key}ValuesServerUsPerRecord`]! / figures[`${key}AdapterServerUsPerRecord`]!).toFixed(2));
  }
}
printTable(['tenants', 'records per append', 'insert', 'records/s', 'client CPU µs/record', 'server CPU µs/record'], rows);
printResult('records-postgres', figures);
