/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- assertions over arbitrary JSON results */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { call, connectHttp, sc, startServer, type TestServer } from '../mcp/helpers.js';
import { buildWat } from '../runtime/wat.js';

/**
 * Hostile filters through every path, with tenant tokens only: entity_query, read_model_query, the
 * host's query_read_model from a real wasm plugin, and a manifest filter.where at deploy and at
 * routing. Each is refused with a typed error or evaluated in bounded time; nothing is committed;
 * the other tenant keeps being answered. Stalls are compared with a baseline measured here.
 */

let s: TestServer;
let acme: Client;
let globex: Client;

/** 27 a's then b: a backtracking engine needs ~1 s for `^(a+)+$` on it, a linear one microseconds. */
const EVIL_TEXT = `${'a'.repeat(27)}b`;
const EVIL_REGEX = '^(a+)+$';

/**
 * Runs `fn` while probing the event loop with a 5 ms timer and the libuv delay histogram; returns
 * its result, wall time and the longest stall either saw. The probe gets one more tick after `fn`
 * so a stall at the very end is seen too.
 */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; stallMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  let last = performance.now();
  let maxGap = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last - 5);
    last = now;
  }, 5);
  const t = performance.now();
  try {
    const value = await fn();
    const ms = performance.now() - t;
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { value, ms, stallMs: Math.max(maxGap, h.max / 1e6) };
  } finally {
    clearInterval(probe);
    h.disable();
  }
}

async function ok(result: Promise<any>): Promise<Record<string, any>> {
  const r = await result;
  if (r.isError) throw new Error(`tool failed: ${JSON.stringify(r.structuredContent ?? r.content)}`);
  return sc(r);
}

/** Median latency of the other tenant's query, the baseline every attack is compared with. */
async function globexLatency(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await ok(call(globex, 'entity_query', { entityTypeId: 'Note', limit: 10 }));
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[2]!;
}

let baselineMs = 0;
let baselineStallMs = 0;

beforeAll(async () => {
  s = await startServer();
  acme = await connectHttp(s.url, s.tokens.acme);
  globex = await connectHttp(s.url, s.tokens.globex);
  for (let i = 0; i < 6; i++) {
    await ok(call(acme, 'entity_put', { entityTypeId: 'Doc', attributes: { s: EVIL_TEXT, tags: Array.from({ length: 100 }, (_, j) => `t${j}`) } }));
    await s.app.store.readModels.upsert({ tenantId: 'acme', actor: 'test' }, 'board', `d${i}`, { s: EVIL_TEXT, n: i });
  }
  await ok(call(globex, 'entity_put', { entityTypeId: 'Note', attributes: { text: 'hello' } }));
  await globexLatency();
  const base = await measured(() => globexLatency());
  baselineMs = base.value;
  baselineStallMs = base.stallMs;
}, 60_000);
afterAll(async () => {
  await acme?.close();
  await globex?.close();
  await s?.close();
});

/** The other tenant is answered in time while `attack` runs. */
async function otherTenantKeepsUp(attack: () => Promise<unknown>): Promise<{ stallMs: number }> {
  const m = await measured(async () => {
    const running = attack();
    const latency = await globexLatency();
    await running;
    return latency;
  });
  expect(m.value, `other tenant's median latency (baseline ${baselineMs.toFixed(1)} ms)`).toBeLessThan(Math.max(250, baselineMs * 10));
  expect(m.stallMs, `longest main-thread stall (baseline ${baselineStallMs.toFixed(1)} ms)`).toBeLessThan(Math.max(250, baselineStallMs * 5));
  return { stallMs: m.stallMs };
}

async function entityCount(): Promise<number> {
  return (await ok(call(acme, 'entity_query', { entityTypeId: 'Doc', limit: 100 }))).items.length;
}

describe('hostile filters: every path is bounded and typed', () => {
  it('CF-1 entity_query with a catastrophic regex over MCP runs in linear time; the other tenant is answered meanwhile', async () => {
    await otherTenantKeepsUp(async () => {
      for (let i = 0; i < 3; i++) {
        const r = await ok(call(acme, 'entity_query', { entityTypeId: 'Doc', filter: { 'attributes.s': { $regex: EVIL_REGEX } } }));
        expect(r.items).toEqual([]);
      }
    });
    const hit = await ok(call(acme, 'entity_query', { entityTypeId: 'Doc', filter: { 'attributes.s': { $regex: '^a+b$' } } }));
    expect(hit.items).toHaveLength(6);
  });

  it('CF-2 entity_query: aggregation, code, non-RE2 and oversized filters are INVALID_FILTER naming what to change; nothing changes', async () => {
    const before = await entityCount();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ $expr: { $gt: [{ $size: { $range: [0, 100_000_000] } }, 0] } }, '$expr'],
      [{ 'attributes.s': { $range: [0, 10] } }, '$range'],
      [{ $where: 'while(true){}' }, '$where'],
      [{ 'attributes.s': { $regex: '(a+)\\1' } }, '$regex'],
      [{ 'attributes.s': { $regex: '(?=a)a' } }, '$regex'],
      [{ 'attributes.s': { $in: Array.from({ length: 5000 }, (_, i) => i) } }, '$in'],
    ];
    for (const [filter, operator] of cases) {
      const r = await call(acme, 'entity_query', { entityTypeId: 'Doc', filter });
      expect(r.isError, JSON.stringify(filter).slice(0, 60)).toBe(true);
      expect(sc(r).code).toBe('INVALID_FILTER');
      expect(JSON.stringify(sc(r))).toContain(operator);
      expect(sc(r).hint).toBeTruthy();
    }
    expect(await entityCount()).toBe(before);
  });

  it('CF-3 entity_query: a filter that is small but costly per document is QUERY_TOO_COSTLY, with the limit named', async () => {
    await otherTenantKeepsUp(async () => {
      const r = await call(acme, 'entity_query', { entityTypeId: 'Doc', filter: { 'attributes.tags': { $in: Array.from({ length: 900 }, (_, i) => `x${i}`) } } });
      expect(sc(r).code).toBe('QUERY_TOO_COSTLY');
      expect(sc(r).details?.limit ?? JSON.stringify(sc(r))).toContain('maxSteps');
    });
  });

  it('CF-4 read_model_query: the catastrophic regex runs in linear time, RE2-incompatible patterns are refused', async () => {
    await otherTenantKeepsUp(async () => {
      const r = await ok(call(acme, 'read_model_query', { view: 'board', filter: { s: { $regex: EVIL_REGEX } } }));
      expect(r.items).toEqual([]);
    });
    const bad = await call(acme, 'read_model_query', { view: 'board', filter: { s: { $regex: '(?<=a)b' } } });
    expect(sc(bad).code).toBe('INVALID_FILTER');
    const expr = await call(acme, 'read_model_query', { view: 'board', filter: { $expr: { $range: [0, 1e9] } } });
    expect(sc(expr).code).toBe('INVALID_FILTER');
  });

  it('CF-5 host query_read_model from a real wasm plugin: typed error answer for a bad filter, linear time for the catastrophic one', async () => {
    const run = async (filter: Record<string, unknown>): Promise<any> => {
      const wasm = await buildWat('host-call', { FN: 'query_read_model', REQUEST: JSON.stringify({ view: 'board', filter }) });
      const compiled = await ok(call(acme, 'plugin_compile', { wasmBase64: Buffer.from(wasm).toString('base64') }));
      const readModels = Array.from({ length: 6 }, (_, i) => ({ view: 'board', id: `d${i}`, doc: { s: EVIL_TEXT } }));
      const tested = await ok(call(acme, 'plugin_test', { artifact: compiled.artifact, events: [{ type: 'Ping', payload: {} }], readModels }));
      return tested.runs[0];
    };
    const bad = await run({ s: { $regex: '(a)\\1' } });
    expect(JSON.stringify(bad.output)).toContain('INVALID_FILTER');
    const expr = await run({ $expr: { $gt: [1, 0] } });
    expect(JSON.stringify(expr.output)).toContain('INVALID_FILTER');
    await otherTenantKeepsUp(async () => {
      const evil = await run({ s: { $regex: EVIL_REGEX } });
      expect(JSON.stringify(evil.output)).toContain('"items":[]');
    });
  }, 60_000);

  it('CF-6 manifest filter.where is checked at deploy: refused with INVALID_FILTER at filter.where, nothing stored', async () => {
    const wasm = await buildWat('echo');
    const compiled = await ok(call(acme, 'plugin_compile', { wasmBase64: Buffer.from(wasm).toString('base64') }));
    for (const where of [{ $expr: { $range: [0, 1e9] } }, { 'payload.s': { $regex: '(a)\\1' } }, { 'payload.s': { $in: Array.from({ length: 2000 }, (_, i) => i) } }]) {
      const r = await call(acme, 'plugin_deploy', { manifest: { name: 'Acme.BadFilter', subscribeTo: ['Ping'], filter: { where } }, artifact: compiled.artifact });
      expect(r.isError).toBe(true);
      expect(sc(r).code).toBe('INVALID_FILTER');
      expect(String(sc(r).details?.path ?? '')).toMatch(/^filter\.where/);
    }
    const list = await ok(call(acme, 'plugin_list', {}));
    expect(JSON.stringify(list)).not.toContain('Acme.BadFilter');
  });

  it('CF-7 routing: a catastrophic filter.where is evaluated in linear time per event; the other tenant’s plugin keeps its pace', async () => {
    const compiled = await ok(call(acme, 'plugin_compile', { wasmBase64: Buffer.from(await buildWat('echo')).toString('base64') }));
    await ok(call(acme, 'plugin_deploy', { manifest: { name: 'Acme.Evil', subscribeTo: ['Ping'], filter: { where: { 'payload.s': { $regex: EVIL_REGEX } } } }, artifact: compiled.artifact }));
    const healthyArtifact = await ok(call(globex, 'plugin_compile', { wasmBase64: Buffer.from(await buildWat('echo')).toString('base64') }));
    await ok(call(globex, 'plugin_deploy', { manifest: { name: 'Globex.Healthy', subscribeTo: ['Ping'] }, artifact: healthyArtifact.artifact }));
    const invocations = async (client: Client, name: string): Promise<number> => {
      const r = await call(client, 'plugin_metrics', { name });
      const m = sc(r);
      return ((m.plugins ?? []) as any[]).reduce((n: number, v: any) => n + (v.invocations ?? 0), 0);
    };
    const healthyOnce = async (expected: number): Promise<number> => {
      const t = performance.now();
      await ok(call(globex, 'event_emit', { type: 'Ping', payload: { s: 'hi' } }));
      await expect.poll(() => invocations(globex, 'Globex.Healthy'), { timeout: 30_000, interval: 20 }).toBe(expected);
      return performance.now() - t;
    };
    const base = await healthyOnce(1);
    const m = await measured(async () => {
      for (let i = 0; i < 5; i++) await ok(call(acme, 'event_emit', { type: 'Ping', payload: { s: EVIL_TEXT } }));
      return healthyOnce(2);
    });
    expect(m.value, `healthy event latency (baseline ${base.toFixed(0)} ms)`).toBeLessThan(Math.max(2000, base * 5));
    expect(m.stallMs, `longest main-thread stall (baseline ${baselineStallMs.toFixed(1)} ms)`).toBeLessThan(Math.max(250, baselineStallMs * 5));
    // The filter was evaluated (and did not match): the evil plugin never ran.
    expect(await invocations(acme, 'Acme.Evil')).toBe(0);
  }, 90_000);
});

describe('operator settings of the filter budget', () => {
  it('CF-8 UEE_QUERY_MAX_DOCS bounds the documents a filtered query examines; a bad value is CONFIG_INVALID naming it', async () => {
    const small = await startServer({ UEE_QUERY_MAX_DOCS: '3' });
    try {
      const client = await connectHttp(small.url, small.tokens.acme);
      try {
        for (let i = 0; i < 5; i++) await ok(call(client, 'entity_put', { entityTypeId: 'Doc', attributes: { n: i } }));
        const r = await call(client, 'entity_query', { entityTypeId: 'Doc', filter: { 'attributes.n': 99 } });
        expect(sc(r).code).toBe('QUERY_TOO_COSTLY');
        expect(JSON.stringify(sc(r))).toContain('maxDocumentsExamined');
        // Unfiltered pages are not scans: they still answer.
        expect((await ok(call(client, 'entity_query', { entityTypeId: 'Doc', limit: 5 }))).items).toHaveLength(5);
      } finally {
        await client.close();
      }
    } finally {
      await small.close();
    }
    await expect(startServer({ UEE_QUERY_SCAN_MS: '0' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  }, 60_000);
});
