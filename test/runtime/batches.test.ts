import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationResult } from '../../src/runtime/index.js';
import { makeEvent, openRuntime, type RuntimeFixture } from './setup.js';
import { buildWat } from './wat.js';

// Calls of one plugin and tenant travel to a worker in batches (one message, one watchdog per batch).
// Each call of a batch is still on its own: its own result, effects, deadline and failure.

let rt: RuntimeFixture;

beforeAll(async () => {
  rt = await openRuntime({ batchTargetMs: 1000 });
  await rt.host.load({ id: 'mixed', name: 'mixed', version: '1', kind: 'event', capabilities: ['writeEntities'], wasm: await buildWat('batch-mixed'), budget: { timeoutMs: 300 } });
  // One call alone first: the pool batches a plugin once it knows what a call costs.
  expect((await rt.host.invoke('mixed', { event: makeEvent('acme') })).ok).toBe(true);
});
afterAll(async () => {
  await rt?.close();
});

/** Submits `modes.length` calls at once ('' ok, 'T' traps, 'L' loops) and waits for all. */
async function burst(modes: string[]): Promise<{ results: InvocationResult[]; eventIds: string[]; batches: number; calls: number }> {
  const before = rt.host.stats();
  const events = modes.map((m) => makeEvent('acme', { payload: { mode: `@${m || 'O'}` } }));
  const results = await Promise.all(events.map((event) => rt.host.invoke('mixed', { event })));
  const after = rt.host.stats();
  return { results, eventIds: events.map((e) => e.eventId), batches: after.batches - before.batches, calls: after.batchedCalls - before.batchedCalls };
}

function expectOwnResult(r: InvocationResult, eventId: string): void {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  // Its own output and exactly its own one buffered write: nothing leaks between calls of a batch.
  expect((r.output as { event: { eventId: string } }).event.eventId).toBe(eventId);
  expect(r.effects.writes).toHaveLength(1);
}

describe('batches to runtime workers', () => {
  it('RT-BATCH-1 a trap in the middle of a batch fails only that call; the others succeed with their own effects', async () => {
    const modes = Array.from({ length: 20 }, (_, i) => (i === 10 ? 'T' : ''));
    const { results, eventIds, batches, calls } = await burst(modes);
    // Sent in batches, not one message per call.
    expect(calls).toBe(20);
    expect(batches).toBeLessThan(20);
    for (const [i, r] of results.entries()) {
      if (i === 10) {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.code).toBe('PLUGIN_TRAP');
        expect(r).not.toHaveProperty('effects');
      } else expectOwnResult(r, eventIds[i]!);
    }
  });

  it('RT-BATCH-2 the batch watchdog ends only the overrunning call; its worker is replaced and the innocent calls run again, never failed', async () => {
    const replaced = rt.host.stats().replacements;
    const modes = Array.from({ length: 20 }, (_, i) => (i === 10 ? 'L' : ''));
    const { results, eventIds, batches } = await burst(modes);
    expect(batches).toBeLessThan(20);
    for (const [i, r] of results.entries()) {
      if (i === 10) {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.code).toBe('TIMEOUT');
      } else expectOwnResult(r, eventIds[i]!);
    }
    // A wasm loop never calls the kernel: its worker was killed after the grace period.
    await expect.poll(() => rt.host.stats().replacements, { timeout: 5000 }).toBe(replaced + 1);
    await expect.poll(() => rt.host.stats().workers, { timeout: 5000 }).toBe(2);
  });

  it('RT-BATCH-3 a loop at the end of a batch times out at its own deadline; the calls before it (done, not yet reported when the worker is killed) run again and succeed', async () => {
    const modes = [...Array.from({ length: 30 }, () => ''), 'L'];
    const { results, eventIds } = await burst(modes);
    for (const [i, r] of results.entries()) {
      if (i === 30) {
        expect(r.ok).toBe(false);
        if (!r.ok) {
          expect(r.error.code).toBe('TIMEOUT');
          expect(r.usage.durationMs).toBeGreaterThanOrEqual(290);
        }
      } else expectOwnResult(r, eventIds[i]!);
    }
  });
});
