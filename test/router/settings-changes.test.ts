/**
 * ROUTER-SETTINGS-3: the kept settings follow the store's changes by tenant — one tenant's settings
 * writes make only that tenant's settings be read again, never every other tenant's (before, any write
 * of any tenant dropped them all); a change the store cannot attribute drops everything; and checks
 * that overlap (a batch of a later turn asks while an earlier check is still out) never bring back an
 * older view or drop more than they must.
 */
import { expect, it } from 'vitest';
import type { JsonObject, TenantContext } from '../../src/core/index.js';
import type { ConfigChanges, EntityStore } from '../../src/store/port.js';
import { PluginSettings } from '../../src/router/settings.js';

/**
 * A store of settings by tenant, counting reads. `changesSince` answers from the writes made before it
 * was called, but only once `release` lets it (in any order), so checks can be made to overlap.
 */
function fakeStore(): {
  store: EntityStore;
  reads: string[];
  write(tenant: string | null, value: string): void;
  /** Writes that bump the revision without naming a tenant (an older UEE's). */
  unattributed(): void;
  release(i: number): void;
  checks: number;
} {
  const reads: string[] = [];
  const values = new Map<string, string>();
  const log: Array<string | null | undefined> = [];
  const held: Array<() => void> = [];
  const config = {
    getPlugin: (ctx: TenantContext, name: string) => {
      reads.push(`${ctx.tenantId}/${name}`);
      return Promise.resolve({ v: values.get(ctx.tenantId ?? '') ?? 'none' } as JsonObject);
    },
    changesSince: (since: number) => {
      const revision = log.length;
      const written = log.slice(since);
      const tenants = written.includes(undefined) ? null : [...new Set(written as Array<string | null>)];
      const answer: ConfigChanges = { revision, tenants };
      return new Promise<ConfigChanges>((resolve) => held.push(() => resolve(answer)));
    },
  };
  const fake = {
    store: { config } as unknown as EntityStore,
    reads,
    write: (tenant: string | null, value: string) => {
      values.set(tenant ?? '', value);
      log.push(tenant);
    },
    unattributed: () => void log.push(undefined),
    release: (i: number) => held[i]!(),
    get checks() {
      return held.length;
    },
  };
  return fake;
}

/** Lets `performance.now()` move on, so a batch made after this is read after every check asked before. */
const later = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

/** Settles pending promise callbacks. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

// Tight bounds too: a tenant's settings read again must not stay counted (acme would be dropped with it).
it.each([
  ['default bounds', undefined],
  ['a 120-character bound', { entries: 1000, chars: 120, entryChars: 100 }],
])('ROUTER-SETTINGS-3 one tenant writing its settings makes only its own be read again; an unattributed change drops everything (%s)', async (_label, bounds) => {
  const fake = fakeStore();
  const settings = new PluginSettings(fake.store, bounds);
  const read = async (tenant: string, check: number): Promise<JsonObject> => {
    await later();
    const p = settings.batch().plugin(tenant, 'x', 'test');
    await settle();
    fake.release(check);
    return p;
  };
  await read('acme', 0);
  await read('globex', 1);
  expect(fake.reads).toEqual(['acme/x', 'globex/x']);

  // globex writes 20 times, each followed by a batch of both tenants: acme is never read again.
  for (let i = 0; i < 20; i++) {
    fake.write('globex', `g${i}`);
    await later();
    const batch = settings.batch();
    const a = batch.plugin('acme', 'x', 'test');
    const g = batch.plugin('globex', 'x', 'test');
    await settle();
    fake.release(fake.checks - 1);
    expect(await a).toEqual({ v: 'none' });
    expect(await g).toEqual({ v: `g${i}` });
  }
  expect(fake.reads.filter((r) => r === 'acme/x')).toHaveLength(1);
  expect(fake.reads.filter((r) => r === 'globex/x')).toHaveLength(21);

  // A change the store cannot attribute: everything is read again.
  fake.unattributed();
  fake.reads.length = 0;
  expect(await read('acme', fake.checks)).toEqual({ v: 'none' });
  expect(await read('globex', fake.checks)).toEqual({ v: 'g19' });
  expect(fake.reads).toEqual(['acme/x', 'globex/x']);
});

it('ROUTER-SETTINGS-3b overlapping checks, answered in either order: the newest view wins and only written tenants are read again', async () => {
  for (const order of [
    [0, 1],
    [1, 0],
  ]) {
    const fake = fakeStore();
    const settings = new PluginSettings(fake.store);
    const warm = settings.batch();
    const a0 = warm.plugin('acme', 'x', 'test');
    const g0 = warm.plugin('globex', 'x', 'test');
    await settle();
    fake.release(0);
    await Promise.all([a0, g0]);
    fake.reads.length = 0;

    // Two checks out at once, each from the kept revision: the first sees one globex write, the second two.
    fake.write('globex', 'g1');
    await later();
    const first = settings.batch().plugin('globex', 'x', 'test');
    await settle();
    fake.write('globex', 'g2');
    await later();
    const second = settings.batch();
    const g2 = second.plugin('globex', 'x', 'test');
    const a2 = second.plugin('acme', 'x', 'test');
    await settle();
    expect(fake.checks).toBe(3);
    for (const i of order) {
      fake.release(1 + i);
      await settle();
    }
    expect(await g2).toEqual({ v: 'g2' });
    expect(await a2).toEqual({ v: 'none' });
    // The first batch may see g1 or g2 (both were written before it was read back), never the first value.
    expect(['g1', 'g2']).toContain(((await first) as { v: string }).v);
    // Then a batch of both: nothing newer was written, so nothing is read again.
    await later();
    const third = settings.batch();
    const g3 = third.plugin('globex', 'x', 'test');
    const a3 = third.plugin('acme', 'x', 'test');
    await settle();
    fake.release(3);
    expect(await g3).toEqual({ v: 'g2' });
    expect(await a3).toEqual({ v: 'none' });
    expect(fake.reads.filter((r) => r === 'acme/x'), `order ${order.join(',')}`).toEqual([]);
    expect(fake.reads.filter((r) => r === 'globex/x').length, `order ${order.join(',')}`).toBeLessThanOrEqual(2);
  }
});
