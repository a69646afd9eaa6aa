/**
 * ROUTER-BACKLOG: `plugin_metrics` shows each plugin's backlog from the bus — events routed to its
 * queue and not read yet, and those read and not acknowledged — for what the principal may see: a
 * tenant its own plugins' queues and its own lane of each global plugin, never another tenant's; an
 * administrator a global plugin's queue with every lane summed. A front end without a runtime answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import type { Delivery } from '../../src/bus/index.js';
import type { Principal } from '../../src/core/index.js';
import { silentLogger } from '../../src/core/index.js';
import { laneGroup, pluginGroup } from '../../src/registry/index.js';
import { detachedToolContext } from '../../src/review/index.js';
import { DISPATCH_GROUP } from '../../src/router/index.js';
import { McpHost } from '../../src/server/mcp/index.js';
import { makeEvents } from '../bus/conformance.js';
import { buildWat } from '../runtime/wat.js';
import { BACKENDS, newSite, openApp, until, type AppSite } from './harness.js';

const acme = { tenantId: 'acme', actor: 'user:test' };
const globex = { tenantId: 'globex', actor: 'user:test' };
const tenant = (tenantId: string): Principal => ({ kind: 'tenant', id: `${tenantId}-agent`, tenantId, readOnly: false });
const admin: Principal = { kind: 'admin', id: 'root' };

describe.each(BACKENDS)('plugin backlogs ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await site?.dispose();
  });

  it('ROUTER-BACKLOG-1 plugin_metrics gives each plugin\'s waiting and in-flight events: a tenant sees its own queues and lanes only, an administrator a global plugin\'s lanes summed', async () => {
    site = newSite(name, 'backlog');
    // No runtime: nothing reads the queues but this test (and the tool answers from the bus alone).
    app = await openApp(site, { runtime: 'off' });
    const wasm = await buildWat('noop');
    const jobsPlugin = (await app.registry.deploy('user:test', { manifest: { name: 'Jobs', subscribeTo: ['TaskCreated'], tenantScope: 'tenant', tenantId: 'acme' }, wasm })).plugin;
    await app.registry.deploy('user:test', { manifest: { name: 'Shared', subscribeTo: ['TaskCreated'] }, wasm });
    const jobs = pluginGroup('Jobs', 'acme');
    const queues = [jobs, pluginGroup('Shared', null), laneGroup('Shared', 'acme'), laneGroup('Shared', 'globex')];
    for (const q of queues) await app.bus.ensureQueue(q);
    // What a dispatcher does: acme's 3 events to Jobs and to Shared's acme lane, globex's 2 to its lane.
    await app.store.commit(acme, { events: [1, 2, 3].map((i) => ({ type: 'TaskCreated', entityId: `a${i}`, payload: {} })) });
    await app.store.commit(globex, { events: [1, 2].map((i) => ({ type: 'TaskCreated', entityId: `g${i}`, payload: {} })) });
    const read: Delivery[] = [];
    await until('the events on the stream', async () => {
      await app!.relay.flush();
      read.push(...(await app!.bus.read(DISPATCH_GROUP, 'dispatcher', { count: 20 })));
      return read.filter((d) => d.event.type === 'TaskCreated').length === 5 ? true : undefined;
    });
    await app.bus.route(
      DISPATCH_GROUP,
      read.map((d) => ({
        id: d.id,
        groups: d.event.type !== 'TaskCreated' ? [] : d.event.tenantId === 'acme' ? [jobs, laneGroup('Shared', 'acme')] : [laneGroup('Shared', 'globex')],
      })),
    );
    // One of Jobs' events is read (in flight) and not acknowledged.
    expect(await app.bus.read(jobs, 'worker-1', { count: 1 })).toHaveLength(1);

    const host = McpHost.create(app, silentLogger);
    const metrics = async (principal: Principal, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
      const result = await host.tools.call('plugin_metrics', args, detachedToolContext(app!, principal, silentLogger, 'test'));
      expect(result.isError ?? false).toBe(false);
      return result.structuredContent as Record<string, unknown>;
    };
    const jobsRow = { name: 'Jobs', tenantId: 'acme', lane: null, waiting: 2, inFlight: 1, queues: 1 };
    expect(await metrics(tenant('acme'))).toEqual({
      runtime: false,
      plugins: [],
      backlog: [jobsRow, { name: 'Shared', tenantId: null, lane: 'acme', waiting: 3, inFlight: 0, queues: 1 }],
    });
    // globex sees its lane of the global plugin, nothing of acme's.
    expect((await metrics(tenant('globex'))).backlog).toEqual([{ name: 'Shared', tenantId: null, lane: 'globex', waiting: 2, inFlight: 0, queues: 1 }]);
    expect((await metrics(tenant('globex'), { name: 'Jobs' })).backlog).toEqual([]);
    const foreign = await host.tools.call('plugin_metrics', { pluginId: jobsPlugin.id }, detachedToolContext(app, tenant('globex'), silentLogger, 'test'));
    expect(foreign.isError).toBe(true);
    expect((foreign.structuredContent as { code: string }).code).toBe('NOT_FOUND');
    expect((await metrics(tenant('acme'), { pluginId: jobsPlugin.id })).backlog).toEqual([jobsRow]);
    // An administrator: every plugin, a global plugin's queue and lanes summed; tenantId null: the global plugins.
    const sharedAll = { name: 'Shared', tenantId: null, lane: null, waiting: 5, inFlight: 0, queues: 3 };
    expect((await metrics(admin)).backlog).toEqual([jobsRow, sharedAll]);
    expect((await metrics(admin, { tenantId: null })).backlog).toEqual([sharedAll]);
    expect((await metrics(admin, { tenantId: 'globex' })).backlog).toEqual([{ name: 'Shared', tenantId: null, lane: 'globex', waiting: 2, inFlight: 0, queues: 1 }]);
    // Read once per queue per second, however often a token asks: a second later the ack shows.
    const [taken] = await app.bus.read(jobs, 'worker-1', { count: 1 });
    await app.bus.ack(jobs, [taken!.id]);
    const reads: string[][] = [];
    const queueBacklogs = app.bus.queueBacklogs.bind(app.bus);
    app.bus.queueBacklogs = (groups, cap) => {
      reads.push([...groups]);
      return queueBacklogs(groups, cap);
    };
    await metrics(tenant('acme'), { name: 'Jobs' });
    reads.length = 0;
    // Five calls in a row: one read at most (two only if they took longer than the second it is kept).
    for (let i = 0; i < 5; i++) await metrics(tenant('acme'), { name: 'Jobs' });
    expect(reads.length).toBeLessThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await metrics(tenant('acme'), { name: 'Jobs' })).backlog).toEqual([{ ...jobsRow, waiting: 1, inFlight: 1 }]);
    expect(reads.at(-1)).toEqual([jobs]);
  }, 60_000);

  it('ROUTER-BACKLOG-2 a queue\'s backlog is counted up to 1,000: bounded work per queue, however long the queue', async () => {
    site = newSite(name, 'backlog-cap');
    app = await openApp(site, { runtime: 'off' });
    await app.registry.deploy('user:test', { manifest: { name: 'Long', subscribeTo: ['TaskCreated'], tenantScope: 'tenant', tenantId: 'acme' }, wasm: await buildWat('noop') });
    const queue = pluginGroup('Long', 'acme');
    await app.bus.ensureQueue(queue);
    await app.bus.ensureGroup('feed', 'earliest');
    await app.bus.publish(makeEvents(1005));
    // (The deploy's own events are on the stream too.)
    const read = await app.bus.read('feed', 'd', { count: 2000 });
    expect(read.filter((d) => d.event.type === 'TaskCreated')).toHaveLength(1005);
    await app.bus.route('feed', read.map((d) => ({ id: d.id, groups: d.event.type === 'TaskCreated' ? [queue] : [] })));
    const host = McpHost.create(app, silentLogger);
    const result = await host.tools.call('plugin_metrics', {}, detachedToolContext(app, tenant('acme'), silentLogger, 'test'));
    expect((result.structuredContent as { backlog: unknown[] }).backlog).toEqual([{ name: 'Long', tenantId: 'acme', lane: null, waiting: 1000, inFlight: 0, queues: 1 }]);
    expect((await app.bus.groupInfo(queue)).lag).toBe(1005);
  }, 60_000);
});
