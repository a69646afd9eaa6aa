/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- assertions over arbitrary JSON results */
// REVIEW-13..14: the review bundle runs the running and the proposed version on recorded real events
// (effects before/after), estimates model cost, and carries chain/cycle warnings.
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { type CallToolResult } from '@modelcontextprotocol/client';
import { call, sc, type TestServer } from '../mcp/helpers.js';
import { newId } from '../../src/core/index.js';
import { principalOf, reviewSite, type reviewTokens } from './helpers.js';
import { LOOP, NOTES_V1, NOTES_V2 } from './plugins.js';

function ok(result: CallToolResult): Record<string, any> {
  if (result.isError) throw new Error(`tool failed: ${JSON.stringify(result.structuredContent)}`);
  return sc(result);
}
async function slow(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, { timeout: 120_000 }));
}

async function deployV1(agent: Client): Promise<void> {
  ok(await slow(agent, 'plugin_deploy', { manifest: { name: 'Acme.Notes', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities'] }, source: { language: 'ts', files: { 'main.ts': NOTES_V1 } } }));
}

/** Emits a TaskCreated per title and waits until v1 wrote their notes. */
async function emitHandled(agent: Client, titles: string[]): Promise<void> {
  for (const title of titles) ok(await call(agent, 'event_emit', { type: 'TaskCreated', payload: { title } }));
  const deadline = Date.now() + 30_000;
  while ((ok(await call(agent, 'entity_query', { entityTypeId: 'Note', limit: 100 })).items as any[]).length < titles.length) {
    if (Date.now() > deadline) throw new Error('v1 did not handle the events');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Holds v2 for review under the `risky` policy and reads its proposal as the reviewer sees it. */
async function proposeV2(s: TestServer, tk: ReturnType<typeof reviewTokens>, agent: Client): Promise<any> {
  await s.host.review.setPolicy(principalOf(s, tk.admin), 'acme', { mode: 'risky' });
  const held = ok(
    await slow(agent, 'plugin_deploy', {
      manifest: { name: 'Acme.Notes', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities', 'invokeModels'], maximumResourceBudget: { modelCalls: 2 } },
      source: { language: 'ts', files: { 'main.ts': NOTES_V2 } },
      rationale: 'score tasks',
    }),
  );
  expect(held.applied).toBe(false);
  return s.host.review.get(principalOf(s, tk.reviewer), held.proposal.id);
}

describe('REVIEW: the bundle simulates on recorded events, estimates model cost, warns about chains', () => {
  const site = reviewSite();

  it('REVIEW-13: a held deploy carries both versions\' effects on the last recorded events, and the model cost of the new one', async () => {
    const { s, tk, agent } = site;
    await deployV1(agent);
    await emitHandled(agent, ['a', 'b', 'c']);
    const p = await proposeV2(s, tk, agent);
    const sim = p.bundle.simulation!;
    expect(sim.rows).toHaveLength(3);
    expect(sim.before).toEqual({ version: 1, ok: 3, failed: 0 });
    expect(sim.after).toMatchObject({ version: 2, ok: 3, failed: 0 });
    // v2 writes a different note on every event: every row differs, and says how
    expect(sim.changed).toBe(3);
    for (const r of sim.rows) {
      expect(r.type).toBe('TaskCreated');
      expect(r.before).toMatchObject({ ok: true, writes: 1, modelCalls: 0 });
      expect(r.after).toMatchObject({ ok: true, writes: 1, modelCalls: 1 });
      expect(r.same).toBe(false);
    }
    // nothing of the simulation reached the real store
    expect((ok(await call(agent, 'entity_query', { entityTypeId: 'Note', limit: 10 })).items as any[]).map((n) => n.attributes.text).sort()).toEqual(['v1 a', 'v1 b', 'v1 c']);
    const cost = p.bundle.cost!;
    expect(cost.modelCallsPerEvent).toEqual({ before: 0, after: 1 });
    expect(cost.eventsPerDay).toBeGreaterThan(0);
    expect(cost.callsPerDay).toBeCloseTo(cost.eventsPerDay, 1);
    expect(cost.maxCallsPerDay).toBeCloseTo(2 * cost.eventsPerDay, 1);
    expect(p.bundle.graph).toBeDefined();
  }, 180_000);

  it('REVIEW-14: chain and cycle warnings, and an honest note when there is nothing recorded to simulate on', async () => {
    const { s, tk, agent } = site;
    await s.host.review.setPolicy(principalOf(s, tk.admin), 'acme', { mode: 'all' });
    const held = ok(
      await slow(agent, 'plugin_deploy', {
        manifest: { name: 'Acme.Loop', subscribeTo: ['Looped'], emits: ['Looped'], capabilities: ['emitEvents'] },
        source: { language: 'ts', files: { 'main.ts': LOOP } },
        rationale: 'loop',
      }),
    );
    const p = await s.host.review.get(principalOf(s, tk.reviewer), held.proposal.id);
    expect(p.bundle.graph!.warnings.join('\n')).toContain('cycle');
    expect(p.bundle.simulation).toBeUndefined();
    expect(p.bundle.notes.join('\n')).toContain('no retained event of Looped');
    await s.host.review.setPolicy(principalOf(s, tk.admin), 'acme', { mode: 'risky' });
  }, 120_000);
});

describe('REVIEW: a tenant\'s review simulates on its own events, whatever other tenants publish', () => {
  const site = reviewSite();

  it('REVIEW-13b: 20,001 events of globex in the last hour, before acme\'s, leave acme\'s review its own newest ones, found back past 12,000 of its other events', async () => {
    const { s, tk, agent } = site;
    await deployV1(agent);
    const titles = Array.from({ length: 12 }, (_, i) => `t${i}`);
    await emitHandled(agent, titles);
    // acme's own later events of another type: its newest TaskCreated are more than a journal read's span back
    for (let i = 0; i < 12; i++) {
      await s.app.store.commit({ tenantId: 'acme', actor: 'test' }, { events: Array.from({ length: 1000 }, () => ({ type: 'Other', payload: {} })) });
    }
    // the neighbour's events, of the very type acme's plugin subscribes to (no plugin of globex's takes them)
    const flood = Array.from({ length: 20_001 }, () => {
      const eventId = newId();
      return { eventId, type: 'TaskCreated', tenantId: 'globex', payload: { title: 'x' }, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api' as const, id: 'test' } };
    });
    for (let i = 0; i < flood.length; i += 1000) await s.app.bus.publish(flood.slice(i, i + 1000));
    const p = await proposeV2(s, tk, agent);
    const sim = p.bundle.simulation as { rows: Array<{ type: string; eventId: string }>; before: unknown; source: string };
    expect((p.bundle.notes as string[]).filter((n) => n.startsWith('simulation'))).toEqual([]);
    // the newest ten, oldest first, each acme's
    expect(sim.rows).toHaveLength(10);
    expect(sim.before).toEqual({ version: 1, ok: 10, failed: 0 });
    expect(sim.rows.every((r) => r.type === 'TaskCreated')).toBe(true);
    const ids = sim.rows.map((r) => r.eventId);
    const journal = await s.app.store.journal.read({ tenantId: 'acme', actor: 'test' }, { types: ['TaskCreated'], limit: 100 });
    expect(ids).toEqual(journal.entries.slice(-10).map((e) => e.event.eventId));
    expect(sim.source).toContain('of acme');
    // acme's journal only, back over its 12,000 other events: nothing of globex's was looked at
    const scanned = Number(/\((\d+) journal positions scanned\)/.exec(sim.source)?.[1]);
    expect(scanned).toBeGreaterThanOrEqual(12_000);
    expect(scanned).toBeLessThan(12_000 + 12 + 100);
    expect(p.bundle.cost.eventsPerDay).toBeGreaterThan(0);
  }, 180_000);
});
