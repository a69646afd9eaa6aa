import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TenantContext } from '../src/core/index.js';

/** The Redis used by integration tests. */
export const TEST_REDIS_URL = process.env.UEE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A random key prefix so concurrent test files never share Redis keys. */
export function randomPrefix(label = 't'): string {
  return `uee-test:${label}:${randomBytes(6).toString('hex')}:`;
}

/** A fresh temporary directory, removed by the returned disposer. */
export function tempDir(label = 'uee'): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), `${label}-`));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** A tenant context acting as a test user. */
export function tenantCtx(tenantId: string | null, actor = 'user:test'): TenantContext {
  return { tenantId, actor };
}
