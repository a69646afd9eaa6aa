/**
 * RT-GRACE-*: after a deadline, a plugin gets a grace period to unwind before its worker is killed,
 * and that grace is CPU time the worker thread got, not wall-clock time: on a loaded machine a
 * worker may not run at all for longer than the grace, and killing it then punished an engine that
 * would have unwound at its next poll (JS-CONTAIN-1 failed that way at load 22). A plugin that never
 * unwinds is still killed: after the grace of CPU, or when starved after 20 graces of wall clock.
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { threadCpuMs, unwindGraceLeft } from '../../src/runtime/pool.js';
import { makeEvent, openRuntime, type RuntimeFixture } from './setup.js';
import { buildWat } from './wat.js';

const GRACE_MS = 100;
let rt: RuntimeFixture | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

/** A runtime whose workers' CPU time is `cpu.ms` (the test moves it), with a looping plugin that never unwinds. */
async function starvedRuntime(cpu: { ms: number }): Promise<RuntimeFixture> {
  const fixture = await openRuntime({ timeoutGraceMs: GRACE_MS, readThreadCpu: () => cpu.ms });
  await fixture.host.load({ id: 'loop', name: 'loop', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('loop'), budget: { timeoutMs: 100 } });
  return fixture;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('the unwind grace counts the worker thread\'s CPU time', () => {
  it('RT-GRACE-1 the rule: CPU time used against the grace, wall clock against 20 graces', () => {
    expect(unwindGraceLeft(100, 150, 20)).toBe(80); // starved: 150 ms passed, 20 ms of CPU
    expect(unwindGraceLeft(100, 150, 100)).toBe(0); // had its grace of CPU
    expect(unwindGraceLeft(100, 1990, 0)).toBe(10); // the wall-clock cap is near: at least one CPU tick
    expect(unwindGraceLeft(100, 2000, 0)).toBe(0); // starved for 20 graces
    expect(unwindGraceLeft(100, 10, 95)).toBe(10);
  });

  it('RT-GRACE-2 a worker thread\'s CPU time is read from /proc and grows only while it runs', async () => {
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.postMessage('/proc/' + require('node:fs').readlinkSync('/proc/thread-self') + '/stat');
       parentPort.once('message', () => {
         parentPort.postMessage('settled');
         parentPort.once('message', () => { let x = 0; for (let i = 0; i < 3e8; i++) x += i; parentPort.postMessage(x); parentPort.once('message', () => process.exit(0)); });
       });`,
      { eval: true },
    );
    const next = (): Promise<unknown> => new Promise((resolve) => worker.once('message', resolve));
    const path = (await next()) as string;
    // The thread posts its path while its start-up still runs: a round trip first, so the idle
    // window starts once the thread waits in its event loop.
    worker.postMessage('settle');
    await next();
    await sleep(20);
    const idle0 = threadCpuMs(path)!;
    await sleep(200);
    const idle1 = threadCpuMs(path)!;
    const started = performance.now();
    worker.postMessage('spin');
    await next();
    const wall = performance.now() - started;
    const busy = threadCpuMs(path)!;
    worker.postMessage('exit');
    await new Promise((resolve) => worker.once('exit', resolve));
    expect(idle1 - idle0).toBeLessThanOrEqual(10); // idle: at most one tick
    expect(busy - idle1).toBeGreaterThanOrEqual(50); // 3e8 additions: well over 100 ms of CPU anywhere
    expect(busy - idle1).toBeLessThanOrEqual(wall + 20);
    expect(threadCpuMs('/proc/self/task/0/stat')).toBeUndefined();
  });

  it('RT-GRACE-3 a starved worker is not killed while it got no CPU, and is once it had its grace of CPU', async () => {
    const cpu = { ms: 1000 };
    rt = await starvedRuntime(cpu);
    const host = rt.host;
    const before = host.stats().replacements;
    const r = await host.invoke('loop', { event: makeEvent('acme') });
    expect(r.ok ? 'ok' : r.error.code).toBe('TIMEOUT');
    const cancelled = performance.now();
    // Four graces of wall clock with no CPU: a wall-clock grace would have killed it three times over.
    await sleep(4 * GRACE_MS);
    expect(host.stats().replacements).toBe(before);
    cpu.ms += GRACE_MS; // now it had its grace of CPU and is still looping
    await expect.poll(() => host.stats().replacements, { timeout: 5000, interval: 10 }).toBe(before + 1);
    // Killed for the CPU it had, well before the wall-clock cap (20 graces).
    expect(performance.now() - cancelled).toBeLessThan(20 * GRACE_MS);
  });

  it('RT-GRACE-4 a worker starved for good is killed at the wall-clock cap', async () => {
    rt = await starvedRuntime({ ms: 1000 });
    const host = rt.host;
    const before = host.stats().replacements;
    const r = await host.invoke('loop', { event: makeEvent('acme') });
    expect(r.ok ? 'ok' : r.error.code).toBe('TIMEOUT');
    const cancelled = performance.now();
    await expect.poll(() => host.stats().replacements, { timeout: 20_000, interval: 20 }).toBe(before + 1);
    expect(performance.now() - cancelled).toBeGreaterThanOrEqual(20 * GRACE_MS - 50);
    await expect.poll(() => host.stats().workers, { timeout: 5000 }).toBe(2);
  });
});
