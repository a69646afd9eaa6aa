import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { compileJs } from '../../src/compiler/index.js';
import { prioritizerPluginSources, type TaskFeaturesInput } from '../../src/model-gateway/index.js';
import { ctx, openPluginApp } from './helpers.js';

/**
 * The builtin prioritizer's scoring function and weights, bundled into a JS `kind: model` plugin,
 * compiled with the real toolchain, deployed through the registry and served by the gateway's wasm
 * provider on the real execution host: the classic scorer "usable inside a wasm model plugin too".
 */
const PLUGIN = 'DivFlo.PrioritizerModel';
const FEATURES: TaskFeaturesInput[] = [
  { dueInDays: 2, importance: 4, estimateHours: 3, status: 'todo' },
  { dueInDays: -5, importance: 5, energy: 'high', status: 'in_progress' },
  { dueInDays: null, importance: 1, estimateHours: 40, energy: 'low', status: 'blocked' },
  { dueInDays: 30, importance: 3, status: 'done' },
  {},
];

let app: UeeApp;
let closeApp: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const [compiled, opened] = await Promise.all([compileJs(prioritizerPluginSources()), openPluginApp('wasm-model')]);
  ({ app, close: closeApp } = opened);
  expect(compiled.report.exports.map((e) => e.name)).toContain('infer');
  expect(compiled.report.hostFunctions).toEqual([]);
  const deployed = await app.registry.deploy('admin:test', { manifest: { name: PLUGIN, kind: 'model' }, wasm: compiled.wasm, language: 'js' });
  expect(deployed.applied).toBe(true);
  app.gateway.registerModel({ name: 'task.prioritizer.wasm', kind: 'scorer', provider: 'wasm', target: PLUGIN, cacheTtlMs: 0 });
}, 120_000);

afterAll(() => closeApp?.());

describe('GW-WASMPLUGIN: the builtin prioritizer as a deployed wasm model plugin', () => {
  it('GW-WASMPLUGIN-1 scores every feature set exactly like the builtin provider', async () => {
    for (const features of FEATURES) {
      const wasm = await app.gateway.call(ctx(), { model: 'task.prioritizer.wasm', input: features });
      const builtin = await app.gateway.call(ctx(), { model: 'task.prioritizer.v2', input: features });
      expect(wasm.provider).toBe('wasm');
      expect(builtin.provider).toBe('builtin');
      expect(wasm.output).toEqual(builtin.output);
    }
  });

  it('GW-WASMPLUGIN-2 batches ({ tasks }) score like the builtin provider too', async () => {
    const input = { tasks: FEATURES };
    const wasm = await app.gateway.call(ctx(), { model: 'task.prioritizer.wasm', input });
    const builtin = await app.gateway.call(ctx(), { model: 'task.prioritizer.v2', input });
    expect((wasm.output as { scores: unknown[] }).scores).toHaveLength(FEATURES.length);
    expect(wasm.output).toEqual(builtin.output);
  });

  it('GW-WASMPLUGIN-3 a model pointing at no deployed plugin fails NOT_FOUND and is audited', async () => {
    app.gateway.registerModel({ name: 'm.missing', kind: 'scorer', provider: 'wasm', target: 'No.Such.Plugin' });
    await expect(app.gateway.call(ctx(), { model: 'm.missing', input: {} })).rejects.toMatchObject({ details: { plugin: 'No.Such.Plugin' } });
    const failed = app.gateway.audit.query({ tenantId: 'acme', failed: true }).find((r) => r.model === 'm.missing');
    expect(failed).toBeDefined();
  });

  it('GW-WASMPLUGIN-4 registering a model twice, or with an unknown provider, is CONFIG_INVALID', () => {
    expect(() => app.gateway.registerModel({ name: 'task.prioritizer.wasm', kind: 'scorer', provider: 'wasm', target: PLUGIN })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }) as Error,
    );
    expect(() => app.gateway.registerModel({ name: 'm.nowhere', kind: 'scorer', provider: 'nowhere', target: 'x' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }) as Error,
    );
    expect(app.gateway.listModels(null).map((m) => m.name)).not.toContain('m.nowhere');
  });
});
