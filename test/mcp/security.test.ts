/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- assertions over arbitrary JSON results */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { call, connectHttp, connectSse, sc, startServer, type TestServer } from './helpers.js';

let s: TestServer;
let acme: Client;

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(new URL(path, s.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The JSON-RPC message of a response, whether sent as JSON or as one SSE event. */
async function message(res: Response): Promise<any> {
  const raw = await res.text();
  const line = raw.split('\n').find((l) => l.startsWith('data: ') && l.length > 6);
  return JSON.parse(line ? line.slice(6) : raw);
}

/** Opens a raw session and returns a function posting tools/call bodies (text, so keys like __proto__ survive). */
async function rawSession(token: string): Promise<(argsJson: string) => Promise<any>> {
  const init = await post('/mcp', INIT, { authorization: `Bearer ${token}` });
  await init.text();
  // Stateless: no Mcp-Session-Id comes back, and none is needed.
  const h = { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-11-25' };
  await (await post('/mcp', { jsonrpc: '2.0', method: 'notifications/initialized' }, h)).text();
  let id = 10;
  return async (text: string) => {
    const res = await post('/mcp', `{"jsonrpc":"2.0","id":${++id},"method":"tools/call","params":${text}}`, h);
    const m = await message(res);
    return m.result ?? m;
  };
}

beforeAll(async () => {
  s = await startServer();
  acme = await connectHttp(s.url, s.tokens.acme);
});
afterAll(async () => {
  await acme?.close();
  await s?.close();
});

describe('MCP HTTP security', () => {
  it('SEC-1: missing token → 401 with a Bearer challenge on /mcp and /sse', async () => {
    const r = await post('/mcp', INIT);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="uee"/);
    const sse = await fetch(new URL('/sse', s.url));
    expect(sse.status).toBe(401);
    await expect(connectHttp(s.url)).rejects.toThrow();
  });

  it('SEC-2: invalid token → 401 invalid_token; wrong scheme → 401', async () => {
    const r = await post('/mcp', INIT, { authorization: 'Bearer not-a-real-token-at-all' });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const basic = await post('/mcp', INIT, { authorization: 'Basic Zm9vOmJhcg==' });
    expect(basic.status).toBe(401);
    await expect(connectSse(s.url, 'x'.repeat(40))).rejects.toThrow();
  });

  it('SEC-3: /mcp is stateless: no session is issued, and every request acts as its own token whatever session header it carries', async () => {
    const init = await post('/mcp', INIT, { authorization: `Bearer ${s.tokens.acme}` });
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toBeNull();
    await init.text();
    const list = async (token: string) => {
      const res = await post('/mcp', { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${token}`, 'mcp-session-id': 'made-up', 'mcp-protocol-version': '2025-11-25' });
      expect(res.status).toBe(200);
      return ((await message(res)).result.tools as { name: string }[]).map((t) => t.name);
    };
    expect(await list(s.tokens.acme)).toContain('entity_put');
    expect(await list(s.tokens.acmeRo)).not.toContain('entity_put');
    expect((await post('/mcp', { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: 'Bearer not-a-real-token-at-all', 'mcp-session-id': 'made-up' })).status).toBe(401);
  });

  it('SEC-4: bad requests get 4xx: bad JSON, wrong method, session operations on a stateless endpoint, oversized body', async () => {
    const auth = { authorization: `Bearer ${s.tokens.acme}` };
    expect((await post('/mcp', '{not json', auth)).status).toBe(400);
    expect((await fetch(new URL('/mcp', s.url), { method: 'PUT', headers: auth })).status).toBe(405);
    expect((await fetch(new URL('/mcp', s.url), { method: 'GET', headers: { ...auth, accept: 'text/event-stream' } })).status).toBe(405);
    expect((await fetch(new URL('/mcp', s.url), { method: 'DELETE', headers: auth })).status).toBe(405);
    const huge = await post('/mcp', JSON.stringify({ ...INIT, pad: 'x'.repeat(6 * 1024 * 1024) }), auth);
    expect(huge.status).toBe(413);
    expect((await fetch(new URL('/mcp/elsewhere', s.url), { method: 'POST', headers: auth })).status).toBe(404);
  });

  it('SEC-5: DNS rebinding: a foreign Host or Origin is refused with 403, loopback names are accepted', async () => {
    const { request } = await import('node:http');
    const send = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: s.port, path: '/mcp', method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${s.tokens.acme}`, ...headers } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(JSON.stringify(INIT));
      });
    expect(await send({ host: 'evil.example.com' })).toBe(403);
    expect(await send({ host: `evil.example.com:${s.port}` })).toBe(403);
    expect(await send({ host: `localhost:${s.port}`, origin: 'http://evil.example.com' })).toBe(403);
    expect(await send({ host: `localhost:${s.port}`, origin: `http://localhost:${s.port}` })).toBe(200);
    expect(await send({ host: `127.0.0.1:${s.port}` })).toBe(200);
    const sse = await fetch(new URL('/sse', s.url), { headers: { origin: 'http://evil.example.com', authorization: `Bearer ${s.tokens.acme}` } });
    expect(sse.status).toBe(403);
  });
});

describe('MCP tool argument fuzzing', () => {
  const cases: Array<[string, string, string]> = [
    ['wrong type', '{"name":"entity_put","arguments":{"entityTypeId":42,"attributes":"no"}}', 'VALIDATION_FAILED'],
    ['100k-char id', `{"name":"entity_put","arguments":{"entityId":"${'a'.repeat(100_000)}","entityTypeId":"Fuzz","attributes":{}}}`, 'VALIDATION_FAILED'],
    ['100k-char type', `{"name":"entity_put","arguments":{"entityTypeId":"${'F'.repeat(100_000)}","attributes":{}}}`, 'VALIDATION_FAILED'],
    ['2 MiB attributes', `{"name":"entity_put","arguments":{"entityTypeId":"Fuzz","attributes":{"blob":"${'x'.repeat(2 * 1024 * 1024)}"}}}`, 'PAYLOAD_TOO_LARGE'],
    ['top-level __proto__', '{"name":"entity_put","arguments":{"entityTypeId":"Fuzz","attributes":{},"__proto__":{"isAdmin":true}}}', 'VALIDATION_FAILED'],
    ['nested __proto__', '{"name":"entity_put","arguments":{"entityTypeId":"Fuzz","attributes":{"a":{"__proto__":{"x":1}}}}}', 'VALIDATION_FAILED'],
    ['constructor key', '{"name":"entity_put","arguments":{"entityTypeId":"Fuzz","attributes":{"constructor":{"prototype":{}}}}}', 'VALIDATION_FAILED'],
    ['prototype in payload', '{"name":"event_emit","arguments":{"type":"Fuzz","payload":{"prototype":1}}}', 'VALIDATION_FAILED'],
    // Over the store's 1 MiB, under the tool argument cap (1 MiB + 256 KiB): the store refuses it.
    ['1.1 MiB event payload', `{"name":"event_emit","arguments":{"type":"Fuzz","payload":{"blob":"${'x'.repeat(1.1 * 1024 * 1024)}"}}}`, 'PAYLOAD_TOO_LARGE'],
    ['1.1 MiB entity metadata', `{"name":"entity_put","arguments":{"entityTypeId":"Fuzz","attributes":{},"metadata":{"blob":"${'x'.repeat(1.1 * 1024 * 1024)}"}}}`, 'PAYLOAD_TOO_LARGE'],
    ['path-like entity id', '{"name":"entity_put","arguments":{"entityId":"a..b","entityTypeId":"Fuzz","attributes":{}}}', 'VALIDATION_FAILED'],
    ['path-like view', '{"name":"read_model_get","arguments":{"view":"a/../../etc","id":"passwd"}}', 'VALIDATION_FAILED'],
    ['path-like doc id', '{"name":"read_model_get","arguments":{"view":"Board","id":"../../etc/passwd"}}', 'VALIDATION_FAILED'],
    ['path-like plugin', '{"name":"tenant_config_set","arguments":{"plugin":"x/../../y","settings":{}}}', 'VALIDATION_FAILED'],
    ['unknown field', '{"name":"entity_put","arguments":{"entityTypeId":"Fuzz","attributes":{},"sudo":true}}', 'VALIDATION_FAILED'],
    ['non-finite filter', '{"name":"entity_query","arguments":{"entityTypeId":"Fuzz","filter":{"$where":"1"}}}', 'INVALID_FILTER'],
    ['deep nesting', `{"name":"entity_put","arguments":{"entityTypeId":"Fuzz","attributes":${'{"a":'.repeat(80)}1${'}'.repeat(80)}}}`, 'VALIDATION_FAILED'],
    ['negative limit', '{"name":"entity_query","arguments":{"entityTypeId":"Fuzz","limit":-1}}', 'VALIDATION_FAILED'],
  ];

  it('FUZZ-1: hostile arguments → typed errors, nothing written, server still serving', async () => {
    const send = await rawSession(s.tokens.acme);
    const outboxBefore = await s.app.store.outbox.size();
    const busBefore = await s.app.bus.length();
    for (const [label, body, code] of cases) {
      const result = await send(body);
      expect(result?.isError, label).toBe(true);
      expect(result.structuredContent.code, label).toBe(code);
      expect(typeof result.structuredContent.hint, label).toBe('string');
      expect(JSON.stringify(result), label).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
    }
    const fuzzed = await s.app.store.query({ tenantId: 'acme', actor: 't' }, { entityTypeId: 'Fuzz', includeDeleted: true });
    expect(fuzzed.items).toEqual([]);
    // Not an object at all: a VALIDATION_FAILED tool result (issue 16), not a JSON-RPC protocol error.
    const notObject = await send('{"name":"entity_get","arguments":[1,2]}');
    expect(notObject.isError).toBe(true);
    expect(notObject.structuredContent.code).toBe('VALIDATION_FAILED');
    expect(await s.app.store.outbox.size()).toBe(outboxBefore);
    expect(await s.app.bus.length()).toBe(busBefore);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    const ok = await call(acme, 'entity_put', { entityTypeId: 'AfterFuzz', attributes: { fine: true } });
    expect(sc(ok).entity.version).toBe(1);
  });

  it('FUZZ-2: the official SDK client still receives the error envelope (structuredContent validates)', async () => {
    const r = await call(acme, 'entity_get', { entityId: '../../etc/passwd' });
    expect(r.isError).toBe(true);
    expect(sc(r).code).toBe('VALIDATION_FAILED');
    expect(sc(r).details.issues[0].path).toBe('entityId');
  });
});
