import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import { CONFIG_CHANGES_KEPT } from '../../src/store/port.js';
import { tempDir, tenantCtx } from '../helpers.js';
import { expectCode, storeConformance } from './conformance.js';

const dir = tempDir('uee-store');
afterAll(() => dir[Symbol.dispose]());
let n = 0;

storeConformance('sqlite', () => openSqliteStore({ path: join(dir.path, `store-${n++}.db`) }));

describe('sqlite store specifics', () => {
  it('SQ-ID the identity is the file\'s: the same reopened, through a link, from two handles at once; an in-memory store\'s is its own', async () => {
    const path = join(dir.path, 'identity.db');
    const first = await openSqliteStore({ path });
    const id = await first.identity();
    const link = join(dir.path, 'identity-link.db');
    symlinkSync(path, link);
    const second = await openSqliteStore({ path: link });
    expect(await second.identity()).toBe(id);
    await first.close();
    await second.close();
    const reopened = await openSqliteStore({ path });
    expect(await reopened.identity()).toBe(id);
    await reopened.close();
    // A file written before identities (no table): given one at its next open, kept from then on.
    const older = new Database(path);
    older.exec('DROP TABLE store_identity');
    older.close();
    const upgraded = await openSqliteStore({ path });
    const given = await upgraded.identity();
    expect(given).toMatch(/^sqlite:[0-9a-f-]{36}$/);
    await upgraded.close();
    const again = await openSqliteStore({ path });
    expect(await again.identity()).toBe(given);
    await again.close();
    const [m1, m2] = await Promise.all([openSqliteStore({ path: ':memory:' }), openSqliteStore({ path: ':memory:' })]);
    expect(await m1.identity()).not.toBe(await m2.identity());
    await m1.close();
    await m2.close();
  });

  it('SQ01 data survives closing and reopening the same file', async () => {
    const path = join(dir.path, 'persist.db');
    const ctx = tenantCtx('acme');
    const first = await openSqliteStore({ path });
    await first.tenants.create('acme');
    const v = await first.put(ctx, { entityTypeId: 'Task', attributes: { keep: true } });
    await first.readModels.upsert(ctx, 'board', 'x', { n: 1 });
    await first.config.setTenant(ctx, { a: 1 });
    await first.close();
    const second = await openSqliteStore({ path });
    expect((await second.get(ctx, v.entityId)).attributes).toEqual({ keep: true });
    expect((await second.readModels.get(ctx, 'board', 'x')).doc).toEqual({ n: 1 });
    expect(await second.config.getTenant(ctx)).toEqual({ a: 1 });
    expect(await second.outbox.size()).toBe(1);
    await second.close();
  });

  it('SQ02 a corrupted row reads back as CORRUPT_DATA', async () => {
    const path = join(dir.path, 'corrupt.db');
    const ctx = tenantCtx('acme');
    const store = await openSqliteStore({ path });
    await store.tenants.create('acme');
    await store.put(ctx, { entityId: 'c-1', entityTypeId: 'Task', attributes: {} });
    const raw = new Database(path);
    raw.prepare("UPDATE entity_versions SET doc = json_set(doc, '$.version', 'two')").run();
    raw.prepare("UPDATE outbox SET event = '{not json'").run();
    raw.close();
    await expectCode(store.get(ctx, 'c-1'), 'CORRUPT_DATA');
    await expectCode(store.query(ctx, { entityTypeId: 'Task' }), 'CORRUPT_DATA');
    await expectCode(store.outbox.peek(10), 'CORRUPT_DATA');
    await store.close();
  });

  it('SQ03 limits are configurable and checked at open', async () => {
    const store = await openSqliteStore({ path: ':memory:', limits: { maxAttributeBytes: 100 } });
    await store.tenants.create('acme');
    const err = await expectCode(store.put(tenantCtx('acme'), { entityTypeId: 'Task', attributes: { s: 'x'.repeat(200) } }), 'PAYLOAD_TOO_LARGE');
    expect(err.details.limit).toBe(100);
    await store.close();
    await expectCode(openSqliteStore({ path: ':memory:', limits: { maxBatchSize: 0 } }), 'CONFIG_INVALID');
    await expectCode(openSqliteStore({ path: join(dir.path, 'no/such/dir/x.db') }), 'CONFIG_INVALID');
  });

  it('SQ04 a settings write by an older UEE (no tenant recorded) and a forgotten one make changesSince answer null; the last CONFIG_CHANGES_KEPT are kept', async () => {
    const path = join(dir.path, 'changes.db');
    const store = await openSqliteStore({ path });
    await store.tenants.create('acme');
    await store.tenants.create('globex');
    const r0 = await store.config.revision();
    await store.config.setPlugin(tenantCtx('acme'), 'mailer', { n: 1 });
    // What a UEE from before the change log writes: the settings and the revision's bump only.
    const raw = new Database(path);
    raw.prepare("INSERT INTO plugin_config (tenant_key, plugin_name, settings) VALUES ('globex', 'mailer', '{}') ON CONFLICT (tenant_key, plugin_name) DO UPDATE SET settings = excluded.settings").run();
    raw.prepare('INSERT INTO config_revision (id, rev) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET rev = rev + 1').run();
    expect(await store.config.changesSince(r0, 10)).toEqual({ revision: r0 + 2, tenants: null });
    expect(await store.config.changesSince(r0 + 1, 10)).toEqual({ revision: r0 + 2, tenants: null });
    await store.config.setPlugin(tenantCtx('globex'), 'mailer', { n: 2 });
    expect(await store.config.changesSince(r0 + 2, 10)).toEqual({ revision: r0 + 3, tenants: ['globex'] });
    // Only the last CONFIG_CHANGES_KEPT writes are remembered: asking from before them cannot be answered.
    for (let i = 0; i < CONFIG_CHANGES_KEPT + 5; i++) await store.config.setPlugin(tenantCtx(i % 2 === 0 ? 'acme' : 'globex'), 'mailer', { i });
    const rev = await store.config.revision();
    expect(raw.prepare('SELECT count(*) AS n FROM config_changes').get()).toEqual({ n: CONFIG_CHANGES_KEPT });
    expect(await store.config.changesSince(rev - CONFIG_CHANGES_KEPT, CONFIG_CHANGES_KEPT)).toEqual({ revision: rev, tenants: ['globex', 'acme'] });
    expect(await store.config.changesSince(rev - CONFIG_CHANGES_KEPT - 1, CONFIG_CHANGES_KEPT + 1)).toEqual({ revision: rev, tenants: null });
    raw.close();
    await store.close();
  });
});
