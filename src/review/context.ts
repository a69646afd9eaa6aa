import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger, Principal } from '../core/index.js';
import { UeeError } from '../core/index.js';
import type { UeeApp } from '../app/index.js';
import type { ToolContext } from '../tools/index.js';

/**
 * A tool context outside an MCP session: for applying an approved proposal as its proposer, and for
 * the review page's read-only views. Progress and client logs go nowhere; requests to the client
 * (sampling, elicitation) are refused.
 */
export function detachedToolContext(app: UeeApp, principal: Principal, logger: Logger, tool: string, signal: AbortSignal = new AbortController().signal): ToolContext {
  const mcp: RequestHandlerExtra<ServerRequest, ServerNotification> = {
    signal,
    requestId: `review:${tool}`,
    sendNotification: () => Promise.resolve(),
    sendRequest: () => Promise.reject(new UeeError('VALIDATION_FAILED', `${tool} runs outside an MCP session: it cannot ask the client anything`, { hint: 'call the tool over MCP' })),
  };
  return {
    principal,
    app,
    signal,
    logger: logger.child({ tool, principal: principal.id }),
    mcp,
    progress: () => Promise.resolve(),
    log: () => Promise.resolve(),
  };
}
