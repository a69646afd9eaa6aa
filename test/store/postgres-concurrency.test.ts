import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isUeeError, type EntityVersion } from '../../src/core/index.js';
import { openPostgresStore, type EntityStore } from '../../src/store/index.js';
import { tenantCtx } from '../helpers.js';
import { TEST_POSTGRES_URL, dropSchemas, randomSchema } from './postgres-helpers.js';

// Several writers on one schema — two pools in this process, or two processes — must behave as if
// the commits ran one after another: one winner per expected version, no lost update, one
// application per idempotency key.

const ctx = tenantCtx('acme');
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

async function allHistory(store: EntityStore, entityId: string): Promise<EntityVersion[]> {
  const out: EntityVersion[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.history(ctx, entityId, { limit: 1000, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

describe('postgres store under concurrent writers', () => {
  let schema: string;
  let one: EntityStore;
  let two: EntityStore;
  beforeEach(async () => {
    schema = randomSchema('conc');
    schemas.push(schema);
    one = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    two = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
    await one.tenants.create('acme');
  });
  afterEach(async () => {
    await one.close();
    await two.close();
  });

  it('PGC01 writers racing on one expectedVersion: exactly one wins per version, the others get VERSION_CONFLICT', async () => {
    await one.put(ctx, { entityId: 'hot', entityTypeId: 'Task', attributes: { v: 0 }, expectedVersion: 0 });
    for (let v = 1; v <= 15; v++) {
      const attempts = [one, two, one, two, one, two].map((s, w) => s.put(ctx, { entityId: 'hot', entityTypeId: 'Task', attributes: { v, w }, expectedVersion: v }));
      const results = await Promise.allSettled(attempts);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won, `round ${v}`).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(isUeeError(r.reason, 'VERSION_CONFLICT')).toBe(true);
      expect((won[0] as PromiseFulfilledResult<EntityVersion>).value.version).toBe(v + 1);
    }
    const history = await allHistory(two, 'hot');
    expect(history.map((h) => h.version)).toEqual(Array.from({ length: 16 }, (_, i) => 16 - i));
    expect(await one.outbox.size()).toBe(16);
  });

  it('PGC02 unconditional writers from two pools get distinct consecutive versions, each announced once', async () => {
    const writes = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one : two).put(ctx, { entityId: 'busy', entityTypeId: 'Task', attributes: { i } }));
    const versions = (await Promise.all(writes)).map((v) => v.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect((await one.get(ctx, 'busy')).version).toBe(40);
    const events = await one.outbox.peek(1000);
    expect(events.map((e) => e.event.entityVersion)).toEqual(versions);
    expect((await one.query(ctx, { entityTypeId: 'Task' })).items).toHaveLength(1);
  });

  it('PGC03 one idempotency key committed concurrently from two pools applies once and every caller gets the first result', async () => {
    const batch = { idempotencyKey: 'evt-9:plugin@1', writes: [{ entityTypeId: 'Task', attributes: { a: 1 } }], events: [{ type: 'Pinged' }] };
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? one : two).commit(ctx, batch)));
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    const first = results.find((r) => r.applied)!;
    for (const r of results) expect(r.versions).toEqual(first.versions);
    expect(await one.outbox.size()).toBe(2);
    expect((await two.query(ctx, { entityTypeId: 'Task' })).items).toHaveLength(1);
  });

  it('PGC04 two processes doing read-modify-write on one counter lose no update', async () => {
    await one.put(ctx, { entityId: 'counter', entityTypeId: 'Counter', attributes: { n: 0 } });
    const rounds = 25;
    const run = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'child-pg-counter.ts'), TEST_POSTGRES_URL, schema, String(rounds)], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.once('exit', (code) => {
          const done = /DONE (\d+)/.exec(out);
          if (code === 0 && done) resolve(Number(done[1]));
          else reject(new Error(`child exited ${String(code)}: ${err}`));
        });
      });
    const conflicts = await Promise.all([run(), run()]);
    const counter = await one.get(ctx, 'counter');
    expect(counter.attributes.n).toBe(2 * rounds);
    expect(counter.version).toBe(2 * rounds + 1);
    const log = await allHistory(one, 'log');
    expect(log.map((v) => v.version)).toEqual(Array.from({ length: 2 * rounds }, (_, i) => 2 * rounds - i));
    // Not asserted (timing): how often the two processes actually collided.
    expect(conflicts.every((c) => c >= 0)).toBe(true);
  }, 60_000);
});
