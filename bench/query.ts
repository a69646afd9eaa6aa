// bench/query: a selective read-model query at 10k, 100k (and, with UEE_BENCH_QUERY_1M=1, 1M)
// documents — scanned by the metered evaluator (no index), through a tenant index (query_index), and
// as raw SQL on an equivalent expression index, all in the same run on the same SQLite file (the
// indexed query and raw SQL interleaved, 1,500 of each after 500 warm-up steps, medians).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../src/store/index.js';
import { median, printResult, printTable } from './_table.js';

const ctx = { tenantId: 'acme', actor: 'bench' };

async function timeEachAsync(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

async function one(dir: string, docs: number): Promise<Record<string, number>> {
  const path = join(dir, `q-${docs}.db`);
  // The scan must be allowed to read every document to be measured at all.
  const store = await openSqliteStore({ path, limits: { filter: { maxDocumentsExamined: 10_000_000, maxBytesExamined: 2_000_000_000, maxScanMs: 600_000, maxStepsPerQuery: 100_000_000 } } });
  try {
    await store.tenants.create('acme');
    const customers = Math.max(1, docs / 10);
    for (let b = 0; b < docs; b += 1000) {
      const ops = Array.from({ length: Math.min(1000, docs - b) }, (_, i) => {
        const n = b + i;
        return { op: 'upsert' as const, view: 'orders', id: `o${String(n).padStart(8, '0')}`, doc: { customer: `c${n % customers}`, status: n % 3 ? 'open' : 'paid', total: n % 997 } };
      });
      await store.commit(ctx, { readModelOps: ops });
    }
    const filterOf = (i: number) => ({ customer: `c${(i * 7919) % customers}` });
    const scanRuns = docs >= 1_000_000 ? 2 : docs >= 100_000 ? 5 : 20;
    const scan = await timeEachAsync(scanRuns, (i) => store.readModels.query(ctx, 'orders', { filter: filterOf(i) }));
    await store.indexes!.add(ctx, { target: 'readModel', scope: 'orders', field: 'customer' });
    const plan = await store.indexes!.explain(ctx, { target: 'readModel', scope: 'orders', filter: filterOf(1) });
    if (plan.access !== 'index' || plan.rowsReturned !== 10) throw new Error(`unexpected plan ${JSON.stringify(plan)}`);

    const raw = new Database(path);
    raw.exec(`CREATE INDEX IF NOT EXISTS raw_customer ON read_models (tenant_key, view, json_extract(doc, '$.customer'), id)`);
    const stmt = raw.prepare(`SELECT id, doc, updated_at FROM read_models WHERE tenant_key = ? AND view = ? AND json_extract(doc, '$.customer') = ? ORDER BY id LIMIT 101`);
    // Interleaved, one of each per step, so a change of machine load hits both alike.
    const indexed: number[] = [];
    const rawSql: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t0 = performance.now();
      await store.readModels.query(ctx, 'orders', { filter: filterOf(i) });
      const t1 = performance.now();
      (stmt.all('acme', 'orders', filterOf(i).customer) as Array<{ doc: string }>).map((r) => JSON.parse(r.doc) as unknown);
      const t2 = performance.now();
      // The first 500 steps warm both paths up (statement caches, JIT).
      if (i >= 500) {
        indexed.push(t1 - t0);
        rawSql.push(t2 - t1);
      }
    }
    raw.close();
    return { docs, scanMs: median(scan), indexedMs: median(indexed), rawSqlMs: median(rawSql) };
  } finally {
    await store.close();
  }
}

export async function main(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'uee-bench-query-'));
  try {
    const sizes = [10_000, 100_000, ...(process.env.UEE_BENCH_QUERY_1M === '1' ? [1_000_000] : [])];
    const rows: Array<Record<string, number>> = [];
    for (const n of sizes) rows.push(await one(dir, n));
    printTable(
      ['documents', 'scan (no index) ms', 'indexed ms', 'raw SQL ms', 'indexed / raw', 'scan / indexed'],
      rows.map((r) => [r.docs!, r.scanMs!, r.indexedMs!, r.rawSqlMs!, r.indexedMs! / r.rawSqlMs!, r.scanMs! / r.indexedMs!]),
    );
    const figures: Record<string, unknown> = { sizes, oneMillion: sizes.includes(1_000_000) };
    for (const r of rows) {
      const k = r.docs! >= 1_000_000 ? '1m' : `${r.docs! / 1000}k`;
      figures[`scanMs_${k}`] = Number(r.scanMs!.toFixed(3));
      figures[`indexedMs_${k}`] = Number(r.indexedMs!.toFixed(3));
      figures[`rawSqlMs_${k}`] = Number(r.rawSqlMs!.toFixed(3));
      figures[`indexedVsRaw_${k}`] = Number((r.indexedMs! / r.rawSqlMs!).toFixed(2));
    }
    printResult('query', figures);
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
