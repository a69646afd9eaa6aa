import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/index.js';
import { toUeeError } from '../core/index.js';
import type { UeeConfig } from '../config/index.js';
import { UeeApp } from '../app/index.js';
import { HttpServer, mountModelEndpoint, mountReviewPage, mountStatus } from '../server/index.js';
import { McpHost, mountMcp } from '../server/mcp/index.js';
import { warmCompiler } from '../compiler/index.js';
import { startBanner, withLocalToken } from './local-token.js';

/**
 * Runs the server until SIGINT/SIGTERM: the first signal drains (stop accepting, flush the outbox,
 * close backends) within `shutdownGraceMs`; a second signal or the grace timeout forces exit.
 */
export async function runStart(configured: UeeConfig, logger: Logger): Promise<number> {
  const { config, local } = withLocalToken(configured);
  // The compiler warms while the app opens: the engine is built here if npm ci did not, a compiler
  // thread loads TypeScript and its lib, and one throwaway compile heats esbuild and Wizer.
  const warm = warmCompiler(logger.child({ component: 'compiler' }));
  const app = await UeeApp.create(config, logger);
  const http = new HttpServer(logger.child({ component: 'http' }));
  const mcpLogger = logger.child({ component: 'mcp' });
  const mcpHost = McpHost.create(app, mcpLogger);
  const mcp = mountMcp(http, mcpHost, mcpLogger);
  // /healthz (bare liveness), /status (admin) and the OpenAI-compatible /v1 share MCP's front door:
  // same tokens, same Host guard, same per-principal request rate.
  mountStatus(http, app, mcp.door, () => ({ compiler: warm.state() }));
  mountModelEndpoint(http, app, mcp.door, logger.child({ component: 'openai-endpoint' }));
  // The review page (/review) and its API: proposals, diffs, approvals, plugins, live charts, dead letters.
  mountReviewPage(http, { app, door: mcp.door, review: mcpHost.review, tools: mcpHost.tools, logger: logger.child({ component: 'review' }) });
  let address;
  try {
    address = await http.listen(config.http.host, config.http.port);
  } catch (err) {
    await app.close();
    throw err;
  }
  logger.info('listening', { url: `http://${address.address}:${address.port}` });
  // Proposals a stopped process left "applying" are settled (applied, back to pending, or failed).
  const stopRecovery = mcpHost.review.startRecovery();
  // Machine-readable readiness line for supervisors and tests.
  process.stdout.write(JSON.stringify({ ready: true, port: address.port, host: address.address }) + '\n');
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  process.stderr.write(startBanner(`http://${host}:${address.port}`, local, { bin: fileURLToPath(new URL('../../bin/uee.mjs', import.meta.url)), dataDir: config.dataDir }));

  return new Promise<number>((resolve) => {
    let shuttingDown = false;
    const shutdown = (signal: string): void => {
      if (shuttingDown) {
        logger.warn('second signal: forcing exit', { signal });
        http.destroy();
        resolve(130);
        setImmediate(() => process.exit(130));
        return;
      }
      shuttingDown = true;
      stopRecovery();
      logger.info('draining', { signal, graceMs: config.shutdownGraceMs });
      const force = setTimeout(() => {
        logger.error('grace period over: forcing exit', { graceMs: config.shutdownGraceMs });
        http.destroy();
        process.exit(1);
      }, config.shutdownGraceMs);
      force.unref();
      // MCP sessions hold long-lived streams: end them first so the listener can close.
      Promise.all([mcp.close().then(() => http.close()), mcpHost.close().then(() => app.close())])
        .then(() => {
          clearTimeout(force);
          logger.info('stopped cleanly');
          resolve(0);
        })
        .catch((err: unknown) => {
          logger.error('shutdown failed', { error: toUeeError(err).message });
          resolve(1);
        });
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });
}
