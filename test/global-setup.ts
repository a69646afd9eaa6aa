import { createConnection } from 'node:net';

/** Fails fast, with a clear message, when the Redis the integration suites need is not answering. */
export default async function setup(): Promise<void> {
  const url = new URL(process.env.UEE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const ok = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: url.hostname, port: Number(url.port || 6379) });
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
  if (!ok) {
    throw new Error(
      `Redis is not answering on ${url.host}; start it with: redis-server --daemonize yes --port 6379 --save ""`,
    );
  }
  if (!process.env.MONGODB_URL) {
    process.stderr.write('[uee] MONGODB_URL is not set: the MongoDB conformance suites are SKIPPED on this machine.\n');
  }
}
