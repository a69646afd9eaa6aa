/* eslint-disable @typescript-eslint/no-explicit-any -- assertions over arbitrary JSON results */
import { readFileSync, readdirSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { UeeApp } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/index.js';
import { HttpServer, mountModelEndpoint, mountStatus } from '../../src/server/index.js';
import { McpHost, mountMcp, type McpHttpEndpoints } from '../../src/server/mcp/index.js';
import { tempDir } from '../helpers.js';
import { call, connectHttp, connectSse, makeTokens, sc, type Tokens } from './helpers.js';

/** A server as `uee start` wires it: MCP, /status, /healthz and /v1 behind one front door. */
interface FullServer {
  app: UeeApp;
  url: string;
  port: number;
  tokens: Tokens;
  endpoints: McpHttpEndpoints;
  close(): Promise<void>;
}

async function startFull(env: Record<string, string>): Promise<FullServer> {
  const dir = tempDir('uee-door');
  const tokens = makeTokens();
  const config = loadConfig(
    { dataDir: dir.path, port: '0', tenants: 'acme,globex' },
    { UEE_TOKENS: `${tokens.admin}=admin,${tokens.acme}=tenant:acme,${tokens.acmeRo}=tenant:acme:ro,${tokens.globex}=tenant:globex`, ...env },
  );
  const app = await UeeApp.create(config, silentLogger);
  const http = new HttpServer(silentLogger);
  const endpoints = mountMcp(http, McpHost.create(app, silentLogger), silentLogger);
  mountStatus(http, app, endpoints.door);
  mountModelEndpoint(http, app, endpoints.door, silentLogger);
  const address = await http.listen('127.0.0.1', 0);
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    tokens,
    endpoints,
    async close() {
      await endpoints.close();
      http.destroy();
      await http.close();
      await app.close();
      dir[Symbol.dispose]();
    },
  };
}

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'flood', version: '1' } } };
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const PLENTY = { UEE_REQUESTS_PER_SECOND: '100000', UEE_REQUEST_BURST: '100000' };

let s: FullServer | undefined;
const clients: Client[] = [];
const aborts: AbortController[] = [];
afterEach(async () => {
  for (const a of aborts.splice(0)) a.abort();
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await s?.close();
  s = undefined;
});

async function open(url: string, token: string, sse = false): Promise<Client> {
  const c = sse ? await connectSse(url, token) : await connectHttp(url, token);
  clients.push(c);
  return c;
}

/** A principal that keeps working: lists tools and reads over its own session. */
async function works(c: Client): Promise<void> {
  const r = await call(c, 'entity_query', { entityTypeId: 'Task', ...(await isAdmin(c)) });
  expect(r.isError, JSON.stringify(r.structuredContent)).toBeFalsy();
}
async function isAdmin(c: Client): Promise<Record<string, unknown>> {
  const { tools } = await c.listTools();
  return tools.some((t) => t.name === 'tenant_create') ? { tenantId: 'globex' } : {};
}

async function initialize(url: string, token: string): Promise<Response> {
  return fetch(new URL('/mcp', url), { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` }, body: JSON.stringify(INIT) });
}

/** A POST to /mcp whose body never completes: it holds one share of the token's requests in flight until destroyed. */
function slowUpload(port: number, token: string): ClientRequest {
  const req = request({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, 'content-length': '4096' } });
  req.on('error', () => undefined);
  req.write('{"jsonrpc":"2.0",');
  return req;
}

async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !predicate(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(predicate()).toBe(true);
}

describe('FD front-door limits per principal (real HTTP, real MCP clients)', () => {
  it('FD-1 /mcp is stateless: no session is issued; one token with its share of requests in flight gets LIMIT_EXCEEDED; other tenants and the admin keep working', async () => {
    s = await startFull({ ...PLENTY, UEE_MCP_SESSIONS_PER_PRINCIPAL: '5', UEE_MCP_SESSIONS_MAX: '50' });
    const server = s;
    const init = await initialize(server.url, server.tokens.acmeRo);
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toBeNull();
    await init.text();
    expect(server.endpoints.streamable.inFlight).toBe(0);

    // Five uploads that never finish hold the token's five shares; the sixth request is refused.
    const held = Array.from({ length: 5 }, () => slowUpload(server.port, server.tokens.acmeRo));
    await until(() => server.endpoints.streamable.inFlight === 5);
    const refused = await initialize(server.url, server.tokens.acmeRo);
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as any;
    expect(body.error.data).toMatchObject({ code: 'LIMIT_EXCEEDED', retryable: true, details: { limit: 'perPrincipal', max: 5, setting: 'UEE_MCP_SESSIONS_PER_PRINCIPAL' } });
    expect(body.error.data.hint).toContain('UEE_MCP_SESSIONS_PER_PRINCIPAL');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

    // Another tenant, a read-write token of the same tenant, and the admin work meanwhile.
    await works(await open(server.url, server.tokens.globex));
    await works(await open(server.url, server.tokens.acme));
    await works(await open(server.url, server.tokens.admin));

    // A finished exchange gives its share back.
    held.pop()!.destroy();
    await until(() => server.endpoints.streamable.inFlight === 4);
    expect((await initialize(server.url, server.tokens.acmeRo)).status).toBe(200);
    for (const h of held) h.destroy();
  }, 60_000);

  it('FD-2 the server-wide cap of requests in flight never locks out the admin', async () => {
    s = await startFull({ ...PLENTY, UEE_MCP_SESSIONS_PER_PRINCIPAL: '4', UEE_MCP_SESSIONS_MAX: '6' });
    const server = s;
    const held = [
      ...Array.from({ length: 4 }, () => slowUpload(server.port, server.tokens.acmeRo)),
      ...Array.from({ length: 2 }, () => slowUpload(server.port, server.tokens.acme)),
    ];
    await until(() => server.endpoints.streamable.inFlight === 6);
    const full = await initialize(server.url, server.tokens.globex);
    expect(full.status).toBe(429);
    expect(((await full.json()) as any).error.data.details).toMatchObject({ limit: 'total', setting: 'UEE_MCP_SESSIONS_MAX' });
    await works(await open(server.url, server.tokens.admin));
    for (const h of held) h.destroy();
  }, 60_000);

  it('FD-3 one token holding SSE streams gets LIMIT_EXCEEDED after its share; idle streams expire; others keep their SSE access', async () => {
    s = await startFull({ ...PLENTY, UEE_SSE_STREAMS_PER_PRINCIPAL: '3', UEE_SSE_STREAMS_MAX: '100', UEE_SSE_IDLE_MS: '1500' });
    const server = s;
    const hold = async (): Promise<Response> => {
      const a = new AbortController();
      aborts.push(a);
      return fetch(new URL('/sse', server.url), { headers: { authorization: `Bearer ${server.tokens.acmeRo}`, accept: 'text/event-stream' }, signal: a.signal });
    };
    const started = Date.now();
    const held = await Promise.all(Array.from({ length: 40 }, hold));
    expect(held.filter((r) => r.status === 200)).toHaveLength(3);
    const refused = held.filter((r) => r.status === 429);
    expect(refused).toHaveLength(37);
    expect(((await refused[0]!.json()) as any).error.data).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { setting: 'UEE_SSE_STREAMS_PER_PRINCIPAL' } });

    await works(await open(server.url, server.tokens.globex, true));
    await works(await open(server.url, server.tokens.admin, true));

    // The held streams post nothing: the server closes them after the idle time, and the share comes back.
    const ended = held.filter((r) => r.status === 200).map(async (r) => {
      const reader = r.body!.getReader();
      for (;;) if ((await reader.read()).done) return true;
    });
    await expect(Promise.all(ended)).resolves.toEqual([true, true, true]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect((await hold()).status).toBe(200);
  }, 60_000);

  it('FD-4 one token flooding requests is RATE_LIMITED with retry-after; another tenant and the admin are not slowed', async () => {
    s = await startFull({ UEE_REQUESTS_PER_SECOND: '5', UEE_REQUEST_BURST: '20' });
    const server = s;
    const started = Date.now();
    const inits = Array.from({ length: 10 }, () => initialize(server.url, server.tokens.acmeRo));
    const flood = await Promise.all(Array.from({ length: 100 }, () => fetch(new URL('/v1/models', server.url), { headers: { authorization: `Bearer ${server.tokens.acmeRo}` } })));
    const elapsedS = (Date.now() - started) / 1000;
    const limited = flood.filter((r) => r.status === 429);
    // The bucket: 20 at once, then 5 per second of however long the flood took on this machine.
    expect(flood.filter((r) => r.status === 200).length).toBeLessThanOrEqual(20 + Math.ceil(elapsedS * 5) + 1);
    expect(limited.length).toBeGreaterThanOrEqual(100 - (20 + Math.ceil(elapsedS * 5) + 1));
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited[0]!.json()) as any).error.code).toBe('rate_limit_exceeded');
    // The same token is limited on MCP too: it is one principal with one bucket.
    const mcp = await Promise.all(inits);
    const init = mcp.find((r) => r.status === 429);
    expect(init).toBeDefined();
    expect(((await init!.json()) as any).error.data).toMatchObject({ code: 'RATE_LIMITED', details: { setting: 'UEE_REQUESTS_PER_SECOND' } });
    for (const r of [...flood, ...mcp]) if (!r.bodyUsed) await r.body?.cancel();
    const globex = await open(server.url, server.tokens.globex);
    const admin = await open(server.url, server.tokens.admin);
    for (let i = 0; i < 3; i++) {
      await works(globex);
      await works(admin);
    }
  }, 60_000);

  it('FD-5 read-only means no spending: /v1 model calls and plugin_test with models "gateway" are refused; listing is allowed', async () => {
    s = await startFull(PLENTY);
    const server = s;
    const v1 = (token: string, path: string, body?: unknown) =>
      fetch(new URL(`/v1${path}`, server.url), {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    expect((await v1(server.tokens.acmeRo, '/models')).status).toBe(200);
    for (const [path, body] of [
      ['/embeddings', { model: 'embed.small', input: 'hello' }],
      ['/chat/completions', { model: 'chat.default', messages: [{ role: 'user', content: 'hi' }] }],
      ['/chat/completions', { model: 'chat.default', stream: true, messages: [{ role: 'user', content: 'hi' }] }],
    ] as const) {
      const r = await v1(server.tokens.acmeRo, path, body);
      expect(r.status, path).toBe(403);
      expect(((await r.json()) as any).error).toMatchObject({ type: 'permission_error', code: 'read_only' });
    }
    expect((await v1(server.tokens.acme, '/embeddings', { model: 'embed.small', input: 'hello' })).status).toBe(200);
    expect(server.app.gateway.audit.summarize('tenant', { tenantId: 'acme' })[0]?.calls).toBe(1);

    const ro = await open(server.url, server.tokens.acmeRo);
    for (const tool of ['plugin_test', 'dead_letter_replay'] as const) {
      const args = tool === 'plugin_test' ? { artifact: 'a'.repeat(64), events: [{ type: 'Ping' }], models: 'gateway' } : { deadLetterId: '1-1', models: 'gateway' };
      const r = await call(ro, tool, args);
      expect(sc(r), tool).toMatchObject({ code: 'TENANT_FORBIDDEN', details: { reason: 'READ_ONLY' } });
    }
  }, 60_000);

  it('FD-6 sandboxes are capped per principal in number and memory; another tenant still tests', async () => {
    s = await startFull({ ...PLENTY, UEE_SANDBOXES_PER_PRINCIPAL: '1', UEE_SANDBOXES_MAX: '100', UEE_SANDBOX_MEMORY_MB_PER_PRINCIPAL: '512', UEE_SANDBOX_MEMORY_MB_MAX: '100000' });
    const server = s;
    const acme = await open(server.url, server.tokens.acme);
    const globex = await open(server.url, server.tokens.globex);
    const wat = '(module (memory (export "memory") 1) (func (export "handle") (result i32) (i32.const 0)))';
    const compiled = { artifact: String(sc(await call(acme, 'plugin_compile', { source: { language: 'wat', files: { 'main.wat': wat } } })).artifact) };
    const gCompiled = { artifact: String(sc(await call(globex, 'plugin_compile', { source: { language: 'wat', files: { 'main.wat': wat } } })).artifact) };
    const ro = await open(server.url, server.tokens.acmeRo);
    const test = (c: Client, artifact: string, manifest: Record<string, unknown> = {}) => call(c, 'plugin_test', { artifact, manifest, events: [{ type: 'Ping' }, { type: 'Ping' }] });

    const batch = await Promise.all(Array.from({ length: 12 }, () => test(ro, compiled.artifact)));
    const other = test(globex, gCompiled.artifact);
    const refused = batch.filter((r) => r.isError);
    expect(refused.length).toBeGreaterThan(0);
    expect(batch.length - refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(sc(r)).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { setting: 'UEE_SANDBOXES_PER_PRINCIPAL' } });
    expect(sc(await other)).toMatchObject({ passed: 2 });

    // A sandbox asking for 1 GiB of wasm memory is over the per-principal memory share before any thread starts.
    const big = await test(ro, compiled.artifact, { maximumResourceBudget: { memoryPages: 16384 } });
    expect(sc(big)).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { setting: 'UEE_SANDBOX_MEMORY_MB_PER_PRINCIPAL' } });
    // Once the batch is over, the share is back.
    expect(sc(await test(ro, compiled.artifact))).toMatchObject({ passed: 2 });
  }, 120_000);

  it('FD-10 compiles are capped per principal (a burst beyond is LIMIT_EXCEEDED naming the setting, WAT not counted); another tenant still compiles; compiler processes run at a lower priority', async () => {
    s = await startFull({ ...PLENTY, UEE_COMPILES_PER_PRINCIPAL: '2', UEE_COMPILES_MAX: '100' });
    const server = s;
    const acme = await open(server.url, server.tokens.acme);
    const globex = await open(server.url, server.tokens.globex);
    // Top-level code that never ends: Wizer runs it until the compile's time limit.
    const spin = { language: 'ts', files: { 'main.ts': 'let n = 0;\nwhile (n >= 0) n = (n + 1) % 1000;\nexport function handle(): void {}\n' } };
    const burst = Array.from({ length: 4 }, () => call(acme, 'plugin_compile', { source: spin, timeoutMs: 6000 }));
    // While two spin, the compiler processes this server started run at niceness 10.
    const niceness = (): number[] => {
      const out: number[] = [];
      for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const [comm, rest] = [stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), stat.slice(stat.lastIndexOf(')') + 2).split(' ')];
          // Fields after the command: state, ppid, …; niceness is field 19 of the line (16 of the rest).
          if (comm.includes('wizer') && Number(rest[1]) === process.pid) out.push(Number(rest[16]));
        } catch {
          // gone meanwhile
        }
      }
      return out;
    };
    let seen: number[] = [];
    for (let i = 0; i < 400 && seen.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      seen = niceness();
    }
    expect(seen.length).toBeGreaterThan(0);
    for (const n of seen) expect(n).toBe(10);
    // WAT is assembled on the spot: not counted.
    const wat = '(module (memory (export "memory") 1) (func (export "handle") (result i32) (i32.const 0)))';
    expect(sc(await call(acme, 'plugin_compile', { source: { language: 'wat', files: { 'main.wat': wat } } })).artifact).toBeTruthy();
    // Another tenant's compile goes through meanwhile.
    const ok = { language: 'ts', files: { 'main.ts': 'export function handle(): void {}\n' } };
    expect(sc(await call(globex, 'plugin_compile', { source: ok })).artifact).toBeTruthy();
    const results = await Promise.all(burst);
    const refused = results.filter((r) => r.isError && sc(r).code === 'LIMIT_EXCEEDED');
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(sc(r)).toMatchObject({ details: { setting: 'UEE_COMPILES_PER_PRINCIPAL', max: 2 } });
    expect(results.filter((r) => r.isError && sc(r).code === 'TIMEOUT')).toHaveLength(2);
    // Once they are over, the share is back.
    expect(sc(await call(acme, 'plugin_compile', { source: ok })).artifact).toBeTruthy();
  }, 120_000);

  it('FD-7 nothing but a bare liveness answer without a token: /status needs an admin token and an allowed Host', async () => {
    s = await startFull(PLENTY);
    const server = s;
    const health = await fetch(new URL('/healthz', server.url));
    expect(await health.json()).toEqual({ ok: true });
    const anon = await fetch(new URL('/status', server.url));
    expect(anon.status).toBe(401);
    const text = await anon.text();
    expect(text).not.toMatch(/sqlite|uee\.db|tenants/);
    expect((await fetch(new URL('/status', server.url), { headers: { authorization: `Bearer ${server.tokens.globex}` } })).status).toBe(403);
    const rebound = await new Promise<number>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port: server.port, path: '/status', headers: { host: 'evil.example', authorization: `Bearer ${server.tokens.admin}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      r.on('error', reject);
      r.end();
    });
    expect(rebound).toBe(403);
    const ok = await fetch(new URL('/status', server.url), { headers: { authorization: `Bearer ${server.tokens.admin}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).tenants).toBe(2);
  }, 60_000);

  it('FD-8 counts that would reveal other tenants are not shown: scanned counts only the caller\'s own entries', async () => {
    s = await startFull(PLENTY);
    const server = s;
    const acme = await open(server.url, server.tokens.acme);
    const globex = await open(server.url, server.tokens.globex);
    const emitted: string = sc(await call(acme, 'event_emit', { type: 'Ping', payload: {} })).event.eventId;
    const trace = async (): Promise<any> => {
      for (let i = 0; i < 100; i++) {
        const r = await call(acme, 'event_trace', { eventId: emitted });
        if (!r.isError) return sc(r);
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error('event never reached the bus');
    };
    const before = (await trace()).scanned as number;
    for (let i = 0; i < 5; i++) await call(globex, 'event_emit', { type: 'Ping', payload: { i } });
    const busLength = async () => server.app.bus.length();
    const start = await busLength();
    for (let i = 0; i < 100 && (await busLength()) < start + 5; i++) await new Promise((res) => setTimeout(res, 50));
    expect((await trace()).scanned).toBe(before);

    // Dead letters of globex do not show in acme's count.
    const group = 'fd-8-test';
    await server.app.bus.ensureGroup(group, 'earliest');
    const deliveries = await server.app.bus.read(group, 'c1', { count: 1000 });
    for (const d of deliveries.filter((x) => x.event.tenantId === 'globex')) await server.app.bus.deadLetter(group, d, { code: 'PLUGIN_ERROR', message: 'x' });
    const acmeLetters = sc(await call(acme, 'dead_letter_list', {}));
    expect(acmeLetters).toMatchObject({ deadLetters: [], scanned: 0 });
    expect(sc(await call(globex, 'dead_letter_list', {})).scanned).toBe(5);
  }, 60_000);

  it('FD-9 operator settings: UEE_MODEL_QUOTAS reaches the gateway per tenant; bad values are CONFIG_INVALID naming the variable', async () => {
    s = await startFull({ ...PLENTY, UEE_MODEL_QUOTAS: '{"tenants":{"acme":{"calls":2}}}' });
    const server = s;
    const embed = (token: string) =>
      fetch(new URL('/v1/embeddings', server.url), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'embed.small', input: `text ${Math.random()}` }) });
    expect((await embed(server.tokens.acme)).status).toBe(200);
    expect((await embed(server.tokens.acme)).status).toBe(200);
    const third = await embed(server.tokens.acme);
    expect(third.status).toBe(429);
    expect(((await third.json()) as any).error.code).toBe('insufficient_quota');
    for (let i = 0; i < 3; i++) expect((await embed(server.tokens.globex)).status).toBe(200);
    for (const [name, value] of [['UEE_MODEL_QUOTAS', '{nope'], ['UEE_MODEL_QUOTAS', '{"tenants":{"acme":{"calls":-1}}}'], ['UEE_MCP_SESSIONS_PER_PRINCIPAL', '0'], ['UEE_REQUESTS_PER_SECOND', 'fast']] as const) {
      expect(() => loadConfig({}, { [name]: value }), name).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(name) }));
    }
  }, 60_000);
});
