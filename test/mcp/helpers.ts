/* eslint-disable @typescript-eslint/no-explicit-any -- assertions over arbitrary JSON results */
import { afterAll, beforeAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/client';
import { SSEClientTransport } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { type CallToolResult } from '@modelcontextprotocol/client';
import { loadConfig } from '../../src/config/index.js';
import { UeeApp } from '../../src/app/index.js';
import { silentLogger } from '../../src/core/index.js';
import { HttpServer } from '../../src/server/index.js';
import { McpHost, mountMcp, type McpHttpEndpoints } from '../../src/server/mcp/index.js';
import { tempDir } from '../helpers.js';

/** Random bearer tokens for one test server. */
export function makeTokens() {
  const t = () => randomBytes(24).toString('hex');
  return { admin: t(), acme: t(), acmeRo: t(), globex: t() };
}
export type Tokens = ReturnType<typeof makeTokens>;

/** A running UEE app with MCP mounted on an HTTP server on a random port. */
export interface TestServer {
  app: UeeApp;
  host: McpHost;
  url: string;
  port: number;
  tokens: Tokens;
  dataDir: string;
  endpoints: McpHttpEndpoints;
  close(): Promise<void>;
}

/**
 * Starts app + HTTP + MCP with tenants acme and globex and four tokens. A test file's calls are a
 * script, not a person: the per-token request rate is lifted (a file sharing one server sent more
 * than the default burst of 60 in a few seconds on a fast VM, and a `beforeAll` failed RATE_LIMITED);
 * the front door's own tests set the limits they test (test/mcp/front-door.test.ts).
 */
export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dir = tempDir('uee-mcp');
  const tokens = makeTokens();
  const config = loadConfig(
    { dataDir: dir.path, port: '0', tenants: 'acme,globex' },
    {
      UEE_TOKENS: `${tokens.admin}=admin,${tokens.acme}=tenant:acme,${tokens.acmeRo}=tenant:acme:ro,${tokens.globex}=tenant:globex`,
      UEE_REQUESTS_PER_SECOND: '10000',
      UEE_REQUEST_BURST: '10000',
      ...env,
    },
  );
  const app = await UeeApp.create(config, silentLogger);
  const http = new HttpServer(silentLogger);
  const host = McpHost.create(app, silentLogger);
  const endpoints = mountMcp(http, host, silentLogger);
  const address = await http.listen('127.0.0.1', 0);
  return {
    app,
    host,
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    tokens,
    dataDir: dir.path,
    endpoints,
    async close() {
      await endpoints.close();
      http.destroy();
      await http.close();
      await host.close();
      await app.close();
      dir[Symbol.dispose]();
    },
  };
}

/** The protocol revisions UEE serves; `legacy` is the 2025-11-25 handshake (`initialize`). */
export type Revision = '2026-07-28' | '2025-11-25';

/** A v2 SDK client speaking `revision` (2026-07-28 by default: no handshake, per-request `_meta`). */
export function newClient(revision: Revision = '2026-07-28'): Client {
  return new Client({ name: 'uee-test', version: '1.0.0' }, revision === '2026-07-28' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {});
}

/** A connected v2 SDK client over Streamable HTTP, speaking `revision` (2026-07-28 by default). */
export async function connectHttp(url: string, token?: string, revision: Revision = '2026-07-28'): Promise<Client> {
  const client = newClient(revision);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers } }));
  return client;
}

/** A connected SDK client over the legacy SSE transport (2025-11-25 handshake). */
export async function connectSse(url: string, token?: string): Promise<Client> {
  const client = newClient('2025-11-25');
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  await client.connect(new SSEClientTransport(new URL('/sse', url), { requestInit: { headers } }));
  return client;
}

/** Calls a tool through the SDK client (which also validates structuredContent against outputSchema). */
export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }));
}

/** The structured content of a result, typed loosely for assertions. */
export function sc(result: CallToolResult): Record<string, any> {
  return (result.structuredContent ?? {}) as Record<string, any>;
}

/** A JSON-RPC answer: `result` or `error`. */
export interface RpcAnswer {
  result?: Record<string, any>;
  error?: { code: number; message: string; data?: any };
}

/**
 * One raw 2026-07-28 request over `/mcp` (per-request `_meta` envelope and the standard headers), for
 * the tasks extension that the v2 client has no API for. `tasks: true` declares
 * `io.modelcontextprotocol/tasks` in the request's client capabilities.
 */
export async function rpc2026(url: string, token: string, method: string, params: Record<string, unknown>, options: { tasks?: boolean } = {}): Promise<RpcAnswer> {
  const name = method === 'tools/call' ? params.name : method.startsWith('tasks/') ? params.taskId : undefined;
  const res = await fetch(new URL('/mcp', url), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'uee-test', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': options.tasks === false ? {} : { extensions: { 'io.modelcontextprotocol/tasks': {} } },
        },
      },
    }),
  });
  const text = await res.text();
  // JSON, or an SSE stream whose last data line is the answer.
  const json = res.headers.get('content-type')?.includes('event-stream')
    ? text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).at(-1) ?? '{}'
    : text;
  return JSON.parse(json) as RpcAnswer;
}

/** Polls `tasks/get` until `done(task)` or `ms` pass; the last answer. */
export async function pollTask(url: string, token: string, taskId: string, done: (task: Record<string, any>) => boolean, ms = 60_000): Promise<Record<string, any>> {
  const end = performance.now() + ms;
  for (;;) {
    const answer = await rpc2026(url, token, 'tasks/get', { taskId });
    const task = answer.result ?? { error: answer.error };
    if (done(task) || performance.now() > end) return task;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** ~930 KB of TypeScript: its type check takes seconds, far longer than a cancel may. */
export const BIG_TS = Array.from({ length: 11_000 }, (_, i) => `export function f${i}(a: number, b: string): string { return b + String(a * ${i}); }`).join('\n');

/** Polls `check` every 10 ms for up to `ms`; its last answer. */
export async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

/** A server of its own for the enclosing describe and acme's client over HTTP (set in its beforeAll, closed in its afterAll). */
export function serverWithAcme(): { s: TestServer; acme: Client } {
  const site = {} as { s: TestServer; acme: Client };
  beforeAll(async () => {
    site.s = await startServer();
    site.acme = await connectHttp(site.s.url, site.s.tokens.acme);
  }, 60_000);
  afterAll(async () => {
    await site.acme?.close();
    await site.s?.close();
  });
  return site;
}

