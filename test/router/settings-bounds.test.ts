/**
 * ROUTER-SETTINGS-2: what a process keeps of tenants' plugin settings is bounded — a tenant storing
 * large settings for many plugins cannot make the router hold them all: a document over the
 * per-entry bound is read per batch (never kept), and past the entry or character bound the kept
 * settings start over.
 */
import { expect, it } from 'vitest';
import type { JsonObject, TenantContext } from '../../src/core/index.js';
import type { EntityStore } from '../../src/store/index.js';
import { PluginSettings } from '../../src/router/settings.js';

/** A store whose plugin settings are `docs` (by plugin name), counting reads; nothing is ever written. */
function fakeStore(docs: Record<string, JsonObject>): { store: EntityStore; reads: string[] } {
  const reads: string[] = [];
  const config = {
    changesSince: (since: number) => Promise.resolve({ revision: 1, tenants: since === 1 ? [] : null }),
    getPlugin: (ctx: TenantContext, name: string) => {
      reads.push(name);
      return Promise.resolve(docs[name] ?? {});
    },
  };
  return { store: { config } as unknown as EntityStore, reads };
}

/** One batch asking for each of `names` (tenant acme). */
async function batch(settings: PluginSettings, ...names: string[]): Promise<void> {
  const source = settings.batch();
  for (const name of names) await source.plugin('acme', name, 'test');
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
