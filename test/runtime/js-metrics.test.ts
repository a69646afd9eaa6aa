/**
 * JS-METRIC-1: `recordMetric` from the TS SDK reaches the host's `record_metric` through the JS engine
 * (the shim links it like every host function), compiled and run through the real compile + host path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileJs } from '../../src/compiler/index.js';
import { sharedEngine } from '../compiler/plugin-host.js';
import { makeEvent, openRuntime, type RuntimeFixture } from './setup.js';

let rt: RuntimeFixture;
beforeAll(async () => {
  rt = await openRuntime();
}, 600_000);
afterAll(async () => {
  await rt?.close();
});

describe('custom metrics from JS plugins', () => {
  it('JS-METRIC-1 recordMetric values are summed per name in usage.metrics; a built-in name is refused', async () => {
    const source = `import { recordMetric, on } from 'uee:plugin';
on('*', (input) => {
  recordMetric('itemsScored', 3);
  recordMetric('itemsScored', 2);
  recordMetric('queue.depth', 7.5);
  if (input.event.payload.cheat) recordMetric('latencyMs', 1);
  return 'ok';
});
`;
    const { wasm, report } = await compileJs({ files: { 'main.ts': source }, entry: 'main.ts', engine: await sharedEngine() });
    expect(report.hostFunctions).toContain('record_metric');
    await rt.host.load({ id: 'metrics', name: 'metrics', version: '1', kind: 'event', capabilities: [], wasm });
    const r = await rt.host.invoke('metrics', { event: makeEvent('acme') });
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    expect(r.usage.metrics).toEqual({ itemsScored: 5, 'queue.depth': 7.5 });
    const cheat = await rt.host.invoke('metrics', { event: makeEvent('acme', { payload: { cheat: true } }) });
    expect(cheat.ok).toBe(false);
    if (!cheat.ok) expect(cheat.error).toMatchObject({ code: 'PLUGIN_ERROR', details: { pluginCode: 'RESERVED_NAME' } });
  }, 120_000);
});
