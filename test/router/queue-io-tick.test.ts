/**
 * ROUTER-IDLE-TICK: the idle queues of a process wait for the same instant on ONE timer
 * (`QueueIo.tick`), so their polls go to the bus together; a queue woken early lets go of it
 * without ending the wait of the others, and the timer goes once nobody waits for it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EventBus } from '../../src/bus/port.js';
import { Doorbell } from '../../src/core/index.js';
import { QueueIo } from '../../src/router/queue-io.js';

describe('QueueIo.tick', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ROUTER-IDLE-TICK-1 waits for one instant share one timer and end together; one released early leaves the others waiting; the last release clears it', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const io = new QueueIo({} as EventBus, 'c');
    const at = 1_005_000;
    const ticks = [io.tick(at), io.tick(at), io.tick(at)];
    expect(new Set(ticks.map((t) => t.done)).size).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    // Another instant: a timer of its own.
    const other = io.tick(at + 5_000);
    expect(vi.getTimerCount()).toBe(2);

    // A queue woken early (its doorbell rang) stops waiting and lets go; the others still wait.
    const bell = new Doorbell();
    const early = bell.waitFor(ticks[0]!.done);
    bell.ring();
    expect(await early).toBe(true);
    ticks[0]!.release();
    ticks[0]!.release(); // twice is once
    expect(vi.getTimerCount()).toBe(2);

    const ended: boolean[] = [];
    const bells = [new Doorbell(), new Doorbell()];
    const waits = [bells[0]!.waitFor(ticks[1]!.done), bells[1]!.waitFor(ticks[2]!.done)].map((w) => w.then((rung) => ended.push(rung)));
    await vi.advanceTimersByTimeAsync(4_999);
    expect(ended).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all(waits);
    // Both by the timer (not rung), in the same turn.
    expect(ended).toEqual([false, false]);
    ticks[1]!.release();
    ticks[2]!.release();

    // Nobody waits for the other instant any more: its timer is cleared, not left to fire.
    other.release();
    expect(vi.getTimerCount()).toBe(0);
    // Asked for again, it is a new timer.
    io.tick(at + 5_000);
    expect(vi.getTimerCount()).toBe(1);
  });
});
