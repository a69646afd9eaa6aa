import type { Logger } from '../core/index.js';
import { UeeError, toUeeError } from '../core/index.js';
import type { UeeConfig } from '../config/index.js';
import { UeeApp } from '../app/index.js';

/**
 * Runs a worker until SIGINT/SIGTERM: the store, bus, relay and router of a full server (plugin work
 * from the shared bus and store), no front door — no HTTP, MCP or review page, so it needs no port
 * or token. Any number of workers share one Redis bus and one store with any number of `uee start`
 * front ends (runtime on or off): each queue is read by one process at a time (a bus lease) and one
 * process dispatches, so work spreads over them by queue and moves to the others when one dies.
 * The first signal drains (deliveries in flight finish, leases are released) within
 * `shutdownGraceMs`; a second signal or the grace timeout forces exit.
 */
export async function runWorker(config: UeeConfig, logger: Logger): Promise<number> {
  if (!config.runtime.enabled) {
    throw new UeeError('CONFIG_INVALID', 'a worker runs plugins: --runtime off leaves it nothing to do', { hint: 'drop --runtime off (use "uee start --runtime off" for a front end without plugin work)' });
  }
  if (config.bus.kind !== 'redis') {
    throw new UeeError('CONFIG_INVALID', 'a worker shares the bus with other processes: the embedded bus lives in one process\'s data directory', {
      hint: 'pass --bus redis://host:port (and a shared --store, e.g. postgres://...) to every process',
    });
  }
  const app = await UeeApp.create(config, logger);
  const consumer = app.runtime?.router.consumer ?? '';
  logger.info('worker running', { consumer });
  // Machine-readable readiness line for supervisors and tests.
  process.stdout.write(JSON.stringify({ ready: true, role: 'worker', consumer }) + '\n');
  return new Promise<number>((resolve) => {
    let shuttingDown = false;
    const shutdown = (signal: string): void => {
      if (shuttingDown) {
        logger.warn('second signal: forcing exit', { signal });
        resolve(130);
        setImmediate(() => process.exit(130));
        return;
      }
      shuttingDown = true;
      logger.info('draining', { signal, graceMs: config.shutdownGraceMs });
      const force = setTimeout(() => {
        logger.error('grace period over: forcing exit', { graceMs: config.shutdownGraceMs });
        process.exit(1);
      }, config.shutdownGraceMs);
      force.unref();
      app.close().then(
        () => {
          clearTimeout(force);
          logger.info('stopped cleanly');
          resolve(0);
        },
        (err: unknown) => {
          logger.error('shutdown failed', { error: toUeeError(err).message });
          resolve(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });
}
