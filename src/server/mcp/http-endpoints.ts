import type { Logger } from '../../core/index.js';
import type { HttpServer } from '../http.js';
import { FrontDoor } from './front-door.js';
import type { McpHost } from './host.js';
import { LegacySseEndpoint } from './legacy-sse.js';
import { StreamableHttpEndpoint } from './streamable-http.js';

/** The HTTP transports of one server, mounted on an {@link HttpServer}. */
export interface McpHttpEndpoints {
  readonly streamable: StreamableHttpEndpoint;
  readonly sse: LegacySseEndpoint;
  /** Guard, authentication, per-principal rate and pools; share it with `/v1` and `/status`. */
  readonly door: FrontDoor;
  /** Closes every MCP session. Idempotent. */
  close(): Promise<void>;
}

/**
 * Mounts Streamable HTTP at `/mcp` and the legacy SSE transport at `/sse` (+ `/sse/messages`), with
 * bearer-token authentication, DNS-rebinding protection from `app.config.mcp`, and the per-principal
 * limits of `app.config.frontDoor` (pass `door` to share one front door with other mounts).
 */
export function mountMcp(http: HttpServer, host: McpHost, logger: Logger, door?: FrontDoor): McpHttpEndpoints {
  const { config } = host.app;
  const frontDoor = door ?? new FrontDoor(config, config.frontDoor);
  const maxBodyBytes = Math.max(4 * 1024 * 1024, config.limits.maxAttributeBytes + 1024 * 1024);
  const streamable = new StreamableHttpEndpoint(host, frontDoor, logger.child({ transport: 'streamable-http' }), { maxBodyBytes });
  const sse = new LegacySseEndpoint(host, frontDoor, logger.child({ transport: 'sse' }), { maxBodyBytes });
  http.mount('/mcp', (req, res) => streamable.handle(req, res));
  http.mount('/sse', (req, res) => sse.handle(req, res));
  if (config.mcp.tokens.length === 0 && !config.mcp.anonymous) {
    logger.warn('no MCP tokens configured: /mcp and /sse refuse every request (set UEE_TOKENS, or use "uee mcp" over stdio)');
  }
  let closing: Promise<void> | undefined;
  return {
    streamable,
    sse,
    door: frontDoor,
    close: () => (closing ??= Promise.all([streamable.close(), sse.close()]).then(() => undefined)),
  };
}
