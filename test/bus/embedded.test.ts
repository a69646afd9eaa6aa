import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedBus } from '../../src/bus/index.js';
import { isUeeError } from '../../src/core/index.js';
import { tempDir } from '../helpers.js';
import { killChild, spawnChild } from '../router/harness.js';
import { busConformance, expectCorruptEntryDeadLettered, makeEvent } from './conformance.js';

let dir: ReturnType<typeof tempDir> | undefined;
let file = '';
beforeEach(() => {
  dir = tempDir('uee-bus');
  file = join(dir.path, 'uee.db');
});
afterEach(() => {
  dir?.[Symbol.dispose]();
  dir = undefined;
});

busConformance('embedded (SQLite file)', (options) => openEmbeddedBus({ path: file, ...(options ? { options } : {}) }));

describe('embedded bus specifics', () => {
  it('BUS-E1: a corrupt row in the log becomes a CORRUPT_DATA dead letter and the consumer continues', async () => {
    const bus = await openEmbeddedBus({ path: file });
    try {
      await expectCorruptEntryDeadLettered(bus, () => {
        const raw = new Database(file);
        raw.prepare('INSERT INTO bus_entries (ms, data) VALUES (?, ?)').run(Date.now(), '{"not":"an event"');
        raw.close();
        return Promise.resolve();
      });
    } finally {
      await bus.close();
    }
  });

  it('BUS-E2: shares the store file without touching its tables; ":memory:" works; bad options are CONFIG_INVALID', async () => {
    const store = new Database(file);
    store.exec('CREATE TABLE entity_versions (x TEXT); PRAGMA user_version = 1;');
    store.close();
    const bus = await openEmbeddedBus({ path: file });
    await bus.publish([makeEvent()]);
    await bus.close();
    const check = new Database(file);
    expect(check.pragma('user_version', { simple: true })).toBe(1);
    expect(check.pragma('journal_mode', { simple: true })).toBe('wal');
    check.close();
    const memory = await openEmbeddedBus({ path: ':memory:' });
    expect((await memory.publish([makeEvent()])).ids).toHaveLength(1);
    await memory.close();
    const err = await openEmbeddedBus({ path: file, options: { maxLength: 0 } }).catch((e: unknown) => e);
    expect(isUeeError(err, 'CONFIG_INVALID')).toBe(true);
  });

  it('BUS-E-CRASH-1: a lease and entries held by a process that crashed are taken over at once, a live holder keeps them', async () => {
    const bus = await openEmbeddedBus({ path: file });
    const group = 'g-crash';
    try {
      await bus.ensureGroup(group, 'earliest');
      await bus.publish([makeEvent({ type: 'ItemOne' }), makeEvent({ type: 'ItemTwo' }), makeEvent({ type: 'ItemThree' })]);
      const child = await spawnChild(join(import.meta.dirname, 'holder-child.ts'), { file, group, lease: 'q-crash' }, 'holding 3');
      try {
        // Alive: its lease (10 min) and its entries (just read) stay its own.
        expect(await bus.lease('q-crash', 'parent-owner', 600_000)).toBe(false);
        expect(await bus.claimStale(group, 'parent-consumer', { minIdleMs: 600_000 })).toEqual([]);
      } finally {
        await killChild(child);
      }
      // Crashed (SIGKILL): nothing waits for the 10-minute TTL or claim threshold.
      expect(await bus.lease('q-crash', 'parent-owner', 600_000)).toBe(true);
      const claimed = await bus.claimStale(group, 'parent-consumer', { minIdleMs: 600_000 });
      expect(claimed.map((d) => d.event.type)).toEqual(['ItemOne', 'ItemTwo', 'ItemThree']);
      expect(claimed.every((d) => d.deliveryCount === 2)).toBe(true);
      // This process's own names are never taken for gone.
      expect(await bus.lease('q-crash', 'another-owner', 600_000)).toBe(false);
    } finally {
      await bus.close();
    }
  });
});
