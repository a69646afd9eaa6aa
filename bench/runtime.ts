// Execution-host benchmark: baselines (bare WebAssembly, bare Extism main-thread call, raw Atomics
// round trip between two threads) beside the host (pool throughput, per-call overhead, host-call
// round trip, instantiate-from-cache, runaway stop time), all measured in this one run.
// Run: node --import tsx bench/runtime.ts
import { Worker } from 'node:worker_threads';
import createPlugin from '@extism/extism';
import { newId, type EventEnvelope } from '../src/core/index.js';
import { ExecutionHost, createLocalModelGateway, type HostServices } from '../src/runtime/index.js';
import { wasmApi } from '../src/runtime/wasm-api.js';
import { buildWat } from '../test/runtime/wat.js';
import { median, printResult, printTable } from './_table.js';

const services: HostServices = {
  readEntity: () => Promise.resolve(null),
  queryReadModel: () => Promise.resolve([]),
  getTenantConfig: () => Promise.resolve({ tenant: {}, plugin: {} }),
  callModel: (ctx, req) => createLocalModelGateway().call(ctx, req),
};

function event(): EventEnvelope {
  const eventId = newId();
  return { eventId, type: 'TaskCreated', tenantId: 'acme', payload: { title: 'bench' }, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api', id: 'bench' } };
}

const noopWasm = await buildWat('noop');
const noopModule = await wasmApi.compile(noopWasm);
const input = JSON.stringify({ event: event(), settings: {}, context: {} });

// Baseline 1: bare WebAssembly call of the same module.
const bare = new wasmApi.Instance(noopModule, { 'extism:host/env': { input_length: () => 0n } });
const handle = bare.exports.handle as () => number;
for (let i = 0; i < 100_000; i++) handle();
let t = performance.now();
const BARE_N = 2_000_000;
for (let i = 0; i < BARE_N; i++) handle();
const bareUs = ((performance.now() - t) * 1000) / BARE_N;

// Baseline 2: bare Extism main-thread call (+ reset, without which it breaks after ~16k calls).
const plugin = await createPlugin(noopModule, { useWasi: false });
for (let i = 0; i < 5000; i++) {
  await plugin.call('handle', input);
  await plugin.reset();
}
const EXTISM_N = 100_000;
t = performance.now();
for (let i = 0; i < EXTISM_N; i++) {
  await plugin.call('handle', input);
  await plugin.reset();
}
const extismUs = ((performance.now() - t) * 1000) / EXTISM_N;

// Instantiate from a cached compiled module, as a worker does for a fresh instance.
const instTimes: number[] = [];
for (let i = 0; i < 2000; i++) {
  const s = performance.now();
  const p = await createPlugin(noopModule, { useWasi: false });
  await p.getInstance();
  instTimes.push((performance.now() - s) * 1000);
}
const instantiateUs = median(instTimes.slice(200));

// Baseline 3: raw Atomics round trip between two threads.
const atomicsUs = await (async () => {
  const sab = new SharedArrayBuffer(8);
  const flag = new Int32Array(sab);
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads'); const f = new Int32Array(workerData);
     for (;;) { Atomics.wait(f, 0, 0); if (Atomics.load(f, 0) === 2) break; Atomics.store(f, 0, 0); Atomics.notify(f, 0); }`,
    { eval: true, workerData: sab },
  );
  await new Promise((r) => setTimeout(r, 100));
  const times: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const s = performance.now();
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    while (Atomics.load(flag, 0) === 1) Atomics.wait(flag, 0, 1, 50);
    times.push((performance.now() - s) * 1000);
  }
  Atomics.store(flag, 0, 2);
  Atomics.notify(flag, 0);
  await worker.terminate();
  return median(times.slice(2000));
})();

async function throughput(host: ExecutionHost, pluginId: string, n: number, concurrency: number): Promise<number> {
  let next = 0;
  let failed = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) if (!(await host.invoke(pluginId, { event: event() })).ok) failed++;
    }),
  );
  if (failed > 0) throw new Error(`${failed} invocations failed`);
  return n / ((performance.now() - start) / 1000);
}

const rows: Array<Array<string | number>> = [
  ['bare WebAssembly call (no-op)', bareUs, 'µs/call', 1e6 / bareUs, ''],
  ['bare Extism main-thread call + reset', extismUs, 'µs/call', 1e6 / extismUs, ''],
  ['raw Atomics round trip (2 threads)', atomicsUs, 'µs median', '', ''],
  ['instantiate from cached Module (createPlugin)', instantiateUs, 'µs median', '', '≤ 500 µs'],
];
const figures: Record<string, number> = { bareWasmUs: bareUs, bareExtismUs: extismUs, rawAtomicsRttUs: atomicsUs, instantiateUs };

for (const eventsPerInstance of [1000, 1]) {
  const host = await ExecutionHost.create({ services, eventsPerInstance });
  await host.load({ id: 'noop', name: 'Noop', version: '1', kind: 'event', capabilities: [], wasm: noopWasm });
  await throughput(host, 'noop', 3000, 32);
  const perSec = await throughput(host, 'noop', 30_000, 64);
  const mode = eventsPerInstance === 1 ? 'fresh instance per event' : `instance reused ≤ ${eventsPerInstance} events/tenant`;
  rows.push([`ours: no-op invocations/s (${host.stats().workers} workers, ${mode})`, perSec, 'inv/s', perSec, '≥ 10,000']);
  figures[eventsPerInstance === 1 ? 'invocationsPerSecFresh' : 'invocationsPerSec'] = perSec;
  if (eventsPerInstance !== 1) {
    const lat: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const s = performance.now();
      await host.invoke('noop', { event: event() });
      lat.push((performance.now() - s) * 1000);
    }
    const overhead = median(lat.slice(300)) - extismUs;
    rows.push(['ours: per-invocation overhead vs bare Extism (sequential)', overhead, 'µs median', '', '']);
    figures.perInvocationOverheadUs = overhead;

    await host.load({ id: 'rtt', name: 'Rtt', version: '1', kind: 'event', capabilities: ['accessTenantConfig'], budget: { hostCalls: 2000, timeoutMs: 5000 }, wasm: await buildWat('host-call-loop') });
    const perCall: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await host.invoke('rtt', { event: event() });
      if (!r.ok) throw new Error(r.error.message);
      perCall.push((r.usage.durationMs * 1000) / 1000);
    }
    const rtt = median(perCall.slice(5));
    rows.push(['ours: host-call round trip (get_tenant_config)', rtt, 'µs median', '', '≤ 30 µs']);
    figures.hostCallRttUs = rtt;

    await host.load({ id: 'loop', name: 'Loop', version: '1', kind: 'event', capabilities: [], budget: { timeoutMs: 100 }, wasm: await buildWat('loop') });
    const stops: number[] = [];
    const respawns: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      const r = await host.invoke('loop', { event: event() });
      stops.push(performance.now() - s);
      if (r.ok || r.error.code !== 'TIMEOUT') throw new Error('runaway call was not stopped with TIMEOUT');
      while (host.stats().workers < 2) await new Promise((res) => setTimeout(res, 1));
      respawns.push(performance.now() - s);
    }
    const stopMs = median(stops);
    rows.push(['ours: runaway call stopped (timeoutMs = 100)', stopMs, 'ms median', '', '≤ 150 ms']);
    rows.push(['ours: … and its worker replaced', median(respawns), 'ms median', '', '']);
    figures.runawayStopMs = stopMs;
    figures.runawayTimeoutMs = 100;
    figures.workerReplacedMs = median(respawns);
  }
  await host.close();
}

printTable(['measure', 'value', 'unit', 'per second', 'target'], rows);
printResult('runtime', figures);
