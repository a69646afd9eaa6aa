/**
 * The conformance suite's fixtures (src/server/mcp/fixtures.ts) exist only with
 * UEE_MCP_CONFORMANCE_FIXTURES=1: a normal server lists and runs none of them, including the
 * raw-protocol ones (input_required rounds, test_missing_capability, the x-mcp-header tool).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectHttp, startServer, type TestServer } from './helpers.js';

const RAW = ['test_input_required_result_elicitation', 'test_input_required_result_multi_round', 'test_missing_capability', 'test_custom_header'];

describe('conformance fixtures are served only when enabled', () => {
  let plain: TestServer;
  let fixtures: TestServer;
  let plainAdmin: Client;
  let fixturesAdmin: Client;

  beforeAll(async () => {
    [plain, fixtures] = await Promise.all([startServer(), startServer({ UEE_MCP_CONFORMANCE_FIXTURES: '1' })]);
    [plainAdmin, fixturesAdmin] = await Promise.all([connectHttp(plain.url, plain.tokens.admin), connectHttp(fixtures.url, fixtures.tokens.admin)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([plainAdmin?.close(), fixturesAdmin?.close()]);
    await Promise.all([plain?.close(), fixtures?.close()]);
  });

  it('MCP-FIX-1: without the flag no fixture is listed or callable; with it the raw fixtures are listed (x-mcp-header kept)', async () => {
    const plainNames = (await plainAdmin.listTools()).tools.map((t) => t.name);
    expect(plainNames.filter((n) => n.startsWith('test_') || n === 'json_schema_2020_12_tool')).toEqual([]);
    const called = await plainAdmin.callTool({ name: 'test_custom_header', arguments: { region: 'eu' } }).then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(JSON.stringify(called)).not.toContain('region=eu');

    const listed = (await fixturesAdmin.listTools()).tools;
    expect(listed.map((t) => t.name)).toEqual(expect.arrayContaining(RAW));
    const header = listed.find((t) => t.name === 'test_custom_header')!;
    expect(header.inputSchema.properties).toEqual({ region: { type: 'string', 'x-mcp-header': 'Region' } });
    // the v2 client mirrors the argument into Mcp-Param-Region, which the server checks before dispatch
    const echoed = await fixturesAdmin.callTool({ name: 'test_custom_header', arguments: { region: 'eu' } });
    expect(echoed.content).toEqual([{ type: 'text', text: 'region=eu' }]);
  }, 60_000);
});
