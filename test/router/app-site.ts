/**
 * Where a router test app lives (temp dir, bus, Redis prefix) and how it is opened: the part of the
 * harness that child processes load (no vitest, no compiler), re-exported by harness.ts.
 */
import { Redis } from 'ioredis';
import { UeeApp, type UeeAppOptions } from '../../src/app/index.js';
import { loadConfig, type RawSettings } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/index.js';
import { TEST_REDIS_URL, randomPrefix, tempDir } from '../helpers.js';

/** The two bus backends every suite runs against. */
export const BACKENDS = [{ name: 'embedded' as const }, { name: 'redis' as const }];
export type BackendName = (typeof BACKENDS)[number]['name'];

/** Settings of one test app: where it lives and which bus it uses. */
export interface AppSite {
  dataDir: string;
  backend: BackendName;
  redisPrefix: string;
}

/** A fresh site (temp dir + random Redis prefix); `dispose()` removes the dir and the Redis keys. */
export function newSite(backend: BackendName, label = 'router'): AppSite & { dispose(): Promise<void> } {
  const dir = tempDir(`uee-${label}`);
  const redisPrefix = randomPrefix(label);
  return {
    dataDir: dir.path,
    backend,
    redisPrefix,
    async dispose() {
      if (backend === 'redis') await deleteRedisKeys(redisPrefix);
      dir[Symbol.dispose]();
    },
  };
}

/** Deletes every Redis key under a prefix (of the test Redis, or the one at `url`). */
export async function deleteRedisKeys(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** Raw settings of a site, as the CLI would pass them (an empty environment is used). */
export function siteSettings(site: AppSite, extra: RawSettings = {}): RawSettings {
  return {
    dataDir: site.dataDir,
    ...(site.backend === 'redis' ? { bus: TEST_REDIS_URL, redisPrefix: site.redisPrefix } : {}),
    tenants: 'acme,globex',
    workers: '2',
    logLevel: 'error',
    ...extra,
  };
}

/** Router tuning for tests: fast table refresh, short backoff, and pipelined deliveries (the path with per-entity chaining). */
export const TEST_APP_OPTIONS: UeeAppOptions = { router: { refreshMs: 200, backoffMs: 20, concurrency: 4 } };

/** Opens the real composition root on a site. */
export function openApp(site: AppSite, extra: RawSettings = {}, options: UeeAppOptions = TEST_APP_OPTIONS): Promise<UeeApp> {
  return UeeApp.create(loadConfig(siteSettings(site, extra), {}), silentLogger, options);
}
