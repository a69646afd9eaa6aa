import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Principal } from '../../core/index.js';
import type { McpHost } from './host.js';

/**
 * Serves one MCP session over stdin/stdout as `principal` (from config: `--token` or `--identity`,
 * admin by default). Resolves when the client closes stdin or `close()` is called; stdout carries
 * protocol messages only, so logs go to stderr.
 */
export async function serveStdio(host: McpHost, principal: Principal): Promise<{ closed: Promise<void>; close(): Promise<void> }> {
  const transport = new StdioServerTransport();
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  transport.onclose = () => resolveClosed();
  const server = await host.connect(principal, transport);
  process.stdin.once('end', () => void server.close().finally(() => resolveClosed()));
  return { closed, close: () => server.close() };
}
