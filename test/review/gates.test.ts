/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- assertions over arbitrary JSON results */
// REVIEW-7..11: every mutating action can be a proposal (pin, rollback, experiment start/promote,
// redrive); applying re-checks the proposer's current authority and the current policy; a crash
// while applying is settled on start; every action is audited with actor and time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { type CallToolResult } from '@modelcontextprotocol/client';
import { PROPOSAL_TYPE } from '../../src/review/index.js';
import { call, connectHttp, sc, startServer, type TestServer } from '../mcp/helpers.js';
import { NOOP_V1, NOOP_V2, principalOf, reviewTokens, tokensEnv } from './helpers.js';

function ok(result: CallToolResult): Record<string, any> {
  if (result.isError) throw new Error(`tool failed: ${JSON.stringify(result.structuredContent)}`);
  return sc(result);
}
async function slow(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, { timeout: 120_000 }));
}
async function until<T>(fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const wat = (text: string) => ({ language: 'wat', files: { 'main.wat': text } });
const BROKEN = `import { on, PluginError } from 'uee:plugin';
on('JobQueued', () => { throw new PluginError('BROKEN', 'this version is broken'); });
`;
const FIXED = `import { on } from 'uee:plugin';
on('JobQueued', () => ({ ok: true }));
`;

describe('REVIEW: every mutating action under review, applied with current authority, recovered after a crash', () => {
  let s: TestServer;
  const tk = reviewTokens();
  let agent: Client;
  const admin = () => principalOf(s, tk.admin);
  const reviewer = () => principalOf(s, tk.reviewer);
  const policy = (p: Record<string, unknown>) => s.host.review.setPolicy(admin(), 'acme', p);

  beforeAll(async () => {
    s = await startServer({ UEE_TOKENS: tokensEnv(tk) });
    agent = await connectHttp(s.url, tk.agent);
  }, 60_000);
  afterAll(async () => {
    await agent?.close();
    await s?.close();
  });

  const pinOf = async (name: string): Promise<number | null> => (ok(await call(agent, 'plugin_list', {})).plugins as any[]).find((p) => p.name === name)?.pinnedVersion ?? null;

  it('REVIEW-7: pin and rollback (plugin_configure) wait as proposals under "all", and apply when approved', async () => {
    await policy({ mode: 'auto' });
    ok(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Pin', subscribeTo: ['Ping'], capabilities: [] }, source: wat(NOOP_V1) }));
    ok(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Pin', subscribeTo: ['Ping'], capabilities: ['invokeModels'] }, source: wat(NOOP_V2) }));
    await policy({ mode: 'all' });
    const pin = ok(await call(agent, 'plugin_configure', { name: 'Acme.Pin', action: 'pin', version: 1, rationale: 'v2 misbehaves' }));
    expect(pin.applied).toBe(false);
    expect(await pinOf('Acme.Pin')).toBeNull();
    expect((await s.host.review.approve(reviewer(), pin.proposal.id, 'ok')).status).toBe('applied');
    expect(await pinOf('Acme.Pin')).toBe(1);
    const back = ok(await call(agent, 'plugin_configure', { name: 'Acme.Pin', action: 'unpin', rationale: 'fixed' }));
    expect((await s.host.review.approve(reviewer(), back.proposal.id)).status).toBe('applied');
    // a rollback from v2 (newest) to v1: under "risky" it does not add anything, so it applies at once
    await policy({ mode: 'risky' });
    const rollback = ok(await call(agent, 'plugin_configure', { name: 'Acme.Pin', action: 'rollback', rationale: 'back' }));
    expect(rollback.applied).toBe(true);
    // …and re-enabling the version with invokeModels (it becomes effective) is a capability increase: it waits
    const forward = ok(await call(agent, 'plugin_configure', { name: 'Acme.Pin', action: 'enable', version: 2, rationale: 'forward' }));
    expect(forward.applied).toBe(false);
    expect(forward.proposal.reason).toContain('invokeModels');
  }, 120_000);

  it('REVIEW-8: experiment start and promote are proposals when a candidate adds a capability; approval starts and promotes', async () => {
    await policy({ mode: 'auto' });
    ok(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Exp', subscribeTo: ['Ping'], capabilities: [] }, source: wat(NOOP_V1) }));
    ok(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Exp', subscribeTo: ['Ping'], capabilities: ['invokeModels'] }, source: wat(NOOP_V2) }));
    ok(await call(agent, 'plugin_configure', { name: 'Acme.Exp', action: 'pin', version: 1 }));
    for (let i = 0; i < 2; i++) ok(await call(agent, 'event_emit', { type: 'Ping', payload: { i } }));
    await policy({ mode: 'risky' });
    const variants = [{ name: 'control', version: 1 }, { name: 'candidate', version: 2 }];
    const start = ok(await call(agent, 'experiment_start', { plugins: ['Acme.Exp'], variants, rationale: 'try the model' }));
    expect(start.applied).toBe(false);
    expect(start.proposal.reason).toContain('invokeModels');
    expect(ok(await call(agent, 'experiment_report', {})).experiments).toEqual([]);
    const shown = await s.host.review.get(reviewer(), start.proposal.id);
    expect(shown.bundle.files.map((f) => f.path)).toEqual(['main.wat']);
    expect(shown.bundle.notes.join('\n')).toContain('50% of the chains');
    // control and candidate ran on the recorded Pings: same (empty) effects
    expect(shown.bundle.simulation).toMatchObject({ before: { version: 1 }, after: { version: 2 }, changed: 0 });
    expect(shown.bundle.simulation!.rows.length).toBeGreaterThanOrEqual(2);
    // the generated experiment id is fixed at proposal time: approval starts exactly that experiment
    const started = await s.host.review.approve(reviewer(), start.proposal.id);
    expect(started.status).toBe('applied');
    const running = ok(await call(agent, 'experiment_report', {})).experiments;
    expect(running.map((e: any) => [e.id, e.status])).toEqual([[shown.arguments.id, 'running']]);

    const promote = ok(await call(agent, 'experiment_end', { id: shown.arguments.id, action: 'promote', rationale: 'candidate wins' }));
    expect(promote.applied).toBe(false);
    expect(promote.proposal.reason).toContain('invokeModels');
    expect((await s.host.review.approve(reviewer(), promote.proposal.id)).status).toBe('applied');
    expect(await pinOf('Acme.Exp')).toBe(2);
    // a split between versions adding nothing starts at once
    const same = ok(await call(agent, 'experiment_start', { plugins: ['Acme.Exp'], variants: [{ name: 'a', version: 2 }, { name: 'b', version: 2 }] }));
    expect(same.applied).toBe(true);
    expect(ok(await call(agent, 'experiment_end', { id: same.experiment.id, action: 'stop' })).applied).toBe(true);
  }, 120_000);

  it('REVIEW-9: a redrive waits under "all"; under "risky" a redrive on the version in force applies at once', async () => {
    await policy({ mode: 'auto' });
    const broken = ok(await slow(agent, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': BROKEN } } }));
    const fixed = ok(await slow(agent, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': FIXED } } }));
    const manifest = { name: 'Acme.Jobs', subscribeTo: ['JobQueued'], capabilities: [] };
    ok(await call(agent, 'plugin_deploy', { manifest, artifact: broken.artifact }));
    for (let i = 0; i < 2; i++) ok(await call(agent, 'event_emit', { type: 'JobQueued', payload: { n: i } }));
    const letters = await until(async () => {
      const list = ok(await call(agent, 'dead_letter_list', { name: 'Acme.Jobs' })).deadLetters;
      return list.length === 2 ? list : undefined;
    });
    ok(await call(agent, 'plugin_deploy', { manifest, artifact: fixed.artifact }));
    await policy({ mode: 'all' });
    const held = ok(await call(agent, 'dead_letter_redrive', { deadLetterIds: [letters[0].id], dryRun: false, rationale: 'v2 fixes it' }));
    expect(held.applied).toBe(false);
    expect(held.proposal.status).toBe('pending');
    // the bundle ran the letter's own event on the version it is redriven to: it succeeds now
    const sim = (await s.host.review.get(reviewer(), held.proposal.id)).bundle.simulation!;
    expect(sim.source).toContain('dead-lettered');
    expect(sim.rows.map((r) => [r.type, r.before, r.after.ok])).toEqual([['JobQueued', null, true]]);
    expect(ok(await call(agent, 'dead_letter_list', { name: 'Acme.Jobs' })).deadLetters).toHaveLength(2);
    expect((await s.host.review.approve(reviewer(), held.proposal.id)).status).toBe('applied');
    expect(ok(await call(agent, 'dead_letter_list', { name: 'Acme.Jobs' })).deadLetters).toHaveLength(1);
    await policy({ mode: 'risky' });
    const now = ok(await call(agent, 'dead_letter_redrive', { name: 'Acme.Jobs', dryRun: false }));
    expect(now.applied).toBe(true);
    expect(now.succeeded).toBe(1);
  }, 180_000);

  it('REVIEW-10: applying uses the proposer\'s CURRENT authority and the CURRENT policy', async () => {
    await policy({ mode: 'all' });
    const tokens = s.app.config.mcp.tokens;
    const agentId = principalOf(s, tk.agent).id;
    const held = ok(await call(agent, 'plugin_configure', { name: 'Acme.Pin', action: 'settings', settings: { v: 1 }, rationale: 'tune' })).proposal;
    // the agent's token is revoked meanwhile: the approved proposal is void, nothing applied
    const i = tokens.findIndex((t) => t.principal.id === agentId);
    const [entry] = tokens.splice(i, 1);
    try {
      const done = await s.host.review.approve(reviewer(), held.id, 'fine');
      expect(done.status).toBe('failed');
      expect(done.outcome?.summary).toMatch(/revoked/);
    } finally {
      tokens.splice(i, 0, entry!);
    }
    // read-only now: void too
    const held2 = ok(await call(agent, 'plugin_configure', { name: 'Acme.Pin', action: 'settings', settings: { v: 2 }, rationale: 'tune' })).proposal;
    tokens[i] = { ...entry!, principal: { ...entry!.principal, readOnly: true } as any };
    try {
      const done = await s.host.review.approve(reviewer(), held2.id);
      expect(done.status).toBe('failed');
      expect(done.outcome?.summary).toMatch(/read-only/);
    } finally {
      tokens[i] = entry!;
    }
    const settings = async () => (await s.app.store.config.getPlugin({ tenantId: 'acme', actor: 't' }, 'Acme.Pin').catch(() => null)) as any;
    expect(JSON.stringify(await settings())).not.toContain('"v"');
    // the policy raised N after the proposal: one approval no longer applies it
    const held3 = ok(await call(agent, 'plugin_configure', { name: 'Acme.Pin', action: 'settings', settings: { v: 3 }, rationale: 'tune' })).proposal;
    await policy({ mode: 'all', approvals: 2 });
    const once = await s.host.review.approve(reviewer(), held3.id);
    expect(once.status).toBe('pending');
    expect(once.approvalsNeeded).toBe(2);
    expect((await s.host.review.approve(principalOf(s, tk.reviewer2), held3.id)).status).toBe('applied');
    await policy({ mode: 'risky' });
  }, 120_000);

  it('REVIEW-11: a proposal left "applying" by a crash is settled on start: pending (nothing applied), applied (in force), or failed (changed)', async () => {
    await policy({ mode: 'all' });
    const deploy = (text: string, why: string) => call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Crash', subscribeTo: ['Ping'], capabilities: [] }, source: wat(text), rationale: why });
    const claim = async (id: string): Promise<void> => {
      // what #apply writes first: pending → applying; then the process "dies"
      const p = await s.host.review.get(reviewer(), id);
      const { id: _i, tenantId, version, updatedAt: _u, ...attributes } = p;
      await s.app.store.put({ tenantId, actor: 'test' }, { entityId: id, entityTypeId: PROPOSAL_TYPE, expectedVersion: version, attributes: { ...attributes, status: 'applying' } }, { source: { kind: 'system', id: 'test' } });
    };
    await policy({ mode: 'auto' });
    ok(await deploy(NOOP_V1, 'base'));
    await policy({ mode: 'all' });
    // (a) crashed right after the claim: the state is still the reviewed base
    const a = ok(await deploy(NOOP_V2, 'a')).proposal;
    await claim(a.id);
    // a claim younger than the grace period may be another process's live apply: left alone
    expect(await s.host.review.recover()).toEqual([]);
    const settledA = await s.host.review.recover({ olderThanMs: 0 });
    expect(settledA.map((p) => [p.id, p.status])).toEqual([[a.id, 'pending']]);
    expect(settledA[0]!.approvals).toEqual([]);
    // it can be approved again and applies normally
    expect((await s.host.review.approve(reviewer(), a.id)).status).toBe('applied');

    // (b) crashed after the change was made, before "applied" was written
    const b = ok(await deploy(NOOP_V1, 'b')).proposal;
    await claim(b.id);
    const stored = await s.host.review.get(reviewer(), b.id);
    await s.host.tools.definition('plugin_deploy')!.run({ ...(await import('../../src/review/index.js')).detachedToolContext(s.app, principalOf(s, tk.agent), s.app.logger, 'plugin_deploy') }, { ...stored.arguments, dryRun: false });
    const [settledB] = await s.host.review.recover({ olderThanMs: 0 });
    expect(settledB).toMatchObject({ id: b.id, status: 'applied', outcome: { ok: true, by: 'uee' } });

    // (c) crashed, and something else changed the plugin meanwhile: cannot tell → failed with a reason
    const c = ok(await deploy(NOOP_V2, 'c')).proposal;
    await claim(c.id);
    await policy({ mode: 'auto' });
    ok(await call(agent, 'plugin_configure', { name: 'Acme.Crash', action: 'disable' }));
    const [settledC] = await s.host.review.recover({ olderThanMs: 0 });
    expect(settledC).toMatchObject({ id: c.id, status: 'failed', outcome: { ok: false } });
    expect(settledC!.outcome!.summary).toContain('interrupted');
    await policy({ mode: 'risky' });
  }, 120_000);

  it('REVIEW-12: every review action of these flows is audited with actor and time', async () => {
    const log = await s.host.review.audit(reviewer(), 'acme', 1000);
    const actions = new Set(log.map((e) => e.action));
    for (const a of ['policy-set', 'proposed', 'approved', 'applied', 'apply-failed', 'auto-applied', 'recovered']) expect(actions, a).toContain(a);
    for (const e of log) {
      expect(e.actor.length).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    }
    const tools = new Set(log.filter((e) => e.action === 'proposed').map((e) => e.tool));
    for (const t of ['plugin_configure', 'experiment_start', 'experiment_end', 'dead_letter_redrive', 'plugin_deploy']) expect(tools, t).toContain(t);
    expect(log.filter((e) => e.action === 'recovered').every((e) => e.actor === 'uee')).toBe(true);
  }, 60_000);
});
