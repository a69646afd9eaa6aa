import { createConnection } from 'node:net';
import pg from 'pg';

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
  if (!process.env.MONGODB_URL) {
    process.stderr.write('[uee] MONGODB_URL is not set: the MongoDB conformance suites are SKIPPED on this machine.\n');
  }
}
