import { serveStdio as sdkServeStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { Principal, UeeError } from '../../core/index.js';
import { guardTransport, type McpHost } from './host.js';

/**
 * Serves MCP over stdin/stdout as `principal` (from config: `--token` or `--identity`, admin by
 * default) through the v2 SDK's `serveStdio`: the opening message picks the revision for the
 * connection — `server/discover` or a request carrying the 2026-07-28 `_meta` envelope pins
 * 2026-07-28, an `initialize` handshake pins 2025-11-25. Resolves `closed` when the client closes
 * stdin or `close()` is called; stdout carries protocol messages only, so logs go to stderr.
 */
export function serveStdio(host: McpHost, principal: Principal): Promise<{ closed: Promise<void>; close(): Promise<void> }> {
  const poisoned = new Map<string | number, UeeError>();
  const transport = guardTransport(new StdioServerTransport(), poisoned);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  // serveStdio owns the transport's onclose: observe it without replacing the SDK's handler.
  let sdkOnClose: (() => void) | undefined;
  Object.defineProperty(transport, 'onclose', {
    configurable: true,
    get: () => () => {
      sdkOnClose?.();
      resolveClosed();
    },
    set: (fn: (() => void) | undefined) => {
      sdkOnClose = fn;
    },
  });
  const handle = sdkServeStdio(host.factory(principal, poisoned), {
    transport,
    onerror: (error) => host.logger.warn('mcp stdio error', { error: error.message }),
  });
  process.stdin.once('end', () => resolveClosed());
  return Promise.resolve({
    closed,
    close: async () => {
      await handle.close();
      resolveClosed();
    },
  });
}
