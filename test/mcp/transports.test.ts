/* eslint-disable @typescript-eslint/no-unsafe-call -- assertions over arbitrary JSON results */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { PLANNED_TOOL_NAMES } from '../../src/tools/index.js';
import { tempDir } from '../helpers.js';
import { call, connectHttp, connectSse, newClient, sc, startServer, type Revision, type TestServer } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

async function connectStdio(dataDir: string, extraEnv: Record<string, string> = {}, revision: Revision = '2026-07-28'): Promise<Client> {
  const client = newClient(revision);
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [join(ROOT, 'bin', 'uee.mjs'), 'mcp', '--data-dir', dataDir, '--tenants', 'acme,globex', '--log-level', 'warn'],
      env: { PATH: process.env.PATH ?? '', ...extraEnv },
      stderr: 'pipe',
    }),
  );
  return client;
}

describe('MCP over stdio (uee mcp)', () => {
  it('MCP-S1: the default stdio principal is admin: tools, calls, errors, resources and prompts (2026-07-28)', async () => {
    using dir = tempDir('uee-mcp-stdio');
    const client = await connectStdio(dir.path);
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('tenant_create');
      const put = await call(client, 'entity_put', { tenantId: 'acme', entityTypeId: 'Task', attributes: { title: 'over stdio' } });
      expect(sc(put).entity.tenantId).toBe('acme');
      const err = await call(client, 'entity_get', { tenantId: 'acme', entityId: 'missing' });
      expect(sc(err)).toMatchObject({ code: 'NOT_FOUND' });
      const resources = await client.listResources();
      expect(resources.resources.map((r) => r.uri)).toEqual(
        expect.arrayContaining(['uee://docs/plugin-abi', 'uee://schemas/plugin-manifest', 'uee://catalogue/errors', 'uee://catalogue/event-types']),
      );
      const abi = await client.readResource({ uri: 'uee://docs/plugin-abi' });
      expect((abi.contents[0] as { text: string }).text).toContain('Host functions');
      const errors = JSON.parse(((await client.readResource({ uri: 'uee://catalogue/errors' })).contents[0] as { text: string }).text);
      expect(errors.find((e: { code: string }) => e.code === 'VERSION_CONFLICT').hint).toBeTruthy();
      const prompts = await client.listPrompts();
      expect(prompts.prompts.map((p) => p.name)).toEqual(expect.arrayContaining(['write_event_plugin', 'write_workflow_plugin', 'fix_dead_lettered_plugin']));
      const p = await client.getPrompt({ name: 'write_event_plugin', arguments: { goal: 'prioritise tasks' } });
      expect(JSON.stringify(p.messages)).toContain('plugin_deploy');
    } finally {
      await client.close();
    }
  });

  it('MCP-S2: --identity makes stdio a read-only tenant principal (2025-11-25 handshake)', async () => {
    using dir = tempDir('uee-mcp-stdio');
    const client = await connectStdio(dir.path, { UEE_MCP_IDENTITY: 'tenant:acme:ro' }, '2025-11-25');
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).not.toContain('entity_put');
      const r = await call(client, 'entity_put', { entityTypeId: 'Task', attributes: {} });
      expect(sc(r).code).toBe('TENANT_FORBIDDEN');
      const q = await call(client, 'entity_query', { entityTypeId: 'Task' });
      expect(sc(q).items).toEqual([]);
    } finally {
      await client.close();
    }
  });
});

describe('MCP protocol revisions over stateless Streamable HTTP (/mcp)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s?.close();
  });

  for (const revision of ['2026-07-28', '2025-11-25'] as const) {
    it(`MCP-R1-${revision}: a v2 SDK client speaking ${revision} lists, calls, fails typed, reads resources and prompts`, async () => {
      const client = await connectHttp(s.url, s.tokens.acme, revision);
      try {
        expect(client.getNegotiatedProtocolVersion()).toBe(revision);
        expect(client.getProtocolEra()).toBe(revision === '2026-07-28' ? 'modern' : 'legacy');
        expect((await client.listTools()).tools.map((t) => t.name)).toContain('entity_put');
        const put = await call(client, 'entity_put', { entityTypeId: 'Rev', attributes: { revision } });
        expect(sc(await call(client, 'entity_get', { entityId: sc(put).entity.entityId })).entity.attributes.revision).toBe(revision);
        expect(sc(await call(client, 'entity_get', { entityId: 'missing' }))).toMatchObject({ code: 'NOT_FOUND', hint: expect.any(String) });
        const abi = await client.readResource({ uri: 'uee://docs/plugin-abi' });
        expect((abi.contents[0] as { text: string }).text).toContain('Host functions');
        expect((await client.listPrompts()).prompts.length).toBeGreaterThanOrEqual(3);
      } finally {
        await client.close();
      }
    });
  }

  it('MCP-R3: a v1 SDK client (@modelcontextprotocol/sdk 1.x, the 2025-11-25 client most agents run) works over stateless /mcp', async () => {
    const { Client: V1Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport: V1Http } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const client = new V1Client({ name: 'uee-v1', version: '1.0.0' });
    await client.connect(new V1Http(new URL('/mcp', s.url), { requestInit: { headers: { authorization: `Bearer ${s.tokens.acme}` } } }));
    try {
      expect(client.getServerVersion()?.name).toBe('uee');
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('entity_put');
      const put = (await client.callTool({ name: 'entity_put', arguments: { entityTypeId: 'V1', attributes: { via: 'v1' } } })) as { structuredContent?: { entity?: { version?: number } } };
      expect(put.structuredContent?.entity?.version).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('MCP-R2: 2026-07-28 list results carry cache hints; server/discover offers it (2025-11-25 clients use initialize)', async () => {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${s.tokens.acme}`, 'mcp-protocol-version': '2026-07-28' };
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const rpc = async (method: string) => {
      const res = await fetch(new URL('/mcp', s.url), { method: 'POST', headers: { ...headers, 'mcp-method': method }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { _meta: meta } }) });
      const raw = await res.text();
      const line = raw.split('\n').find((l) => l.startsWith('data: '));
      return JSON.parse(line ? line.slice(6) : raw) as { result?: Record<string, unknown>; error?: unknown };
    };
    const discover = await rpc('server/discover');
    expect(discover.error, JSON.stringify(discover)).toBeUndefined();
    expect(discover.result!.supportedVersions).toContain('2026-07-28');
    const list = await rpc('tools/list');
    expect(list.result).toMatchObject({ ttlMs: 60_000, cacheScope: 'private' });
  });
});

describe('MCP over legacy SSE (/sse)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('MCP-E1: tools, calls and errors over SSE; tenancy holds', async () => {
    const acme = await connectSse(s.url, s.tokens.acme);
    const globex = await connectSse(s.url, s.tokens.globex);
    try {
      expect((await acme.listTools()).tools.length).toBeGreaterThan(5);
      const put = await call(acme, 'entity_put', { entityTypeId: 'Note', attributes: { body: 'sse' } });
      const id = sc(put).entity.entityId;
      expect(sc(await call(acme, 'entity_get', { entityId: id })).entity.attributes.body).toBe('sse');
      expect(sc(await call(globex, 'entity_get', { entityId: id })).code).toBe('NOT_FOUND');
      expect((await acme.listPrompts()).prompts.length).toBeGreaterThanOrEqual(3);
    } finally {
      await acme.close();
      await globex.close();
    }
  });
});

describe('MCP prompts and resources', () => {
  it('MCP-P1: prompts mention only registered or planned tools', async () => {
    await using s = Object.assign(await startServer(), { [Symbol.asyncDispose]() { return s.close(); } });
    const known = new Set([...s.host.tools.names(), ...PLANNED_TOOL_NAMES]);
    for (const prompt of s.host.prompts) {
      for (const tool of prompt.tools) expect(known.has(tool), `${prompt.name} → ${tool}`).toBe(true);
      const text = JSON.stringify(prompt.render({ goal: 'g' }));
      for (const match of text.matchAll(/\b([a-z]+_[a-z_]+)\b/g)) {
        const name = match[1]!;
        if (name.includes('_') && /^(plugin|entity|event|dead|tenant|read)_/.test(name)) expect(known.has(name), `${prompt.name} mentions ${name}`).toBe(true);
      }
    }
  });
});
