// Filters on the main thread: how long a hostile filter can hold the event loop, through the store's
// query path and a subscription filter, beside benign filters; and the new evaluator's speed against
// the previous one (mingo) on the same documents, in the same run.
// Run: node --import tsx bench/filters.ts   (or npm run bench -- filters)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Query } from 'mingo';
import { isUeeError, type TenantContext } from '../src/core/index.js';
import { compileFilter, matchesSubscription, openSqliteStore } from '../src/store/index.js';
import { printResult, printTable } from './_table.js';

const DOCS = 2000;
const EVALS = 200_000;
const QUERY_ROUNDS = 30;
const EVENTS = 2000;
/** 27 a's then b: `^(a+)+$` backtracks ~2^27 steps on it in a backtracking engine. */
const EVIL_TEXT = `${'a'.repeat(27)}b`;
const EVIL = { $regex: '^(a+)+$' };

function doc(i: number): Record<string, unknown> {
  return {
    title: `Task number ${i} for the filter benchmark`,
    status: i % 3 === 0 ? 'done' : 'open',
    priority: i % 5,
    tags: ['bench', i % 2 === 0 ? 'even' : 'odd'],
    owner: { name: `user${i % 17}`, team: i % 4 },
    s: EVIL_TEXT,
  };
}

const BENIGN: Record<string, Record<string, unknown>> = {
  equality: { status: 'open' },
  range: { priority: { $gte: 2, $lt: 4 } },
  in: { 'owner.name': { $in: ['user1', 'user2', 'user3', 'user4'] } },
  regex: { title: { $regex: 'number 1\\d+ ', $options: 'i' } },
  or: { $or: [{ status: 'done' }, { tags: 'even', priority: { $gt: 3 } }] },
  elemMatch: { tags: { $elemMatch: { $eq: 'odd' } }, 'owner.team': { $ne: 2 } },
};

/** Runs `fn` under an event-loop probe: returns its wall time and the longest stall seen. */
async function probed(fn: () => Promise<void>): Promise<{ ms: number; stallMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 2 });
  h.enable();
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last - 2);
    last = now;
  }, 2);
  const t = performance.now();
  await fn();
  const ms = performance.now() - t;
  await new Promise((resolve) => setTimeout(resolve, 10));
  clearInterval(timer);
  h.disable();
  return { ms, stallMs: Math.max(maxGap, h.max / 1e6) };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function main(): Promise<Record<string, number>> {
  const docs = Array.from({ length: DOCS }, (_, i) => doc(i));
  const rows: Array<Array<string | number>> = [];

  // 1. Evaluator throughput: documents tested per second, new evaluator vs mingo, same filters and docs.
  let newTotal = 0;
  let oldTotal = 0;
  for (const [name, filter] of Object.entries(BENIGN)) {
    const compiled = compileFilter(filter);
    const query = new Query(filter);
    let a = 0;
    let b = 0;
    let t = performance.now();
    for (let i = 0; i < EVALS; i++) if (compiled.matches(docs[i % DOCS])) a++;
    const newRate = EVALS / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let i = 0; i < EVALS; i++) if (query.test(docs[i % DOCS]!)) b++;
    const oldRate = EVALS / ((performance.now() - t) / 1000);
    if (a !== b) throw new Error(`evaluators disagree on ${name}: ${a} vs ${b}`);
    newTotal += EVALS / newRate;
    oldTotal += EVALS / oldRate;
    rows.push([`evaluate ${name}`, Math.round(newRate), Math.round(oldRate), `${(newRate / oldRate).toFixed(2)}×`]);
  }
  const evalsPerSec = (Object.keys(BENIGN).length * EVALS) / newTotal;
  const mingoEvalsPerSec = (Object.keys(BENIGN).length * EVALS) / oldTotal;
  printTable(['documents tested per second', 'new evaluator', 'mingo (before)', 'ratio'], rows);

  // 2. The store's query path (SQLite scan + evaluator) with benign and hostile filters.
  const dir = mkdtempSync(join(tmpdir(), 'uee-bench-filters-'));
  const store = await openSqliteStore({ path: join(dir, 'store.db') });
  try {
    await store.tenants.create('acme');
    const ctx: TenantContext = { tenantId: 'acme', actor: 'bench' };
    for (let i = 0; i < DOCS; i += 100) {
      await store.commit(ctx, { writes: docs.slice(i, i + 100).map((attributes) => ({ entityTypeId: 'Task', attributes })) });
    }
    const queryRun = async (filter: Record<string, unknown>): Promise<{ perSec: number; stallMs: number; refused: number }> => {
      let refused = 0;
      const r = await probed(async () => {
        for (let i = 0; i < QUERY_ROUNDS; i++) {
          try {
            await store.query(ctx, { entityTypeId: 'Task', filter, limit: 50 });
          } catch (err) {
            if (!isUeeError(err, 'QUERY_TOO_COSTLY')) throw err;
            refused++;
          }
          await tick();
        }
      });
      return { perSec: QUERY_ROUNDS / (r.ms / 1000), stallMs: r.stallMs, refused };
    };
    const benignQuery = await queryRun({ 'attributes.status': 'done', 'attributes.priority': { $gte: 1 } });
    const hostileQuery = await queryRun({ 'attributes.s': EVIL });

    // The same hostile filter on the previous evaluator: ONE document's test, not a query (a query
    // would test all 2,000 documents and hold the thread for about that many times longer).
    const oldOne = await probed(async () => {
      new Query({ s: EVIL }).test(docs[0]!);
      await tick();
    });

    // 3. A subscription filter (manifest filter.where) on events, benign and hostile.
    const events = Array.from({ length: EVENTS }, (_, i) => ({ type: 'TaskCreated', tenantId: 'acme', payload: { attributes: docs[i % DOCS] } }));
    const subscriptionRun = async (where: Record<string, unknown>): Promise<{ perSec: number; stallMs: number }> => {
      const r = await probed(async () => {
        for (let i = 0; i < EVENTS; i++) {
          matchesSubscription(where, events[i]);
          if (i % 100 === 99) await tick();
        }
      });
      return { perSec: EVENTS / (r.ms / 1000), stallMs: r.stallMs };
    };
    const benignWhere = await subscriptionRun({ 'payload.attributes.status': 'open' });
    const hostileWhere = await subscriptionRun({ 'payload.attributes.s': EVIL });
    const baselineStall = await probed(async () => {
      for (let i = 0; i < 50; i++) await tick();
    });

    printTable(
      ['path', 'per second', 'longest stall (ms)', 'refused (QUERY_TOO_COSTLY)'],
      [
        ['idle event loop (baseline)', '-', baselineStall.stallMs, '-'],
        ['store query, benign filter (2,000 docs)', Math.round(benignQuery.perSec), benignQuery.stallMs, `${benignQuery.refused}/${QUERY_ROUNDS}`],
        ['store query, ^(a+)+$ on every doc', Math.round(hostileQuery.perSec), hostileQuery.stallMs, `${hostileQuery.refused}/${QUERY_ROUNDS}`],
        ['subscription filter, benign', Math.round(benignWhere.perSec), benignWhere.stallMs, '-'],
        ['subscription filter, ^(a+)+$', Math.round(hostileWhere.perSec), hostileWhere.stallMs, '-'],
        ['before: mingo, ^(a+)+$ on ONE document', '-', oldOne.stallMs, '-'],
      ],
    );
    const figures = {
      evalsPerSec: Math.round(evalsPerSec),
      mingoEvalsPerSec: Math.round(mingoEvalsPerSec),
      evalSpeedupVsMingo: Number((evalsPerSec / mingoEvalsPerSec).toFixed(2)),
      benignQueryPerSec: Math.round(benignQuery.perSec),
      hostileQueryPerSec: Math.round(hostileQuery.perSec),
      benignQueryStallMs: Number(benignQuery.stallMs.toFixed(1)),
      hostileQueryStallMs: Number(hostileQuery.stallMs.toFixed(1)),
      benignQueriesRefused: benignQuery.refused,
      hostileQueriesRefused: hostileQuery.refused,
      benignSubscriptionPerSec: Math.round(benignWhere.perSec),
      hostileSubscriptionPerSec: Math.round(hostileWhere.perSec),
      hostileSubscriptionStallMs: Number(hostileWhere.stallMs.toFixed(1)),
      idleStallMs: Number(baselineStall.stallMs.toFixed(1)),
      mingoHostileOneDocStallMs: Math.round(oldOne.stallMs),
    };
    printResult('filters', figures);
    return figures;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
