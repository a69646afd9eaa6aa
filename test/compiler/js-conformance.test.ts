/**
 * JS-CONFORMANCE: test262-style cases by directory (built-ins/Array, String, JSON, RegExp, Date,
 * Promise, Map, language), compiled with compileJs and run through the real ExecutionHost, one call
 * per case; the same module runs on Node 20 for comparison. Each directory's pass count must not drop
 * below test/compiler/conformance/baseline.json, nor below Node 20's on the same cases. `UEE_CONFORMANCE_REPORT=1` prints the failures,
 * `UEE_CONFORMANCE_WRITE=1` rewrites the baseline.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJs } from '../../src/compiler/index.js';
import type { EngineArtifact } from '../../src/compiler/index.js';
import { tempDir } from '../helpers.js';
import { makeEvent, openRuntime, type RuntimeFixture } from '../runtime/setup.js';
import { ASSERT } from './conformance/assert.js';
import { CONFORMANCE } from './conformance/cases.js';
import { batteryModule, runOnNode, type Case, type CaseOutput } from './battery/harness.js';
import { sharedEngine } from './plugin-host.js';

const BASELINE_URL = new URL('./conformance/baseline.json', import.meta.url);
const CASES: Case[] = CONFORMANCE.map(([dir, body]) => [
  dir,
  `{ try { (() => ${body})(); return "pass"; } catch (e) { return "fail: " + (e && e.message); } }`,
]);

let engine: EngineArtifact;
let runtime: RuntimeFixture;
const dir = tempDir('uee-conformance');

beforeAll(async () => {
  engine = await sharedEngine();
  runtime = await openRuntime({ workers: 1 });
}, 20 * 60_000);
afterAll(async () => {
  await runtime?.close();
  dir[Symbol.dispose]();
});

const passed = (o: CaseOutput | undefined): boolean => o?.result === '"pass"';

describe('JS conformance by directory', () => {
  it('JS-CONFORMANCE-1 no directory passes fewer cases than its recorded baseline, nor fewer than Node 20 in the same run', async () => {
    const source = batteryModule(CASES, ASSERT);
    const { wasm } = await compileJs({ engine, entry: 'conformance.js', files: { 'conformance.js': source }, timeoutMs: 120_000 });
    await runtime.host.load({ id: 'conformance', name: 'conformance', version: 1, kind: 'event', capabilities: [], budget: { timeoutMs: 10_000 }, wasm });
    const ours: CaseOutput[] = [];
    for (let i = 0; i < CASES.length; i++) {
      const r = await runtime.host.invoke('conformance', { event: makeEvent('acme', { payload: { i } }) });
      ours.push(r.ok ? (r.output as CaseOutput) : { result: `call failed: ${r.error.code}`, logs: [] });
    }
    const node = await runOnNode(source, CASES.length, dir.path);
    const byDir: Record<string, { engine: number; node: number; total: number }> = {};
    CASES.forEach(([d], i) => {
      const c = byDir[d] ?? (byDir[d] = { engine: 0, node: 0, total: 0 });
      c.total++;
      if (passed(ours[i])) c.engine++;
      else if (process.env.UEE_CONFORMANCE_REPORT) process.stderr.write(`${d} #${i} ${CONFORMANCE[i]?.[1] ?? ''}\n  engine: ${ours[i]?.result ?? ''}\n`);
      if (passed(node[i])) c.node++;
    });
    process.stderr.write(`JS-CONFORMANCE ${JSON.stringify(byDir)}\n`);
    if (process.env.UEE_CONFORMANCE_WRITE) {
      const rates = Object.fromEntries(Object.entries(byDir).map(([d, c]) => [d, { passed: c.engine, total: c.total, node20: c.node }]));
      writeFileSync(BASELINE_URL, `${JSON.stringify(rates, null, 2)}\n`);
    }
    const baseline = JSON.parse(readFileSync(BASELINE_URL, 'utf8')) as Record<string, { passed: number }>;
    for (const [d, { passed: floor }] of Object.entries(baseline)) {
      expect({ dir: d, passed: byDir[d]?.engine ?? 0 }).toEqual({ dir: d, passed: Math.max(floor, byDir[d]?.engine ?? 0) });
    }
    expect(Object.keys(byDir).length).toBe(8);
    // the goal, kept once met: no directory below Node 20 on the same cases in the same run
    for (const [d, c] of Object.entries(byDir)) expect({ dir: d, engine: c.engine, node: c.node, atLeastNode: c.engine >= c.node }).toMatchObject({ dir: d, atLeastNode: true });
  }, 5 * 60_000);
});
