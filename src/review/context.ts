import type { Logger, Principal } from '../core/index.js';
import type { UeeApp } from '../app/index.js';
import type { ToolContext } from '../tools/index.js';

/**
 * A tool context outside an MCP session: for applying an approved proposal as its proposer, and for
 * the review page's read-only views. Progress and client logs go nowhere; there is no client to ask
 * (`mcp` is absent).
 */
export function detachedToolContext(app: UeeApp, principal: Principal, logger: Logger, tool: string, signal: AbortSignal = new AbortController().signal): ToolContext {
  return {
    principal,
    app,
    signal,
    logger: logger.child({ tool, principal: principal.id }),
    progress: () => Promise.resolve(),
    log: () => Promise.resolve(),
  };
}
