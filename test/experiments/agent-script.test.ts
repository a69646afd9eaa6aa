/* eslint-disable @typescript-eslint/no-explicit-any -- assertions over arbitrary JSON results */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectHttp, sc, startServer, type TestServer } from '../mcp/helpers.js';

/**
 * EXP-7: an agent with nothing but MCP tools (a tenant token over HTTP) deploys v2 of a plugin as a
 * 50/50 experiment, reads the report, and promotes or rolls back on what it says.
 */
describe('EXP-7 an agent runs an experiment with MCP tools only', () => {
  let s: TestServer;
  let agent: Client;
  const transcript: string[] = [];

  beforeAll(async () => {
    s = await startServer({ UEE_REQUESTS_PER_SECOND: '10000', UEE_REQUEST_BURST: '10000' }); // a scripted agent sends faster than a person's rate
    agent = await connectHttp(s.url, s.tokens.acme);
  }, 60_000);

  afterAll(async () => {
    await agent.close();
    await s.close();
  });

  async function use(name: string, args: Record<string, unknown>): Promise<Record<string, any>> {
    const result = (await agent.callTool({ name, arguments: args }, { timeout: 120_000 }).catch((err: unknown) => {
      throw new Error(`${name} threw ${String(err)}\n${transcript.join('\n')}`);
    }));
    const first = result.content[0];
    transcript.push(`${name} → ${first?.type === 'text' ? first.text.split('\n')[0] : ''}`);
    if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.structuredContent)}\n${transcript.join('\n')}`);
    return sc(result);
  }

  /** A WAT plugin (what an agent may send as text) writing a Note { v } per event. */
  const source = (v: number): string => {
    const request = JSON.stringify({ entityTypeId: 'Note', attributes: { v } });
    return readFileSync(new URL('../fixtures/wat/host-call.wat', import.meta.url), 'utf8')
      .replace('{{PRELUDE}}', readFileSync(new URL('../fixtures/wat/_prelude.wat', import.meta.url), 'utf8'))
      .replaceAll('{{FN}}', 'write_entity')
      .replaceAll('{{REQUEST_LEN}}', String(Buffer.byteLength(request)))
      .replaceAll('{{REQUEST}}', request.replaceAll('"', '\\"'));
  };

  async function notes(count: number): Promise<Array<Record<string, any>>> {
    for (let i = 0; i < 300; i++) {
      const items: Array<Record<string, any>> = (await use('entity_query', { entityTypeId: 'Note', limit: 1000 })).items;
      if (items.length >= count) return items;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`fewer than ${count} notes\n${transcript.join('\n')}`);
  }

  it('EXP-7 deploy v2 as a 50/50 experiment → report → promote (or roll back) → v2 handles everything', async () => {
    const manifest = { name: 'Acme.Noter', subscribeTo: ['Noted'], capabilities: ['writeEntities'] };
    for (const v of [1, 2]) {
      const compiled = await use('plugin_compile', { source: { language: 'wat', files: { 'main.wat': source(v) } }, capabilities: ['writeEntities'] });
      expect(await use('plugin_deploy', { manifest, artifact: compiled.artifact })).toMatchObject({ applied: true, version: v });
    }
    const args = { plugins: ['Acme.Noter'], id: 'noter-v2', variants: [{ name: 'control', weight: 50, version: 1 }, { name: 'candidate', weight: 50, version: 2 }], guardrails: { maxErrorRate: 0.1, minSamples: 10 } };
    const plan = await use('experiment_start', { ...args, dryRun: true });
    expect(plan).toMatchObject({ dryRun: true, applied: false, experiment: { status: 'running', kind: 'split' } });
    expect((await use('experiment_report', {})).experiments).toEqual([]);
    expect(await use('experiment_start', args)).toMatchObject({ applied: true, experiment: { id: 'noter-v2' } });

    const N = 60;
    for (let i = 0; i < N; i++) await use('event_emit', { type: 'Noted', payload: { n: i } });
    const handled = await notes(N);
    expect(handled).toHaveLength(N);
    const byVersion = { 1: handled.filter((n) => n.attributes.v === 1).length, 2: handled.filter((n) => n.attributes.v === 2).length };
    expect(byVersion[1]).toBeGreaterThan(10);
    expect(byVersion[2]).toBeGreaterThan(10);

    const report = await use('experiment_report', { id: 'noter-v2' });
    const [control, candidate] = report.variants;
    expect(control).toMatchObject({ variant: 'control', exposures: byVersion[1], successRate: { mean: 1 } });
    expect(candidate).toMatchObject({ variant: 'candidate', exposures: byVersion[2], successRate: { mean: 1 }, vsControl: { successRate: { significant: false } } });
    expect(candidate.latencyMs).toMatchObject({ n: byVersion[2] });
    expect(typeof report.recommendation).toBe('string');

    // The agent's decision: roll back if the candidate is significantly worse, else promote.
    const worse = candidate.vsControl.successRate.significant && candidate.vsControl.successRate.diff < 0;
    const action = worse ? 'stop' : 'promote';
    expect(action).toBe('promote');
    const dry = await use('experiment_end', { id: 'noter-v2', action, dryRun: true });
    expect(dry).toMatchObject({ applied: false, pins: { 'Acme.Noter': 2 }, experiment: { status: 'running' } });
    const ended = await use('experiment_end', { id: 'noter-v2', action });
    expect(ended).toMatchObject({ applied: true, experiment: { status: 'promoted', winner: 'candidate' }, pins: { 'Acme.Noter': 2 } });

    for (let i = N; i < N + 10; i++) await use('event_emit', { type: 'Noted', payload: { n: i } });
    const after = await notes(N + 10);
    expect(after.filter((n) => n.attributes.v === 1)).toHaveLength(byVersion[1]);
    expect(after.filter((n) => n.attributes.v === 2)).toHaveLength(byVersion[2] + 10);
    // The final figures stay readable once it ended.
    const final = await use('experiment_report', { id: 'noter-v2' });
    expect(final.variants[1]).toMatchObject({ variant: 'candidate', exposures: byVersion[2] });
    expect(final.recommendation).toMatch(/^ended \(promoted, candidate effective\)/);
  }, 180_000);
});
