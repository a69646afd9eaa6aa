/**
 * `npm start` for a local user: a generated admin token printed with the URL and client config, the
 * compiler warmed at start, signals that reach the server through npm, and a TIMEOUT hint naming
 * something that exists.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { compileJs } from '../../src/compiler/index.js';
import { tempDir } from '../helpers.js';
import { connectHttp } from '../mcp/helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'uee.mjs');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UEE_') && !k.startsWith('npm_')));

interface Started {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  exit: Promise<number | null>;
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...cleanEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise<Started>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"ready":true')) resolve({ child, port: (JSON.parse(line) as { port: number }).port, stderr: () => err, exit });
    });
    void exit.then((code) => reject(new Error(`exited early with ${code}: ${err.slice(-2000)}`)));
  });
}

async function stop(s: Started): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exit;
}

const alive = (port: number) =>
  fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
    () => true,
    () => false,
  );

describe('uee start for a local user', () => {
  const disposers: Array<() => void> = [];
  afterEach(() => {
    for (const d of disposers.splice(0)) d();
  });

  it('NEWCOMER-1: without UEE_TOKENS, start generates a local admin token (0600), prints it with the MCP URL and client config, and reuses it on restart', async () => {
    const dir = tempDir('uee-newcomer');
    disposers.push(() => dir[Symbol.dispose]());
    const first = await start(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dir.path, '--log-level', 'warn'], {});
    disposers.push(() => first.child.kill('SIGKILL'));
    const file = join(dir.path, 'local-admin-token');
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await expect.poll(() => first.stderr()).toContain(`http://127.0.0.1:${first.port}/mcp`);
    expect(first.stderr()).toContain(token);
    expect(first.stderr()).toContain('claude mcp add --transport http uee');

    const client = await connectHttp(`http://127.0.0.1:${first.port}`, token);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('plugin_compile');
    await client.close();
    const anonymous = await fetch(`http://127.0.0.1:${first.port}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    expect(await stop(first)).toBe(0);

    const second = await start(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dir.path, '--log-level', 'warn'], {});
    disposers.push(() => second.child.kill('SIGKILL'));
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
    const again = await connectHttp(`http://127.0.0.1:${second.port}`, token);
    await again.close();
    expect(await stop(second)).toBe(0);
  }, 90_000);

  it('NEWCOMER-2: with UEE_TOKENS set, no token is generated and only the configured ones work', async () => {
    const dir = tempDir('uee-newcomer');
    disposers.push(() => dir[Symbol.dispose]());
    const configured = 'configured-token-0123456789abcdef';
    const s = await start(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dir.path, '--log-level', 'warn'], { UEE_TOKENS: `${configured}=admin` });
    disposers.push(() => s.child.kill('SIGKILL'));
    expect(existsSync(join(dir.path, 'local-admin-token'))).toBe(false);
    const client = await connectHttp(`http://127.0.0.1:${s.port}`, configured);
    await client.close();
    expect(await stop(s)).toBe(0);
  }, 60_000);

  it('NEWCOMER-3: SIGTERM to `npm start` reaches the server, which drains and stops', async () => {
    const dir = tempDir('uee-newcomer');
    disposers.push(() => dir[Symbol.dispose]());
    const s = await start('npm', ['start', '--silent'], { UEE_PORT: '0', UEE_DATA_DIR: dir.path, UEE_LOG_LEVEL: 'info' });
    disposers.push(() => s.child.kill('SIGKILL'));
    expect(await alive(s.port)).toBe(true);
    s.child.kill('SIGTERM'); // to npm, as a supervisor or terminal would
    await s.exit;
    await expect.poll(() => alive(s.port), { timeout: 15_000, interval: 250 }).toBe(false);
    expect(s.stderr()).toContain('stopped cleanly');
  }, 60_000);

  it('NEWCOMER-4: the compiler is warm after start (status says ready) and a compile TIMEOUT hint names what to change', async () => {
    const dir = tempDir('uee-newcomer');
    disposers.push(() => dir[Symbol.dispose]());
    const s = await start(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dir.path, '--log-level', 'warn'], {});
    disposers.push(() => s.child.kill('SIGKILL'));
    const token = readFileSync(join(dir.path, 'local-admin-token'), 'utf8').trim();
    const status = async (): Promise<unknown> =>
      ((await (await fetch(`http://127.0.0.1:${s.port}/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { compiler?: unknown }).compiler;
    await expect.poll(status, { timeout: 60_000, interval: 500 }).toBe('ready');
    expect(await stop(s)).toBe(0);

    const timedOut = await compileJs({ files: { 'main.js': 'export function handle() { return 1; }' }, entry: 'main.js', timeoutMs: 1 }).catch((e: unknown) => e);
    expect(timedOut).toMatchObject({ code: 'TIMEOUT' });
    expect((timedOut as { hint?: string }).hint).toMatch(/handler/);
  }, 90_000);
});
