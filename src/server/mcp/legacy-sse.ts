import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { Logger, Principal } from '../../core/index.js';
import { samePrincipal, sendJsonRpcError, sendUnauthorized, type TokenAuthenticator } from './auth.js';
import { readJsonBody } from './body.js';
import type { McpHost } from './host.js';
import type { OriginGuard } from './origin-guard.js';
import { toUeeError } from '../../core/index.js';

/** Where clients of the legacy transport POST their messages (`?sessionId=` appended by the SDK). */
export const SSE_MESSAGES_PATH = '/sse/messages';

interface Session {
  transport: SSEServerTransport;
  server: McpServer;
  principal: Principal;
}

/**
 * The deprecated HTTP+SSE transport (protocol 2024-11-05) for older clients: `GET /sse` opens the
 * event stream and announces `POST /sse/messages?sessionId=…`. Same DNS-rebinding check, same
 * authentication, and a session answers only to its own principal.
 */
export class LegacySseEndpoint {
  readonly #sessions = new Map<string, Session>();
  #closed = false;

  constructor(
    private readonly host: McpHost,
    private readonly auth: TokenAuthenticator,
    private readonly guard: OriginGuard,
    private readonly logger: Logger,
    private readonly options: { maxSessions?: number; maxBodyBytes: number },
  ) {}

  /** Handles one request under `/sse`. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refused = this.guard.check(req);
    if (refused) return sendJsonRpcError(res, 403, -32000, `Forbidden: ${refused}`);
    const auth = this.auth.authenticate(req);
    if (!auth.ok) return sendUnauthorized(res, auth);
    if (this.#closed) return sendJsonRpcError(res, 503, -32000, 'server is shutting down');

    if (url.pathname === '/sse') {
      if (req.method !== 'GET') return sendJsonRpcError(res, 405, -32000, 'Method not allowed', { allow: 'GET' });
      return this.#open(auth.principal, res);
    }
    if (url.pathname === SSE_MESSAGES_PATH) {
      if (req.method !== 'POST') return sendJsonRpcError(res, 405, -32000, 'Method not allowed', { allow: 'POST' });
      const sessionId = url.searchParams.get('sessionId');
      if (!sessionId) return sendJsonRpcError(res, 400, -32000, 'Bad Request: sessionId query parameter is required');
      const session = this.#sessions.get(sessionId);
      if (!session || !samePrincipal(session.principal, auth.principal)) return sendJsonRpcError(res, 404, -32001, 'Session not found');
      let body: unknown;
      try {
        body = await readJsonBody(req, this.options.maxBodyBytes);
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'PAYLOAD_TOO_LARGE') return sendJsonRpcError(res, 413, -32600, error.message, { connection: 'close' });
        return sendJsonRpcError(res, 400, -32700, error.message);
      }
      return session.transport.handlePostMessage(req, res, body);
    }
    return sendJsonRpcError(res, 404, -32601, `no MCP endpoint at ${url.pathname}`);
  }

  async #open(principal: Principal, res: ServerResponse): Promise<void> {
    if (this.#sessions.size >= (this.options.maxSessions ?? 1000)) {
      return sendJsonRpcError(res, 503, -32000, 'too many MCP sessions; retry later', { 'retry-after': '5' });
    }
    const transport = new SSEServerTransport(SSE_MESSAGES_PATH, res);
    const id = transport.sessionId;
    transport.onclose = () => {
      this.#sessions.delete(id);
      this.logger.debug('mcp sse session closed', { sessionId: id });
    };
    const server = await this.host.connect(principal, transport);
    this.#sessions.set(id, { transport, server, principal });
    res.on('close', () => {
      if (this.#sessions.delete(id)) void server.close().catch(() => undefined);
    });
    this.logger.debug('mcp sse session opened', { sessionId: id, principal: principal.id });
  }

  /** Closes every session. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.server.close().catch(() => undefined)));
  }
}
