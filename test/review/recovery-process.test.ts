// REVIEW-15: a proposal a stopped process left "applying" is settled when `uee start` starts again
// (a real server process on the same data directory).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { UeeApp } from '../../src/app/index.js';
import { silentLogger } from '../../src/core/index.js';
import { McpHost } from '../../src/server/mcp/index.js';
import { PROPOSAL_TYPE, detachedToolContext } from '../../src/review/index.js';
import { tempDir } from '../helpers.js';
import { NOOP_V1, principalOf, reviewTokens, tokensEnv } from './helpers.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'uee.mjs');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UEE_')));

describe('REVIEW: crash recovery across a real restart', () => {
  const tk = reviewTokens();
  const dir = tempDir('uee-review-recovery');
  let child: ReturnType<typeof spawn> | undefined;

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    dir[Symbol.dispose]();
  });

  it('REVIEW-15: a proposal left "applying" by a stopped process is back to pending after uee start, audited as recovered by uee', async () => {
    // the first process: a proposal is approved and claimed, then the process stops before applying
    const config = loadConfig({ dataDir: dir.path, port: '0', tenants: 'acme' }, { UEE_TOKENS: tokensEnv(tk) });
    const app = await UeeApp.create(config, silentLogger);
    let id: string;
    try {
      const host = McpHost.create(app, silentLogger);
      const agent = detachedToolContext(app, principalOf({ app }, tk.agent), silentLogger, 'test');
      const deployed = await host.tools.call('plugin_deploy', { manifest: { name: 'Acme.Restart', subscribeTo: ['Ping'] }, source: { language: 'wat', files: { 'main.wat': NOOP_V1 } } }, agent);
      expect(deployed.isError).toBeFalsy();
      await host.review.setPolicy(principalOf({ app }, tk.admin), 'acme', { mode: 'all' });
      const held = await host.tools.call('plugin_configure', { name: 'Acme.Restart', action: 'settings', settings: { a: 1 }, rationale: 'tune' }, agent);
      id = (held.structuredContent as { proposal: { id: string } }).proposal.id;
      const p = await host.review.get(principalOf({ app }, tk.reviewer), id);
      const { id: _i, tenantId, version, updatedAt: _u, ...attributes } = p;
      await app.store.put({ tenantId, actor: 'test' }, { entityId: id, entityTypeId: PROPOSAL_TYPE, expectedVersion: version, attributes: { ...attributes, status: 'applying' } }, { source: { kind: 'system', id: 'test' } });
    } finally {
      await app.close();
    }

    // the restart: a real `uee start` on the same data directory
    child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dir.path, '--tenants', 'acme', '--log-level', 'error', '--review-recovery-grace-ms', '0'], {
      env: { ...cleanEnv, UEE_TOKENS: tokensEnv(tk) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ready = await new Promise<{ port: number }>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).on('line', (line) => {
        if (line.includes('"ready":true')) resolve(JSON.parse(line) as { port: number });
      });
      child!.once('exit', (code) => reject(new Error(`uee start exited early with ${code}`)));
    });
    const base = `http://127.0.0.1:${ready.port}`;
    const get = async (path: string): Promise<Record<string, unknown>> => (await (await fetch(`${base}/review/api/${path}`, { headers: { authorization: `Bearer ${tk.reviewer}` } })).json()) as Record<string, unknown>;
    await expect.poll(async () => ((await get(`proposals/${id}`)).proposal as { status: string }).status, { timeout: 30_000 }).toBe('pending');
    const p = (await get(`proposals/${id}`)).proposal as { approvals: unknown[]; comments: Array<{ by: string; action: string; text: string }> };
    expect(p.approvals).toEqual([]);
    expect(p.comments.at(-1)).toMatchObject({ by: 'uee', action: 'recovered' });
    const audit = (await get('audit')).entries as Array<{ action: string; actor: string; proposalId: string; at: string }>;
    const recovered = audit.find((e) => e.action === 'recovered' && e.proposalId === id);
    expect(recovered?.actor).toBe('uee');
    expect(Number.isNaN(Date.parse(recovered!.at))).toBe(false);
  }, 120_000);
});
