import { describe, expect, it } from 'vitest';
import { UeeError } from '../../src/core/index.js';
import type { WasmModelRunner } from '../../src/model-gateway/index.js';
import { PRIORITIZER_WEIGHTS, createModelGateway, scoreTask } from '../../src/model-gateway/index.js';
import { ctx } from './helpers.js';

/**
 * The plugin runtime (src/runtime) does not run `kind: model` plugins yet, so these tests drive the
 * WasmModelRunner port with an in-process stand-in whose "plugins" are the functions a model plugin
 * would bundle (the dependency-free scorer). Replace with the runtime's runner when it lands.
 */
function standInRunner(calls: string[]): WasmModelRunner {
  const plugins: Record<string, (input: unknown) => unknown> = {
    'prioritizer-wasm': (input) => scoreTask(PRIORITIZER_WEIGHTS, input as Parameters<typeof scoreTask>[1]),
    'task-to-prompt': (input) => `Summarise: ${(input as { title: string }).title}`,
    'shout': (input) => ({ summary: ((input as { output: { content: string } }).output.content).toUpperCase() }),
    'trap': () => {
      throw new UeeError('PLUGIN_TRAP', 'unreachable executed');
    },
  };
  return {
    infer: ({ plugin, input }) => {
      calls.push(plugin);
      const fn = plugins[plugin];
      if (!fn) return Promise.reject(new UeeError('NOT_FOUND', `no plugin ${plugin}`));
      return Promise.resolve().then(() => fn(input));
    },
  };
}

describe('GW-WASM: wasm model plugins and hybrid chains (through the WasmModelRunner port; stand-in runner)', () => {
  it('GW-WASM-1 a wasm model plugin serves a model and scores like the builtin one', async () => {
    const calls: string[] = [];
    const g = await createModelGateway({
      wasmRunner: standInRunner(calls),
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
      wasmRunner: standInRunner(calls),
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
      wasmRunner: standInRunner([]),
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
