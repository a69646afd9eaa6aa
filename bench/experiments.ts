// Experiments benchmark: events/s end to end (publish → dispatcher → queue → host → ack, no-op WAT
// plugin, embedded bus) in three set-ups measured in the same run, rounds interleaved, median kept:
//   none        — two versions deployed, no experiment, invocation records off (the baseline)
//   experiment  — the same with a running 50/50 experiment on the plugin (hash, tag, per-variant counters)
//   records     — no experiment, invocation records on (the records helper's recorder, 72 h retention)
// Goals: experiment within 5% of none; records within 10% of none.
// Run: npm run bench -- experiments      (UEE_BENCH_EVENTS, default 3000; UEE_BENCH_ROUNDS, default 3)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId, silentLogger, type EventEnvelope } from '../src/core/index.js';
import { UeeApp } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { EXPERIMENTS_VIEW, parseExperiment } from '../src/experiments/index.js';
import { buildWat } from '../test/runtime/wat.js';
import { median, printResult, printTable } from './_table.js';

const EVENTS = Number(process.env.UEE_BENCH_EVENTS ?? 3000);
const ROUNDS = Number(process.env.UEE_BENCH_ROUNDS ?? 3);
const noopWasm = await buildWat('noop');
type Setup = 'none' | 'experiment' | 'records';

function tick(): EventEnvelope {
  const eventId = newId();
  return { eventId, type: 'Tick', tenantId: 'acme', payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api', id: 'bench' } };
}

async function measure(setup: Setup): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'uee-bench-exp-'));
  const config = loadConfig({ dataDir, tenants: 'acme', workers: '2', logLevel: 'error', recordsRetentionHours: setup === 'records' ? '72' : '0' }, {});
  const app = await UeeApp.create(config, silentLogger, { router: { refreshMs: 60_000 } });
  try {
    for (let v = 0; v < 2; v++) await app.registry.deploy('bench', { manifest: { name: 'Concerned', subscribeTo: ['Tick'] }, wasm: noopWasm });
    if (setup === 'experiment') {
      const doc = {
        kind: 'split',
        plugins: ['Concerned'],
        key: 'entity',
        variants: [
          { name: 'control', weight: 50, versions: { Concerned: 1 } },
          { name: 'candidate', weight: 50, versions: { Concerned: 2 } },
        ],
        guardrails: { minSamples: 20, maxErrorRate: 0.5 },
        status: 'running',
        startedAt: new Date().toISOString(),
        createdBy: 'bench',
      };
      await app.store.readModels.upsert({ tenantId: 'acme', actor: 'bench' }, EXPERIMENTS_VIEW, 'bench', doc);
    }
    await app.runtime!.router.refresh();
    const invoked = (): number => app.runtime!.router.metrics.invocations;
    const run = async (n: number): Promise<number> => {
      const events = Array.from({ length: n }, tick);
      const target = invoked() + n;
      const start = performance.now();
      for (let i = 0; i < n; i += 500) await app.bus.publish(events.slice(i, i + 500));
      while (invoked() < target) await new Promise((r) => setTimeout(r, 5));
      return n / ((performance.now() - start) / 1000);
    };
    await run(Math.min(1000, EVENTS));
    const rate = await run(EVENTS);
    if (setup === 'experiment') {
      // The split really happened: both variants were exposed.
      const exp = parseExperiment('bench', (await app.store.readModels.get({ tenantId: 'acme', actor: 'bench' }, EXPERIMENTS_VIEW, 'bench')).doc)!;
      const snap = app.runtime!.router.experiments.snapshot('acme', exp);
      if (snap.variants.some((v) => v.stats.exposures === 0)) throw new Error('the experiment did not split the traffic');
    }
    return rate;
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const rates: Record<Setup, number[]> = { none: [], experiment: [], records: [] };
for (let r = 0; r < ROUNDS; r++) for (const setup of ['none', 'experiment', 'records'] as const) rates[setup].push(await measure(setup));
const none = median(rates.none);
const experiment = median(rates.experiment);
const records = median(rates.records);
printTable(
  ['set-up', 'events/s (median)', 'vs none'],
  [
    ['none (baseline)', none, '1.00'],
    ['50/50 experiment running', experiment, (experiment / none).toFixed(3)],
    ['invocation records on', records, (records / none).toFixed(3)],
  ],
);
printResult('experiments', {
  events: EVENTS,
  rounds: ROUNDS,
  noneEventsPerSec: Math.round(none),
  experimentEventsPerSec: Math.round(experiment),
  recordsEventsPerSec: Math.round(records),
  experimentOverheadPct: Number((100 * (1 - experiment / none)).toFixed(1)),
  recordsOverheadPct: Number((100 * (1 - records / none)).toFixed(1)),
});
