import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRIORITIZER_WEIGHTS, cosine, createModelGateway, echoChat, hashedNgramEmbedding, scoreTask } from '../../src/model-gateway/index.js';
import { trainPrioritizer } from '../../src/model-gateway/builtin/train-prioritizer.js';
import { ctx } from './helpers.js';

describe('GW-BUILTIN: offline models', () => {
  it('GW-BUILTIN-1 the committed prioritizer weights are exactly what the training script produces', () => {
    const t0 = performance.now();
    const artifact = trainPrioritizer();
    const trainMs = performance.now() - t0;
    const committed = JSON.parse(readFileSync(new URL('../../src/model-gateway/builtin/prioritizer-weights.json', import.meta.url), 'utf8')) as typeof artifact;
    expect(artifact.weights).toEqual(committed.weights);
    expect(artifact.bias).toBe(committed.bias);
    expect(artifact.metrics).toEqual(committed.metrics);
    expect(trainMs).toBeLessThan(5000);
  });

  it('GW-BUILTIN-2 the prioritizer generalises on the held-out split (accuracy >= 0.85, AUC >= 0.93)', () => {
    expect(PRIORITIZER_WEIGHTS.metrics.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(PRIORITIZER_WEIGHTS.metrics.auc).toBeGreaterThanOrEqual(0.93);
  });

  it('GW-BUILTIN-3 the scoring module is dependency-free so a wasm model plugin can bundle it', () => {
    const source = readFileSync(new URL('../../src/model-gateway/builtin/prioritizer-model.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/^\s*import\s/m);
    expect(source).not.toMatch(/\brequire\(|process\.|globalThis|Date\.|Math\.random/);
  });

  it('GW-BUILTIN-4 scores behave sensibly: urgent important tasks first, done tasks last', () => {
    const urgent = scoreTask(PRIORITIZER_WEIGHTS, { dueInDays: 0, importance: 5, estimateHours: 1, status: 'in_progress' });
    const later = scoreTask(PRIORITIZER_WEIGHTS, { dueInDays: 30, importance: 2, estimateHours: 8 });
    const done = scoreTask(PRIORITIZER_WEIGHTS, { dueInDays: 0, importance: 5, status: 'done' });
    expect(urgent.label).toBe('high');
    expect(later.label).toBe('low');
    expect(urgent.score).toBeGreaterThan(done.score);
    expect(urgent.priority).toBe(Math.round(urgent.score * 100));
  });

  it('GW-BUILTIN-5 the hashed n-gram embedding is deterministic, unit-length and lexically similar for similar texts', () => {
    const a = hashedNgramEmbedding('Prepare the quarterly report');
    expect(a).toHaveLength(256);
    expect(a).toEqual(hashedNgramEmbedding('Prepare the quarterly report'));
    expect(Math.sqrt(a.reduce((s, x) => s + x * x, 0))).toBeCloseTo(1, 5);
    expect(cosine(a, hashedNgramEmbedding('prepare quarterly reports'))).toBeGreaterThan(cosine(a, hashedNgramEmbedding('buy milk and eggs')));
    expect(hashedNgramEmbedding('', 16)).toEqual(new Array(16).fill(0));
  });

  it('GW-BUILTIN-6 the echo chat model is a template, not an LLM', () => {
    expect(echoChat({ messages: [{ role: 'system', content: 'be smart' }, { role: 'user', content: 'what is 2+2?' }] }, { maxTokens: 100 })).toEqual({ content: 'echo: what is 2+2?', finishReason: 'stop' });
    expect(echoChat({ messages: [{ role: 'user', content: 'x'.repeat(100) }] }, { maxTokens: 2 }).finishReason).toBe('length');
  });

  it('GW-BUILTIN-7 TaskPrioritizer end to end on the built-in scorer: event → features → call_model → priority, no network', async () => {
    const gateway = await createModelGateway({});
    try {
      const now = Date.parse('2026-11-26T12:00:00Z');
      const tasks = [
        { entityId: 't1', attributes: { title: 'Ship release', dueAt: '2026-11-26T18:00:00Z', estimateHours: 2, energy: 'high', importance: 5, status: 'in_progress' } },
        { entityId: 't2', attributes: { title: 'Clean desk', dueAt: null, estimateHours: 0.5, energy: 'low', importance: 1, status: 'todo' } },
        { entityId: 't3', attributes: { title: 'Plan offsite', dueAt: '2027-01-20T00:00:00Z', estimateHours: 6, energy: 'medium', importance: 3, status: 'todo' } },
      ];
      const scored: Array<{ id: string; priority: number; label: string }> = [];
      for (const t of tasks) {
        const a = t.attributes;
        const features = {
          dueInDays: a.dueAt === null ? null : (Date.parse(a.dueAt) - now) / 86_400_000,
          estimateHours: a.estimateHours,
          energy: a.energy,
          importance: a.importance,
          status: a.status,
        };
        const r = await gateway.call(ctx('divflo'), {
          model: 'task.prioritizer.v2',
          input: features,
          pluginId: 'plugin-prioritizer-v1',
          pluginName: 'DivFlo.TaskPrioritizer',
          eventId: `evt-${t.entityId}`,
          allowedModels: ['task.prioritizer.v2'],
        });
        const out = r.output as { score: number; priority: number; label: string };
        expect(out.score).toBeGreaterThanOrEqual(0);
        expect(out.score).toBeLessThanOrEqual(1);
        scored.push({ id: t.entityId, priority: out.priority, label: out.label });
      }
      expect(scored.sort((x, y) => y.priority - x.priority).map((s) => s.id)[0]).toBe('t1');
      const batch = await gateway.call(ctx('divflo'), { model: 'task.prioritizer.v2', input: { tasks: [{ dueInDays: 0, importance: 5 }, { dueInDays: 40 }] } });
      expect((batch.output as { scores: unknown[] }).scores).toHaveLength(2);
      const audit = gateway.audit.query({ tenantId: 'divflo', pluginName: 'DivFlo.TaskPrioritizer' });
      expect(audit).toHaveLength(3);
      expect(audit.every((r) => r.provider === 'builtin' && r.errorCode === null && r.eventId?.startsWith('evt-'))).toBe(true);
      await expect(gateway.call(ctx('divflo'), { model: 'task.prioritizer.v2', input: { importance: 9 } })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    } finally {
      await gateway.close();
    }
  });
});
