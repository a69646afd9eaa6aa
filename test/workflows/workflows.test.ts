/**
 * WF-*: declared workflows through the real composition (UeeApp, embedded bus, SQLite store, timer
 * service, router) — definitions validated at deploy, enforced transitions, races, timers and
 * timeouts, views, versioning, and another plugin reacting to transition events.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { isUeeError, type ErrorCode, type UeeError } from '../../src/core/index.js';
import type { PluginManifestInput } from '../../src/registry/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { TIMER_ENTITY_TYPE } from '../../src/runtime/index.js';
import { MAX_INLINE_HISTORY, WORKFLOW_EVENT_TYPES, WORKFLOW_INSTANCE_TYPE, WORKFLOW_QUEUE, type WorkflowService } from '../../src/workflows/index.js';
import { BACKENDS, TEST_APP_OPTIONS, Observer, allOfType, compiledTs, drained, newSite, openApp, refresh, until, type AppSite } from '../router/harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await compiledTs('timer-probe');
}, 300_000);

const acme = { tenantId: 'acme', actor: 'user:test' };

async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<UeeError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUeeError(err), `expected ${code}, got ${String(err)}`).toBe(true);
  expect((err as UeeError).code).toBe(code);
  return err as UeeError;
}

const SEED = { name: 'task-flow', states: ['Draft', 'InProgress', 'Done'], transitions: { Draft: ['InProgress'], InProgress: ['Done'] } };

/** The CRM funnel: a follow-up timer after qualifying, an escalation timeout in proposal. */
const CRM = {
  name: 'crm',
  initial: 'lead',
  states: {
    lead: {},
    qualified: { stuckAfterMs: 60_000 },
    proposal: { timeout: { afterMs: 300, transition: 'escalate' } },
    escalated: {},
    won: { final: true },
    lost: { final: true },
  },
  transitions: [
    { name: 'qualify', from: 'lead', to: 'qualified', guard: { 'event.payload.score': { $gte: 50 } }, actions: [{ set: { qualified: true } }, { setTimer: { afterMs: 150, transition: 'followUp' } }] },
    { name: 'followUp', from: 'qualified', to: 'qualified', actions: [{ emit: { type: 'CrmFollowUpDue', payload: { reason: 'no answer yet' } } }] },
    { name: 'propose', from: 'qualified', to: 'proposal' },
    { name: 'escalate', from: 'proposal', to: 'escalated', actions: [{ write: { entityTypeId: 'Escalation', attributes: { level: 1 } } }] },
    { name: 'win', from: ['proposal', 'escalated'], to: 'won' },
    { name: 'lose', from: ['lead', 'qualified', 'proposal', 'escalated'], to: 'lost' },
  ],
};

describe.each(BACKENDS)('declared workflows ($name bus)', ({ name }) => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp;
  let wf: WorkflowService;
  afterEach(async () => {
    await app?.close();
    await site?.dispose();
  });
  const open = async (): Promise<void> => {
    site = newSite(name, 'workflows');
    app = await openApp(site, {}, { ...TEST_APP_OPTIONS, timers: { intervalMs: 25 }, workflows: { intervalMs: 20 } });
    wf = app.workflows;
  };
  const deploy = async (manifest: Omit<PluginManifestInput, 'capabilities'>): Promise<void> => {
    await app.registry.deploy('user:test', { manifest: { capabilities: ['writeEntities', 'executeTimers', 'spawnWorkflows'], ...manifest }, wasm: probe, language: 'ts' });
  };

  it('WF-DEF-1 definitions are validated at deploy: every problem listed, nothing stored', async () => {
    await open();
    const bad = {
      name: 'broken',
      initial: 'a',
      states: { a: {}, b: {}, island: { final: true }, c: {} },
      transitions: [
        { name: 'go', from: 'a', to: 'b' },
        { name: 'nowhere', from: 'b', to: 'ghost' },
        { name: 'regex', from: 'a', to: 'c', guard: { 'event.payload.x': { $where: 'sleep(1)' } } },
      ],
    };
    const err = await expectCode(wf.define(acme, bad), 'WORKFLOW_INVALID');
    const problems = (err.details.problems as string[]).join('\n');
    expect(problems).toContain('unknown state ghost');
    expect(problems).toContain('state island is unreachable');
    expect(problems).toContain('state c is a dead end');
    expect(problems).toContain('invalid guard');
    await expectCode(wf.definition(acme, 'broken'), 'NOT_FOUND');
    // The seed's spelling is accepted; its Mermaid diagram is part of the plan.
    const dry = await wf.define(acme, SEED, { dryRun: true });
    expect(dry).toMatchObject({ applied: false, version: null, transitionEvents: ['WorkflowTransitioned', 'task-flow.Draft', 'task-flow.InProgress', 'task-flow.Done'] });
    expect(dry.mermaid).toContain('Draft --> InProgress: InProgress');
    expect(dry.mermaid).toContain('Done --> [*]');
    await expectCode(wf.definition(acme, 'task-flow'), 'NOT_FOUND');
  });

  it('WF-DEF-2 spawn cycles across definitions, timers beyond the horizon and unknown workflows are typed errors', async () => {
    await open();
    await wf.define(acme, { name: 'parent', initial: 'a', states: { a: {}, z: { final: true } }, transitions: [{ name: 'go', from: 'a', to: 'z', actions: [{ spawn: { workflow: 'child' } }] }] });
    const cycle = await expectCode(
      wf.define(acme, { name: 'child', initial: 'a', states: { a: { onEnter: [{ spawn: { workflow: 'parent' } }] }, z: { final: true } }, transitions: [{ name: 'go', from: 'a', to: 'z' }] }),
      'WORKFLOW_INVALID',
    );
    expect((cycle.details.problems as string[]).join()).toContain('spawn cycle: child → parent → child');
    await expectCode(
      wf.define(acme, { name: 'slow', initial: 'a', states: { a: { timeout: { afterMs: 400 * 24 * 3600 * 1000, transition: 'go' } }, z: { final: true } }, transitions: [{ name: 'go', from: 'a', to: 'z' }] }),
      'TIMER_HORIZON_EXCEEDED',
    );
    await expectCode(wf.start(acme, 'nope'), 'NOT_FOUND');
    // parent spawns child, which is not defined: the transition fails and changes nothing.
    const p = await wf.start(acme, 'parent');
    await expectCode(wf.advance(acme, p.instanceId, 'go'), 'NOT_FOUND');
    expect((await wf.get(acme, p.instanceId)).version).toBe(1);
  });

  it('WF-SEED-1 Draft → InProgress → Done end to end, another plugin reacting to the transition event', async () => {
    await open();
    const observer = new Observer(app);
    await deploy({ name: 'OnDone', subscribeTo: ['task-flow.Done'], settings: { mode: 'mark', marker: 'done' } });
    await refresh(app);
    await wf.define(acme, SEED);
    const inst = await wf.start(acme, 'task-flow', { context: { title: 'write report' } });
    expect(inst.attributes).toMatchObject({ state: 'Draft', status: 'active', definitionVersion: 1 });
    // Illegal: Draft → Done. Typed, lists the allowed ones, changes nothing.
    const illegal = await expectCode(wf.advance(acme, inst.instanceId, 'Done'), 'ILLEGAL_TRANSITION');
    expect(illegal.details).toMatchObject({ state: 'Draft', allowed: ['InProgress'] });
    expect((await wf.get(acme, inst.instanceId)).version).toBe(1);
    await wf.advance(acme, inst.instanceId, 'InProgress');
    const done = await wf.advance(acme, inst.instanceId, 'Done', { payload: { by: 'alice' } });
    expect(done).toMatchObject({ from: 'InProgress', to: 'Done', instance: { version: 3, attributes: { status: 'done' } } });
    await expectCode(wf.advance(acme, inst.instanceId, 'Done'), 'ILLEGAL_TRANSITION');
    const stored = await wf.get(acme, inst.instanceId);
    expect(stored.attributes.history.map((h) => [h.from, h.to, h.cause.kind])).toEqual([
      [null, 'Draft', 'api'],
      ['Draft', 'InProgress', 'api'],
      ['InProgress', 'Done', 'api'],
    ]);
    const [mark] = await until('the reacting plugin', async () => {
      const m = await allOfType(app, 'acme', 'TimerMark');
      return m.length > 0 ? m : undefined;
    });
    expect(mark!.attributes).toMatchObject({ sourceType: 'task-flow.Done', payload: { workflow: 'task-flow', instanceId: inst.instanceId, from: 'InProgress', to: 'Done' } });
    await drained(app, pluginGroup('OnDone', null));
    const events = (await observer.poll()).filter((e) => e.entityId === inst.instanceId);
    expect(events.filter((e) => e.type === 'task-flow.Done')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'WorkflowTransitioned')).toHaveLength(2);
    expect(await allOfType(app, 'acme', 'TimerMark')).toHaveLength(1);
  });

  it('WF-RACE-1 two transitions racing on one instance commit exactly one', async () => {
    await open();
    await wf.define(acme, SEED);
    for (let round = 0; round < 5; round++) {
      const inst = await wf.start(acme, 'task-flow');
      const results = await Promise.allSettled([wf.advance(acme, inst.instanceId, 'InProgress'), wf.advance(acme, inst.instanceId, 'InProgress')]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected');
      expect(rejected && isUeeError(rejected.reason, 'VERSION_CONFLICT')).toBe(true);
      const after = await wf.get(acme, inst.instanceId);
      expect(after.version).toBe(2);
      expect(after.attributes.history).toHaveLength(2);
    }
  });

  it('WF-CRM-1 funnel: guard, follow-up timer, escalation timeout, won — with a plugin reacting', async () => {
    await open();
    await deploy({ name: 'OnWon', subscribeTo: ['crm.won'], settings: { mode: 'mark', marker: 'won' } });
    await refresh(app);
    await wf.define(acme, CRM);
    const lead = await wf.start(acme, 'crm', { context: { company: 'Initech' } });
    const refused = await expectCode(wf.advance(acme, lead.instanceId, 'qualify', { payload: { score: 10 } }), 'ILLEGAL_TRANSITION');
    expect(refused.details).toMatchObject({ guardRefused: true, allowed: ['qualify', 'lose'] });
    await wf.advance(acme, lead.instanceId, 'qualify', { payload: { score: 80 } });
    // The follow-up timer fires the self-transition once.
    await until('the follow-up', async () => ((await wf.get(acme, lead.instanceId)).attributes.history.some((h) => h.transition === 'followUp') ? true : undefined));
    await wf.advance(acme, lead.instanceId, 'propose');
    // Nobody answers the proposal: the state timeout escalates it.
    await until('the escalation', async () => ((await wf.get(acme, lead.instanceId)).attributes.state === 'escalated' ? true : undefined));
    expect(await allOfType(app, 'acme', 'Escalation')).toHaveLength(1);
    await wf.advance(acme, lead.instanceId, 'win');
    const won = await wf.get(acme, lead.instanceId);
    expect(won.attributes.history.map((h) => `${h.transition ?? 'start'}:${h.to}:${String(h.cause.kind)}`)).toEqual([
      'start:lead:api',
      'qualify:qualified:api',
      'followUp:qualified:timer',
      'propose:proposal:api',
      'escalate:escalated:timer',
      'win:won:api',
    ]);
    expect(won.attributes.context).toMatchObject({ company: 'Initech', qualified: true });
    await until('the reacting plugin', async () => ((await allOfType(app, 'acme', 'TimerMark')).length === 1 ? true : undefined));

    // A proposal won before its timeout: the timeout timer is retired and never escalates.
    const quick = await wf.start(acme, 'crm');
    await wf.advance(acme, quick.instanceId, 'qualify', { payload: { score: 99 } });
    await wf.advance(acme, quick.instanceId, 'propose');
    await wf.advance(acme, quick.instanceId, 'win');
    await new Promise((r) => setTimeout(r, 500));
    const q = await wf.get(acme, quick.instanceId);
    expect(q.attributes.state).toBe('won');
    expect(q.version).toBe(4 + (q.attributes.history.some((h) => h.transition === 'followUp') ? 1 : 0));
    const timers = await allOfType(app, 'acme', TIMER_ENTITY_TYPE);
    expect(timers.filter((t) => t.attributes.status === 'scheduled')).toEqual([]);
    expect(timers.some((t) => t.attributes.status === 'cancelled' && (t.attributes.payload as { instanceId?: string }).instanceId === quick.instanceId)).toBe(true);
  });

  it('WF-VIEW-1 views list instances by state with time in state, and stuck ones', async () => {
    let now = Date.parse('2026-12-01T00:00:00.000Z');
    site = newSite(name, 'workflows');
    app = await openApp(site, {}, { ...TEST_APP_OPTIONS, workflows: { now: () => now } });
    wf = app.workflows;
    await wf.define(acme, CRM);
    const a = await wf.start(acme, 'crm');
    const b = await wf.start(acme, 'crm');
    await wf.advance(acme, b.instanceId, 'qualify', { payload: { score: 70 } });
    now += 30_000;
    expect((await wf.list(acme, { workflow: 'crm', state: 'lead' })).items.map((i) => i.instanceId)).toEqual([a.instanceId]);
    const [q] = (await wf.list(acme, { state: 'qualified' })).items;
    expect(q).toMatchObject({ instanceId: b.instanceId, timeInStateMs: 30_000 });
    expect((await wf.list(acme, { stuck: true })).items).toEqual([]);
    now += 60_000;
    expect((await wf.list(acme, { stuck: true })).items.map((i) => i.instanceId)).toEqual([b.instanceId]);
  });

  it('WF-VERSION-1 a running instance keeps its definition version; migration is explicit', async () => {
    await open();
    await wf.define(acme, SEED);
    const old = await wf.start(acme, 'task-flow');
    const v2 = await wf.define(acme, { name: 'task-flow', states: ['Draft', 'Review', 'Done'], transitions: { Draft: ['Review'], Review: ['Done'] } });
    expect(v2.version).toBe(2);
    const fresh = await wf.start(acme, 'task-flow');
    expect(fresh.attributes.definitionVersion).toBe(2);
    // The old instance still runs version 1: InProgress is legal for it, Review is not.
    await expectCode(wf.advance(acme, old.instanceId, 'Review'), 'ILLEGAL_TRANSITION');
    await wf.advance(acme, old.instanceId, 'InProgress');
    await expectCode(wf.migrate(acme, old.instanceId, 2), 'WORKFLOW_INVALID');
    const migrated = await wf.migrate(acme, old.instanceId, 2, { stateMap: { InProgress: 'Review' } });
    expect(migrated.attributes).toMatchObject({ definitionVersion: 2, state: 'Review' });
    await wf.advance(acme, old.instanceId, 'Done');
    expect((await wf.get(acme, old.instanceId)).attributes.history.map((h) => h.cause.kind)).toEqual(['api', 'api', 'migration', 'api']);
    expect((await allOfType(app, 'acme', WORKFLOW_INSTANCE_TYPE)).length).toBe(2);
  });

  it('WF-MODEL-1 a callModel action calls the model through the gateway after the commit and takes `then` with the answer; a failing call takes `onError`', async () => {
    await open();
    const TRIAGE = {
      name: 'triage',
      initial: 'new',
      states: { new: {}, scoring: {}, scored: { final: true }, failed: { final: true } },
      transitions: [
        { name: 'score', from: 'new', to: 'scoring', actions: [{ callModel: { model: 'task.prioritizer.v2', then: 'scored', onError: 'failed', resultKey: 'priority' } }] },
        { name: 'scored', from: 'scoring', to: 'scored', guard: { 'event.payload.result.priority': { $gte: 0 } } },
        { name: 'failed', from: 'scoring', to: 'failed' },
      ],
    };
    // A model the gateway does not know is refused at definition, naming the ones that exist.
    const unknown = await expectCode(wf.define(acme, { ...TRIAGE, transitions: TRIAGE.transitions.map((t) => (t.name === 'score' ? { ...t, actions: [{ callModel: { model: 'no.such.model', then: 'scored' } }] } : t)) }), 'WORKFLOW_INVALID');
    expect(unknown.hint).toContain('task.prioritizer.v2');
    await wf.define(acme, TRIAGE);
    const good = await wf.start(acme, 'triage', { context: { dueInDays: 1, estimateHours: 2, importance: 5 } });
    const bad = await wf.start(acme, 'triage', { context: { dueInDays: 'tomorrow' } });
    await wf.advance(acme, good.instanceId, 'score');
    await wf.advance(acme, bad.instanceId, 'score');
    const scored = await until('the model answer applied', async () => {
      const i = await wf.get(acme, good.instanceId);
      return i.attributes.state === 'scored' ? i : undefined;
    });
    const expected = (await app.gateway.call(acme, { model: 'task.prioritizer.v2', input: { dueInDays: 1, estimateHours: 2, importance: 5 } })).output as { priority: number };
    expect(scored.attributes.context.priority).toEqual(expected);
    expect(scored.attributes.history.map((h) => [h.to, h.cause.kind])).toEqual([['new', 'api'], ['scoring', 'api'], ['scored', 'model']]);
    const failed = await until('the failing call handled', async () => {
      const i = await wf.get(acme, bad.instanceId);
      return i.attributes.state === 'failed' ? i : undefined;
    });
    expect(failed.version).toBe(3);
    // The call is billed and audited like a plugin's, under the workflow's name.
    const audit = app.gateway.audit.query({ tenantId: 'acme' });
    expect(audit.filter((r) => r.pluginName === 'workflow:triage').length).toBeGreaterThanOrEqual(2);
  });

  it('WF-RESERVED-1 once a workflow is defined, only the platform publishes its transition events: a principal or a plugin faking one is refused', async () => {
    await open();
    // Before the definition the name is free; another tenant's definition does not claim it.
    await app.store.commit(acme, { events: [{ type: 'task-flow.Done', payload: { early: true } }] });
    await wf.define({ tenantId: 'globex', actor: 'user:test' }, SEED);
    await app.store.commit(acme, { events: [{ type: 'task-flow.Done', payload: { stillFree: true } }] });
    await wf.define(acme, SEED);
    const forged = await expectCode(app.store.commit(acme, { events: [{ type: 'task-flow.Done', payload: { forged: true } }] }), 'RESERVED_NAME');
    expect(forged.hint).toContain('workflow_advance');
    await expectCode(app.store.put(acme, { entityTypeId: 'Note', attributes: {}, eventType: 'task-flow.Draft' }), 'RESERVED_NAME');
    await expectCode(
      app.store.commit(acme, { events: [{ type: 'task-flow.Done', payload: {} }], source: { kind: 'plugin', id: 'p1' } }),
      'RESERVED_NAME',
    );
    // Nothing of a refused commit was written; other names with a dot stay free; the platform still publishes.
    await app.store.commit(acme, { events: [{ type: 'invoice.Sent', payload: {} }] });
    const inst = await wf.start(acme, 'task-flow');
    await wf.advance(acme, inst.instanceId, 'InProgress');
  });

  it('WF-HISTORY-1 a long-running instance keeps its newest history inline and counts the rest, so it never outgrows the size limit', async () => {
    await open();
    await wf.define(acme, { name: 'pinger', initial: 'on', states: { on: {}, off: { final: true } }, transitions: [{ name: 'ping', from: 'on', to: 'on' }, { name: 'stop', from: 'on', to: 'off' }] });
    const inst = await wf.start(acme, 'pinger');
    for (let i = 0; i < MAX_INLINE_HISTORY + 10; i++) await wf.advance(acme, inst.instanceId, 'ping', { payload: { i } });
    const got = await wf.get(acme, inst.instanceId);
    expect(got.attributes.history).toHaveLength(MAX_INLINE_HISTORY);
    expect(got.attributes.historyDropped).toBe(11);
    expect(got.attributes.history.at(-1)).toMatchObject({ from: 'on', to: 'on', transition: 'ping' });
    // The dropped entries are the instance's earlier versions.
    expect((await app.store.get(acme, inst.instanceId, { version: 1 })).attributes.history).toHaveLength(1);
    await wf.advance(acme, inst.instanceId, 'stop');
    expect((await wf.get(acme, inst.instanceId)).attributes).toMatchObject({ state: 'off', historyDropped: 12 });
  });

  it('WF-SPAWN-2 a plugin spawning a declared workflow starts one instance, through the service\'s queue; events of other types never reach the service', async () => {
    await open();
    const seen: string[] = [];
    const handle = wf.handle.bind(wf);
    wf.handle = (event) => {
      seen.push(event.type);
      return handle(event);
    };
    await wf.define(acme, { name: 'signup', initial: 'new', states: { new: {}, done: { final: true } }, transitions: [{ name: 'finish', from: 'new', to: 'done' }] });
    await deploy({ name: 'Spawner', subscribeTo: ['SignupRequested'], settings: { mode: 'spawn', workflow: 'signup' } });
    await refresh(app);
    await app.store.commit(acme, { events: [...Array.from({ length: 20 }, (_, i) => ({ type: 'Noise', payload: { i } })), { type: 'SignupRequested', payload: {} }] });
    const [instance] = await until('the spawned instance', async () => {
      const items = (await wf.list(acme, { workflow: 'signup' })).items;
      return items.length > 0 ? items : undefined;
    });
    expect(instance).toMatchObject({ workflow: 'signup', state: 'new' });
    await drained(app, pluginGroup('Spawner', null));
    await drained(app, WORKFLOW_QUEUE);
    expect((await wf.list(acme, { workflow: 'signup' })).items).toHaveLength(1);
    expect(seen).toContain('WorkflowSpawned');
    expect(seen.filter((t) => !WORKFLOW_EVENT_TYPES.includes(t))).toEqual([]);
  });

  it('WF-SPAWN-3 an idle service polls its queue less and less, and the router wakes it when it queues a workflow event: a spawn after a quiet spell is handled at once, not at the next poll', async () => {
    site = newSite(name, 'workflows');
    // Waits of 20 ms doubling to 10 s: after 6 s idle the service is in a wait of ~5 s.
    app = await openApp(site, {}, { ...TEST_APP_OPTIONS, timers: { intervalMs: 25 }, workflows: { intervalMs: 20, maxIntervalMs: 10_000 } });
    wf = app.workflows;
    await wf.define(acme, { name: 'signup', initial: 'new', states: { new: {}, done: { final: true } }, transitions: [{ name: 'finish', from: 'new', to: 'done' }] });
    await deploy({ name: 'Spawner', subscribeTo: ['SignupRequested'], settings: { mode: 'spawn', workflow: 'signup' } });
    await refresh(app);
    await new Promise((r) => setTimeout(r, 6_000));
    const t0 = Date.now();
    await app.store.commit(acme, { events: [{ type: 'SignupRequested', payload: {} }] });
    await until('the spawned instance', async () => ((await wf.list(acme, { workflow: 'signup' })).items.length > 0 ? true : undefined));
    const ms = Date.now() - t0;
    console.info(`WF-SPAWN-3 (${name}) instance ${ms} ms after the commit`);
    expect(ms).toBeLessThan(1_500);
  }, 30_000);
});
