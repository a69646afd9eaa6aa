/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- assertions over arbitrary JSON results */
// REVIEW-CLI-1: `uee proposals list|show|approve|reject` against a real `uee start` process, run as a
// real CLI process, output readable in a terminal (Markdown-like, no JSON, no escape codes).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { tempDir } from '../helpers.js';
import { call, connectHttp, sc } from '../mcp/helpers.js';
import { NOOP_V1, NOOP_V2, reviewTokens, tokensEnv } from './helpers.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'uee.mjs');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UEE_')));

/** Runs the CLI as its own process (asynchronously: the server under test answers meanwhile). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...cleanEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

const wat = (text: string) => ({ language: 'wat', files: { 'main.wat': text } });

describe('REVIEW-CLI: uee proposals against a real server', () => {
  const tk = reviewTokens();
  const dir = tempDir('uee-review-cli');
  let server: ReturnType<typeof spawn>;
  let base = '';
  let agent: Client;

  beforeAll(async () => {
    server = spawn(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dir.path, '--tenants', 'acme,globex', '--log-level', 'warn'], {
      env: { ...cleanEnv, UEE_TOKENS: tokensEnv(tk) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ready = await new Promise<{ port: number }>((resolve, reject) => {
      createInterface({ input: server.stdout! }).on('line', (line) => {
        if (line.includes('"ready":true')) resolve(JSON.parse(line) as { port: number });
      });
      server.once('exit', (code) => reject(new Error(`uee start exited early with ${code}`)));
    });
    base = `http://127.0.0.1:${ready.port}`;
    agent = await connectHttp(base, tk.agent);
    const put = await fetch(`${base}/review/api/policy?tenantId=acme`, { method: 'PUT', headers: { authorization: `Bearer ${tk.admin}` }, body: JSON.stringify({ mode: 'risky' }) });
    expect(put.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await agent?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    dir[Symbol.dispose]();
  });

  it('REVIEW-CLI-1: list, show (Markdown-like), approve (never by the proposer), reject (needs a comment); all audited', async () => {
    expect(sc(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Cli', subscribeTo: ['Ping'] }, source: wat(NOOP_V1) })).applied).toBe(true);
    const held = sc(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Cli', subscribeTo: ['Ping'], capabilities: ['invokeModels'] }, source: wat(NOOP_V2), rationale: 'summaries' })).proposal;
    const other = sc(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Cli', subscribeTo: ['Ping'], capabilities: ['emitEvents'] }, source: wat(NOOP_V1), rationale: 'emits' })).proposal;
    const as = (token: string) => ['--url', base, '--token', token];

    const list = await cli(['proposals', 'list', ...as(tk.reviewer)]);
    expect(list.status, list.stderr).toBe(0);
    const rows = list.stdout.trim().split('\n');
    expect(rows[0]).toBe('| id | status | change | held because | by | approvals |');
    expect(rows.some((r) => r.startsWith(`| ${held.id} | pending | plugin_deploy plugin:Acme.Cli | adds capabilities invokeModels |`))).toBe(true);
    expect(rows).toHaveLength(4);

    const show = await cli(['proposals', 'show', held.id, ...as(tk.reviewer)]);
    expect(show.status, show.stderr).toBe(0);
    const text = show.stdout;
    expect(text.startsWith(`# ${held.id} — plugin_deploy plugin:Acme.Cli\n`)).toBe(true);
    for (const heading of ['## Plan', '## Capabilities', '## Manifest', '## main.wat', '## Comments']) expect(text).toContain(`\n${heading}\n`);
    expect(text).toContain('- **+ invokeModels** (added)');
    expect(text).toContain('- rationale: summaries');
    expect(text).toContain('```diff\n');
    expect(text).toContain('+   ;; v2: same behaviour, new comment');
    // readable in a terminal: no escape codes, no raw JSON objects, lines of sane width outside the diff
    expect(text.includes(String.fromCharCode(27))).toBe(false);
    expect(text).not.toMatch(/^\{/m);

    const self = await cli(['proposals', 'approve', held.id, ...as(tk.agent)]);
    expect(self.status).not.toBe(0);
    expect(self.stderr).toContain('TENANT_FORBIDDEN');
    expect(self.stderr).not.toMatch(/\n\s+at /);

    const approve = await cli(['proposals', 'approve', held.id, '--comment', 'ok', ...as(tk.reviewer)]);
    expect(approve.status, approve.stderr).toBe(0);
    expect(approve.stdout).toMatch(new RegExp(`^${held.id}: applied — deploy Acme.Cli v2 .*\\(approvals 1/1\\)\\n$`));
    const versions = sc(await call(agent, 'plugin_list', {})).plugins.filter((p: any) => p.name === 'Acme.Cli').map((p: any) => p.version);
    expect(versions.sort()).toEqual([1, 2]);

    const noComment = await cli(['proposals', 'reject', other.id, ...as(tk.reviewer)]);
    expect(noComment.status).not.toBe(0);
    expect(noComment.stderr).toContain('--comment');
    const reject = await cli(['proposals', 'reject', other.id, '--comment', 'no emits here', ...as(tk.reviewer2)]);
    expect(reject.status, reject.stderr).toBe(0);
    expect(reject.stdout).toContain(`${other.id}: rejected`);
    expect((await cli(['proposals', 'list', ...as(tk.reviewer)])).stdout).toBe('no proposals\n');
    const all = await cli(['proposals', 'list', '--status', 'all', ...as(tk.reviewer)]);
    expect(all.stdout).toContain(`| ${other.id} | rejected |`);

    const audit = (await (await fetch(`${base}/review/api/audit`, { headers: { authorization: `Bearer ${tk.reviewer}` } })).json()) as { entries: any[] };
    const of = (id: string) => audit.entries.filter((e) => e.proposalId === id).map((e) => e.action);
    expect(of(held.id).sort()).toEqual(['applied', 'approved', 'proposed']);
    expect(of(other.id).sort()).toEqual(['proposed', 'rejected']);
    for (const e of audit.entries) {
      expect(e.actor).toMatch(/^token:/);
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    }
  }, 120_000);
});
