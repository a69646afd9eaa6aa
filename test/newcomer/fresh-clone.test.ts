/**
 * The newcomer path as a test: clone the repository's HEAD into a temporary folder and follow the
 * README's quick start there. `npm ci` is replaced by its cheap equivalent on this machine — the
 * installed node_modules are linked in and the install hook (`npm run postinstall`: the JS engine,
 * found in the hard-linked content-addressed cache) is run — everything else is the README's own
 * commands: `npm start` (MCP over HTTP with the printed token, a plugin compiled on the first try),
 * `uee mcp` over stdio, and `npm run demo`, which must see its plugins process events.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvalSession } from '../../evals/session.js';

const ROOT = join(import.meta.dirname, '..', '..');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UEE_') && !k.startsWith('npm_') && k !== 'VITEST' && k !== 'NODE_ENV'));

/** The commands of the README's quick start block. */
function quickStartCommands(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## Quick start'));
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.length > 0);
}

describe('NEWCOMER: a fresh clone, the README quick start', () => {
  let dir: string;
  let clone: string;
  let server: ChildProcess | undefined;
  let port = 0;
  let banner = '';
  const dataDir = () => join(clone, '.uee');

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'uee-clone-'));
    clone = join(dir, 'uee');
    execFileSync('git', ['clone', '--quiet', '--no-local', ROOT, clone]);
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
    // the engine cache is content-addressed: a hard-linked copy is what the build would produce
    if (existsSync(join(ROOT, 'engine', 'build'))) {
      try {
        execFileSync('cp', ['-al', join(ROOT, 'engine', 'build'), join(clone, 'engine', 'build')]);
      } catch {
        cpSync(join(ROOT, 'engine', 'build'), join(clone, 'engine', 'build'), { recursive: true });
      }
    }
  }, 120_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exit = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await exit;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('NEWCOMER-CLONE-1: the quick start lists only commands that exist, in the order npm ci, npm start, npm run demo, npm test', () => {
    const commands = quickStartCommands(readFileSync(join(clone, 'README.md'), 'utf8'));
    expect(commands).toEqual(['npm ci', 'npm start', 'npm run demo', 'npm test']);
    const scripts = (JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const c of commands.filter((c) => c !== 'npm ci')) expect(scripts[c.replace(/^npm (run )?/, '')], c).toBeDefined();
    expect(scripts.postinstall).toContain('engine/build.ts');
  });

  it('NEWCOMER-CLONE-1b: every dependency install script is reviewed in allowScripts (npm 12 skips unreviewed ones: no native SQLite, no esbuild binary)', () => {
    const allow = (JSON.parse(readFileSync(join(clone, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
    expect(allow['better-sqlite3']).toBe(true);
    expect(allow.esbuild).toBe(true);
    // Every package the lockfile marks as running install scripts must be reviewed (true or false).
    // Read from package-lock.json, not `npm approve-scripts`: npm ignores its hidden lockfile once
    // anything (vitest's .vite cache, say) is written into node_modules after it, and then lists
    // even the never-run `prepare` scripts of registry packages as unreviewed.
    const lock = JSON.parse(readFileSync(join(clone, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const scripted = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(scripted).toContain('better-sqlite3');
    expect(scripted.filter((name) => typeof allow[name] !== 'boolean')).toEqual([]);
  });

  it('NEWCOMER-CLONE-2: the install hook leaves the JS engine ready', () => {
    const out = execFileSync('npm', ['run', '--silent', 'postinstall'], { cwd: clone, env: cleanEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toBe('');
    expect(execFileSync('ls', [join(clone, 'engine', 'build')], { encoding: 'utf8' })).toMatch(/[0-9a-f]{16}/);
  }, 600_000);

  it('NEWCOMER-CLONE-3: npm start prints the URL and a token; MCP over HTTP compiles a plugin on the first try', async () => {
    server = spawn('npm', ['start', '--silent'], { cwd: clone, env: { ...cleanEnv, UEE_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stderr!.on('data', (d: Buffer) => (banner += d.toString()));
    port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: server!.stdout! }).on('line', (l) => l.includes('"ready":true') && resolve((JSON.parse(l) as { port: number }).port));
      server!.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${banner}`)));
    });
    await expect.poll(() => banner, { timeout: 10_000 }).toContain('/mcp');
    const token = /\n\s+([0-9a-f]{48})\n/.exec(banner)?.[1];
    expect(token, banner).toBeDefined();
    const session = await EvalSession.connect({ transport: 'http', url: `http://127.0.0.1:${port}`, token: token! });
    try {
      const compiled = await session.call('plugin_compile', {
        source: { language: 'ts', files: { 'main.ts': "import { on, writeEntity } from 'uee:plugin';\non('Hello', () => { writeEntity({ entityTypeId: 'Hi', attributes: {} }); });\n" } },
      });
      expect(compiled.ok, compiled.ok ? '' : `${compiled.code}: ${compiled.message}`).toBe(true);
    } finally {
      await session.close();
    }
  }, 180_000);

  it('NEWCOMER-CLONE-4: `uee mcp` answers over stdio (the client config the README shows)', async () => {
    const session = await EvalSession.connect({
      transport: 'stdio',
      command: process.execPath,
      args: [join(clone, 'bin', 'uee.mjs'), 'mcp', '--data-dir', join(dir, 'stdio-data'), '--log-level', 'error'],
    });
    try {
      const names = (await session.tools()).map((t) => t.name);
      expect(names).toContain('plugin_compile');
      expect((await session.call('tenant_list', {})).ok).toBe(true);
    } finally {
      await session.close();
    }
  }, 120_000);

  it('NEWCOMER-CLONE-5: npm run demo seeds the workspace through the running server and its plugins process the events', () => {
    const out = execFileSync('npm', ['run', '--silent', 'demo', '--', '--url', `http://127.0.0.1:${port}`, '--data-dir', dataDir()], {
      cwd: clone,
      env: cleanEnv,
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(out).toContain(`through the server at http://127.0.0.1:${port}`);
    expect(out).toMatch(/\| divflo-acme \| Ship the quarterly report \| 0\.\d+ \(high\) \|/);
    expect(out).not.toContain('not scored yet');
    expect(out).toMatch(/follow-up reminders written by the timer plugin in divflo-globex: [1-9]/);
    expect(out).toContain('What to try next');
  }, 300_000);
});
