/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call -- assertions over arbitrary JSON results */
/**
 * LB-*: /mcp is stateless, so two UEE front ends sharing one store (PostgreSQL, random schema) and one
 * bus (Redis, random prefix) behind a plain round-robin proxy — every request to the next backend, no
 * affinity — serve one agent's compile → test → deploy session as one server would.
 */
import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import type { UeeApp } from '../../src/app/index.js';
import { silentLogger } from '../../src/core/index.js';
import { HttpServer } from '../../src/server/index.js';
import { McpHost, mountMcp, type McpHttpEndpoints } from '../../src/server/mcp/index.js';
import { tempDir } from '../helpers.js';
import { newSite, openApp } from '../router/harness.js';
import { dropSchemas, randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { compilerThreadCount, stopCompilerThreads } from '../../src/compiler/worker-pool.js';
import { connectHttp, makeTokens, pollTask, rpc2026, sc, type Revision } from './helpers.js';

interface FrontEnd {
  app: UeeApp;
  host: McpHost;
  http: HttpServer;
  endpoints: McpHttpEndpoints;
  port: number;
}

/** A round-robin HTTP proxy: request n goes to backend n mod k, whatever it carries. */
function roundRobin(ports: number[]): { server: Server; hits: number[]; listen(): Promise<number> } {
  const hits = ports.map(() => 0);
  let next = 0;
  const server = createServer((req, res) => {
    const i = next++ % ports.length;
    hits[i]!++;
    const upstream = request({ host: '127.0.0.1', port: ports[i], path: req.url, method: req.method, headers: { ...req.headers, host: `127.0.0.1:${ports[i]}` } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  return {
    server,
    hits,
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))),
  };
}

describe('LB: two front ends behind a round-robin proxy (PostgreSQL + Redis)', () => {
  const tokens = makeTokens();
  const schemas: string[] = [];
  const site = newSite('redis', 'mcp-lb');
  const otherDir = tempDir('uee-mcp-lb');
  const fronts: FrontEnd[] = [];
  let proxy: ReturnType<typeof roundRobin>;
  let url: string;

  beforeAll(async () => {
    const schema = randomSchema('mcplb');
    schemas.push(schema);
    const store = schemaUrl(schema);
    const extra = { store, tokens: `${tokens.admin}=admin,${tokens.acme}=tenant:acme`, tenants: 'acme' };
    for (const dataDir of [site.dataDir, otherDir.path]) {
      const app = await openApp({ ...site, dataDir }, extra);
      const http = new HttpServer(silentLogger);
      const host = McpHost.create(app, silentLogger);
      const endpoints = mountMcp(http, host, silentLogger);
      const { port } = await http.listen('127.0.0.1', 0);
      fronts.push({ app, host, http, endpoints, port });
    }
    proxy = roundRobin(fronts.map((f) => f.port));
    url = `http://127.0.0.1:${await proxy.listen()}`;
  }, 60_000);

  afterAll(async () => {
    proxy?.server.close();
    for (const f of fronts) {
      await f.endpoints.close();
      f.http.destroy();
      await f.http.close();
      await f.host.close();
      await f.app.close();
    }
    await site.dispose();
    otherDir[Symbol.dispose]();
    await dropSchemas(schemas);
    await stopCompilerThreads();
  });

  it('LB-TASKS-1: a task started on front end A is read and cancelled through front end B (one PostgreSQL store); A\'s compiler thread exits within 1 s of the cancel', async () => {
    const [a, b] = fronts.map((f) => `http://127.0.0.1:${f.port}`) as [string, string];
    // A finished task: started on A, its result read on B.
    const small = { language: 'ts', files: { 'main.ts': "import { on } from 'uee:plugin';\non('Ping', () => null);\n" } };
    const quick = await rpc2026(a, tokens.acme, 'tools/call', { name: 'plugin_compile', arguments: { source: small } });
    expect(quick.result).toMatchObject({ resultType: 'task' });
    const readOnB = await pollTask(b, tokens.acme, quick.result!.taskId as string, (t) => t.status !== 'working');
    expect(readOnB, JSON.stringify(readOnB.error)).toMatchObject({ status: 'completed', result: { structuredContent: { artifact: expect.stringMatching(/^[0-9a-f]{64}$/) } } });

    // A long one: started on A, cancelled on B; the cancel reaches A through the store.
    const big = Array.from({ length: 11_000 }, (_, i) => `export function f${i}(a: number, b: string): string { return b + String(a * ${i}); }`).join('\n');
    const busyBefore = compilerThreadCount().busy;
    const created = await rpc2026(a, tokens.acme, 'tools/call', {
      name: 'plugin_compile',
      arguments: { source: { language: 'ts', files: { 'main.ts': "import './big';\nimport { on } from 'uee:plugin';\non('Slow', () => null);\n", 'big.ts': big } } },
    });
    const taskId = created.result!.taskId as string;
    const deadline = performance.now() + 60_000;
    while (compilerThreadCount().busy <= busyBefore && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(compilerThreadCount().busy).toBeGreaterThan(busyBefore);
    expect((await rpc2026(b, tokens.acme, 'tasks/get', { taskId })).result).toMatchObject({ taskId, status: 'working' });
    expect(fronts[0]!.host.tasks.running, 'A runs it').toBe(1);
    expect(fronts[1]!.host.tasks.running, 'B does not').toBe(0);
    const exitedBefore = compilerThreadCount().exited;
    const cancelledAt = performance.now();
    expect((await rpc2026(b, tokens.acme, 'tasks/cancel', { taskId })).result).toMatchObject({ resultType: 'complete' });
    while (!(compilerThreadCount().exited > exitedBefore && compilerThreadCount().busy === busyBefore) && performance.now() - cancelledAt < 1000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const lagMs = performance.now() - cancelledAt;
    expect({ stopped: compilerThreadCount().exited > exitedBefore, withinOneSecond: lagMs < 1000 }).toEqual({ stopped: true, withinOneSecond: true });
    expect((await pollTask(b, tokens.acme, taskId, (t) => t.status !== 'working')).status).toBe('cancelled');
    // Another tenant's token on either front end does not find it.
    expect((await rpc2026(b, tokens.admin, 'tasks/get', { taskId })).error?.code).toBe(-32602);
  }, 180_000);

  for (const revision of ['2026-07-28', '2025-11-25'] as const satisfies readonly Revision[]) {
    it(`LB-1-${revision}: one agent's compile → test → deploy → emit session, every request to the next front end`, async () => {
      const agent: Client = await connectHttp(url, tokens.acme, revision);
      const before = [...proxy.hits];
      const use = async (name: string, args: Record<string, unknown>): Promise<Record<string, any>> => {
        const result = await agent.callTool({ name, arguments: args }, { timeout: 120_000 });
        if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.structuredContent)}`);
        return sc(result);
      };
      try {
        const type = `Note${revision.replaceAll('-', '')}`;
        const name = `Acme.Lb${revision.slice(0, 4)}`;
        const event = `Signed${revision.replaceAll('-', '')}`;
        const main = `import { on, writeEntity } from 'uee:plugin';\non('${event}', (input) => { writeEntity({ entityTypeId: '${type}', attributes: { user: String(input.event.payload.user) } }); });\n`;
        const manifest = { name, subscribeTo: [event], capabilities: ['writeEntities'] };
        const compiled = await use('plugin_compile', { source: { language: 'ts', files: { 'main.ts': main } }, capabilities: manifest.capabilities });
        expect(compiled.artifact).toMatch(/^[0-9a-f]{64}$/);
        const tested = await use('plugin_test', { artifact: compiled.artifact, manifest, events: [{ type: event, payload: { user: 'ada' } }] });
        expect(tested.failed).toBe(0);
        const plan = await use('plugin_deploy', { manifest, artifact: compiled.artifact, dryRun: true });
        expect(plan).toMatchObject({ dryRun: true, version: 1 });
        const deployed = await use('plugin_deploy', { manifest, artifact: compiled.artifact });
        expect(deployed).toMatchObject({ applied: true, version: 1 });
        expect((await use('plugin_list', {})).plugins.map((p: { name: string }) => p.name)).toContain(name);
        // Both front ends see the deployment (each lists it at least once through the proxy).
        const listed = await Promise.all([use('plugin_list', {}), use('plugin_list', {})]);
        for (const l of listed) expect(l.plugins.map((p: { name: string }) => p.name)).toContain(name);
        const emitted = await use('event_emit', { type: event, payload: { user: 'grace' } });
        let notes: Array<Record<string, any>> = [];
        for (let i = 0; i < 300 && notes.length === 0; i++) {
          notes = (await use('entity_query', { entityTypeId: type })).items;
          if (notes.length === 0) await new Promise((r) => setTimeout(r, 100));
        }
        expect(notes).toHaveLength(1);
        expect(notes[0]).toMatchObject({ attributes: { user: 'grace' }, causationId: emitted.event.eventId });
      } finally {
        await agent.close();
      }
      // The session really was spread over both front ends.
      const spread = proxy.hits.map((h, i) => h - before[i]!);
      expect(Math.min(...spread)).toBeGreaterThanOrEqual(4);
    }, 180_000);
  }
});
