/**
 * JS-BATTERY: the same ~480 small programs over 20 areas run on the plugin engine (compiled with
 * compileJs, invoked through the real ExecutionHost and its workers) and on Node 20; answers and
 * console output are compared case by case. Each area's count of equal answers must not drop below
 * test/compiler/battery/baseline.json, and outside Intl at least 95% must be equal. Area `es2024+`
 * holds built-ins newer than Node 20 (the engine's standard library has them, Node 20 throws): it is
 * reported, not part of the 95%.
 * `UEE_BATTERY_REPORT=1` prints the mismatches; `UEE_BATTERY_WRITE=1` rewrites the baseline.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJs } from '../../src/compiler/index.js';
import type { EngineArtifact } from '../../src/compiler/index.js';
import { tempDir } from '../helpers.js';
import { makeEvent, openRuntime, type RuntimeFixture } from '../runtime/setup.js';
import { CASES_A } from './battery/cases-a.js';
import { CASES_B } from './battery/cases-b.js';
import { CASES_C } from './battery/cases-c.js';
import { batteryModule, compare, runOnNode, type CaseOutput } from './battery/harness.js';
import { sharedEngine } from './plugin-host.js';

const CASES = [...CASES_A, ...CASES_B, ...CASES_C];
const BASELINE_URL = new URL('./battery/baseline.json', import.meta.url);

let engine: EngineArtifact;
let runtime: RuntimeFixture;
const dir = tempDir('uee-battery');

beforeAll(async () => {
  engine = await sharedEngine();
  runtime = await openRuntime({ workers: 1 });
}, 20 * 60_000);
afterAll(async () => {
  await runtime?.close();
  dir[Symbol.dispose]();
});

describe('JS semantics battery vs Node 20', () => {
  it('JS-BATTERY-1 per-area equality never drops below the baseline; ≥ 95% equal outside Intl', async () => {
    const source = batteryModule(CASES);
    const { wasm } = await compileJs({ engine, entry: 'battery.js', files: { 'battery.js': source }, timeoutMs: 120_000 });
    await runtime.host.load({ id: 'battery', name: 'battery', version: 1, kind: 'event', capabilities: [], budget: { timeoutMs: 10_000, memoryPages: 1024 }, wasm });
    const ours: CaseOutput[] = [];
    for (let i = 0; i < CASES.length; i++) {
      const r = await runtime.host.invoke('battery', { event: makeEvent('acme', { payload: { i } }) });
      ours.push(r.ok ? (r.output as CaseOutput) : { result: `call failed: ${r.error.code}`, logs: [] });
    }
    const node = await runOnNode(source, CASES.length, dir.path);
    const { byArea, mismatches } = compare(CASES, ours, node);
    if (process.env.UEE_BATTERY_REPORT) for (const m of mismatches) process.stderr.write(`${m.area} #${m.index} ${m.source}\n  engine: ${m.engine}\n  node:   ${m.node}\n`);
    if (process.env.UEE_BATTERY_WRITE) writeFileSync(BASELINE_URL, `${JSON.stringify(byArea, null, 2)}\n`);
    const baseline = JSON.parse(readFileSync(BASELINE_URL, 'utf8')) as Record<string, { equal: number }>;
    for (const [area, { equal }] of Object.entries(baseline)) expect({ area, equal: byArea[area]?.equal ?? 0 }).toEqual({ area, equal: Math.max(equal, byArea[area]?.equal ?? 0) });
    let equal = 0;
    let total = 0;
    for (const [area, c] of Object.entries(byArea)) {
      if (area === 'intl' || area === 'es2024+') continue;
      equal += c.equal;
      total += c.total;
    }
    process.stderr.write(`JS-BATTERY ${JSON.stringify({ equal, total, rate: Math.round((equal / total) * 1000) / 10, byArea })}\n`);
    expect(CASES.length).toBeGreaterThanOrEqual(300);
    expect(equal / total).toBeGreaterThanOrEqual(0.95);
  }, 5 * 60_000);
});
