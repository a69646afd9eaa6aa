// WAL-CKPT: the SQLite files of the store and the embedded bus are checkpointed by one thread per
// process, not by the main thread's commits (see core/wal-checkpointer.ts). What must hold: while a
// connection is held its own checkpoints wait for HELD_AUTOCHECKPOINT_PAGES (not SQLite's 1,000) and
// the thread copies the log into the file; a file held twice (store and bus on uee.db) is watched
// once and released when both close; if the thread dies, every held connection checkpoints its file
// itself again. A thread left running never keeps the process alive (RECORDS-THREAD-8's child leaves
// its store open and must exit by itself).
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/index.js';
import { DEFAULT_AUTOCHECKPOINT_PAGES, HELD_AUTOCHECKPOINT_PAGES, WalCheckpointer, walCheckpoints } from '../../src/core/wal-checkpointer.js';
import { openEmbeddedBus } from '../../src/bus/index.js';
import { SqliteChainCounter } from '../../src/router/index.js';
import { SqliteAuditLog } from '../../src/model-gateway/audit/sqlite-audit.js';
import { openSqliteStore } from '../../src/store/index.js';
import { tempDir, tenantCtx } from '../helpers.js';

const dir = tempDir('uee-wal');
afterAll(() => dir[Symbol.dispose]());
let n = 0;

function walFile(): { path: string; db: Database.Database } {
  const path = join(dir.path, `wal-${n++}.db`);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  return { path, db };
}

const autocheckpoint = (db: Database.Database): number => db.pragma('wal_autocheckpoint', { simple: true }) as number;

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('WAL checkpoints off the main thread', () => {
  it('WAL-CKPT-1 a held connection leaves checkpoints to the thread, which copies the log into the database file; released, it is back to SQLite\'s default', async () => {
    const cp = new WalCheckpointer();
    const { path, db } = walFile();
    const hold = cp.hold(db, path, silentLogger);
    expect(autocheckpoint(db)).toBe(HELD_AUTOCHECKPOINT_PAGES);
    const before = statSync(path).size;
    // ~2,500 pages of 4 KiB in 50 transactions: past SQLite's 1,000, below the held bound, so only
    // the thread can have copied them into the file.
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    const tx = db.transaction((k: number) => {
      for (let i = 0; i < 50; i++) insert.run(`${k}:${i}:${'x'.repeat(4000)}`);
    });
    for (let k = 0; k < 50; k++) {
      tx(k);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until('the thread to checkpoint the file', () => statSync(path).size > before + 8_000_000);
    await hold.release();
    expect(autocheckpoint(db)).toBe(DEFAULT_AUTOCHECKPOINT_PAGES);
    expect(cp.files).toEqual([]);
    db.close();
  }, 30_000);

  it('WAL-CKPT-2 if the thread dies, every held connection checkpoints its file itself again, and later ones are not held', async () => {
    const cp = new WalCheckpointer();
    const a = walFile();
    const b = walFile();
    cp.hold(a.db, a.path, silentLogger);
    cp.hold(b.db, b.path, silentLogger);
    expect([autocheckpoint(a.db), autocheckpoint(b.db)]).toEqual([HELD_AUTOCHECKPOINT_PAGES, HELD_AUTOCHECKPOINT_PAGES]);
    const thread = await cp.thread!;
    await thread.terminate();
    await until('the connections to checkpoint again', () => autocheckpoint(a.db) === DEFAULT_AUTOCHECKPOINT_PAGES && autocheckpoint(b.db) === DEFAULT_AUTOCHECKPOINT_PAGES);
    const c = walFile();
    cp.hold(c.db, c.path, silentLogger);
    expect(autocheckpoint(c.db)).toBe(DEFAULT_AUTOCHECKPOINT_PAGES);
    for (const f of [a, b, c]) f.db.close();
  });

  it('WAL-CKPT-3 the store and the embedded bus on one file are watched once; the file is let go when both close, and the thread ends', async () => {
    const cp = new WalCheckpointer();
    const path = join(dir.path, `shared-${n++}.db`);
    const store = await openSqliteStore({ path, checkpoints: cp });
    const bus = await openEmbeddedBus({ path, checkpoints: cp });
    expect(cp.files).toEqual([path]);
    await store.tenants.create('acme');
    await store.put(tenantCtx('acme'), { entityTypeId: 'Task', attributes: { title: 'a' } });
    const thread = await cp.thread!;
    const exited = new Promise<number>((resolve) => thread.once('exit', resolve));
    await store.close();
    expect(cp.files).toEqual([path]);
    await bus.close();
    expect(cp.files).toEqual([]);
    expect(await exited).toBe(0);
    // A file opened after the thread ended gets a new one.
    const again = await openSqliteStore({ path, checkpoints: cp });
    expect(cp.files).toEqual([path]);
    expect(await cp.thread).not.toBe(thread);
    await again.close();
  }, 15_000);

  it('WAL-CKPT-4 by default the store, the bus, the chain counters on the bus file and the gateway audit log use the process\'s checkpoint thread; with checkpoints: false the connection checkpoints its own file', async () => {
    const path = join(dir.path, `default-${n++}.db`);
    const store = await openSqliteStore({ path });
    const bus = await openEmbeddedBus({ path });
    expect(walCheckpoints.files).toContain(path);
    await store.close();
    await bus.close();
    expect(walCheckpoints.files).not.toContain(path);
    const counters = SqliteChainCounter.open(path);
    expect(walCheckpoints.files).toContain(path);
    await counters.close();
    expect(walCheckpoints.files).not.toContain(path);
    const audit = new SqliteAuditLog(path);
    expect(walCheckpoints.files).toContain(path);
    audit.close();
    expect(walCheckpoints.files).not.toContain(path);
    const own = join(dir.path, `own-${n++}.db`);
    const alone = await openSqliteStore({ path: own, checkpoints: false });
    expect(walCheckpoints.files).not.toContain(own);
    await alone.close();
  });
  it('WAL-CKPT-5 a release settles once the thread has closed the file too: after a store or bus close nothing of the process has it open', async () => {
    const openFds = (path: string): number => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(path);
      } catch {
        return false;
      }
    }).length;
    const cp = new WalCheckpointer();
    const { path, db } = walFile();
    db.prepare('INSERT INTO t (body) VALUES (?)').run('x');
    const mine = openFds(path);
    const hold = cp.hold(db, path, silentLogger);
    // The thread has opened the file: descriptors beside this connection's.
    await until('the thread to open the file', () => openFds(path) > mine);
    db.close();
    await hold.release();
    expect(openFds(path)).toBe(0);
    // The same through a store and a bus on one file, each closed and awaited.
    const shared = join(dir.path, `close-${n++}.db`);
    const store = await openSqliteStore({ path: shared });
    const bus = await openEmbeddedBus({ path: shared });
    await store.close();
    await bus.close();
    expect(openFds(shared)).toBe(0);
  });
});
