import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger, PoolHold, Principal } from '../../core/index.js';
import { UeeError, toUeeError } from '../../core/index.js';
import { samePrincipal, sendJsonRpcError } from './auth.js';
import { sendLimited, sendRefusal, type FrontDoor } from './front-door.js';
import { readJsonBody } from './body.js';
import type { McpHost } from './host.js';
import { ReplayBuffer } from './replay-buffer.js';

/** Options of {@link StreamableHttpEndpoint}. */
export interface StreamableHttpOptions {
  /** Sessions idle this long are closed. @default the front door's `sessionIdleMs` */
  idleMs?: number;
  /** Max POST body bytes. */
  maxBodyBytes: number;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  principal: Principal;
  lastSeen: number;
  /** The principal's share of the session pool, released when the session ends. */
  hold: PoolHold;
}

/**
 * The Streamable HTTP transport at `/mcp`: stateful sessions (`Mcp-Session-Id`), each with its own
 * `McpServer` bound to the principal that initialized it, and resumable SSE streams. Every request
 * passes the {@link FrontDoor} (DNS-rebinding guard, authentication, the principal's request rate); a
 * session answers only to its own principal, and each principal holds at most its share of sessions.
 */
export class StreamableHttpEndpoint {
  readonly #sessions = new Map<string, Session>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #idleMs: number;
  #closed = false;

  constructor(
    private readonly host: McpHost,
    private readonly door: FrontDoor,
    private readonly logger: Logger,
    private readonly options: StreamableHttpOptions,
  ) {
    this.#idleMs = options.idleMs ?? door.limits.sessionIdleMs;
    this.#sweeper = setInterval(() => void this.#sweep(), Math.min(60_000, this.#idleMs)).unref();
  }

  /** Number of live sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
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
    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;

    let body: unknown;
    if (method === 'POST') {
      try {
        body = await readJsonBody(req, this.options.maxBodyBytes);
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'PAYLOAD_TOO_LARGE') return sendJsonRpcError(res, 413, -32600, error.message, { connection: 'close' });
        return sendJsonRpcError(res, 400, -32700, error.message);
      }
    }

    if (sessionId === undefined) {
      if (method === 'POST' && isInitialize(body)) return this.#open(auth.principal, req, res, body);
      return sendJsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required (initialize first)');
    }
    const session = this.#sessions.get(sessionId);
    // Another principal's session answers exactly like an unknown one.
    if (!session || !samePrincipal(session.principal, auth.principal)) return sendJsonRpcError(res, 404, -32001, 'Session not found');
    session.lastSeen = Date.now();
    await session.transport.handleRequest(req, res, body);
  }

  async #open(principal: Principal, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    let hold: PoolHold;
    try {
      hold = this.door.sessions.acquire(principal);
    } catch (err) {
      if (err instanceof UeeError) return sendLimited(res, err);
      throw err;
    }
    // Filled once connected; the SDK initializes the session (below) only after that.
    const bound: { server?: McpServer } = {};
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new ReplayBuffer(),
      retryInterval: 500,
      onsessioninitialized: (id) => {
        if (bound.server) this.#sessions.set(id, { transport, server: bound.server, principal, lastSeen: Date.now(), hold });
        this.logger.debug('mcp session opened', { sessionId: id, principal: principal.id });
      },
      onsessionclosed: (id) => {
        this.#drop(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) this.#drop(transport.sessionId);
    };
    try {
      bound.server = await this.host.connect(principal, transport);
      await transport.handleRequest(req, res, body);
    } finally {
      // An initialize the SDK refused never became a session: give the share back.
      if (transport.sessionId === undefined || !this.#sessions.has(transport.sessionId)) {
        hold.release();
        if (transport.sessionId === undefined) void bound.server?.close().catch(() => undefined);
      }
    }
  }

  #drop(id: string): void {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    session.hold.release();
    this.logger.debug('mcp session closed', { sessionId: id });
    void session.server.close().catch(() => undefined);
  }

  async #sweep(): Promise<void> {
    const now = Date.now();
    for (const [id, session] of this.#sessions) {
      if (now - session.lastSeen > this.#idleMs) {
        this.#sessions.delete(id);
        session.hold.release();
        await session.server.close().catch(() => undefined);
      }
    }
  }

  /** Closes every session. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const s of sessions) s.hold.release();
    await Promise.all(sessions.map((s) => s.server.close().catch(() => undefined)));
  }
}

function isInitialize(body: unknown): boolean {
  return Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body);
}
