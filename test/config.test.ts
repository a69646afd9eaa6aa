import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { isUeeError } from '../src/core/index.js';

/** Loading with `variable` set to `bad` fails with CONFIG_INVALID, its message or hint matching `names`. */
function expectInvalid(variable: string, bad: string, names: RegExp): void {
  let caught: unknown;
  try {
    loadConfig({}, { [variable]: bad });
  } catch (err) {
    caught = err;
  }
  expect(isUeeError(caught) && caught.code === 'CONFIG_INVALID', bad).toBe(true);
  expect(String((caught as Error).message) + JSON.stringify((caught as { hint?: string }).hint ?? ''), bad).toMatch(names);
}

describe('config', () => {
  it('CFG-1: defaults to the embedded store and bus in ./.uee on 127.0.0.1:7070', () => {
    const c = loadConfig({}, {});
    expect(c.store.kind).toBe('sqlite');
    expect(c.bus.kind).toBe('embedded');
    expect(c.http).toEqual({ host: '127.0.0.1', port: 7070 });
    expect(c.store.kind === 'sqlite' && c.store.path.endsWith('.uee/uee.db')).toBe(true);
  });

  it('CFG-2: flags win over the environment', () => {
    const c = loadConfig({ port: '9000' }, { UEE_PORT: '8000', UEE_BUS: 'redis://127.0.0.1:6379' });
    expect(c.http.port).toBe(9000);
    expect(c.bus).toMatchObject({ kind: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'uee:' });
  });

  it('CFG-3: bad values are CONFIG_INVALID naming flag and variable, and passwords are redacted', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ store: 'mysql://x' }, 'UEE_STORE'],
      [{ bus: 'kafka://x' }, 'UEE_BUS'],
      [{ port: '99999' }, 'UEE_PORT'],
      [{ logLevel: 'loud' }, 'UEE_LOG_LEVEL'],
      [{ tenants: 'ok,bad tenant' }, 'UEE_TENANTS'],
      [{ bus: 'redis://' }, 'UEE_BUS'],
    ];
    for (const [flags, env] of cases) {
      let caught: unknown;
      try {
        loadConfig(flags, {});
      } catch (err) {
        caught = err;
      }
      expect(isUeeError(caught, 'CONFIG_INVALID'), JSON.stringify(flags)).toBe(true);
      expect((caught as Error).message).toContain(env);
    }
    try {
      loadConfig({ bus: 'amqp://user:secret@host' }, {});
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });

  it('CFG-6: UEE_MAX_IN_HAND / --max-in-hand bound the router\'s deliveries in hand (0: the router\'s default); a bad value names both', () => {
    expect(loadConfig({}, {}).runtime.maxInHand).toBe(0);
    expect(loadConfig({}, { UEE_MAX_IN_HAND: '2000' }).runtime.maxInHand).toBe(2000);
    expect(loadConfig({ maxInHand: '500' }, { UEE_MAX_IN_HAND: '2000' }).runtime.maxInHand).toBe(500);
    for (const bad of ['-1', 'lots', '2000000']) expectInvalid('UEE_MAX_IN_HAND', bad, /max-in-hand|UEE_MAX_IN_HAND/);
  });

  it('CFG-7: UEE_HOST_CALL_SPIN_US / --host-call-spin-us set how long the main thread polls for host calls (default 1000, 0 = off); a bad value names both', () => {
    expect(loadConfig({}, {}).runtime.hostCallSpinUs).toBe(1000);
    expect(loadConfig({}, { UEE_HOST_CALL_SPIN_US: '0' }).runtime.hostCallSpinUs).toBe(0);
    expect(loadConfig({ hostCallSpinUs: '250' }, { UEE_HOST_CALL_SPIN_US: '0' }).runtime.hostCallSpinUs).toBe(250);
    for (const bad of ['-1', 'fast', '1000000']) expectInvalid('UEE_HOST_CALL_SPIN_US', bad, /host-call-spin-us|UEE_HOST_CALL_SPIN_US/);
  });

  it('CFG-8: UEE_DEDUPE_WINDOW_MS / UEE_SETTLED_DEDUPE_MS set how long the bus remembers unsettled and settled event ids (default 24 h / 60 s); settled above the window or a bad value names both', () => {
    expect(loadConfig({}, {}).limits).toMatchObject({ dedupeWindowMs: 86_400_000, settledDedupeMs: 60_000 });
    expect(loadConfig({ settledDedupeMs: '5000' }, { UEE_DEDUPE_WINDOW_MS: '3600000', UEE_SETTLED_DEDUPE_MS: '2000' }).limits).toMatchObject({ dedupeWindowMs: 3_600_000, settledDedupeMs: 5_000 });
    for (const bad of ['0', 'a day', '9999999999999']) expectInvalid('UEE_DEDUPE_WINDOW_MS', bad, /dedupe-window-ms|UEE_DEDUPE_WINDOW_MS/);
    for (const bad of ['-5', '999']) expectInvalid('UEE_SETTLED_DEDUPE_MS', bad, /settled-dedupe-ms|UEE_SETTLED_DEDUPE_MS/);
    expectInvalid('UEE_SETTLED_DEDUPE_MS', '86400001', /settled-dedupe-ms.*dedupe-window-ms|UEE_SETTLED_DEDUPE_MS/);
  });

  it('CFG-4: mongodb URLs take the database from the path', () => {
    const c = loadConfig({ store: 'mongodb://127.0.0.1:27017/prod' }, {});
    expect(c.store).toEqual({ kind: 'mongodb', url: 'mongodb://127.0.0.1:27017/prod', database: 'prod' });
  });

  it('CFG-5: postgres URLs keep the connection part and take the schema from ?schema= (default uee)', () => {
    expect(loadConfig({ store: 'postgres://postgres@127.0.0.1:5432/test' }, {}).store).toEqual({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'uee' });
    expect(loadConfig({}, { UEE_STORE: 'postgresql://u:pw@db:5433/prod?schema=tenant_a&sslmode=require' }).store).toEqual({
      kind: 'postgres',
      url: 'postgresql://u:pw@db:5433/prod?sslmode=require',
      schema: 'tenant_a',
    });
    let caught: unknown;
    try {
      loadConfig({ store: 'postgres://u:secret@db/prod?schema=Bad;Drop' }, {});
    } catch (err) {
      caught = err;
    }
    expect(isUeeError(caught, 'CONFIG_INVALID')).toBe(true);
    expect((caught as Error).message).toContain('UEE_STORE');
    expect((caught as Error).message).not.toContain('secret');
  });

  it('CFG-NPM-1: npm settings from UEE_NPM_*: registry, cache under the data dir, allow/deny lists, limits; bad values are CONFIG_INVALID', () => {
    const d = loadConfig({ dataDir: '/tmp/uee-x' }, {}).npm;
    expect(d).toMatchObject({ registry: 'https://registry.npmjs.org', cacheDir: '/tmp/uee-x/npm-cache', allow: [], deny: [], maxPackages: 64 });
    const c = loadConfig({}, { UEE_NPM_REGISTRY: 'http://127.0.0.1:4873', UEE_NPM_ALLOW: 'ms, dayjs,@acme/*', UEE_NPM_DENY: 'evil', UEE_NPM_MAX_BYTES: '1000000', UEE_NPM_CACHE_DIR: '/tmp/npmc' }).npm;
    expect(c).toMatchObject({ registry: 'http://127.0.0.1:4873', allow: ['ms', 'dayjs', '@acme/*'], deny: ['evil'], maxBytes: 1_000_000, cacheDir: '/tmp/npmc' });
    expect(d.tarballOrigins).toEqual([]);
    expect(loadConfig({}, { UEE_NPM_TARBALL_ORIGINS: 'https://files.example.com/path, http://127.0.0.1:8080' }).npm.tarballOrigins).toEqual(['https://files.example.com', 'http://127.0.0.1:8080']);
    for (const env of [{ UEE_NPM_REGISTRY: 'ftp://x' }, { UEE_NPM_MAX_PACKAGES: '0' }, { UEE_NPM_TARBALL_ORIGINS: 'files.example.com' }]) {
      let caught: unknown;
      try {
        loadConfig({}, env);
      } catch (err) {
        caught = err;
      }
      expect(isUeeError(caught, 'CONFIG_INVALID')).toBe(true);
      expect((caught as Error).message).toContain(Object.keys(env)[0]);
    }
  });
});
