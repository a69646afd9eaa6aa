import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbeddedBus } from '../../src/bus/index.js';
import { isUeeError } from '../../src/core/index.js';
import { tempDir } from '../helpers.js';
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
});
