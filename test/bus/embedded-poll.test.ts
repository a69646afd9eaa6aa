/**
 * BUS-E-POLL: a blocked read of the embedded bus polls the file for other processes' publishes with a
 * doubling step (2 ms … 100 ms). The step reached is kept for the group's next blocked read while
 * reads come back empty, so an idle reader that blocks again and again (the dispatcher: reads of
 * 100 ms, back to back) polls about once per read instead of climbing the whole ladder each time
 * (2+4+8+16+32+38 ms: six polls per read).
 */
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { openEmbeddedBus } from '../../src/bus/index.js';
import * as notifier from '../../src/bus/embedded/notifier.js';
import { tempDir } from '../helpers.js';

vi.mock('../../src/bus/embedded/notifier.js', async (original) => {
  const real = await original<typeof notifier>();
  return { ...real, waitForPublish: vi.fn(real.waitForPublish) };
});

const disposers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

it('BUS-E-POLL-1 back-to-back blocked reads of an idle group keep their polling step', async () => {
  const dir = tempDir('uee-poll');
  disposers.push(() => dir[Symbol.dispose]());
  const bus = await openEmbeddedBus({ path: join(dir.path, 'bus.db') });
  disposers.push(() => bus.close());
  await bus.ensureGroup('g', 'latest');
  const waits = vi.mocked(notifier.waitForPublish);
  waits.mockClear();
  const READS = 10;
  for (let i = 0; i < READS; i++) expect(await bus.read('g', 'c', { count: 10, blockMs: 100 })).toEqual([]);
  const polls = waits.mock.calls.length;
  console.info(`BUS-E-POLL-1 ${READS} idle blocked reads of 100 ms: ${polls} waits between polls (climbing the ladder each time: ~${6 * READS})`);
  // The first read climbs the ladder (6 waits), each later one waits about once (twice at a boundary).
  expect(polls).toBeLessThanOrEqual(6 + 2 * (READS - 1));
}, 30_000);
