// Idle-instance sharing benchmark: one runtime worker's idle plugin instances are shared by every
// tenant. Tenant `acme` calls its TypeScript plugin (the JS engine: 4.5 MiB of linear memory an
// instance; it counts its calls, so a 1 is a call on a fresh instance) every 20 ms — a tenant with
// moderate traffic; meanwhile tenant `hog` calls its own TypeScript plugins back to back, one after
// another — more of them than the worker's idle budget (`instances.idleBytes`) holds. Figures per
// phase: how many of acme's calls had to start an instance (a cold start) and their latency. The baseline is the quiet phase (acme alone) measured in the same run.
// Before 2026-12-07 one LRU served every tenant, so hog's churn released acme's warm instance before
// each of its calls; now a tenant past its share of the budget gives up its own instances first.
// Run: npm run bench -- instances      (UEE_BENCH_INSTANCE_PHASE_MS, default 3,000: each phase's length)
import { newId, type EventEnvelope } from '../src/core/index.js';
import { compileJs, ensureEngine } from '../src/compiler/index.js';
import { ExecutionHost } from '../src/runtime/index.js';
import { EMPTY_HOST_SERVICES } from './_host-services.js';
import { percentile, printResult, printTable } from './_table.js';

const PHASE_MS = Number(process.env.UEE_BENCH_INSTANCE_PHASE_MS ?? 3_000);
/** hog's plugins: each one instance of ~4.5 MiB, 32 of them past a 64 MiB budget. */
const HOG_PLUGINS = 32;
/** acme calls this often. */
const ACME_EVERY_MS = 20;
const IDLE_BYTES = 64 * 1024 * 1024;

function event(tenantId: string): EventEnvelope {
  const eventId = newId();
  return { eventId, type: 'Tick', tenantId, payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api', id: 'bench' } };
}

// Module state lives as long as its instance: a count of 1 is a call that started one.
const { wasm } = await compileJs({ engine: await ensureEngine(), entry: 'main.ts', files: { 'main.ts': `import { on } from 'uee:plugin';\nlet n = 0;\non('Tick', () => ({ n: ++n }));\n` }, typeCheck: false });
// One worker: every call meets the same idle instances.
const host = await ExecutionHost.create({ workers: 1, services: EMPTY_HOST_SERVICES, instances: { idleBytes: IDLE_BYTES } });
await host.load({ id: 'acme-noop', name: 'AcmeNoop', version: '1', kind: 'event', capabilities: [], wasm });
const hogIds = Array.from({ length: HOG_PLUGINS }, (_, i) => `hog-${i}`);
for (const id of hogIds) await host.load({ id, name: id, version: '1', kind: 'event', capabilities: [], wasm });

/** acme's paced calls for `ms`, hog's (one plugin after another, back to back) beside them when `hog`: acme's cold starts and latencies. */
async function phase(ms: number, hog: boolean): Promise<{ coldStarts: number; calls: number; p50: number; p95: number; hogCalls: number }> {
  const end = performance.now() + ms;
  let calls = 0;
  let coldStarts = 0;
  let hogCalls = 0;
  const latencies: number[] = [];
  const acme = (async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await host.invoke('acme-noop', { event: event('acme') });
      if (!r.ok) throw new Error(r.error.message);
      latencies.push(performance.now() - t0);
      calls++;
      if ((r.output as { n: number }).n === 1) coldStarts++;
      await new Promise((res) => setTimeout(res, ACME_EVERY_MS));
    }
  })();
  const hogLoop = hog
    ? (async () => {
        for (let i = 0; performance.now() < end; i++) {
          const r = await host.invoke(hogIds[i % hogIds.length]!, { event: event('hog') });
          if (!r.ok) throw new Error(r.error.message);
          hogCalls++;
        }
      })()
    : Promise.resolve();
  await Promise.all([acme, hogLoop]);
  return { coldStarts, calls, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), hogCalls };
}

try {
  await phase(1_000, false); // warm-up: acme's instance exists
  const quiet = await phase(PHASE_MS, false);
  const churn = await phase(PHASE_MS, true);
  const quietAgain = await phase(PHASE_MS, false);
  const ms = (x: number): string => x.toFixed(2);
  const rows = [
    ['acme alone (baseline)', `${quiet.coldStarts} of ${quiet.calls}`, ms(quiet.p50), ms(quiet.p95), '—'],
    [`acme while hog cycles through ${HOG_PLUGINS} plugins (${IDLE_BYTES / 2 ** 20} MiB idle budget)`, `${churn.coldStarts} of ${churn.calls}`, ms(churn.p50), ms(churn.p95), churn.hogCalls],
    ['acme alone again', `${quietAgain.coldStarts} of ${quietAgain.calls}`, ms(quietAgain.p50), ms(quietAgain.p95), '—'],
  ];
  printTable(['phase', 'acme cold starts', 'acme p50 ms', 'acme p95 ms', 'hog calls'], rows);
  printResult('instances', {
    quietCalls: quiet.calls,
    quietColdStarts: quiet.coldStarts,
    quietP50Ms: Number(ms(quiet.p50)),
    churnCalls: churn.calls,
    churnColdStarts: churn.coldStarts,
    churnP50Ms: Number(ms(churn.p50)),
    churnP95Ms: Number(ms(churn.p95)),
    churnHogCalls: churn.hogCalls,
  });
} finally {
  await host.close();
}
