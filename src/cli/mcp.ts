import type { Logger } from '../core/index.js';
import { toUeeError } from '../core/index.js';
import type { UeeConfig } from '../config/index.js';
import { UeeApp } from '../app/index.js';
import { McpHost, serveStdio } from '../server/mcp/index.js';
import { warmCompiler } from '../compiler/index.js';

/**
 * `uee mcp`: one MCP session over stdio, acting as the configured stdio principal (`--token`, else
 * `--identity`, else admin). Runs until the client closes stdin or a signal arrives, then drains the
 * app. Logs go to stderr; stdout carries protocol messages only.
 */
export async function runMcp(config: UeeConfig, logger: Logger): Promise<number> {
  warmCompiler(logger.child({ component: 'compiler' }));
  const app = await UeeApp.create(config, logger);
  const host = McpHost.create(app, logger.child({ component: 'mcp' }));
  let session;
  try {
    session = await serveStdio(host, config.mcp.stdioPrincipal);
  } catch (err) {
    await app.close();
    throw err;
  }
  logger.info('mcp stdio session ready', { principal: config.mcp.stdioPrincipal.id, kind: config.mcp.stdioPrincipal.kind });
  const stop = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    void session.closed.then(() => resolve('stdin closed'));
  });
  const reason = await stop;
  logger.info('mcp stdio session ending', { reason });
  const force = setTimeout(() => process.exit(1), config.shutdownGraceMs);
  force.unref();
  try {
    await session.close();
    await host.close();
    await app.close();
  } catch (err) {
    logger.error('shutdown failed', { error: toUeeError(err).message });
    return 1;
  }
  clearTimeout(force);
  return 0;
}
