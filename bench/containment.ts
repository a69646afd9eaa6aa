// Containment benchmark (issue 9): a healthy plugin of tenant `globex` handles a steady trickle of
// events while other tenants attack (one tenant per attack), through the real composition (UeeApp: store commit → outbox →
// bus → router → worker pool → commit), embedded SQLite store and bus, 2 workers. For each phase:
// the healthy plugin's event latency (commit → its call finished, p50/p95), the longest main-thread
// stall (monitorEventLoopDelay), and RSS. The baseline phase (no attack) is measured in the same run.
// Attacks: two runaway plugins (infinite loops, timeoutMs raised to the operator ceiling);
// a catastrophic-backtracking `$regex` in a manifest filter.where; an amplifier emitting two copies
// of its own trigger; memory (two plugins touching 250 MiB each, plus a table-growth bomb).
// Then every attacker is disabled and RSS is read again 30 s later.
// Run: npm run bench -- containment
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { silentLogger } from '../src/core/index.js';
import { UeeApp } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import type { PluginManifestInput } from '../src/registry/index.js';
import { buildWat } from '../test/runtime/wat.js';
import { percentile, printResult, printTable } from './_table.js';

const PHASE_MS = Number(process.env.UEE_BENCH_PHASE_MS ?? 10_000);
const AFTER_MS = Number(process.env.UEE_BENCH_AFTER_MS ?? 30_000);
const HEALTHY_EVERY_MS = 50;

const dir = mkdtempSync(join(tmpdir(), 'uee-bench-containment-'));
const app = await UeeApp.create(loadConfig({ dataDir: dir, tenants: 'acme,globex,hooli,initech,umbrella', workers: '2', logLevel: 'error' }, {}), silentLogger, {
  router: { refreshMs: 200 },
});
const host = app.runtime!.host;
// Each attack comes from its own tenant, so a later attack is not queued behind an earlier one's
// runaways (which keep their worker until their timeout even after being disabled).
const acme = { tenantId: 'acme', actor: 'user:bench' };
const hooli = { tenantId: 'hooli', actor: 'user:bench' };
const initech = { tenantId: 'initech', actor: 'user:bench' };
const umbrella = { tenantId: 'umbrella', actor: 'user:bench' };
const globex = { tenantId: 'globex', actor: 'user:bench' };

// Latency of the healthy plugin: from the event's commit (occurredAt) to the end of its call.
const latencies: number[] = [];
const invoke = host.invoke.bind(host);
let healthyId = '';
/** Calls per (plugin id, outcome), printed at the end so each attack is seen to have run. */
const outcomes = new Map<string, number>();
const names = new Map<string, string>();
host.invoke = async (pluginId, input) => {
  const r = await invoke(pluginId, input);
  const key = `${pluginId}:${r.ok ? 'ok' : r.error.code}`;
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  if (pluginId === healthyId) latencies.push(Date.now() - Date.parse(input.event.occurredAt));
  return r;
};

async function deploy(tenant: string, manifest: Omit<PluginManifestInput, 'tenantScope' | 'tenantId'>, wasm: Uint8Array): Promise<string> {
  const r = await app.registry.deploy('user:bench', { manifest: { tenantScope: 'tenant', tenantId: tenant, ...manifest }, wasm, language: 'wat' });
  names.set(r.plugin.id, manifest.name);
  return r.plugin.id;
}

healthyId = await deploy('globex', { name: 'Healthy', subscribeTo: ['Ping'], capabilities: [] }, await buildWat('echo'));
const ceiling = app.config.runtime.budgetCeiling;
const loop = await buildWat('loop');
const runaways = [
  await deploy('acme', { name: 'Runaway1', subscribeTo: ['Spin'], capabilities: [], maximumResourceBudget: { timeoutMs: ceiling.timeoutMs } }, loop),
  await deploy('acme', { name: 'Runaway2', subscribeTo: ['Spin'], capabilities: [], maximumResourceBudget: { timeoutMs: ceiling.timeoutMs } }, loop),
];
const backtracker = [
  await deploy('hooli', { name: 'Backtracker', subscribeTo: ['Text'], capabilities: [], filter: { where: { 'payload.text': { $regex: '^(a+)+$' } } } }, await buildWat('noop')),
];
const amplifier = [await deploy('initech', { name: 'Amplifier', subscribeTo: ['Boom'], capabilities: ['emitEvents'], emits: ['Boom'] }, await buildWat('emit-twice'))];
const touch = await buildWat('touch-memory', { RAW_PAGES: '4000' });
const hogs = [
  await deploy('umbrella', { name: 'Hog1', subscribeTo: ['Hog'], capabilities: [], maximumResourceBudget: { memoryPages: 4096, timeoutMs: 5000 } }, touch),
  await deploy('umbrella', { name: 'Hog2', subscribeTo: ['Hog'], capabilities: [], maximumResourceBudget: { memoryPages: 4096, timeoutMs: 5000 } }, touch),
  await deploy('umbrella', { name: 'Tables', subscribeTo: ['Hog'], capabilities: [] }, await buildWat('table-bomb')),
];
await app.runtime!.router.refresh();

/** Disables attackers (each attack phase ends so, so the next attack is not queued behind it). */
async function disable(ids: string[], ctx: { tenantId: string; actor: string }): Promise<void> {
  for (const id of ids) await app.registry.setStatus(ctx, id, 'disabled');
  await app.runtime!.router.refresh();
}

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const rss = (): number => process.memoryUsage().rss / 1024 / 1024;

async function healthyTrickle(ms: number, attack?: () => Promise<void>): Promise<{ p50: number; p95: number; n: number; stallMs: number; rssMaxMb: number }> {
  latencies.length = 0;
  delay.reset();
  let rssMax = rss();
  const end = Date.now() + ms;
  let attacking = attack !== undefined;
  const attackLoop = (async () => {
    while (attacking && Date.now() < end) await attack!();
  })();
  let seq = 0;
  while (Date.now() < end) {
    await app.store.commit(globex, { events: [{ type: 'Ping', payload: { seq: seq++ } }] });
    rssMax = Math.max(rssMax, rss());
    await new Promise((resolve) => setTimeout(resolve, HEALTHY_EVERY_MS));
  }
  attacking = false;
  await attackLoop;
  // Let the last healthy events finish (bounded).
  const settle = Date.now() + 15_000;
  while (latencies.length < seq && Date.now() < settle) await new Promise((resolve) => setTimeout(resolve, 20));
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), n: latencies.length, stallMs: delay.max / 1e6, rssMaxMb: rssMax };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
await healthyTrickle(2000); // warm-up
const rssBefore = rss();
const phases: Record<string, Awaited<ReturnType<typeof healthyTrickle>>> = {};
phases.baseline = await healthyTrickle(PHASE_MS);
phases.runaways = await healthyTrickle(PHASE_MS, async () => {
  await app.store.commit(acme, { events: [{ type: 'Spin', payload: {} }, { type: 'Spin', payload: {} }] });
  await pause(1000);
});
await disable(runaways, acme);
phases.regex = await healthyTrickle(PHASE_MS, async () => {
  await app.store.commit(hooli, { events: [{ type: 'Text', payload: { text: `${'a'.repeat(5000)}!` } }] });
  await pause(20);
});
await disable(backtracker, hooli);
phases.amplification = await healthyTrickle(PHASE_MS, async () => {
  await app.store.commit(initech, { events: [{ type: 'Boom', payload: {} }] });
  await pause(2000);
});
await disable(amplifier, initech);
phases.memory = await healthyTrickle(PHASE_MS, async () => {
  await app.store.commit(umbrella, { events: [{ type: 'Hog', payload: {} }] });
  await pause(200);
});
const rssDuring = Math.max(...Object.values(phases).map((p) => p.rssMaxMb));
await disable(hogs, umbrella);
phases.after = await healthyTrickle(AFTER_MS);
const rssAfter = rss();


const base = phases.baseline;
const rows = Object.entries(phases).map(([name, p]) => [name, p.n, p.p50, p.p95, p.p95 / base.p95, p.stallMs, p.rssMaxMb]);
printTable(['phase', 'healthy events', 'p50 ms', 'p95 ms', 'p95 / baseline', 'longest stall ms', 'max RSS MiB'], rows);
printTable(
  ['measure', 'value', 'goal'],
  [
    ['RSS before attacks (MiB)', rssBefore, ''],
    ['RSS max during attacks (MiB)', rssDuring, ''],
    [`RSS ${AFTER_MS / 1000} s after disabling (MiB)`, rssAfter, `≤ ${(rssBefore * 1.1).toFixed(0)} (+10%)`],
  ],
);
const figures: Record<string, number> = { rssBeforeMb: rssBefore, rssDuringMb: rssDuring, rssAfterMb: rssAfter, afterMs: AFTER_MS, phaseMs: PHASE_MS };
for (const [name, p] of Object.entries(phases)) {
  figures[`${name}P50Ms`] = p.p50;
  figures[`${name}P95Ms`] = p.p95;
  figures[`${name}StallMs`] = Math.round(p.stallMs);
}
process.stdout.write(`calls: ${[...outcomes].map(([k, n]) => `${names.get(k.split(':')[0]!) ?? k.split(':')[0]} ${k.split(':')[1]} ×${n}`).join(', ')}\n`);
printResult('containment', figures);
await app.close();
rmSync(dir, { recursive: true, force: true });
