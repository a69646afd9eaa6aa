import { describe, expect, it } from 'vitest';
import { isUeeError } from '../../src/core/index.js';
import { ModelRegistry, checkModelAllowed, createModelGateway, withDefaultModels } from '../../src/model-gateway/index.js';
import { LONG_WINDOW_MS, ctx } from './helpers.js';

describe('GW-REG: the model registry', () => {
  it('GW-REG-1 ships the three default models, all on the builtin provider', () => {
    const r = ModelRegistry.create({ models: withDefaultModels() });
    expect(r.list(null).map((m) => [m.name, m.kind, m.provider, m.target])).toEqual([
      ['chat.default', 'chat', 'builtin', 'echo'],
      ['embed.small', 'embedding', 'builtin', 'hashed-ngram'],
      ['task.prioritizer.v2', 'scorer', 'builtin', 'prioritizer'],
    ]);
    expect(r.resolve('chat.default', null).description).toMatch(/NOT an LLM/);
  });

  it('GW-REG-2 applies per-tenant overrides, private models and hidden models', () => {
    const r = ModelRegistry.create({
      models: withDefaultModels(),
      tenants: {
        acme: { models: { 'embed.small': { params: { dimensions: 64 }, cacheTtlMs: 0 }, 'acme.chat': { kind: 'chat', provider: 'builtin', target: 'echo', params: { template: 'ACME: {{input}}' } } }, hidden: ['chat.default'] },
      },
    });
    expect(r.resolve('embed.small', 'acme').params).toEqual({ dimensions: 64 });
    expect(r.resolve('embed.small', 'other').params).toEqual({ dimensions: 256 });
    expect(r.list('acme').map((m) => m.name)).toEqual(['acme.chat', 'embed.small', 'task.prioritizer.v2']);
    expect(() => r.resolve('chat.default', 'acme')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as Error);
    expect(() => r.resolve('acme.chat', 'other')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as Error);
  });

  it('GW-REG-3 rejects bad manifests naming the model: unknown provider, missing fallback, cycles, kind mismatch', () => {
    const bad = (models: unknown[]): unknown => {
      try {
        ModelRegistry.create({ models });
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const base = { kind: 'chat', provider: 'builtin', target: 'echo' };
    expect(bad([{ ...base, name: 'a', provider: 'nope' }])).toMatchObject({ code: 'CONFIG_INVALID', details: { model: 'a' } });
    expect(bad([{ ...base, name: 'a', fallback: ['b'] }])).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(bad([{ ...base, name: 'a', fallback: ['b'] }, { ...base, name: 'b', fallback: ['a'] }])).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('cycle') as string });
    expect(bad([{ ...base, name: 'a', fallback: ['e'] }, { name: 'e', kind: 'embedding', provider: 'builtin', target: 'hashed-ngram' }])).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(bad([{ ...base, name: 'a', timeoutMs: -1 }])).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(bad([{ ...base, name: 'a' }, { ...base, name: 'a' }])).toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('GW-REG-4 the plugin manifest allow-list: exact names and prefix wildcards; denial is CAPABILITY_DENIED/MODEL_NOT_ALLOWED', async () => {
    expect(() => checkModelAllowed('embed.small', ['embed.*'])).not.toThrow();
    expect(() => checkModelAllowed('embed.small', undefined)).not.toThrow();
    const gateway = await createModelGateway({ quotas: { tenants: { acme: { calls: 1, windowMs: LONG_WINDOW_MS } } } });
    try {
      const err = await gateway.call(ctx(), { model: 'chat.default', input: 'x', pluginName: 'P', allowedModels: ['task.prioritizer.v2'] }).catch((e: unknown) => e);
      expect(isUeeError(err, 'CAPABILITY_DENIED')).toBe(true);
      expect(err).toMatchObject({ details: { reason: 'MODEL_NOT_ALLOWED', model: 'chat.default', plugin: 'P' } });
      await expect(gateway.call(ctx(), { model: 'chat.default', input: 'x', allowedModels: [] })).rejects.toMatchObject({ code: 'CAPABILITY_DENIED' });
      // Denied calls consumed no quota: the one allowed call still goes through.
      await gateway.call(ctx(), { model: 'chat.default', input: 'x', allowedModels: ['chat.default'] });
      expect(gateway.audit.query({ tenantId: 'acme', failed: true }).map((r) => r.errorCode)).toEqual(['CAPABILITY_DENIED', 'CAPABILITY_DENIED']);
    } finally {
      await gateway.close();
    }
  });
});
