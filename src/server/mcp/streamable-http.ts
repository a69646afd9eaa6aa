import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createMcpHandler, type AuthInfo, type McpHttpHandler } from '@modelcontextprotocol/server';
import type { Logger, PoolHold } from '../../core/index.js';
import { UeeError, toUeeError } from '../../core/index.js';
import { sendJsonRpcError } from './auth.js';
import { sendLimited, sendRefusal, type FrontDoor } from './front-door.js';
import { readJsonBody } from './body.js';
import { inspectMessage, McpHost } from './host.js';

/** Options of {@link StreamableHttpEndpoint}. */
export interface StreamableHttpOptions {
  /** Max POST body bytes. */
  maxBodyBytes: number;
}

/**
 * The Streamable HTTP transport at `/mcp`, stateless: every HTTP exchange is served by a fresh server
 * from {@link McpHost.factory} through the v2 SDK's `createMcpHandler`, and nothing is kept between
 * exchanges, so any number of front ends sharing one store and bus can sit behind a plain
 * (non-sticky) load balancer.
 *
 * - 2026-07-28 requests (per-request `_meta` envelope, `server/discover`) are served natively.
 * - 2025-11-25 (and older) requests are served by the SDK's stateless fallback: `initialize` is
 *   answered without an `Mcp-Session-Id`, every later request stands alone, GET and DELETE answer
 *   405. What 2025-11-25 cannot do statelessly — server-to-client requests (sampling, elicitation)
 *   and resumable streams — needs a connection: use stdio or the legacy SSE transport for those.
 *
 * Every request passes the {@link FrontDoor} first (DNS-rebinding guard, authentication, the
 * principal's request rate) and holds one of the principal's share of concurrent exchanges
 * (`UEE_MCP_SESSIONS_PER_PRINCIPAL`, `UEE_MCP_SESSIONS_MAX`) from the moment it is admitted — body
 * upload included — until its response ends.
 */
export class StreamableHttpEndpoint {
  readonly #handler: McpHttpHandler;
  #inFlight = 0;
  #closed = false;

  constructor(
    private readonly host: McpHost,
    private readonly door: FrontDoor,
    private readonly logger: Logger,
    private readonly options: StreamableHttpOptions,
  ) {
    this.#handler = createMcpHandler(host.factory(), {
      legacy: 'stateless',
      maxRequestBodySize: options.maxBodyBytes,
      onerror: (error) => this.logger.debug('mcp http exchange refused or failed', { error: error.message }),
    });
    host.listenNotifiers.add(this.#handler.notify);
  }

  /** Number of HTTP exchanges being served right now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Handles one request to `/mcp`. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/mcp') return sendJsonRpcError(res, 404, -32601, `no MCP endpoint at ${path}`);
    const auth = this.door.admit(req);
    if (!auth.ok) return sendRefusal(res, auth);
    if (this.#closed) return sendJsonRpcError(res, 503, -32000, 'server is shutting down');

    const method = req.method ?? 'GET';
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      return sendJsonRpcError(res, 405, -32000, 'Method not allowed', { allow: 'GET, POST, DELETE' });
    }
    let hold: PoolHold;
    try {
      hold = this.door.sessions.acquire(auth.principal);
    } catch (err) {
      if (err instanceof UeeError) return sendLimited(res, err);
      throw err;
    }
    this.#inFlight++;
    try {
      await this.#serve(req, res, method, McpHost.authInfo(auth.principal, new Map()));
    } finally {
      this.#inFlight--;
      hold.release();
    }
  }

  async #serve(req: IncomingMessage, res: ServerResponse, method: string, authInfo: AuthInfo): Promise<void> {
    let body: unknown;
    if (method === 'POST') {
      try {
        body = await readJsonBody(req, this.options.maxBodyBytes);
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'PAYLOAD_TOO_LARGE') return sendJsonRpcError(res, 413, -32600, error.message, { connection: 'close' });
        return sendJsonRpcError(res, 400, -32700, error.message);
      }
      const { poisoned } = authInfo.extra as { poisoned: Map<string | number, UeeError> };
      for (const message of Array.isArray(body) ? body : [body]) inspectMessage(message, poisoned);
    }
    const aborted = new AbortController();
    res.once('close', () => aborted.abort());
    const request = new Request(new URL(req.url ?? '/mcp', 'http://uee.invalid'), { method, headers: webHeaders(req), signal: aborted.signal });
    const response = await this.#handler.fetch(request, { authInfo, ...(method === 'POST' ? { parsedBody: body } : {}) });
    await writeResponse(res, response);
  }

  /** Stops answering and aborts exchanges in flight. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.host.listenNotifiers.delete(this.#handler.notify);
    await this.#handler.close();
  }
}

function webHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

/** Writes a fetch `Response` to a Node response, streaming SSE bodies until either side closes. */
async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  res.flushHeaders();
  const body = Readable.fromWeb(response.body);
  res.once('close', () => body.destroy());
  body.pipe(res);
  await finished(res).catch(() => undefined);
}
