import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/index.js';
import { UeeError, toUeeError } from '../core/index.js';

/** A route handler: returns a JSON-serialisable body or throws a `UeeError`. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<unknown>;

/** Maps error codes to HTTP statuses for JSON endpoints. */
export function httpStatusFor(error: UeeError): number {
  switch (error.code) {
    case 'VALIDATION_FAILED':
    case 'INVALID_FILTER':
    case 'QUERY_TOO_COSTLY':
    case 'INVALID_CURSOR':
    case 'CONFIG_INVALID':
      return 400;
    case 'UNAUTHORIZED':
      return 401;
    case 'TENANT_FORBIDDEN':
    case 'CAPABILITY_DENIED':
      return 403;
    case 'NOT_FOUND':
    case 'UNKNOWN_TENANT':
      return 404;
    case 'VERSION_CONFLICT':
    case 'IDEMPOTENCY_CONFLICT':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'RATE_LIMITED':
    case 'LIMIT_EXCEEDED':
    case 'BUDGET_EXCEEDED':
      return 429;
    case 'BACKEND_UNAVAILABLE':
    case 'CLOSED':
      return 503;
    default:
      return 500;
  }
}

/**
 * The HTTP listener. Routes are exact `METHOD path` strings; later issues mount `/mcp`, `/sse` and
 * `/v1/*` on the same server through {@link HttpServer.mount}.
 */
export class HttpServer {
  readonly #routes = new Map<string, RouteHandler>();
  readonly #prefixes: Array<{ prefix: string; handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> }> = [];
  readonly #server: Server;

  constructor(private readonly logger: Logger) {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.keepAliveTimeout = 5000;
  }

  /** Adds a JSON route. */
  route(method: string, path: string, handler: RouteHandler): this {
    this.#routes.set(`${method} ${path}`, handler);
    return this;
  }

  /** Hands every request under `prefix` to a raw handler (used by protocol transports). */
  mount(prefix: string, handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): this {
    this.#prefixes.push({ prefix, handler });
    return this;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          new UeeError('CONFIG_INVALID', `cannot listen on ${host}:${port}: ${err.code ?? err.message}`, {
            details: { setting: 'port', env: 'UEE_PORT' },
            hint: err.code === 'EADDRINUSE' ? 'another process uses this port: pick another with --port or UEE_PORT' : 'check --host/--port',
            cause: err,
          }),
        );
      };
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    return this.#server.address() as AddressInfo;
  }

  /** Stops accepting connections and closes idle ones; resolves when all are closed. Idempotent. */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }

  /** Force-closes every connection (after the grace period). */
  destroy(): void {
    this.#server.closeAllConnections();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    try {
      const mounted = this.#prefixes.find((p) => path === p.prefix || path.startsWith(p.prefix + '/'));
      if (mounted) return await mounted.handler(req, res);
      const handler = this.#routes.get(`${req.method ?? 'GET'} ${path}`);
      if (!handler) throw new UeeError('NOT_FOUND', `no route ${req.method ?? 'GET'} ${path}`, { hint: 'see GET /healthz and GET /status' });
      sendJson(res, 200, await handler(req, res));
    } catch (err) {
      const error = toUeeError(err);
      if (error.code === 'INTERNAL') this.logger.error('request failed', { path, error: err });
      if (!res.headersSent) sendJson(res, httpStatusFor(error), { error: error.toJSON() });
      else res.end();
    }
  }
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
