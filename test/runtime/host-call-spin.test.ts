import { afterEach, describe, expect, it } from 'vitest';
import type { ExecutionHostOptions } from '../../src/runtime/index.js';
import { appPerTest } from '../router/harness.js';
import { makeEvent, openRuntime, type RuntimeFixture } from './setup.js';
import { buildWat } from './wat.js';

// The host-call bridge's spinning (PoolOptions.hostCallSpin): after a host call's message, while a
// core is spare, the main thread polls the workers' requests between its tasks and a worker spins a
// little for its answer, instead of a message and a sleeping thread's wake-up each way. Same answers
// either way; a plugin that makes no host call is never polled for.

let rt: RuntimeFixture | undefined;
afterEach(async () => {
  await rt?.close();
  rt = undefined;
});

const CALLS = 100;

/** A runtime with `hostCallSpin` and the test plugins loaded; the test's previous one is closed first. */
async function open(hostCallSpin: ExecutionHostOptions['hostCallSpin']): Promise<RuntimeFixture> {
  await rt?.close();
  rt = undefined;
  rt = await openRuntime({ hostCallSpin });
  // 100 read_entity calls of an entity that does not exist, then the last answer as output.
  const wasm = await buildWat('host-call-repeat', { FN: 'read_entity', REQUEST: '{"entityId":"absent"}' });
  await rt.host.load({ id: 'reader', name: 'reader', version: '1', kind: 'event', capabilities: ['readEntities'], wasm });
  await rt.host.load({ id: 'busy', name: 'busy', version: '1', kind: 'event', capabilities: [], wasm: await buildWat('spin'), budget: { timeoutMs: 5000 } });
  const callThenSpin = await buildWat('call-then-spin', { FN: 'read_entity', REQUEST: '{"entityId":"absent"}' });
  await rt.host.load({ id: 'call-then-busy', name: 'call-then-busy', version: '1', kind: 'event', capabilities: ['readEntities'], wasm: callThenSpin, budget: { timeoutMs: 5000 } });
  return rt;
}

/** One call of `reader`: its output and the host's counters over it. */
async function readerCall(r: RuntimeFixture): Promise<{ output: unknown; calls: number; polled: number; messages: number }> {
  const before = r.host.stats();
  const result = await r.host.invoke('reader', { event: makeEvent('acme') });
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  const after = r.host.stats();
  return { output: result.output, calls: after.hostCalls - before.hostCalls, polled: after.hostCallsPolled - before.hostCallsPolled, messages: after.hostMessages - before.hostMessages };
}

describe('host-call bridge spinning', () => {
  it('RT-SPIN-1 while the main thread polls, requests are answered without a message each; the answers are the same as with every request a message', async () => {
    // A long spin (2 ms): on this 2-core machine the polling main thread is now and then descheduled.
    const on = await readerCall(await open({ mainMs: 50, workerUs: 2000, cores: 8 }));
    const off = await readerCall(await open({ mainMs: 0 }));
    expect(on.output).toEqual(off.output);
    expect(on.output).toEqual({ ok: true, value: null });
    expect(on.calls).toBe(CALLS);
    expect(off.calls).toBe(CALLS);
    // Off: each request is its message, none is polled.
    expect(off.polled).toBe(0);
    expect(off.messages).toBe(CALLS);
    // On (an idle main thread, 50 ms of polling after each answer): the poll sees them, no message is
    // sent (97-100 of 100 polled when run alone; a descheduled main thread makes a worker give up and post).
    expect(on.polled).toBeGreaterThanOrEqual(CALLS * 0.25);
    expect(on.messages).toBeLessThanOrEqual(CALLS * 0.75);
  });

  it('RT-SPIN-2 polling ends with the batch, and after mainMs without a request while a call runs on; a plugin without host calls is never polled for', async () => {
    // Polling for 10 s after a request, but no longer than a batch runs.
    const long = await open({ mainMs: 10_000, cores: 8 });
    await readerCall(long);
    await expect.poll(() => long.host.stats().polling, { timeout: 500, interval: 5 }).toBe(false);
    // No host call, no polling: a call busy for tens of ms never starts it.
    let polled = false;
    const watch = setInterval(() => (polled ||= long.host.stats().polling), 1);
    const plain = await long.host.invoke('busy', { event: makeEvent('acme') });
    clearInterval(watch);
    expect(plain.ok).toBe(true);
    expect(polled).toBe(false);
    const r = await open({ mainMs: 1, cores: 8 });
    // A call busy for tens of ms after one host call: the main thread polls after that call, and stops
    // long before the call ends.
    let ended = false;
    const busy = r.host.invoke('call-then-busy', { event: makeEvent('acme') }).finally(() => (ended = true));
    await expect.poll(() => r.host.stats().hostCalls > 0 || ended, { timeout: 5000, interval: 1 }).toBe(true);
    await expect.poll(() => !r.host.stats().polling, { timeout: 5000, interval: 1 }).toBe(true);
    const stoppedWhileRunning = !ended;
    expect((await busy).ok).toBe(true);
    expect(stoppedWhileRunning).toBe(true);
  });

  it('RT-SPIN-3 no polling while no core is spare (as many workers running as cores): every request is a message', async () => {
    const { calls, polled, messages } = await readerCall(await open({ mainMs: 50, cores: 1 }));
    expect(calls).toBe(CALLS);
    expect(polled).toBe(0);
    expect(messages).toBe(CALLS);
  });

  it('RT-SPIN-4 a main thread busy past the worker\'s spin: the worker posts its request and sleeps; every call is answered', async () => {
    const r = await open({ mainMs: 50, workerUs: 20, cores: 8 });
    // The main thread blocks 3 ms out of every ~4 while the calls run: many requests outwait the spin.
    const blocker = setInterval(() => {
      const until = performance.now() + 3;
      while (performance.now() < until);
    }, 1);
    try {
      // One call at a time (one worker): a request's message reaches a polling main thread only when
      // its worker gave up spinning; otherwise messages start the polling.
      const before = r.host.stats();
      for (let i = 0; i < 5; i++) {
        const result = await r.host.invoke('reader', { event: makeEvent('acme') });
        expect(result.ok && result.output).toEqual({ ok: true, value: null });
      }
      const after = r.host.stats();
      expect(after.hostCalls - before.hostCalls).toBe(5 * CALLS);
      // Workers that gave up spinning while the main thread was blocked posted before they slept.
      expect(after.hostMessagesWhilePolling - before.hostMessagesWhilePolling).toBeGreaterThan(0);
    } finally {
      clearInterval(blocker);
    }
  });
});

describe('host-call bridge spinning, configured', () => {
  const apps = appPerTest('embedded');

  it('RT-SPIN-5 the operator\'s setting (UEE_HOST_CALL_SPIN_US) reaches the runtime: 0 polls for nothing, the default is 1 ms, a set length polls; /status shows both', async () => {
    const wasm = await buildWat('host-call-repeat', { FN: 'read_entity', REQUEST: '{"entityId":"absent"}' });
    // Read from /status: what an operator sees. The setting as the worker pool runs it, and what one
    // call of 100 host calls did with it.
    const polledWith = async (label: string, extra: Record<string, string>): Promise<{ calls: number; polled: number; spinUs: number }> => {
      const app = await apps.open(label, extra);
      const host = app.runtime!.host;
      await host.load({ id: 'reader', name: 'reader', version: '1', kind: 'event', capabilities: ['readEntities'], wasm });
      const result = await host.invoke('reader', { event: makeEvent('acme') });
      expect(result.ok).toBe(true);
      const { answered, polled, spinUs } = (await app.status()).runtime.hostCalls;
      return { calls: answered, polled, spinUs };
    };
    expect(await polledWith('spin5off', { hostCallSpinUs: '0' })).toEqual({ calls: CALLS, polled: 0, spinUs: 0 });
    // The default (1 ms after each answer) reaches the pool. Whether a 1 ms window catches a request
    // depends on this machine's load at that moment, so what it polls is shown with a long window.
    expect((await polledWith('spin5default', {})).spinUs).toBe(1000);
    const on = await polledWith('spin5on', { hostCallSpinUs: '50000' });
    expect(on.spinUs).toBe(50_000);
    expect(on.calls).toBe(CALLS);
    expect(on.polled).toBeGreaterThan(0);
  }, 60_000);
});
