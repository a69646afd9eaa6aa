import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JSONRPCMessage, McpServer, Transport } from '@modelcontextprotocol/server';
import type { Logger, PoolHold, Principal } from '../../core/index.js';
import { UeeError } from '../../core/index.js';
import { samePrincipal, sendJsonRpcError } from './auth.js';
import { sendLimited, sendRefusal, type FrontDoor } from './front-door.js';
import { readJsonBody } from './body.js';
import { guardTransport, type McpHost } from './host.js';
import { toUeeError } from '../../core/index.js';

/** Where clients of the legacy transport POST their messages (`?sessionId=` appended by the SDK). */
export const SSE_MESSAGES_PATH = '/sse/messages';

/**
 * The server side of the HTTP+SSE transport (2024-11-05). The v2 SDK has none (it ships only the
 * Streamable HTTP and stdio server transports; its client still speaks SSE), so this is the v1 SDK's
 * `SSEServerTransport` reduced to what UEE needs: one event stream per session announcing the POST
 * endpoint, messages posted there delivered to the connected server.
 */
class SseServerTransport implements Transport {
  readonly sessionId = randomUUID();
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  #closed = false;

  constructor(
    private readonly endpoint: string,
    private readonly res: ServerResponse,
  ) {}

  start(): Promise<void> {
    this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive' });
    this.res.write(`event: endpoint\ndata: ${this.endpoint}?sessionId=${this.sessionId}\n\n`);
    this.res.once('close', () => this.#onClosed());
    return Promise.resolve();
  }

  /** Delivers a posted message (or batch) and answers 202. */
  handlePostMessage(res: ServerResponse, body: unknown): void {
    res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
    for (const message of Array.isArray(body) ? body : [body]) this.onmessage?.(message as JSONRPCMessage);
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('SSE stream closed'));
    this.res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.res.end();
    this.#onClosed();
    return Promise.resolve();
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onclose?.();
  }
}

interface Session {
  transport: SseServerTransport;
  server: McpServer;
  principal: Principal;
  lastSeen: number;
  hold: PoolHold;
}

/**
 * The deprecated HTTP+SSE transport (protocol 2024-11-05) for older clients: `GET /sse` opens the
 * event stream and announces `POST /sse/messages?sessionId=…`. Same {@link FrontDoor} as `/mcp`; a
 * session answers only to its own principal; each principal holds at most its share of streams, and
 * a stream that posts no message for `streamIdleMs` is closed.
 */
export class LegacySseEndpoint {
  readonly #sessions = new Map<string, Session>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #idleMs: number;
  #closed = false;

  constructor(
    private readonly host: McpHost,
    private readonly door: FrontDoor,
    private readonly logger: Logger,
    private readonly options: { maxBodyBytes: number; idleMs?: number },
  ) {
    this.#idleMs = options.idleMs ?? door.limits.streamIdleMs;
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(250, Math.min(30_000, Math.floor(this.#idleMs / 4)))).unref();
  }

  /** Number of open streams. */
  get streamCount(): number {
    return this.#sessions.size;
  }

  /** Handles one request under `/sse`. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const auth = this.door.admit(req);
    if (!auth.ok) return sendRefusal(res, auth);
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
      session.lastSeen = Date.now();
      let body: unknown;
      try {
        body = await readJsonBody(req, this.options.maxBodyBytes);
      } catch (err) {
        const error = toUeeError(err);
        if (error.code === 'PAYLOAD_TOO_LARGE') return sendJsonRpcError(res, 413, -32600, error.message, { connection: 'close' });
        return sendJsonRpcError(res, 400, -32700, error.message);
      }
      return session.transport.handlePostMessage(res, body);
    }
    return sendJsonRpcError(res, 404, -32601, `no MCP endpoint at ${url.pathname}`);
  }

  async #open(principal: Principal, res: ServerResponse): Promise<void> {
    let hold: PoolHold;
    try {
      hold = this.door.streams.acquire(principal);
    } catch (err) {
      if (err instanceof UeeError) return sendLimited(res, err);
      throw err;
    }
    const transport = new SseServerTransport(SSE_MESSAGES_PATH, res);
    const id = transport.sessionId;
    res.on('close', () => {
      hold.release();
      const session = this.#sessions.get(id);
      if (session && this.#sessions.delete(id)) void session.server.close().catch(() => undefined);
      this.logger.debug('mcp sse session closed', { sessionId: id });
    });
    // Registered before connecting: the endpoint event goes out on connect, and a quick client posts at once.
    const poisoned = new Map<string | number, UeeError>();
    const server = this.host.createServer(principal, poisoned);
    this.#sessions.set(id, { transport, server, principal, lastSeen: Date.now(), hold });
    try {
      await server.connect(guardTransport(transport, poisoned));
    } catch (err) {
      this.#sessions.delete(id);
      hold.release();
      throw err;
    }
    if (res.closed && this.#sessions.delete(id)) {
      hold.release();
      void server.close().catch(() => undefined);
      return;
    }
    this.logger.debug('mcp sse session opened', { sessionId: id, principal: principal.id });
  }

  /** Closes every session. Idempotent. */
  #sweep(): void {
    const now = Date.now();
    for (const [id, session] of this.#sessions) {
      if (now - session.lastSeen <= this.#idleMs) continue;
      this.#sessions.delete(id);
      session.hold.release();
      this.logger.debug('mcp sse stream idle: closed', { sessionId: id });
      void session.server.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const s of sessions) s.hold.release();
    await Promise.all(sessions.map((s) => s.server.close().catch(() => undefined)));
  }
}
