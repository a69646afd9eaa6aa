// One tenant's backlog and another tenant's event, for a global plugin (each tenant's events in a
// lane of their own, since 2026-12-07) against the baseline of one tenant-scoped plugin per tenant
// (each tenant's own queue), in one run, rounds alternating. `acme` publishes N events, then
// `globex` publishes one; the plugin does one host call (read_entity) and one entity write per
// event. Figures: how long after its publish globex's event was handled, how long acme's backlog
// took, and the events/s of the whole burst. Before lanes, one queue held every tenant's events of a
// global plugin: globex's event waited for acme's whole backlog (2,700–2,750 ms after 10,000 events,
// 2026-12-07, embedded; 92–162 ms with tenant-scoped plugins).
// Run: npm run bench -- lanes   [BENCH_LANES_N=10000] [UEE_BENCH_REDIS_URL]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UeeApp } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { newId, silentLogger, type EventEnvelope } from '../src/core/index.js';
import type { PluginInvoker } from '../src/router/index.js';
import { buildWat } from '../test/runtime/wat.js';
import { deleteRedisKeys } from '../test/router/app-site.js';
import { alternating, printResult, printTable } from './_table.js';

const N = Number(process.env.BENCH_LANES_N ?? 10_000);
const ROUNDS = 3;
const REDIS_URL = process.env.UEE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const wasm = await buildWat('read-write');

function tick(tenantId: string, entityId: string): EventEnvelope {
  const eventId = newId();
  return { eventId, type: 'Tick', tenantId, entityId, entityTypeId: 'Task', payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api', id: 'bench' } };
}

interface Run {
  globexMs: number;
  backlogMs: number;
  eventsPerSec: number;
}

async function run(backend: 'embedded' | 'redis', global: boolean): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'uee-bench-lanes-'));
  const redisPrefix = `uee-bench:${randomBytes(4).toString('hex')}:`;
  const config = loadConfig({ dataDir, tenants: 'acme,globex', workers: '2', logLevel: 'error', ...(backend === 'redis' ? { bus: REDIS_URL, redisPrefix } : {}) }, {});
  const app = await UeeApp.create(config, silentLogger, { router: { refreshMs: 60_000 } });
  try {
    const capabilities = ['readEntities' as const, 'writeEntities' as const];
    if (global) await app.registry.deploy('bench', { manifest: { name: 'Shared', subscribeTo: ['Tick'], capabilities }, wasm });
    else for (const tenantId of ['acme', 'globex']) await app.registry.deploy('bench', { manifest: { name: 'Own', subscribeTo: ['Tick'], capabilities, tenantScope: 'tenant', tenantId }, wasm });
    await app.runtime!.router.refresh();
    let globexAt = 0;
    let acmeDone = 0;
    let acmeAt = 0;
    const invoker = (app.runtime!.router as unknown as { invoker: PluginInvoker }).invoker;
    const invoke = invoker.invoke.bind(invoker);
    invoker.invoke = async (plugin, input, options) => {
      const outcome = await invoke(plugin, input, options);
      if (input.event.tenantId === 'globex') globexAt = performance.now();
      else if (++acmeDone === N) acmeAt = performance.now();
      return outcome;
    };
    const events = Array.from({ length: N }, (_, i) => tick('acme', `a${i}`));
    const start = performance.now();
    for (let i = 0; i < N; i += 500) await app.bus.publish(events.slice(i, i + 500));
    const sent = performance.now();
    await app.bus.publish([tick('globex', 'g1')]);
    while (globexAt === 0 || acmeAt === 0) await new Promise((r) => setTimeout(r, 2));
    return { globexMs: globexAt - sent, backlogMs: acmeAt - start, eventsPerSec: (N + 1) / ((Math.max(globexAt, acmeAt) - start) / 1000) };
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (backend === 'redis') await deleteRedisKeys(redisPrefix, REDIS_URL);
  }
}

const figures: Record<string, number> = { events: N };
const rows: Array<Array<string | number>> = [];
for (const backend of ['embedded', 'redis'] as const) {
  const m = await alternating(ROUNDS, () => run(backend, false), () => run(backend, true));
  for (const [mode, of] of [['TenantScoped', m.baseline], ['GlobalLanes', m.change]] as const) {
    figures[`${backend}${mode}GlobexMs`] = Math.round(of('globexMs'));
    figures[`${backend}${mode}BacklogMs`] = Math.round(of('backlogMs'));
    figures[`${backend}${mode}EventsPerSec`] = Math.round(of('eventsPerSec'));
    rows.push([backend, mode === 'TenantScoped' ? 'a tenant-scoped plugin per tenant (baseline)' : 'one global plugin (lanes)', Math.round(of('globexMs')), Math.round(of('backlogMs')), Math.round(of('eventsPerSec'))]);
  }
}
printTable(['bus', `plugins (acme: ${N} events, then globex: 1)`, "globex's event handled after (ms)", "acme's backlog (ms)", 'events/s'], rows);
process.stdout.write(`medians of ${ROUNDS} alternating rounds\n`);
printResult('lanes', figures);
