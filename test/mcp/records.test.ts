/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- assertions over arbitrary JSON results */
// RECORDS: invocation records, event_trace over them, and redrive of dead letters — through a real
// MCP client against the real composition root (SQLite store, embedded bus, wasm built from source).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { type CallToolResult } from '@modelcontextprotocol/client';
import { call, connectHttp, sc, startServer, type TestServer } from './helpers.js';
import { newId } from '../../src/core/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { RECORDS_TENANT_FLUSH_MS } from '../../src/app/index.js';

const BROKEN = `import { on, PluginError } from 'uee:plugin';
on('JobQueued', () => { throw new PluginError('BROKEN', 'this version is broken'); });
`;
const FIXED = `import { on, writeEntity } from 'uee:plugin';
on('JobQueued', (input) => {
  const done = writeEntity({ entityTypeId: 'JobDone', attributes: { job: input.event.eventId } });
  return { done: done.entityId };
});
`;

async function callWith(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, { timeout: 120_000 }));
}

function ok(result: CallToolResult): Record<string, any> {
  if (result.isError) throw new Error(`tool failed: ${JSON.stringify(result.structuredContent)}`);
  return sc(result);
}

async function until<T>(fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A server of its own for the enclosing describe, with acme's and globex's clients (set in its beforeAll). */
function serverWithTenants(): { s: TestServer; acme: Client; globex: Client } {
  const site = {} as { s: TestServer; acme: Client; globex: Client };
  beforeAll(async () => {
    site.s = await startServer();
    [site.acme, site.globex] = await Promise.all([connectHttp(site.s.url, site.s.tokens.acme), connectHttp(site.s.url, site.s.tokens.globex)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([site.acme, site.globex].map((c) => c?.close()));
    await site.s?.close();
  });
  return site;
}

describe('invocation records and redrive over MCP', () => {
  const site = serverWithTenants();

  const jobsDone = async (): Promise<string[]> => ok(await call(site.acme, 'entity_query', { entityTypeId: 'JobDone', limit: 1000 })).items.map((i: any) => i.attributes.job);

  it('REDRIVE-1 after a fix, dead letters succeed on the fixed version exactly once and leave the dead-letter list', async () => {
    const { s, acme, globex } = site;
    const broken = ok(await callWith(acme, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': BROKEN } } }));
    const fixed = ok(await callWith(acme, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': FIXED } } }));
    const manifest = { name: 'Acme.Jobs', subscribeTo: ['JobQueued'], capabilities: ['writeEntities'] };
    ok(await call(acme, 'plugin_deploy', { manifest, artifact: broken.artifact }));
    const events: string[] = [];
    for (let i = 0; i < 3; i++) events.push(ok(await call(acme, 'event_emit', { type: 'JobQueued', payload: { n: i } })).event.eventId);
    const letters = await until(async () => {
      const list = ok(await call(acme, 'dead_letter_list', { name: 'Acme.Jobs' })).deadLetters;
      return list.length === 3 ? list : undefined;
    });
    // The fix (v2), then a newer broken version (v3) that is disabled: the effective version is v2.
    ok(await call(acme, 'plugin_deploy', { manifest, artifact: fixed.artifact }));
    ok(await call(acme, 'plugin_deploy', { manifest, artifact: broken.artifact }));
    ok(await call(acme, 'plugin_configure', { name: 'Acme.Jobs', action: 'disable', version: 3 }));

    // Replay (sandbox) picks the newest ENABLED version, not the disabled v3.
    const replay = ok(await callWith(acme, 'dead_letter_replay', { deadLetterId: letters[0].id }));
    expect(replay).toMatchObject({ nowSucceeds: true, plugin: { version: 2 } });

    const plan = ok(await call(acme, 'dead_letter_redrive', { name: 'Acme.Jobs' }));
    expect(plan.dryRun).toBe(true);
    expect(plan.items.map((i: any) => [i.result, i.version])).toEqual([['planned', 2], ['planned', 2], ['planned', 2]]);
    expect(ok(await call(acme, 'dead_letter_list', { name: 'Acme.Jobs' })).deadLetters).toHaveLength(3);
    expect(await jobsDone()).toEqual([]);
    expect(sc(await call(globex, 'dead_letter_redrive', { deadLetterIds: [letters[0].id], dryRun: false })).code).toBe('NOT_FOUND');

    // A letter redriven twice before anyone deletes it (two processes racing) commits its effects once.
    const letter0 = (await s.app.bus.deadLetters()).find((l) => l.id === letters[0].id)!;
    const v2 = (await s.app.registry.listAll()).find((p) => p.attributes.name === 'Acme.Jobs' && p.attributes.pluginVersion === 2)!;
    const first = await s.app.runtime!.router.redrive(letter0, v2);
    const second = await s.app.runtime!.router.redrive(letter0, v2);
    expect([first.ok, second.ok]).toEqual([true, true]);
    expect([first.effects?.committed, second.effects?.committed]).toEqual([true, false]);
    expect(await jobsDone()).toEqual([letter0.event.eventId]);

    // Two redrives at once: the letters are handled once, whichever call gets them.
    const ids = letters.map((l: any) => l.id);
    const [a, b] = await Promise.all([
      callWith(acme, 'dead_letter_redrive', { deadLetterIds: ids, dryRun: false }),
      callWith(acme, 'dead_letter_redrive', { name: 'Acme.Jobs', dryRun: false }),
    ]);
    const succeeded = [a, b].filter((r) => !r.isError).reduce((n, r) => n + (sc(r).succeeded as number), 0);
    expect(succeeded).toBeGreaterThanOrEqual(3);
    expect((await jobsDone()).sort()).toEqual([...events].sort());
    expect(ok(await call(acme, 'dead_letter_list', { name: 'Acme.Jobs' })).deadLetters).toEqual([]);

    // Redriving again finds nothing, and the effects are still there once.
    expect(sc(await call(acme, 'dead_letter_redrive', { deadLetterIds: ids, dryRun: false })).code).toBe('NOT_FOUND');
    expect(ok(await call(acme, 'dead_letter_redrive', { name: 'Acme.Jobs', dryRun: false })).items).toEqual([]);
    expect((await jobsDone()).sort()).toEqual([...events].sort());

    // The outcome is recorded: a redrive record per event on v2 with the committed write's id.
    const records = ok(await call(acme, 'invocation_list', { name: 'Acme.Jobs', outcome: 'ok' })).records;
    const redriven = records.filter((r: any) => r.trigger === 'redrive' && r.effects.committed);
    expect(redriven.map((r: any) => r.event.eventId).sort()).toEqual([...events].sort());
    expect(redriven.every((r: any) => r.plugin.version === 2 && r.effects.writes[0].entityTypeId === 'JobDone' && ids.includes(r.deadLetterId))).toBe(true);
    const dead = ok(await call(acme, 'invocation_list', { eventId: events[0], outcome: 'dead' })).records;
    expect(dead[0]).toMatchObject({ plugin: { version: 1 }, trigger: 'router', error: { code: 'PLUGIN_ERROR' } });
  }, 120_000);

  it('RECORDS-1 every handled (event, plugin) is recorded; event_trace shows the records; tenants see only their own', async () => {
    const { acme, globex } = site;
    const fixed = ok(await callWith(acme, 'plugin_compile', { source: { language: 'ts', files: { 'main.ts': FIXED.replaceAll('JobQueued', 'Ping') } } }));
    ok(await call(acme, 'plugin_deploy', { manifest: { name: 'Acme.Ping', subscribeTo: ['Ping'], capabilities: ['writeEntities'] }, artifact: fixed.artifact }));
    const emitted = ok(await call(acme, 'event_emit', { type: 'Ping', payload: {} })).event;
    const [record] = await until(async () => {
      const r = ok(await call(acme, 'invocation_list', { eventId: emitted.eventId })).records;
      return r.length > 0 ? r : undefined;
    });
    expect(record).toMatchObject({
      tenantId: 'acme',
      event: { eventId: emitted.eventId, type: 'Ping', correlationId: emitted.correlationId },
      plugin: { name: 'Acme.Ping', version: 1 },
      attempt: 1,
      trigger: 'router',
      outcome: 'ok',
      usage: { hostCalls: 1 },
      effects: { committed: true, writes: [{ entityTypeId: 'JobDone', version: 1 }], events: [{ type: 'EntityCreated' }] },
      models: [],
    });
    expect(record.durationMs).toBeGreaterThan(0);
    const byCorrelation = ok(await call(acme, 'invocation_list', { correlationId: emitted.correlationId })).records;
    expect(byCorrelation.map((r: any) => r.recordId)).toContain(record.recordId);
    const byEntity = ok(await call(acme, 'invocation_list', { entityId: record.effects.writes[0].entityId })).records;
    expect(byEntity).toEqual([]); // the write is an effect, not the event's entity
    const trace = ok(await call(acme, 'event_trace', { eventId: emitted.eventId }));
    expect(trace.invocations.map((r: any) => r.recordId)).toContain(record.recordId);
    expect(ok(await call(globex, 'invocation_list', {})).records).toEqual([]);
    expect(ok(await call(globex, 'invocation_list', { eventId: emitted.eventId })).records).toEqual([]);
  }, 120_000);

  it("RECORDS-FLUSH-4 one tenant's agent polling invocation_list and event_trace forces at most one records write per interval; another tenant's read forces its own", async () => {
    const { s, acme, globex } = site;
    const records = s.app.records!;
    // The tests before read as both tenants: their slots are past once the interval is.
    await new Promise((resolve) => setTimeout(resolve, RECORDS_TENANT_FLUSH_MS));
    const before = records.forcedWrites;
    const emitted = ok(await call(acme, 'event_emit', { type: 'Ping', payload: {} })).event;
    // Ten reads at once: the first forces a write, the nine asked while it ran share the next slot.
    await Promise.all(Array.from({ length: 10 }, (_, i) => call(acme, i % 2 === 0 ? 'invocation_list' : 'event_trace', i % 2 === 0 ? {} : { eventId: emitted.eventId }).then(ok)));
    const acmeForced = records.forcedWrites - before;
    expect(acmeForced).toBeGreaterThanOrEqual(1);
    expect(acmeForced).toBeLessThanOrEqual(2);
    ok(await call(globex, 'invocation_list', {}));
    expect(records.forcedWrites - before).toBe(acmeForced + 1);
  }, 60_000);
});

describe('dead letters of one tenant are found whatever another tenant holds', () => {
  const site = serverWithTenants();

  it('DL-TENANT-1 10,000 older dead letters of globex hide none of acme\'s from dead_letter_list, dead_letter_replay and dead_letter_redrive', async () => {
    const { s, acme, globex } = site;
    const bus = s.app.bus;
    const group = pluginGroup('Flood', 'globex');
    await bus.ensureGroup(group, 'latest');
    const letter = async (tenantId: string, n: number): Promise<void> => {
      const events = Array.from({ length: n }, () => {
        const eventId = newId();
        return { eventId, type: 'Floods', tenantId, payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api' as const, id: 'test' } };
      });
      for (let i = 0; i < n; i += 1000) await bus.publish(events.slice(i, i + 1000));
      for (let left = n; left > 0; ) {
        const read = await bus.read(group, 'test', { count: Math.min(left, 1000) });
        for (const d of read) await bus.deadLetter(group, d, { code: 'PLUGIN_ERROR', message: tenantId });
        left -= read.length;
      }
    };
    await letter('globex', 10_000);
    await letter('acme', 1);
    const mine = ok(await call(acme, 'dead_letter_list', {}));
    expect(mine.scanned).toBe(1);
    expect(mine.deadLetters.map((l: any) => l.event.tenantId)).toEqual(['acme']);
    const theirs = ok(await call(globex, 'dead_letter_list', { limit: 5 }));
    expect(theirs.scanned).toBe(10_000);
    expect(theirs.deadLetters.every((l: any) => l.event.tenantId === 'globex')).toBe(true);
    // Found by id: the replay gets as far as the plugin (none named Flood is deployed), not NOT_FOUND for the letter.
    const id = mine.deadLetters[0].id;
    const replay = sc(await callWith(acme, 'dead_letter_replay', { deadLetterId: id }));
    expect(replay.message).not.toContain(`dead letter ${id} not found`);
    expect(sc(await call(globex, 'dead_letter_replay', { deadLetterId: id })).message).toContain(`dead letter ${id} not found`);
    const plan = ok(await call(acme, 'dead_letter_redrive', { deadLetterIds: [id] }));
    expect(plan.items.map((i: any) => i.deadLetterId)).toEqual([id]);
    expect(sc(await call(globex, 'dead_letter_redrive', { deadLetterIds: [id] })).code).toBe('NOT_FOUND');
  }, 120_000);
});


describe('event_trace reads the tenant\'s own events whatever other tenants publish', () => {
  const site = serverWithTenants();

  it('TRACE-TENANT-1 behind 50,001 retained events of globex and 12,000 of its own, acme\'s chain is traced whole; globex gets NOT_FOUND for it', async () => {
    const { s, acme, globex } = site;
    const bus = s.app.bus;
    const flood = Array.from({ length: 50_001 }, () => {
      const eventId = newId();
      return { eventId, type: 'Floods', tenantId: 'globex', payload: {}, occurredAt: new Date().toISOString(), correlationId: eventId, causationId: null, hop: 0, source: { kind: 'api' as const, id: 'test' } };
    });
    for (let i = 0; i < flood.length; i += 1000) await bus.publish(flood.slice(i, i + 1000));
    const root = ok(await call(acme, 'event_emit', { type: 'Ping', payload: {} })).event;
    // acme's own later events: the chain's first event is more than a journal read's span back
    const ctx = { tenantId: 'acme', actor: 'test' };
    for (let i = 0; i < 12; i++) await s.app.store.commit(ctx, { events: Array.from({ length: 1000 }, () => ({ type: 'Other', payload: {} })) });
    const [child] = (await s.app.store.commit(ctx, { events: [{ type: 'Pong', payload: {} }], causation: { eventId: root.eventId, correlationId: root.correlationId, hop: 0 } })).events;
    const trace = ok(await call(acme, 'event_trace', { eventId: child!.eventId }));
    expect(trace.correlationId).toBe(root.correlationId);
    expect(trace.events.map((e: any) => [e.type, e.depth, e.parent])).toEqual([
      ['Ping', 0, null],
      ['Pong', 1, root.eventId],
    ]);
    expect(trace.truncated).toBe(false);
    expect(trace.scanned).toBeGreaterThanOrEqual(12_000);
    expect(trace.scanned).toBeLessThan(12_100);
    // a bound below the chain's first event: the newer part, said to be truncated
    const short = ok(await call(acme, 'event_trace', { eventId: child!.eventId, maxScan: 5000 }));
    expect(short.events.map((e: any) => e.type)).toEqual(['Pong']);
    expect(short).toMatchObject({ truncated: true, scanned: 5000 });
    expect(sc(await call(globex, 'event_trace', { eventId: child!.eventId })).code).toBe('NOT_FOUND');
  }, 120_000);
});
