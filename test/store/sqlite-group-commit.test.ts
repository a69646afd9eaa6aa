// Group commit of the SQLite store (src/store/sqlite/commit-group.ts): commits called in one turn share
// one transaction (a savepoint each only when one fails half-way through its writes), and each keeps
// the guarantees it has alone.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EntityStore, CommitBatch } from '../../src/store/index.js';
import { openSqliteStore } from '../../src/store/index.js';
import { tempDir, tenantCtx } from '../helpers.js';
import { expectCode } from './conformance.js';

const dir = tempDir('uee-group-commit');
afterAll(() => dir[Symbol.dispose]());
let n = 0;
const A = tenantCtx('acme');
const task = (entityId: string, extra: Record<string, unknown> = {}): NonNullable<CommitBatch['writes']>[number] => ({ entityId, entityTypeId: 'Task', attributes: {}, ...extra });

/** Every outcome of commits started in the same turn (one group), without failing on rejections. */
function group(store: EntityStore, batches: CommitBatch[]): Promise<Array<PromiseSettledResult<Awaited<ReturnType<EntityStore['commit']>>>>> {
  return Promise.allSettled(batches.map((b) => store.commit(A, b)));
}

function reason(r: PromiseSettledResult<unknown> | undefined): { code: string; message: string; retryable: boolean; details: Record<string, unknown> } {
  expect(r?.status).toBe('rejected');
  return (r as PromiseRejectedResult).reason as { code: string; message: string; retryable: boolean; details: Record<string, unknown> };
}

describe('sqlite group commit', () => {
  let store: EntityStore;
  let path: string;
  afterEach(async () => {
    await store.close();
  });
  const open = async (): Promise<EntityStore> => {
    path = join(dir.path, `gc-${n++}.db`);
    store = await openSqliteStore({ path });
    await store.tenants.create('acme');
    return store;
  };

  it('STORE-GC-1 a failing commit inside a group is rolled back alone, with its own typed error; the others commit', async () => {
    await open();
    const fence = (token: number): CommitBatch['fence'] => ({ key: 'q:plugin:acme:Q', token });
    await store.commit(A, { fence: fence(1), writes: [task('taken')] });
    const [first, failing, last] = await group(store, [
      { idempotencyKey: 'k-1', fence: fence(1), writes: [task('a')] },
      // It raises the fence to 2 inside the group before its write conflicts: that must not stay, or
      // the next commit (still at token 1) would be refused.
      { idempotencyKey: 'k-2', fence: fence(2), writes: [task('half'), task('taken', { expectedVersion: 0 })], events: [{ type: 'Never' }] },
      { idempotencyKey: 'k-3', fence: fence(1), writes: [task('c')] },
    ]);
    expect(first?.status === 'fulfilled' && first.value.applied).toBe(true);
    expect(last?.status === 'fulfilled' && last.value.applied).toBe(true);
    const err = reason(failing);
    expect(err.code).toBe('VERSION_CONFLICT');
    expect(err.details).toMatchObject({ entityId: 'taken', expected: 0, actual: 1 });
    await expectCode(store.get(A, 'half'), 'NOT_FOUND');
    expect((await store.get(A, 'taken')).version).toBe(1);
    expect([await store.committed(A, 'k-1'), await store.committed(A, 'k-2'), await store.committed(A, 'k-3')]).toEqual([true, false, true]);
    const types = (await store.outbox.peek(100)).map((e) => `${e.event.type}:${e.event.entityId ?? ''}`);
    expect(types).toEqual(['EntityCreated:taken', 'EntityCreated:a', 'EntityCreated:c']);
    const journal = await store.journal.read(A, {});
    expect(journal.entries.map((e) => e.position)).toEqual([1, 2, 3]);
  });

  it('STORE-GC-2 commits of one group check versions, idempotency keys and fences against the earlier commits of the group', async () => {
    await open();
    const fence = (token: number): CommitBatch['fence'] => ({ key: 'q:plugin:acme:Q', token });
    const [created, conflict, next, key1, key2, newer, stale] = await group(store, [
      { writes: [task('e', { expectedVersion: 0, attributes: { by: 1 } })] },
      { writes: [task('e', { expectedVersion: 0, attributes: { by: 2 } })] },
      { writes: [task('e', { expectedVersion: 1, attributes: { by: 3 } })] },
      { idempotencyKey: 'same', writes: [task('i')] },
      { idempotencyKey: 'same', writes: [task('i')] },
      { fence: fence(2), writes: [task('f2')] },
      { fence: fence(1), writes: [task('f1')] },
    ]);
    expect(created?.status).toBe('fulfilled');
    expect(reason(conflict)).toMatchObject({ code: 'VERSION_CONFLICT', details: { entityId: 'e', expected: 0, actual: 1 } });
    expect(next?.status === 'fulfilled' && next.value.versions[0]!.version).toBe(2);
    expect((await store.get(A, 'e')).attributes).toEqual({ by: 3 });
    expect(key1?.status === 'fulfilled' && key1.value.applied).toBe(true);
    expect(key2?.status === 'fulfilled' && key2.value).toMatchObject({ applied: false, versions: [{ entityId: 'i', version: 1 }] });
    expect((await store.history(A, 'i')).items).toHaveLength(1);
    expect(newer?.status).toBe('fulfilled');
    expect(reason(stale)).toMatchObject({ code: 'FENCED', details: { token: 1, current: 2 } });
    await expectCode(store.get(A, 'f1'), 'NOT_FOUND');
  });

  it('STORE-GC-3 a commit that rolls back the whole transaction takes none of its group with it half-applied: nothing of the group is committed, every commit is rejected (the others retryable) and commits again', async () => {
    await open();
    // A trigger's RAISE(ROLLBACK) ends the transaction itself, like SQLITE_FULL or an I/O error can.
    const raw = new Database(path);
    raw.exec(`CREATE TRIGGER boom BEFORE INSERT ON outbox WHEN json_extract(NEW.event, '$.type') = 'Boom' BEGIN SELECT RAISE(ROLLBACK, 'boom'); END`);
    raw.close();
    const batches: CommitBatch[] = [
      { idempotencyKey: 'before', writes: [task('before')] },
      { idempotencyKey: 'boom', writes: [task('boom')], events: [{ type: 'Boom' }] },
      { idempotencyKey: 'after', writes: [task('after')] },
    ];
    const [before, boom, after] = await group(store, batches);
    expect(reason(boom).retryable).toBe(false);
    for (const r of [before, after]) expect(reason(r)).toMatchObject({ code: 'BACKEND_UNAVAILABLE', retryable: true });
    for (const id of ['before', 'boom', 'after']) await expectCode(store.get(A, id), 'NOT_FOUND');
    expect(await store.outbox.size()).toBe(0);
    expect(await store.committed(A, 'before')).toBe(false);
    const retried = await group(store, [batches[0]!, batches[2]!]);
    expect(retried.map((r) => r.status === 'fulfilled' && r.value.applied)).toEqual([true, true]);
    expect((await store.journal.read(A, {})).entries.map((e) => e.event.entityId)).toEqual(['before', 'after']);
  });

  it('STORE-GC-6 a commit whose writes fail half-way is rolled back alone, its fence raise too; the others commit, and positions stay contiguous', async () => {
    await open();
    // RAISE(ABORT) fails the statement only: the commit's version row is already written in the
    // group's transaction when its outbox insert fails, and the transaction goes on.
    const raw = new Database(path);
    raw.exec(`CREATE TRIGGER half BEFORE INSERT ON outbox WHEN json_extract(NEW.event, '$.type') = 'Half' BEGIN SELECT RAISE(ABORT, 'half'); END`);
    raw.close();
    const fence = (token: number): CommitBatch['fence'] => ({ key: 'q:plugin:acme:H', token });
    await store.commit(A, { fence: fence(1), writes: [task('fenced')] });
    const [before, half, after, stillOne] = await group(store, [
      { idempotencyKey: 'before', writes: [task('before')] },
      { idempotencyKey: 'half', fence: fence(2), writes: [task('half')], events: [{ type: 'Half' }] },
      { idempotencyKey: 'after', writes: [task('after')] },
      { idempotencyKey: 'still-1', fence: fence(1), writes: [task('still-1')] },
    ]);
    expect(reason(half).message).toContain('half');
    for (const r of [before, after, stillOne]) expect(r?.status === 'fulfilled' && r.value.applied).toBe(true);
    await expectCode(store.get(A, 'half'), 'NOT_FOUND');
    expect(await store.committed(A, 'half')).toBe(false);
    const types = (await store.outbox.peek(100)).map((e) => e.event.entityId);
    expect(types).toEqual(['fenced', 'before', 'after', 'still-1']);
    const journal = await store.journal.read(A, {});
    expect(journal.entries.map((e) => [e.position, e.event.entityId])).toEqual([[1, 'fenced'], [2, 'before'], [3, 'after'], [4, 'still-1']]);
  });

  it('STORE-GC-4 calls take effect in call order: a read made after a commit (not yet awaited) sees it, a commit after that read still commits, and close writes the waiting commits', async () => {
    await open();
    const committing = store.commit(A, { writes: [task('early')] });
    const read = store.get(A, 'early');
    // Made after the read wrote the group early, in the same turn: it must get a group of its own.
    const later = store.commit(A, { writes: [task('later')] });
    expect((await read).version).toBe(1);
    expect((await committing).applied).toBe(true);
    expect((await later).applied).toBe(true);
    const waiting = store.commit(A, { writes: [task('at-close')] });
    await store.close();
    expect((await waiting).applied).toBe(true);
    store = await openSqliteStore({ path });
    expect((await store.get(A, 'at-close')).version).toBe(1);
  });

  it('STORE-GC-5 after SIGKILL during grouped commits, every acknowledged commit is there and no group is half-applied', async () => {
    path = join(dir.path, `gc-crash-${n++}.db`);
    const acked: number[] = [];
    // Three children in turn on one file, each killed while it writes its groups: the kill lands
    // inside a group's transaction most of the time.
    for (let round = 0; round < 3; round++) await writeUntilKilled(path, round * 1_000_000, acked);
    store = await openSqliteStore({ path });
    const members = new Map<number, number>();
    let cursor: string | undefined;
    do {
      const page = await store.query(A, { entityTypeId: 'Task', limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      for (const v of page.items) members.set(v.attributes.g as number, (members.get(v.attributes.g as number) ?? 0) + 1);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    for (const g of acked) expect(members.get(g), `acknowledged group ${g}`).toBe(GROUP_WRITES);
    for (const [g, count] of members) expect(count, `group ${g}`).toBe(GROUP_WRITES);
  }, 120_000);
});

/** What child-group-writer.ts writes per group: 32 commits of 3 writes. */
const GROUP_WRITES = 32 * 3;

/** Runs child-group-writer.ts on `path` from group `first`, SIGKILLs it after 20 acknowledged groups, and adds them to `acked`. */
async function writeUntilKilled(path: string, first: number, acked: number[]): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'child-group-writer.ts'), path, String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let mine = 0;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('G ')) return;
      acked.push(Number(line.slice(2)));
      if (++mine === 20) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited ${String(code)} after ${mine} groups: ${stderr}`)));
  });
  child.kill('SIGKILL');
  await exited;
}
