import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'uee.mjs');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UEE_')));

function runSync(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...cleanEnv, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('uee CLI', () => {
  const disposers: Array<() => void> = [];
  afterEach(() => {
    for (const d of disposers.splice(0)) d();
  });

  it('CLI-1: start serves a bare /healthz to anyone and /status to admin tokens only, and SIGTERM drains and exits 0', async () => {
    const dir = tempDir('uee-cli');
    disposers.push(() => dir[Symbol.dispose]());
    const admin = 'admin-token-0123456789abcdef';
    const acme = 'acme-token-0123456789abcdef';
    const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dir.path, '--log-level', 'warn'], {
      env: { ...cleanEnv, UEE_TOKENS: `${admin}=admin,${acme}=tenant:default` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    disposers.push(() => child.kill('SIGKILL'));
    const ready = await new Promise<{ port: number }>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('"ready":true')) resolve(JSON.parse(line) as { port: number });
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
    });
    const base = `http://127.0.0.1:${ready.port}`;
    const health = (await (await fetch(`${base}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toEqual({ ok: true });
    // Details need an admin token, and the Host guard applies.
    expect((await fetch(`${base}/status`)).status).toBe(401);
    expect((await fetch(`${base}/status`, { headers: { authorization: `Bearer ${acme}` } })).status).toBe(403);
    const rebound = await new Promise<number>((resolve, reject) => {
      void import('node:http').then(({ request }) => {
        const r = request({ host: '127.0.0.1', port: ready.port, path: '/status', headers: { host: 'evil.example', authorization: `Bearer ${admin}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        r.on('error', reject);
        r.end();
      });
    });
    expect(rebound).toBe(403);
    const status = (await (await fetch(`${base}/status`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { store: { kind: string }; bus: { kind: string }; tenants: number };
    expect(status.store.kind).toBe('sqlite');
    expect(status.bus.kind).toBe('embedded');
    expect(status.tenants).toBe(1);

    const statusCmd = runSync(['status', '--url', base, '--token', admin]);
    expect(statusCmd.status).toBe(0);
    expect(JSON.parse(statusCmd.stdout)).toMatchObject({ state: 'running' });
    const anonymous = runSync(['status', '--url', base]);
    expect(anonymous.status).toBe(1);
    expect(anonymous.stderr).toContain('--token');

    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  }, 60_000);

  it('CLI-2: a bad store URL is a CONFIG_INVALID error naming the setting, not a stack trace', () => {
    const r = runSync(['start', '--store', 'cassandra://nope', '--port', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('CONFIG_INVALID');
    expect(r.stderr).toContain('--store (UEE_STORE)');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('CLI-3: a bad port from the environment names the variable', () => {
    const r = runSync(['start'], { UEE_PORT: 'eighty' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('UEE_PORT');
  });

  it('CLI-4: an unreachable Redis bus fails fast with BACKEND_UNAVAILABLE naming the URL', () => {
    const dir = tempDir('uee-cli');
    disposers.push(() => dir[Symbol.dispose]());
    const r = runSync(['start', '--bus', 'redis://127.0.0.1:1', '--port', '0', '--data-dir', dir.path]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('BACKEND_UNAVAILABLE');
    expect(r.stderr).toContain('127.0.0.1:1');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('CLI-5: status against a server that is not running says so and how to fix it', () => {
    const r = runSync(['status', '--url', 'http://127.0.0.1:1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('BACKEND_UNAVAILABLE');
    expect(r.stderr).toContain('hint:');
  });

  it('CLI-6: unknown flags and commands are usage errors', () => {
    expect(runSync(['start', '--bogus']).status).toBe(2);
    expect(runSync(['frobnicate']).status).toBe(2);
    expect(runSync(['help']).stdout).toContain('Usage: uee');
  });
});

describe('uee start: OpenAI-compatible endpoint', () => {
  it('CLI-7: /v1 answers with the configured bearer tokens and refuses others', async () => {
    const dir = tempDir('uee-cli');
    const token = 'tok-acme-0123456789abcdef';
    const child = spawn(process.execPath, [BIN, 'start', '--port', '0', '--data-dir', dir.path, '--log-level', 'warn', '--tenants', 'acme'], {
      env: { ...cleanEnv, UEE_TOKENS: `${token}=tenant:acme` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const ready = await new Promise<{ port: number }>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line.includes('"ready":true')) resolve(JSON.parse(line) as { port: number });
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      const base = `http://127.0.0.1:${ready.port}/v1`;
      const ok = await fetch(`${base}/models`, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.status).toBe(200);
      const models = (await ok.json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toContain('task.prioritizer.v2');
      const embed = await fetch(`${base}/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'embed.small', input: 'hello', encoding_format: 'float' }),
      });
      expect(embed.status).toBe(200);
      expect(((await embed.json()) as { data: Array<{ embedding: number[] }> }).data[0]!.embedding.length).toBeGreaterThan(0);
      const denied = await fetch(`${base}/models`, { headers: { authorization: 'Bearer wrong-token-0123456789' } });
      expect(denied.status).toBe(401);
    } finally {
      const exit = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exit;
      dir[Symbol.dispose]();
    }
  }, 60_000);
});
