import type { Logger } from '../../core/index.js';
import type { HttpServer } from '../http.js';
import { TokenAuthenticator } from './auth.js';
import type { McpHost } from './host.js';
import { LegacySseEndpoint } from './legacy-sse.js';
import { OriginGuard } from './origin-guard.js';
import { StreamableHttpEndpoint } from './streamable-http.js';

/** The HTTP transports of one server, mounted on an {@link HttpServer}. */
export interface McpHttpEndpoints {
  readonly streamable: StreamableHttpEndpoint;
  readonly sse: LegacySseEndpoint;
  /** Closes every MCP session. Idempotent. */
  close(): Promise<void>;
}

/**
 * Mounts Streamable HTTP at `/mcp` and the legacy SSE transport at `/sse` (+ `/sse/messages`), with
 * bearer-token authentication and DNS-rebinding protection from `app.config.mcp`.
 */
export function mountMcp(http: HttpServer, host: McpHost, logger: Logger): McpHttpEndpoints {
  const { config } = host.app;
  const auth = new TokenAuthenticator(config.mcp.tokens, config.mcp.anonymous);
  const guard = new OriginGuard({ bindHost: config.http.host, allowedHosts: config.mcp.allowedHosts, allowedOrigins: config.mcp.allowedOrigins });
  const maxBodyBytes = Math.max(4 * 1024 * 1024, config.limits.maxAttributeBytes + 1024 * 1024);
  const streamable = new StreamableHttpEndpoint(host, auth, guard, logger.child({ transport: 'streamable-http' }), { maxBodyBytes });
  const sse = new LegacySseEndpoint(host, auth, guard, logger.child({ transport: 'sse' }), { maxBodyBytes });
  http.mount('/mcp', (req, res) => streamable.handle(req, res));
  http.mount('/sse', (req, res) => sse.handle(req, res));
  if (config.mcp.tokens.length === 0 && !config.mcp.anonymous) {
    logger.warn('no MCP tokens configured: /mcp and /sse refuse every request (set UEE_TOKENS, or use "uee mcp" over stdio)');
  }
  let closing: Promise<void> | undefined;
  return {
    streamable,
    sse,
    close: () => (closing ??= Promise.all([streamable.close(), sse.close()]).then(() => undefined)),
  };
}
