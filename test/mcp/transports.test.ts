/* eslint-disable @typescript-eslint/no-unsafe-call -- assertions over arbitrary JSON results */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { PLANNED_TOOL_NAMES } from '../../src/tools/index.js';
import { tempDir } from '../helpers.js';
import { call, connectSse, sc, startServer, type TestServer } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

async function connectStdio(dataDir: string, extraEnv: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'uee-test', version: '1.0.0' });
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
  it('MCP-S1: the default stdio principal is admin: tools, calls, errors, resources and prompts', async () => {
    using dir = tempDir('uee-mcp-stdio');
    const client = await connectStdio(dir.path);
    try {
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

  it('MCP-S2: --identity makes stdio a read-only tenant principal', async () => {
    using dir = tempDir('uee-mcp-stdio');
    const client = await connectStdio(dir.path, { UEE_MCP_IDENTITY: 'tenant:acme:ro' });
    try {
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
