/**
 * WF-FAIR-1: the workflow service's queue is shared by every tenant. One tenant's slow model calls
 * (a dozen instances waiting on a model that takes seconds) must not hold another tenant's workflow
 * events behind them: the tenants take turns, and one tenant never has more than its share of calls
 * in flight. Real SQLite store, real embedded bus; the model is a stand-in that is slow for acme.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { silentLogger, type EventEnvelope } from '../../src/core/index.js';
import { openSqliteStore } from '../../src/store/index.js';
import { WORKFLOW_MODEL_CALL_EVENT, WORKFLOW_QUEUE, WorkflowService } from '../../src/workflows/index.js';
import { tempDir } from '../helpers.js';
import { embeddedBusSuite, until } from '../router/harness.js';

const openBus = embeddedBusSuite('uee-wf-fair');

const TRIAGE = {
  name: 'triage',
  initial: 'new',
  states: { new: {}, scoring: {}, scored: { final: true }, failed: { final: true } },
  transitions: [
    { name: 'score', from: 'new', to: 'scoring', actions: [{ callModel: { model: 'scorer', then: 'scored', onError: 'failed', resultKey: 'priority' } }] },
    { name: 'scored', from: 'scoring', to: 'scored' },
    { name: 'failed', from: 'scoring', to: 'failed' },
  ],
};

interface Site {
  bus: Awaited<ReturnType<typeof openBus>>['bus'];
  wf: WorkflowService;
  acmeIds: string[];
  globexId: string;
  /** Lets acme's model calls return. */
  release(): void;
  /** The most acme calls in flight at once so far. */
  acmeMostInFlight(): number;
  scored(tenantId: string, id: string): Promise<boolean>;
}

/** `acmeCalls` acme instances, then one globex instance, each waiting on a model call in the queue (acme's first); the consumer started with `options`. */
async function open(acmeCalls: number, options: Parameters<WorkflowService['startConsuming']>[1]): Promise<Site> {
  const { bus, stopFirst } = await openBus();
  const dir = tempDir('uee-wf-fair-store');
  stopFirst(() => dir[Symbol.dispose]());
  const store = await openSqliteStore({ path: join(dir.path, 'store.db') });
  // Closed after the consumer stopped (the suite runs these in reverse).
  stopFirst(() => store.close());
  for (const t of ['acme', 'globex']) await store.tenants.create(t);
  const ctx = (tenantId: string) => ({ tenantId, actor: 'user:test' });
  let release!: () => void;
  const slow = new Promise<void>((resolve) => (release = resolve));
  let inFlight = 0;
  let most = 0;
  const wf = new WorkflowService(store, {
    logger: silentLogger,
    models: () => ['scorer'],
    callModel: async (c) => {
      if (c.tenantId !== 'acme') return 1;
      inFlight++;
      most = Math.max(most, inFlight);
      await slow;
      inFlight--;
      return 2;
    },
  });
  await wf.define(ctx('acme'), TRIAGE);
  await wf.define(ctx('globex'), TRIAGE);
  const acmeIds: string[] = [];
  for (let i = 0; i < acmeCalls; i++) {
    const inst = await wf.start(ctx('acme'), 'triage');
    await wf.advance(ctx('acme'), inst.instanceId, 'score');
    acmeIds.push(inst.instanceId);
  }
  const globex = await wf.start(ctx('globex'), 'triage');
  await wf.advance(ctx('globex'), globex.instanceId, 'score');
  // The model-call events, queued in commit order (what the router's dispatcher does): acme's first.
  const calls: EventEnvelope[] = (await store.outbox.peek(1000)).map((e) => e.event).filter((e) => e.type === WORKFLOW_MODEL_CALL_EVENT);
  expect(calls.map((e) => e.tenantId)).toEqual([...Array<string>(acmeCalls).fill('acme'), 'globex']);
  await bus.ensureGroup('d', 'earliest');
  await bus.ensureQueue(WORKFLOW_QUEUE);
  await bus.publish(calls);
  const read = await bus.read('d', 'dispatcher', { count: calls.length });
  await bus.route('d', read.map((d) => ({ id: d.id, groups: [WORKFLOW_QUEUE] })));
  wf.startConsuming(bus, options);
  stopFirst(async () => {
    release();
    await wf.stop();
  });
  return {
    bus,
    wf,
    acmeIds,
    globexId: globex.instanceId,
    release,
    acmeMostInFlight: () => most,
    scored: async (tenantId, id) => (await wf.get(ctx(tenantId), id)).attributes.state === 'scored',
  };
}

it('WF-FAIR-1 behind one tenant\'s dozen slow model calls, another tenant\'s workflow event is handled at once; no tenant has more than its share of calls in flight', async () => {
  const site = await open(12, { intervalMs: 10 });
  const acmeScored = async (): Promise<number> => (await Promise.all(site.acmeIds.map((id) => site.scored('acme', id)))).filter(Boolean).length;
  await until('globex scored', async () => ((await site.scored('globex', site.globexId)) ? true : undefined));
  // Handled one by one, globex waited for all twelve of acme's calls; none of them has returned yet.
  expect(await acmeScored()).toBe(0);
  site.release();
  await until('every acme instance scored', async () => ((await acmeScored()) === 12 ? true : undefined), 30_000);
  // acme's calls waited their turns: never more than its share (4) at once.
  expect(site.acmeMostInFlight()).toBeGreaterThan(1);
  expect(site.acmeMostInFlight()).toBeLessThanOrEqual(4);
  // Every event was acked once handled: nothing pending.
  await until('the queue drained', async () => ((await site.bus.pending(WORKFLOW_QUEUE)).length === 0 ? true : undefined));
}, 60_000);

it('WF-FAIR-2 events in hand — waiting for the model or for their turn — are renewed: long past claimIdleMs another process claims none of them', async () => {
  const claimIdleMs = 300;
  // Room for four events only: the consumer reads (and claims) nothing more while they wait.
  const site = await open(4, { intervalMs: 10, claimIdleMs, concurrency: 4, maxHeld: 4 });
  await until('acme\'s four calls in flight', () => (site.acmeMostInFlight() === 4 ? true : undefined));
  await new Promise((resolve) => setTimeout(resolve, 3 * claimIdleMs));
  // Claimed, each would run twice (the model billed twice).
  expect(await site.bus.claimStale(WORKFLOW_QUEUE, 'other', { minIdleMs: claimIdleMs, count: 100 })).toEqual([]);
  site.release();
  await until('globex scored', async () => ((await site.scored('globex', site.globexId)) ? true : undefined));
  await until('the queue drained', async () => ((await site.bus.pending(WORKFLOW_QUEUE)).length === 0 ? true : undefined));
}, 60_000);

it('WF-FAIR-3 a tenant\'s flood past its share of events in hand is parked, not held: the consumer reads on to another tenant\'s event behind it, and the parked events are handled later', async () => {
  const claimIdleMs = 300;
  // Hands for 8 events, 4 of one tenant: acme's thirty calls would fill them and keep globex's unread.
  const site = await open(30, { intervalMs: 10, claimIdleMs, concurrency: 8, maxHeld: 8, maxHeldPerTenant: 4 });
  await until('globex scored', async () => ((await site.scored('globex', site.globexId)) ? true : undefined));
  expect(site.acmeMostInFlight()).toBe(4);
  site.release();
  await until('every acme instance scored', async () => ((await Promise.all(site.acmeIds.map((id) => site.scored('acme', id)))).every(Boolean) ? true : undefined), 30_000);
  await until('the queue drained', async () => ((await site.bus.pending(WORKFLOW_QUEUE)).length === 0 ? true : undefined));
  expect(site.acmeMostInFlight()).toBeLessThanOrEqual(4);
}, 60_000);
