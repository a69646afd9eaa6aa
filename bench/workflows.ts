// Timers at scale: the cost of a poll round with nothing due, timers fired per second and their
// due-time lag, at 0, 10,000 and 100,000 stored timers (mostly retired: fired or cancelled), beside
// a raw baseline (a bare store write of one timer entity) measured in the same run on the same store.
// The indexed poll (EntityStore.dueTimers) is shown beside the scan it replaced (one query per tenant).
// Workflow transitions/s are measured too when the workflow service exists.
// Run: npm run bench -- workflows
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TimerService } from '../src/app/index.js';
import { silentLogger, type EntityWrite, type TenantContext } from '../src/core/index.js';
import { TIMER_ENTITY_TYPE } from '../src/runtime/index.js';
import { openSqliteStore, type EntityStore } from '../src/store/index.js';
import { WorkflowService } from '../src/workflows/index.js';
import { median, printResult, printTable } from './_table.js';

const SIZES = [0, 10_000, 100_000];
const TENANTS = ['t1', 't2', 't3', 't4'];
const FIRE = 2000;
const BASELINE_WRITES = 2000;
const POLLS = 20;
const SCAN_POLLS = 3;
const LAG_TIMERS = 400;

/** Timers are platform entities: the bench writes them as the runtime's commits do. */
const PLATFORM = { kind: 'system' as const, id: 'bench' };
const ctxOf = (tenantId: string): TenantContext => ({ tenantId, actor: 'bench' });

function timer(fireAt: string, status: string, i: number): EntityWrite {
  return { entityTypeId: TIMER_ENTITY_TYPE, attributes: { type: 'BenchTick', fireAt, payload: { i }, status, timerId: `b${i}`, pluginId: 'bench', pluginName: 'bench' } };
}

/** Stores `n` timers: 90% retired (fired / cancelled), 10% scheduled an hour ahead. */
async function seed(store: EntityStore, n: number): Promise<void> {
  const later = new Date(Date.now() + 3600_000).toISOString();
  const past = new Date(Date.now() - 3600_000).toISOString();
  for (let start = 0; start < n; start += 1000) {
    const tenant = TENANTS[(start / 1000) % TENANTS.length]!;
    const writes: EntityWrite[] = [];
    for (let i = start; i < Math.min(n, start + 1000); i++) {
      const kind = i % 10;
      writes.push(kind === 0 ? timer(later, 'scheduled', i) : timer(past, kind % 2 === 0 ? 'fired' : 'cancelled', i));
    }
    await store.commit(ctxOf(tenant), { writes, source: PLATFORM });
  }
}

/** The store without `dueTimers`: the timer service falls back to scanning one query per tenant. */
function withoutIndex(store: EntityStore): EntityStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'dueTimers') return undefined;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function timeRounds(service: TimerService, rounds: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await service.runOnce();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

interface Row {
  stored: number;
  pollMs: number;
  scanPollMs: number;
  firedPerSec: number;
  baselineWritesPerSec: number;
  lagP50Ms: number;
  lagP95Ms: number;
}

async function measure(n: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'uee-bench-wf-'));
  const store = await openSqliteStore({ path: join(dir, 'store.db') });
  try {
    for (const t of TENANTS) await store.tenants.create(t);
    await seed(store, n);
    const indexed = new TimerService(store, { logger: silentLogger, batchSize: 500 });
    const scanned = new TimerService(withoutIndex(store), { logger: silentLogger, batchSize: 500 });
    const pollMs = await timeRounds(indexed, POLLS);
    const scanPollMs = await timeRounds(scanned, SCAN_POLLS);

    // Raw baseline: a bare store write of one timer entity per commit.
    const future = new Date(Date.now() + 7200_000).toISOString();
    const b0 = performance.now();
    for (let i = 0; i < BASELINE_WRITES; i++) await store.put(ctxOf(TENANTS[i % TENANTS.length]!), timer(future, 'cancelled', -i), { source: PLATFORM });
    const baselineWritesPerSec = BASELINE_WRITES / ((performance.now() - b0) / 1000);

    // Firing: FIRE timers already due, fired by rounds of the indexed service (each a commit of write + event).
    const due = new Date(Date.now() - 1000).toISOString();
    for (let start = 0; start < FIRE; start += 500) {
      const writes = Array.from({ length: 500 }, (_, k) => timer(due, 'scheduled', n + start + k));
      await store.commit(ctxOf(TENANTS[(start / 500) % TENANTS.length]!), { writes, source: PLATFORM });
    }
    const f0 = performance.now();
    let fired = 0;
    while (fired < FIRE) {
      const r = await indexed.runOnce();
      if (r.fired === 0) break;
      fired += r.fired;
    }
    const firedPerSec = fired / ((performance.now() - f0) / 1000);

    // Lag: timers falling due over 2 s while the service polls every 250 ms, as in production.
    const lagService = new TimerService(store, { logger: silentLogger });
    const base = Date.now() + 300;
    for (let i = 0; i < LAG_TIMERS; i++) {
      await store.put(ctxOf(TENANTS[i % TENANTS.length]!), timer(new Date(base + (i * 2000) / LAG_TIMERS).toISOString(), 'scheduled', -100_000 - i), { source: PLATFORM });
    }
    lagService.start();
    const deadline = Date.now() + 10_000;
    while (lagService.metrics().fired < LAG_TIMERS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await lagService.stop();
    const lags = lagService.metrics().lagMs;
    return { stored: n, pollMs, scanPollMs, firedPerSec, baselineWritesPerSec, lagP50Ms: lags.p50, lagP95Ms: lags.p95 };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const TRANSITIONS = 2000;

/** Workflow transitions/s (each: read instance + definition, one commit with history, events and view row) beside a bare store write. */
async function transitions(): Promise<{ perSec: number; rawWritesPerSec: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'uee-bench-wf-'));
  const store = await openSqliteStore({ path: join(dir, 'store.db') });
  try {
    await store.tenants.create('t1');
    const ctx = ctxOf('t1');
    const wf = new WorkflowService(store, { logger: silentLogger });
    await wf.define(ctx, { name: 'toggle', initial: 'a', states: { a: {}, b: {}, done: { final: true } }, transitions: [{ name: 'flip', from: 'a', to: 'b' }, { name: 'flop', from: 'b', to: 'a' }, { name: 'finish', from: ['a', 'b'], to: 'done' }] });
    // Instances of 20 transitions each, so history size stays realistic.
    const t0 = performance.now();
    let done = 0;
    while (done < TRANSITIONS) {
      const inst = await wf.start(ctx, 'toggle');
      for (let k = 0; k < 20 && done < TRANSITIONS; k++, done++) await wf.advance(ctx, inst.instanceId, k % 2 === 0 ? 'flip' : 'flop');
    }
    const perSec = TRANSITIONS / ((performance.now() - t0) / 1000);
    const r0 = performance.now();
    for (let i = 0; i < TRANSITIONS; i++) await store.put(ctx, { entityTypeId: 'Raw', attributes: { i } });
    return { perSec, rawWritesPerSec: TRANSITIONS / ((performance.now() - r0) / 1000) };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows: Row[] = [];
for (const n of SIZES) rows.push(await measure(n));
const tr = await transitions();
printTable(
  ['stored timers', 'poll, nothing due (ms)', 'old scan poll (ms)', 'timers fired/s', 'raw store write/s', 'fired / raw', 'lag p50 (ms)', 'lag p95 (ms)'],
  rows.map((r) => [r.stored, r.pollMs, r.scanPollMs, r.firedPerSec, r.baselineWritesPerSec, r.firedPerSec / r.baselineWritesPerSec, r.lagP50Ms, r.lagP95Ms]),
);
printTable(['workflow transitions/s', 'raw store write/s', 'ratio'], [[tr.perSec, tr.rawWritesPerSec, tr.perSec / tr.rawWritesPerSec]]);
printResult('workflows', {
  transitionsPerSec: Math.round(tr.perSec),
  transitionsRawWritesPerSec: Math.round(tr.rawWritesPerSec),
  machine: '2-core shared dev VM',
  store: 'sqlite',
  timers: rows.map((r) => ({
    stored: r.stored,
    pollMs: Number(r.pollMs.toFixed(3)),
    scanPollMs: Number(r.scanPollMs.toFixed(1)),
    firedPerSec: Math.round(r.firedPerSec),
    rawWritesPerSec: Math.round(r.baselineWritesPerSec),
    lagP50Ms: r.lagP50Ms,
    lagP95Ms: r.lagP95Ms,
  })),
  pollGrowth100kVs0: Number((rows[2]!.pollMs / rows[0]!.pollMs).toFixed(2)),
});
