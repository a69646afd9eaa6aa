/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- assertions over arbitrary JSON results */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { call, connectHttp, sc, startServer, type TestServer } from '../mcp/helpers.js';
import { NOOP_V1, NOOP_V2, principalOf, reviewTokens, tokensEnv } from './helpers.js';

function ok(result: CallToolResult): Record<string, any> {
  if (result.isError) throw new Error(`tool failed: ${JSON.stringify(result.structuredContent)}`);
  return sc(result);
}

const manifest = (capabilities: string[]) => ({ name: 'Acme.Noop', subscribeTo: ['Ping'], capabilities });
const source = (text: string) => ({ language: 'wat', files: { 'main.wat': text } });

describe('REVIEW: change proposals under a "capability increase needs approval" policy', () => {
  let s: TestServer;
  const tk = reviewTokens();
  let agent: Client;

  beforeAll(async () => {
    s = await startServer({ UEE_TOKENS: tokensEnv(tk) });
    agent = await connectHttp(s.url, tk.agent);
    await s.host.review.setPolicy(principalOf(s, tk.admin), 'acme', { mode: 'risky', capabilityIncrease: true });
  }, 60_000);

  afterAll(async () => {
    await agent?.close();
    await s?.close();
  });

  async function versions(): Promise<Array<{ version: number; status: string }>> {
    const list = ok(await call(agent, 'plugin_list', {})).plugins as any[];
    return list.filter((p) => p.name === 'Acme.Noop').map((p) => ({ version: p.version, status: p.status }));
  }

  it('REVIEW-1: a deploy without a new capability applies at once; one adding invokeModels waits as a proposal, production untouched', async () => {
    const first = ok(await call(agent, 'plugin_deploy', { manifest: manifest([]), source: source(NOOP_V1) }));
    expect(first.applied).toBe(true);
    expect(first.proposal).toBeUndefined();
    const same = ok(await call(agent, 'plugin_deploy', { manifest: manifest([]), source: source(NOOP_V2) }));
    expect(same.applied).toBe(true);
    expect(await versions()).toHaveLength(2);

    const noWhy = await call(agent, 'plugin_deploy', { manifest: manifest(['invokeModels']), source: source(NOOP_V2) });
    expect(noWhy.isError).toBe(true);
    expect(sc(noWhy).hint).toContain('rationale');

    const held = ok(await call(agent, 'plugin_deploy', { manifest: manifest(['invokeModels']), source: source(NOOP_V2), rationale: 'summaries need a model' }));
    expect(held.applied).toBe(false);
    expect(held.proposal.status).toBe('pending');
    expect(held.proposal.reason).toContain('invokeModels');
    expect(await versions()).toHaveLength(2);

    const listed = ok(await call(agent, 'proposal_list', { id: held.proposal.id })).proposals[0];
    expect(listed.capabilitiesAdded).toEqual(['invokeModels']);
    expect(listed.bundle.capabilities.after).toEqual(['invokeModels']);
    expect(listed.bundle.files[0].path).toBe('main.wat');
  }, 120_000);

  it('REVIEW-2: the proposing agent cannot approve its own proposal; nor can a non-reviewer token; a reviewer approval applies it', async () => {
    const held = ok(await call(agent, 'plugin_deploy', { manifest: manifest(['invokeModels']), source: source(NOOP_V1), rationale: 'again' })).proposal;
    await expect(s.host.review.approve(principalOf(s, tk.agent), held.id)).rejects.toMatchObject({ code: 'TENANT_FORBIDDEN' });
    // a human reviewer's own proposal needs another reviewer too
    const human = await connectHttp(s.url, tk.reviewer2);
    const mine = ok(await call(human, 'plugin_deploy', { manifest: manifest(['invokeModels', 'executeTimers']), source: source(NOOP_V1), rationale: 'mine' })).proposal;
    await human.close();
    await expect(s.host.review.approve(principalOf(s, tk.reviewer2), mine.id)).rejects.toMatchObject({ code: 'TENANT_FORBIDDEN', details: { proposedBy: principalOf(s, tk.reviewer2).id } });
    await s.host.review.revise(principalOf(s, tk.reviewer2), mine.id, { withdraw: true });
    const before = (await versions()).length;
    const done = await s.host.review.approve(principalOf(s, tk.reviewer), held.id, 'looks fine');
    expect(done.status).toBe('applied');
    const after = await versions();
    expect(after).toHaveLength(before + 1);
  }, 120_000);

  it('REVIEW-3: rejection leaves production untouched and the agent reads the comment', async () => {
    const held = ok(await call(agent, 'plugin_deploy', { manifest: manifest(['invokeModels', 'emitEvents']), source: source(NOOP_V1), rationale: 'more' })).proposal;
    const before = await versions();
    const rejected = await s.host.review.reject(principalOf(s, tk.reviewer), held.id, 'no emits please');
    expect(rejected.status).toBe('rejected');
    expect(await versions()).toEqual(before);
    const seen = ok(await call(agent, 'proposal_list', { id: held.id })).proposals[0];
    expect(seen.comments.map((c: any) => c.text)).toContain('no emits please');
    await expect(s.host.review.approve(principalOf(s, tk.reviewer2), held.id)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  }, 120_000);

  it('REVIEW-4: a proposal whose base changed is not applied blind: it turns stale, and applies after a rebase', async () => {
    const held = ok(await call(agent, 'plugin_deploy', { manifest: manifest(['invokeModels', 'readEntities']), source: source(NOOP_V2), rationale: 'x' })).proposal;
    expect(held.status).toBe('pending');
    // production moves on meanwhile (a change the policy lets through): the plan reviewed is no longer the plan
    ok(await call(agent, 'plugin_configure', { name: 'Acme.Noop', action: 'disable' }));
    const count = (await versions()).length;
    await expect(s.host.review.approve(principalOf(s, tk.reviewer), held.id)).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    expect((await s.host.review.get(principalOf(s, tk.reviewer), held.id)).status).toBe('stale');
    expect(await versions()).toHaveLength(count);
    const rebased = ok(await call(agent, 'proposal_revise', { id: held.id }));
    expect(rebased.proposal.status).toBe('pending');
    expect(rebased.proposal.revision).toBe(2);
    const done = await s.host.review.approve(principalOf(s, tk.reviewer), held.id);
    expect(done.status).toBe('applied');
    expect(await versions()).toHaveLength(count + 1);
  }, 120_000);

  it('REVIEW-5: N-of-M: two approvals from listed approvers are needed', async () => {
    await s.host.review.setPolicy(principalOf(s, tk.admin), 'acme', { mode: 'all', approvals: 2, approvers: [principalOf(s, tk.reviewer).id, principalOf(s, tk.reviewer2).id] });
    const held = ok(await call(agent, 'plugin_configure', { name: 'Acme.Noop', action: 'settings', settings: { a: 1 }, rationale: 'tune' })).proposal;
    expect(held.approvalsNeeded).toBe(2);
    await expect(s.host.review.approve(principalOf(s, tk.admin), held.id)).rejects.toMatchObject({ code: 'TENANT_FORBIDDEN' });
    expect((await s.host.review.approve(principalOf(s, tk.reviewer), held.id)).status).toBe('pending');
    await expect(s.host.review.approve(principalOf(s, tk.reviewer), held.id)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect((await s.host.review.approve(principalOf(s, tk.reviewer2), held.id)).status).toBe('applied');
    await s.host.review.setPolicy(principalOf(s, tk.admin), 'acme', { mode: 'risky' });
  }, 120_000);

  it('REVIEW-6: every review action is in the audit log with actor and time; tenants cannot forge proposals or policies', async () => {
    const log = await s.host.review.audit(principalOf(s, tk.reviewer), 'acme');
    const actions = new Set(log.map((e) => e.action));
    for (const a of ['policy-set', 'proposed', 'approved', 'applied', 'rejected', 'stale', 'rebased', 'auto-applied']) expect(actions, a).toContain(a);
    for (const e of log) {
      expect(e.actor).toMatch(/^token:/);
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    }
    const approvers = log.filter((e) => e.action === 'approved').map((e) => e.actor);
    expect(approvers).toContain(principalOf(s, tk.reviewer).id);
    expect(approvers).not.toContain(principalOf(s, tk.agent).id);
    const forged = await call(agent, 'entity_put', { entityTypeId: 'uee.proposal', attributes: { status: 'applied' } });
    expect(sc(forged).code).toBe('RESERVED_NAME');
    await expect(s.host.review.audit(principalOf(s, tk.globex), 'acme')).rejects.toMatchObject({ code: 'TENANT_FORBIDDEN' });
    await expect(s.host.review.setPolicy(principalOf(s, tk.agent), 'acme', { mode: 'auto' })).rejects.toMatchObject({ code: 'TENANT_FORBIDDEN' });
  }, 60_000);
});
