/**
 * WF-CRASH-1: workflow timeouts scheduled before a SIGKILL fire after restart, none twice — a child
 * process runs the app (timer service + workflow consumer) and is killed while timeouts fall due; a
 * new app on the same store and bus finishes the job.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { TIMER_ENTITY_TYPE } from '../../src/runtime/index.js';
import { Observer, TEST_APP_OPTIONS, allOfType, newSite, openApp, until, killChild, spawnChild, type AppSite } from '../router/harness.js';

function startChild(site: AppSite): Promise<ChildProcess> {
  return spawnChild(join(import.meta.dirname, 'child-app.ts'), site, 'READY');
}


const acme = { tenantId: 'acme', actor: 'user:test' };
const N = 24;
const FLOW = {
  name: 'expiring',
  initial: 'waiting',
  states: { waiting: { timeout: { afterMs: 1500, transition: 'expire' } }, expired: { final: true }, done: { final: true } },
  transitions: [
    { name: 'expire', from: 'waiting', to: 'expired', actions: [{ emit: { type: 'ExpiryNotice' } }] },
    { name: 'finish', from: 'waiting', to: 'done' },
  ],
};

describe('workflow timers across a crash (embedded bus)', () => {
  let site: AppSite & { dispose(): Promise<void> };
  let app: UeeApp | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child) await killChild(child);
    await app?.close();
    await site?.dispose();
  });

  it('WF-CRASH-1 timeouts scheduled before a SIGKILL fire after restart, each exactly once', async () => {
    site = newSite('embedded', 'wf-crash');
    // Schedule: N instances whose timeouts fall due over ~1.2 s, starting 1.5 s from now.
    app = await openApp(site, {}, { ...TEST_APP_OPTIONS, workflows: { intervalMs: 10, claimIdleMs: 500 } });
    await app.workflows.define(acme, FLOW);
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      ids.push((await app.workflows.start(acme, 'expiring')).instanceId);
      await new Promise((r) => setTimeout(r, 50));
    }
    await app.close();
    app = undefined;
    // A process fires some of them and is killed mid-way.
    child = await startChild(site);
    await new Promise((r) => setTimeout(r, 900));
    await killChild(child);
    child = undefined;
    // After restart, every timeout fires and every instance expires.
    app = await openApp(site, {}, { ...TEST_APP_OPTIONS, timers: { intervalMs: 20 }, workflows: { intervalMs: 10, claimIdleMs: 500 } });
    const observer = new Observer(app);
    const running = app;
    await until('every instance to expire', async () => {
      const states = await Promise.all(ids.map(async (id) => (await running.workflows.get(acme, id)).attributes.state));
      return states.every((s) => s === 'expired') ? true : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 700)); // a redelivery would land now
    await running.relay.flush();
    const events = await observer.poll();
    for (const id of ids) {
      const inst = await running.workflows.get(acme, id);
      expect(inst.attributes.history.map((h) => `${h.transition ?? 'start'}:${String(h.cause.kind)}`)).toEqual(['start:api', 'expire:timer']);
      expect(inst.version).toBe(2);
      expect(events.filter((e) => e.type === 'expiring.expired' && e.entityId === id)).toHaveLength(1);
      expect(events.filter((e) => e.type === 'ExpiryNotice' && e.entityId === id)).toHaveLength(1);
      expect(events.filter((e) => e.type === 'WorkflowTimer' && e.payload.instanceId === id)).toHaveLength(1);
    }
    const timers = await allOfType(running, 'acme', TIMER_ENTITY_TYPE);
    expect(timers).toHaveLength(N);
    expect(timers.every((t) => t.attributes.status === 'fired' && t.version === 2)).toBe(true);
  }, 120_000);
});
