/**
 * ROUTER-SETTINGS-2: what a process keeps of tenants' plugin settings is bounded — a tenant storing
 * large settings for many plugins cannot make the router hold them all: a document over the
 * per-entry bound is read per batch (never kept), and past the entry or character bound the kept
 * settings start over — ROUTER-SETTINGS-4: by dropping the tenant holding the most, so one tenant's
 * large settings never make another tenant's be read again.
 */
import { expect, it } from 'vitest';
import type { JsonObject, TenantContext } from '../../src/core/index.js';
import type { EntityStore } from '../../src/store/index.js';
import { PluginSettings } from '../../src/router/settings.js';

/** A store whose plugin settings are `docs` (by plugin name, any tenant), counting reads (`name`, or `tenant/name` for another tenant than acme); nothing is ever written. */
function fakeStore(docs: Record<string, JsonObject>): { store: EntityStore; reads: string[] } {
  const reads: string[] = [];
  const config = {
    changesSince: (since: number) => Promise.resolve({ revision: 1, tenants: since === 1 ? [] : null }),
    getPlugin: (ctx: TenantContext, name: string) => {
      reads.push(ctx.tenantId === 'acme' ? name : `${String(ctx.tenantId)}/${name}`);
      return Promise.resolve(docs[name] ?? {});
    },
  };
  return { store: { config } as unknown as EntityStore, reads };
}

/** One batch asking for each of `names` (of `tenant`, acme by default). */
async function batch(settings: PluginSettings, ...names: string[]): Promise<void> {
  const source = settings.batch();
  for (const name of names) await source.plugin('acme', name, 'test');
}
async function batchOf(settings: PluginSettings, tenant: string, ...names: string[]): Promise<void> {
  const source = settings.batch();
  for (const name of names) await source.plugin(tenant, name, 'test');
}

it('ROUTER-SETTINGS-2 a document over the per-entry bound is never kept; past the entry or character bound the kept settings start over', async () => {
  const docs: Record<string, JsonObject> = { small: { v: 1 }, big: { v: 'x'.repeat(300) }, a: { v: 'a'.repeat(100) }, b: { v: 'b'.repeat(100) }, c: { v: 'c'.repeat(100) } };
  const { store, reads } = fakeStore(docs);
  const settings = new PluginSettings(store, { entries: 3, chars: 250, entryChars: 200 });

  await batch(settings, 'small', 'big');
  await batch(settings, 'small', 'big');
  // `small` kept; `big` (over 200 characters) read by every batch.
  expect(reads).toEqual(['small', 'big', 'big']);

  reads.length = 0;
  await batch(settings, 'a', 'b');
  // small + a + b: 3 entries kept, over 250 characters: the next batch starts over.
  await batch(settings, 'small', 'a');
  expect(reads).toEqual(['a', 'b', 'small', 'a']);

  reads.length = 0;
  await batch(settings, 'small', 'a');
  await batch(settings, 'c');
  // small + a + c = 3 entries: the batch after starts over as well.
  await batch(settings, 'small');
  expect(reads).toEqual(['c', 'small']);

  // The character bound alone: three entries of ~110 characters, room for ten entries but 250 characters.
  reads.length = 0;
  const byChars = new PluginSettings(store, { entries: 10, chars: 250, entryChars: 200 });
  await batch(byChars, 'a', 'b');
  await batch(byChars, 'a', 'b', 'c');
  await batch(byChars, 'a');
  expect(reads).toEqual(['a', 'b', 'c', 'a']);
});

it('ROUTER-SETTINGS-4 past a bound, the tenant holding the most is dropped, not everyone: a tenant with large settings for many plugins re-reads its own', async () => {
  const docs: Record<string, JsonObject> = { small: { v: 1 }, a: { v: 'a'.repeat(100) }, b: { v: 'b'.repeat(100) }, c: { v: 'c'.repeat(100) } };
  const { store, reads } = fakeStore(docs);
  const byChars = new PluginSettings(store, { entries: 100, chars: 250, entryChars: 200 });
  await batchOf(byChars, 'quiet', 'small');
  for (let round = 0; round < 3; round++) {
    await batchOf(byChars, 'hog', 'a', 'b', 'c');
    await batchOf(byChars, 'quiet', 'small');
  }
  // hog's three ~110-character documents go over 250 characters each round and hog is dropped; quiet's stays.
  expect(reads.filter((r) => r === 'quiet/small')).toHaveLength(1);
  expect(reads.filter((r) => r.startsWith('hog/'))).toHaveLength(9);
  // The entry bound alike.
  reads.length = 0;
  const byEntries = new PluginSettings(store, { entries: 4, chars: 100_000, entryChars: 200 });
  await batchOf(byEntries, 'quiet', 'small');
  for (let round = 0; round < 3; round++) {
    await batchOf(byEntries, 'hog', 'a', 'b', 'c', 'small');
    await batchOf(byEntries, 'quiet', 'small');
  }
  expect(reads.filter((r) => r === 'quiet/small')).toHaveLength(1);
});

