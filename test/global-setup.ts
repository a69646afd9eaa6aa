import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { INTEROP_FILES } from './interop/paths.js';

/** Whether something accepts TCP connections on host:port within 2 s. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Fails fast, with a clear message, when the Redis the integration suites need is not answering. */
async function requireRedis(): Promise<void> {
  const url = new URL(process.env.UEE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  if (!(await answers(url.hostname, Number(url.port || 6379)))) {
    throw new Error(`Redis is not answering on ${url.host}; start it with: redis-server --daemonize yes --port 6379 --save ""`);
  }
}

/**
 * Fails fast when PostgreSQL (the store suites' server) is not answering, and creates the test
 * database if it is missing, so a fresh server works without manual steps.
 */
async function requirePostgres(): Promise<void> {
  const url = new URL(process.env.UEE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  if (!(await answers(url.hostname, Number(url.port || 5432)))) {
    throw new Error(
      `PostgreSQL is not answering on ${url.host}; start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start ` +
        '(or point UEE_TEST_POSTGRES_URL at a server)',
    );
  }
  const database = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rows.length === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`).catch((err: unknown) => {
      // Another run created it in the meantime.
      if ((err as { code?: string }).code !== '42P04') throw err;
    });
  } catch (err) {
    throw new Error(`PostgreSQL on ${url.host} refused the test connection (${err instanceof Error ? err.message : String(err)}); the tests expect user ${url.username || 'postgres'} with trust auth`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export default async function setup(): Promise<void> {
  await requireRedis();
  await requirePostgres();
  ensureInteropClients();
  if (!process.env.MONGODB_URL) {
    process.stderr.write('[uee] MONGODB_URL is not set: the MongoDB conformance suites are SKIPPED on this machine.\n');
  }
}

/**
 * The interop tests need third-party MCP clients kept apart from the runtime dependencies
 * (scripts/install-interop.sh, registry packages only). A fresh clone does not have them: install
 * them here, once, so `npm test` runs what CI runs. A failed install fails the run; the only way to
 * leave them out is UEE_SKIP_INTEROP=1, which the run then reports as skipped.
 */
function ensureInteropClients(): void {
  if (process.env.UEE_SKIP_INTEROP === '1') {
    process.stderr.write('[uee] UEE_SKIP_INTEROP=1: the interop tests (third-party MCP clients) are SKIPPED.\n');
    return;
  }
  if (INTEROP_FILES.every((p) => existsSync(p))) return;
  process.stderr.write('[uee] installing the third-party MCP clients for the interop tests into .interop/ (once; scripts/install-interop.sh)…\n');
  const root = join(import.meta.dirname, '..');
  const r = spawnSync('bash', [join(root, 'scripts', 'install-interop.sh')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], timeout: 15 * 60_000 });
  if (r.status !== 0 || !INTEROP_FILES.every((p) => existsSync(p))) {
    throw new Error(
      `installing the interop clients failed (scripts/install-interop.sh exited ${r.status ?? r.signal}); ` +
        'fix the error above, or set UEE_SKIP_INTEROP=1 to run without the interop tests',
    );
  }
}
