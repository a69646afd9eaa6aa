import { describe, expect, it } from 'vitest';
import { capMemory, parseWasm } from '../../src/runtime/index.js';
import { makeEvent, openRuntime } from './setup.js';
import { buildWat } from './wat.js';

async function counts(eventsPerInstance: number, tenants: string[], started: number[] = []): Promise<number[]> {
  const rt = await openRuntime({ workers: 1, eventsPerInstance });
  try {
    await rt.host.load({ id: 'counter', name: 'Counter', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('counter') });
    const out: number[] = [];
    for (const tenant of tenants) {
      const before = rt.host.stats().instancesStarted;
      const r = await rt.host.invoke('counter', { event: makeEvent(tenant) });
      if (!r.ok) throw new Error(r.error.message);
      out.push((r.output as { n: number }).n);
      started.push(rt.host.stats().instancesStarted - before);
    }
    return out;
  } finally {
    await rt.close();
  }
}

/**
 * Calls each plugin id in turn on one worker — a bare id for tenant acme, `[id, tenant]` for another —
 * and returns each call's count on its instance. Every plugin is a one-page counter but `big`, whose
 * instance grows to 5 pages (its count is 0).
 */
async function lruCounts(idleBytes: number, calls: Array<string | [string, string]>): Promise<number[]> {
  const pairs = calls.map((c): [string, string] => (typeof c === 'string' ? [c, 'acme'] : c));
  const rt = await openRuntime({ workers: 1, instances: { idleBytes } }, { tenants: [...new Set(pairs.map(([, tenant]) => tenant))] });
  try {
    const wasm = await buildWat('counter');
    const big = await buildWat('touch-memory', { RAW_PAGES: '4' });
    for (const id of new Set(pairs.map(([id]) => id))) await rt.host.load({ id, name: id, version: '1', kind: 'event', capabilities: [], wasm: id === 'big' ? big : wasm });
    const out: number[] = [];
    for (const [id, tenant] of pairs) {
      const r = await rt.host.invoke(id, { event: makeEvent(tenant) });
      if (!r.ok) throw new Error(r.error.message);
      out.push(id === 'big' ? 0 : (r.output as { n: number }).n);
    }
    return out;
  } finally {
    await rt.close();
  }
}

describe('instance policy', () => {
  it('RT-INST-4 idle instances across plugins stay within idleBytes, least recently used released first', async () => {
    const page = 64 * 1024;
    // Room for two idle instances of one page: c1 is the least recently used when c3 is parked.
    expect(await lruCounts(2 * page, ['c1', 'c2', 'c3', 'c3', 'c2', 'c1'])).toEqual([1, 1, 1, 2, 2, 1]);
    expect(await lruCounts(64 * page, ['c1', 'c2', 'c3', 'c3', 'c2', 'c1'])).toEqual([1, 1, 1, 2, 2, 2]);
    // An instance larger than the whole budget is released, not parked: the others stay warm.
    expect(await lruCounts(2 * page, ['c1', 'c2', 'big', 'c1', 'c2'])).toEqual([1, 1, 0, 2, 2]);
  });

  it('RT-INST-8 a tenant holding more than its share of the idle budget gives up its own instances first: another tenant\'s warm instance stays', async () => {
    const page = 64 * 1024;
    // A 4-page budget; every plugin a one-page counter.
    const run = (calls: Array<[string, string]>): Promise<number[]> => lruCounts(4 * page, calls);
    const hogs = Array.from({ length: 8 }, (_, i): [string, string] => [`h${i}`, 'hog']);
    // hog's 8 instances go through the budget: with one LRU for all, acme's was the oldest and went first.
    // hog keeps its most recent ones (h7 warm), its oldest went (h0 starts again).
    expect(await run([['c1', 'acme'], ...hogs, ['c1', 'acme'], ['h7', 'hog'], ['h0', 'hog']])).toEqual([1, ...hogs.map(() => 1), 2, 2, 1]);
    // beta parks within its share while hog holds 3 of the 4 pages: hog's oldest goes, not acme's.
    expect(await run([['c1', 'acme'], ...hogs.slice(0, 3), ['b1', 'beta'], ['c1', 'acme'], ['h0', 'hog']])).toEqual([1, 1, 1, 1, 1, 2, 1]);
    // The budget full of one instance per tenant: a fifth tenant keeps its one (the least recently used tenant's goes).
    const five = ['t1', 't2', 't3', 't4', 't5'].map((t): [string, string] => ['c1', t]);
    expect(await run([...five, ['c1', 't5'], ['c1', 't2'], ['c1', 't1']])).toEqual([1, 1, 1, 1, 1, 2, 2, 1]);
  });

  it('RT-INST-1 reuses an instance only within one tenant, never across tenants', async () => {
    expect(await counts(1000, ['acme', 'acme', 'globex', 'acme', 'globex'])).toEqual([1, 2, 1, 3, 2]);
  });

  it('RT-INST-5 the host counts the calls that started an instance (a cold start), not those that reused one', async () => {
    const started: number[] = [];
    expect(await counts(1000, ['acme', 'acme', 'globex', 'acme', 'globex'], started)).toEqual([1, 2, 1, 3, 2]);
    expect(started).toEqual([1, 0, 1, 0, 0]);
  });

  it('RT-INST-6 a plugin called for many tenants in turn keeps each tenant\'s instance warm (a global plugin\'s lanes)', async () => {
    // 12 tenants, three rounds: every call after the first round reuses its tenant's instance (with a
    // few idle instances per plugin, each round started 12 again: n stayed 1).
    const tenants = Array.from({ length: 12 }, (_, i) => `t${i}`);
    const started: number[] = [];
    const n = await counts(1000, [...tenants, ...tenants, ...tenants], started);
    expect(n).toEqual([...tenants.map(() => 1), ...tenants.map(() => 2), ...tenants.map(() => 3)]);
    expect(started.slice(12)).toEqual(Array.from({ length: 24 }, () => 0));
  });

  it('RT-INST-7 an instance idle longer than idleMs is released: the next call starts a fresh one', async () => {
    const started: number[] = [];
    const rt = await openRuntime({ workers: 1, instances: { idleMs: 50 } });
    try {
      await rt.host.load({ id: 'counter', name: 'Counter', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('counter') });
      const call = async (): Promise<number> => {
        const before = rt.host.stats().instancesStarted;
        const r = await rt.host.invoke('counter', { event: makeEvent('acme') });
        if (!r.ok) throw new Error(r.error.message);
        started.push(rt.host.stats().instancesStarted - before);
        return (r.output as { n: number }).n;
      };
      expect([await call(), await call()]).toEqual([1, 2]);
      // The worker's trim runs every 100 ms at the least; idle 50 ms is past the limit at its next run.
      await new Promise((r) => setTimeout(r, 400));
      expect(await call()).toBe(1);
      expect(started).toEqual([1, 0, 1]);
    } finally {
      await rt.close();
    }
  });

  it('RT-INST-2 eventsPerInstance: 1 gives every event a fresh instance', async () => {
    expect(await counts(1, ['acme', 'acme', 'acme'])).toEqual([1, 1, 1]);
  });

  it('RT-INST-3 the Extism call-count bug never bites: 20,000 calls on reused instances all succeed', async () => {
    const rt = await openRuntime({ workers: 2 });
    try {
      await rt.host.load({ id: 'echo', name: 'Echo', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('echo') });
      let ok = 0;
      const event = makeEvent('acme');
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (let i = 0; i < 1250; i++) if ((await rt.host.invoke('echo', { event })).ok) ok++;
        }),
      );
      expect(ok).toBe(20_000);
    } finally {
      await rt.close();
    }
  });
});

describe('wasm binary rewriter', () => {
  it('RT-WASM-1 lowers a missing or larger memory maximum to the budget and keeps the module valid', async () => {
    const wasm = await buildWat('memory-bomb');
    expect(parseWasm(wasm).memories).toEqual([{ min: 1, max: null }]);
    const capped = capMemory(wasm, 32);
    expect(parseWasm(capped).memories).toEqual([{ min: 1, max: 32 }]);
    expect(parseWasm(capMemory(capped, 8)).memories).toEqual([{ min: 1, max: 8 }]);
    expect(parseWasm(capped).exports.map((e) => e.name)).toEqual(parseWasm(wasm).exports.map((e) => e.name));
  });

  it('RT-WASM-2 rejects what is not a core module with INVALID_MODULE', () => {
    expect(() => parseWasm(new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ code: 'INVALID_MODULE' }) as Error);
    expect(() => parseWasm(new Uint8Array([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]))).toThrow(expect.objectContaining({ code: 'INVALID_MODULE' }) as Error);
  });
});
