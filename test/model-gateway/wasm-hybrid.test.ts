import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { RegistryWasmModelRunner } from '../../src/app/wasm-model-runner.js';
import { compileJs, compileWat } from '../../src/compiler/index.js';
import type { WasmModelRunner } from '../../src/model-gateway/index.js';
import { createModelGateway, prioritizerPluginSources } from '../../src/model-gateway/index.js';
import { ctx, openPluginApp } from './helpers.js';

/**
 * These tests drive the WasmModelRunner port with the runtime's runner: real `kind: model` plugins
 * (the bundled builtin scorer, two small JS chain steps and a WAT module that traps), compiled,
 * deployed through the registry of a real app and run on its execution host. `calls` records the
 * plugins the gateway asked for.
 */
let app: UeeApp;
let closeApp: (() => Promise<void>) | undefined;
let runner: RegistryWasmModelRunner;

function recording(calls: string[]): WasmModelRunner {
  return {
    infer: (request) => {
      calls.push(request.plugin);
      return runner.infer(request);
    },
  };
}

beforeAll(async () => {
  ({ app, close: closeApp } = await openPluginApp('wasm-hybrid'));
  if (app.runtime === undefined) throw new Error('the test app runs without a runtime');
  runner = new RegistryWasmModelRunner(app.registry);
  runner.attach(app.runtime.host);
  const js = (body: string) => compileJs({ entry: 'main.js', files: { 'main.js': body } });
  const modules = {
    'prioritizer-wasm': compileJs(prioritizerPluginSources()),
    'task-to-prompt': js('export function infer({ input }) { return `Summarise: ${input.title}`; }'),
    'shout': js('export function infer({ input }) { return { summary: input.output.content.toUpperCase() }; }'),
    'trap': compileWat({ source: '(module (memory (export "memory") 1) (func (export "infer") (result i32) unreachable))' }),
  };
  for (const [name, compiled] of Object.entries(modules)) {
    await app.registry.deploy('admin:test', { manifest: { name, kind: 'model' }, wasm: (await compiled).wasm });
  }
}, 120_000);

afterAll(() => closeApp?.());

describe('GW-WASM: wasm model plugins and hybrid chains (through the WasmModelRunner port, on the runtime)', () => {
  it('GW-WASM-1 a wasm model plugin serves a model and scores like the builtin one', async () => {
    const calls: string[] = [];
    const g = await createModelGateway({
      wasmRunner: recording(calls),
      models: [{ name: 'task.prioritizer.wasm', kind: 'wasm', provider: 'wasm', target: 'prioritizer-wasm' }],
    });
    try {
      const features = { dueInDays: 2, importance: 4, estimateHours: 3, status: 'todo' as const };
      const wasm = await g.call(ctx(), { model: 'task.prioritizer.wasm', input: features });
      const builtin = await g.call(ctx(), { model: 'task.prioritizer.v2', input: features });
      expect(wasm.output).toEqual(builtin.output);
      expect(wasm.provider).toBe('wasm');
      expect(calls).toEqual(['prioritizer-wasm']);
    } finally {
      await g.close();
    }
  });

  it('GW-WASM-2 a hybrid chain runs pre-plugin → model → post-plugin', async () => {
    const calls: string[] = [];
    const g = await createModelGateway({
      wasmRunner: recording(calls),
      models: [{ name: 'task.summary', kind: 'wasm', provider: 'hybrid', target: 'chat.default', chain: { pre: 'task-to-prompt', post: 'shout' } }],
    });
    try {
      const r = await g.call(ctx(), { model: 'task.summary', input: { title: 'ship the gateway' } });
      expect(r.output).toEqual({ summary: 'ECHO: SUMMARISE: SHIP THE GATEWAY' });
      expect(r.provider).toBe('hybrid:builtin');
      expect(calls).toEqual(['task-to-prompt', 'shout']);
    } finally {
      await g.close();
    }
  });

  it('GW-WASM-3 plugin failures surface as coded errors and fall back; no runner means MODEL_UNAVAILABLE', async () => {
    const g = await createModelGateway({
      wasmRunner: recording([]),
      models: [
        { name: 'm.trap', kind: 'scorer', provider: 'wasm', target: 'trap' },
        { name: 'm.safe', kind: 'scorer', provider: 'wasm', target: 'trap', fallback: ['task.prioritizer.v2'] },
      ],
    });
    const bare = await createModelGateway({ models: [{ name: 'm.wasm', kind: 'wasm', provider: 'wasm', target: 'x' }] });
    try {
      await expect(g.call(ctx(), { model: 'm.trap', input: {} })).rejects.toMatchObject({ code: 'PLUGIN_TRAP', details: { plugin: 'trap' } });
      expect((await g.call(ctx(), { model: 'm.safe', input: { importance: 5 } })).model).toBe('task.prioritizer.v2');
      await expect(bare.call(ctx(), { model: 'm.wasm', input: {} })).rejects.toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    } finally {
      await g.close();
      await bare.close();
    }
  });
});
