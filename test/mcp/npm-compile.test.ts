/**
 * NPM-MCP-*: `plugin_compile` with `source.dependencies` through the MCP server, the registry and the
 * deny-list taken from the operator's configuration (`UEE_NPM_REGISTRY`, `UEE_NPM_DENY`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult, Client } from '@modelcontextprotocol/client';
import { connectHttp, sc, startServer, type TestServer } from './helpers.js';
import { startRegistry, type FakeRegistry } from '../compiler/npm-registry.js';

let registry: FakeRegistry;
let server: TestServer;
let acme: Client;

const compile = async (args: Record<string, unknown>): Promise<CallToolResult> =>
  await acme.callTool({ name: 'plugin_compile', arguments: args }, { timeout: 120_000 });

beforeAll(async () => {
  registry = await startRegistry({
    'tiny-case': { '1.2.0': { files: { 'index.js': 'module.exports = (s) => s.toUpperCase();' }, main: 'index.js', license: 'BSD-3-Clause' } },
    evil: { '1.0.0': { files: { 'index.js': 'module.exports = 1;' }, main: 'index.js' } },
  });
  server = await startServer({ UEE_NPM_REGISTRY: registry.url, UEE_NPM_DENY: 'evil' });
  acme = await connectHttp(server.url, server.tokens.acme);
}, 120_000);
afterAll(async () => {
  await acme?.close();
  await server?.close();
  await registry?.close();
});

describe('plugin_compile with npm dependencies', () => {
  it('NPM-MCP-1 the report lists the bundled packages; a denied package is DEPENDENCY_DENIED; dependencies of a non-JS language are refused', async () => {
    const ok = await compile({
      source: { language: 'ts', files: { 'main.ts': "import up from 'tiny-case';\nexport function handle(): string { return up('hi'); }\n" }, dependencies: { 'tiny-case': '^1.0.0' } },
    });
    expect(ok.isError ?? false).toBe(false);
    expect(sc(ok).dependencies).toEqual([{ name: 'tiny-case', version: '1.2.0', license: 'BSD-3-Clause', integrity: expect.stringMatching(/^sha512-/) }]);
    const denied = await compile({ source: { language: 'js', files: { 'main.js': "import e from 'evil'; export const handle = () => e;" }, dependencies: { evil: '1.0.0' } } });
    expect(denied.isError).toBe(true);
    expect(sc(denied)).toMatchObject({ code: 'DEPENDENCY_DENIED', details: { package: 'evil' } });
    const wat = await compile({ source: { language: 'wat', files: { 'main.wat': '(module)' }, dependencies: { 'tiny-case': '1.2.0' } } });
    expect(sc(wat)).toMatchObject({ code: 'VALIDATION_FAILED' });
  }, 120_000);
});
