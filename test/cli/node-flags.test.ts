import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { tempDir } from '../helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'uee.mjs');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UEE_') && k !== 'NODE_OPTIONS'));

describe('the V8 flags a server runs with (SERVER_NODE_FLAGS)', () => {
  const disposers: Array<() => void> = [];
  afterEach(() => {
    for (const d of disposers.splice(0)) d();
  });

  it('NODE-FLAGS-1: npm start, npm run uee and the bench runner pass exactly SERVER_NODE_FLAGS, and the uee command (its shebang) too', () => {
    expect(SERVER_NODE_FLAGS).toContain('--max-semi-space-size=64');
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start']).toBe(`exec node ${SERVER_NODE_FLAGS.join(' ')} bin/uee.mjs start`);
    expect(scripts['uee']).toBe(`exec node ${SERVER_NODE_FLAGS.join(' ')} bin/uee.mjs`);
    expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(' ')}`);
    expect(readFileSync(join(ROOT, 'bench', 'run.ts'), 'utf8')).toContain("['--expose-gc', ...SERVER_NODE_FLAGS, '--import', 'tsx', file]");
  });

  it('NODE-FLAGS-2: bin/uee.mjs run as a program starts a server whose /status shows the flags in effect', async () => {
    const dir = tempDir('uee-flags');
    disposers.push(() => dir[Symbol.dispose]());
    const admin = 'admin-token-0123456789abcdef';
    // Executed directly: the kernel runs the shebang's `env -S node <flags>`.
    const child = spawn(BIN, ['start', '--port', '0', '--data-dir', dir.path, '--log-level', 'warn'], {
      env: { ...cleanEnv, UEE_TOKENS: `${admin}=admin` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    disposers.push(() => child.kill('SIGKILL'));
    const ready = await new Promise<{ port: number }>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('"ready":true')) resolve(JSON.parse(line) as { port: number });
      });
      child.once('exit', (code) => reject(new Error(`uee start exited ${String(code)}`)));
    });
    const status = (await (await fetch(`http://127.0.0.1:${ready.port}/status`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { node: { version: string; flags: string[] } };
    expect(status.node.version).toBe(process.version);
    expect(status.node.flags).toEqual([...SERVER_NODE_FLAGS]);
  }, 60_000);
});
