/**
 * ROUTER-7: a process running a UeeApp is SIGKILLed while handling a stream; a new app on the same
 * data dir and Redis prefix finishes it. Every event is handled by every subscribed plugin, and no
 * plugin effect is applied twice.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { laneGroup, pluginGroup } from '../../src/registry/index.js';
import { BACKENDS, deployProbe, drained, marks, newSite, openApp, probeWasm, until, killChild, spawnChild, type AppSite } from './harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);

/** Starts the child app and resolves once its router runs. */
function startChild(site: AppSite, claimIdleMs?: number): Promise<ChildProcess> {
  return spawnChild(join(import.meta.dirname, 'child-app.ts'), { ...site, ...(claimIdleMs === undefined ? {} : { claimIdleMs }) }, 'READY');
}

const acme = { tenantId: 'acme', actor: 'user:test' };

// What a test started: its child process, apps and site, stopped and removed after it.
let site: (AppSite & { dispose(): Promise<void> }) | undefined;
const apps: UeeApp[] = [];
let child: ChildProcess | undefined;
afterEach(async () => {
  if (child) await killChild(child);
  child = undefined;
  for (const a of apps.splice(0)) await a.close();
  await site?.dispose();
  site = undefined;
});

describe.each(BACKENDS)('crash mid-stream ($name bus)', ({ name }) => {
  it('ROUTER-7 SIGKILL mid-stream: after restart every event is handled by every plugin exactly once', async () => {
    site = newSite(name, 'crash');
    // A producer without runtime deploys the plugins and writes the stream.
    const producer = await openApp(site, { runtime: 'off' });
    apps.push(producer);
    await deployProbe(producer, probe, { name: 'CrashA', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'A' } });
    await deployProbe(producer, probe, { name: 'CrashB', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'B' } });
    child = await startChild(site);

    const TOTAL = 300;
    /** Commits events `from`..`to` - 1, `batch` per commit, calling `each` with the last seq of each commit. */
    const produce = async (from: number, to: number, batch = 1, each?: (seq: number) => Promise<void>): Promise<void> => {
      for (let seq = from; seq < to; seq += batch) {
        const last = Math.min(to, seq + batch) - 1;
        await producer.store.commit(acme, { events: Array.from({ length: last - seq + 1 }, (_, i) => ({ type: 'Tick', payload: { seq: seq + i } })) });
        await each?.(last);
      }
    };
    // Phase 1: the child is demonstrably handling the stream.
    await produce(0, 100);
    await until('the child handling events', async () => ((await marks(producer, 'acme')).length >= 40 ? true : undefined), 60_000);
    // Phase 2: more events flow (ten a commit: the producer outpaces the child); the child is killed
    // while it holds deliveries — delivered, maybe even committed, never acked. (Killing it at a
    // count of marks instead raced its reads: between two batches it holds none.)
    const pendingNow = async (): Promise<number> => {
      let n = 0;
      for (const g of ['CrashA', 'CrashB']) n += (await producer.bus.groupInfo(laneGroup(g, 'acme'))).pending;
      return n;
    };
    await produce(100, TOTAL, 10);
    await until('the child holding deliveries', async () => ((await pendingNow()) > 0 ? true : undefined), 60_000);
    await killChild(child);
    const killedAt = TOTAL - 1;
    const marksAtKill = (await marks(producer, 'acme')).length;
    expect(marksAtKill).toBeGreaterThan(0);
    const pendingAtKill = await pendingNow();
    expect(pendingAtKill).toBeGreaterThan(0);
    expect(marksAtKill).toBeLessThan(2 * TOTAL);
    await producer.relay.flush();

    // Restart: a new app (new consumer name) on the same data dir and Redis prefix.
    const restarted = await openApp(site, {}, { router: { refreshMs: 100, claimIdleMs: 500 } });
    apps.push(restarted);
    await until('every event handled by both plugins', async () => ((await marks(restarted, 'acme')).length >= 2 * TOTAL ? true : undefined), 90_000);
    await drained(restarted, pluginGroup('CrashA', null), 30_000);
    await drained(restarted, pluginGroup('CrashB', null), 30_000);
    const all = await marks(restarted, 'acme');
    const count = new Map<string, number>();
    for (const m of all) count.set(`${String(m.marker)}:${String(m.seq)}`, (count.get(`${String(m.marker)}:${String(m.seq)}`) ?? 0) + 1);
    const missing: string[] = [];
    for (const marker of ['A', 'B']) for (let seq = 0; seq < TOTAL; seq++) if (count.get(`${marker}:${seq}`) !== 1) missing.push(`${marker}:${seq}=${count.get(`${marker}:${seq}`) ?? 0}`);
    expect(missing).toEqual([]);
    expect(all).toHaveLength(2 * TOTAL);
    expect(await restarted.bus.deadLetters()).toEqual([]);
    process.stdout.write(`ROUTER-7 ${name}: killed after producing ${killedAt + 1} events with ${marksAtKill}/${2 * TOTAL} effects committed and ${pendingAtKill} deliveries pending; the restarted app finished the rest\n`);
  }, 180_000);
});

// The embedded bus can tell a crashed process (same machine, pid gone) from a slow one; Redis waits out the thresholds.
describe('crash restart (embedded bus)', () => {
  it('ROUTER-7b after a SIGKILL the restarted process routes at once: leases and entries of a crashed process are not waited out', async () => {
    // Thresholds far above the test's time limit: without the crash check, nothing moves in time.
    const claimIdleMs = 120_000;
    site = newSite('embedded', 'crash-b');
    const producer = await openApp(site, { runtime: 'off' });
    apps.push(producer);
    await deployProbe(producer, probe, { name: 'CrashC', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'C' } });
    child = await startChild(site, claimIdleMs);
    for (let seq = 0; seq < 60; seq++) await producer.store.commit(acme, { events: [{ type: 'Tick', payload: { seq } }] });
    await until('the child handling events', async () => ((await marks(producer, 'acme')).length >= 10 ? true : undefined), 60_000);
    await killChild(child);
    for (let seq = 60; seq < 80; seq++) await producer.store.commit(acme, { events: [{ type: 'Tick', payload: { seq } }] });
    await producer.relay.flush();
    const restarted = await openApp(site, {}, { router: { refreshMs: 100, claimIdleMs } });
    apps.push(restarted);
    await until('every event handled', async () => ((await marks(restarted, 'acme')).length >= 80 ? true : undefined), 60_000);
    const seqs = (await marks(restarted, 'acme')).map((m) => Number(m.seq)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 80 }, (_, i) => i));
  }, 150_000);
});
