/**
 * EXP-1..3: assignment by hash, the statistics of the report, and the shadow diff — pure functions.
 */
import { describe, expect, it } from 'vitest';
import { assignVariant, assignmentValue, diffEffects, normalCdf, proportions, report, VariantStats, wilson, type Experiment } from '../../src/experiments/index.js';

const exp = (id: string, weights: number[]): Pick<Experiment, 'id' | 'variants'> => ({ id, variants: weights.map((weight, i) => ({ name: `v${i}`, weight, versions: { P: i + 1 } })) });

describe('experiment assignment', () => {
  it.each([{ weights: [50, 50] }, { weights: [10, 30, 60] }, { weights: [1, 99] }])('EXP-1 100,000 keys land within 1% of the weights $weights', ({ weights }) => {
    const e = exp('exp-weights', weights);
    const counts = new Map<string, number>();
    for (let i = 0; i < 100_000; i++) {
      const v = assignVariant(e, `entity-${i}`).name;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const total = weights.reduce((a, b) => a + b, 0);
    weights.forEach((w, i) => {
      const share = (counts.get(`v${i}`) ?? 0) / 100_000;
      expect(Math.abs(share - w / total)).toBeLessThan(0.01);
    });
  });

  it('EXP-1b the same key always gets the same variant; experiments are independent', () => {
    const a = exp('exp-a', [50, 50]);
    const b = exp('exp-b', [50, 50]);
    let agree = 0;
    for (let i = 0; i < 10_000; i++) {
      const key = `k${i}`;
      const first = assignVariant(a, key).name;
      for (let r = 0; r < 3; r++) expect(assignVariant(a, key).name).toBe(first);
      if (assignVariant(b, key).name === first) agree++;
    }
    // Salted by id: another experiment's split is not the same split.
    expect(agree / 10_000).toBeGreaterThan(0.45);
    expect(agree / 10_000).toBeLessThan(0.55);
  });

  it('EXP-1c the key hashed: entity (else the chain), tenant or chain', () => {
    const ev = { entityId: 'e1', tenantId: 'acme', correlationId: 'c1' };
    expect(assignmentValue('entity', ev)).toBe('e1');
    expect(assignmentValue('entity', { ...ev, entityId: undefined })).toBe('c1');
    expect(assignmentValue('tenant', ev)).toBe('acme');
    expect(assignmentValue('correlation', ev)).toBe('c1');
  });
});

describe('experiment statistics', () => {
  it('EXP-2 Wilson intervals, the two-proportion test and the normal CDF match reference values', () => {
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 5);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 5);
    // 81/263 (a textbook case): Wilson 95% = [0.2553, 0.3662].
    const w = wilson(81, 263);
    expect(w.low).toBeCloseTo(0.2553, 3);
    expect(w.high).toBeCloseTo(0.3662, 3);
    // 90/100 against 80/100: z = 1.98, p ≈ 0.0477 — significant; 85 vs 80 is not.
    const p = proportions(80, 100, 90, 100);
    expect(p.pValue).toBeCloseTo(0.0477, 3);
    expect(p.significant).toBe(true);
    expect(proportions(80, 100, 85, 100).significant).toBe(false);
  });

  it('EXP-2b the report compares each candidate with control, custom metrics included', () => {
    const control = new VariantStats();
    const candidate = new VariantStats();
    for (let i = 0; i < 400; i++) {
      control.add({ ok: i % 10 !== 0, durationMs: 10 + (i % 5), metrics: { basket: 10 } });
      candidate.add({ ok: true, durationMs: 20 + (i % 5), metrics: { basket: 12 }, modelCost: 0.5, hostCalls: 2 });
    }
    const [c, v] = report([{ name: 'control', stats: control.toJSON() }, { name: 'candidate', stats: candidate.toJSON() }]);
    expect(c!.successRate.mean).toBeCloseTo(0.9, 5);
    expect(c!.vsControl).toBeUndefined();
    expect(v!.successRate.mean).toBe(1);
    expect(v!.vsControl!.successRate).toMatchObject({ significant: true });
    expect(v!.vsControl!.latencyMs.diff).toBeCloseTo(10, 5);
    expect(v!.vsControl!.latencyMs.significant).toBe(true);
    expect(v!.metrics.basket).toMatchObject({ n: 400, mean: 12 });
    expect(v!.vsControl!.metrics.basket!.diff).toBeCloseTo(2, 5);
    expect(v!.modelCost.mean).toBeCloseTo(0.5, 5);
    expect(v!.budgetPerEvent.hostCalls).toBe(2);
  });
});

describe('shadow diff', () => {
  const event = { eventId: 'ev1', type: 'TaskCreated', entityId: 'task-1' };
  const none = { writes: [], events: [], readModelOps: [], timers: [] };
  it('EXP-3 equal effects (minted ids aside) are no difference; a changed attribute is reported on both sides', () => {
    const minted = (id: string) => ({ ...none, writes: [{ entityId: id, entityTypeId: 'Mark', attributes: { n: 2 } }] });
    expect(diffEffects(event, { ok: true, effects: minted('0190f0e0-0000-7000-8000-000000000001') }, { ok: true, effects: minted('0190f0e0-0000-7000-8000-000000000002') })).toBeUndefined();
    const live = { ...none, writes: [{ entityTypeId: 'Mark', attributes: { n: 2 } }], events: [{ type: 'Done', payload: {} }] };
    const cand = { ...none, writes: [{ entityTypeId: 'Mark', attributes: { n: 4 } }], events: [{ type: 'Done', payload: {} }] };
    const d = diffEffects(event, { ok: true, effects: live }, { ok: true, effects: cand });
    expect(d).toEqual({ eventId: 'ev1', eventType: 'TaskCreated', kind: 'effects', onlyLive: ['write {"entityTypeId":"Mark","attributes":{"n":2}}'], onlyCandidate: ['write {"entityTypeId":"Mark","attributes":{"n":4}}'] });
    const failed = diffEffects(event, { ok: true, effects: live }, { ok: false, error: { code: 'PLUGIN_ERROR', message: 'x' } });
    expect(failed).toMatchObject({ kind: 'outcome', onlyCandidate: ['error PLUGIN_ERROR: x'] });
  });
});
