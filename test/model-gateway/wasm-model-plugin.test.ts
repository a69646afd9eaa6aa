import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { compileJs } from '../../src/compiler/index.js';
import { prioritizerPluginSources, type TaskFeaturesInput } from '../../src/model-gateway/index.js';
import { PLUGIN_ENTITY_TYPE, pluginVersionId } from '../../src/registry/index.js';
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

  it('GW-WASMPLUGIN-5 a call resolves the newest enabled version without reading every version ever deployed', async () => {
    // 40 older versions of another model plugin, each with a source, under a newest disabled one.
    const name = 'History.Model';
    const scope = { tenantId: null, actor: 'system:test' };
    const first = (await app.registry.versions(scope, PLUGIN))[0]!;
    const files = { 'model.js': `// ${'x'.repeat(10_000)}\n` };
    for (let v = 1; v <= 41; v++) {
      const attributes = { ...first.attributes, name, pluginVersion: v, status: v === 41 ? 'disabled' : 'enabled', source: { language: 'js', files } };
      await app.store.put(scope, { entityId: pluginVersionId(null, name, v), entityTypeId: PLUGIN_ENTITY_TYPE, attributes, expectedVersion: 0, eventType: 'Touched' }, { source: { kind: 'system', id: 'test' } });
    }
    app.gateway.registerModel({ name: 'history.wasm', kind: 'scorer', provider: 'wasm', target: name, cacheTtlMs: 0 });
    const { store } = app;
    const get = store.get.bind(store);
    const read: string[] = [];
    store.get = (c, id, options) => (id.startsWith('plugin-') && read.push(id), get(c, id, options));
    try {
      const out = await app.gateway.call(ctx(), { model: 'history.wasm', input: FEATURES[0] });
      expect(out.provider).toBe('wasm');
    } finally {
      store.get = get;
    }
    // The tenant's scope (none), then the global one: the newest by doubling and bisection, v41 (disabled), v40.
    expect(read).toContain(pluginVersionId(null, name, 40));
    expect(read.length).toBeLessThanOrEqual(20);
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
