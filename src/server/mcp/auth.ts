import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../../core/index.js';
import { hashToken, type McpToken } from '../../config/index.js';

/** The outcome of authenticating one HTTP request. */
export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; error: 'invalid_request' | 'invalid_token'; description: string };

/**
 * Maps `Authorization: Bearer <token>` to a principal. Tokens are looked up by their SHA-256, so the
 * comparison never runs over the secret itself. A request without the header gets the configured
 * anonymous principal, or is refused.
 */
export class TokenAuthenticator {
  readonly #byHash: Map<string, Principal>;

  constructor(
    tokens: McpToken[],
    private readonly anonymous: Principal | null,
  ) {
    this.#byHash = new Map(tokens.map((t) => [t.sha256, t.principal]));
  }

  /** Authenticates one request from its headers. */
  authenticate(req: IncomingMessage): AuthResult {
    const header = req.headers.authorization;
    if (header === undefined || header === '') {
      if (this.anonymous) return { ok: true, principal: this.anonymous };
      return { ok: false, error: 'invalid_request', description: 'a bearer token is required' };
    }
    const match = /^Bearer +([\x21-\x7e]{1,1024}) *$/i.exec(header);
    if (!match?.[1]) return { ok: false, error: 'invalid_request', description: 'use the Bearer authorization scheme' };
    const principal = this.#byHash.get(hashToken(match[1]));
    if (!principal) return { ok: false, error: 'invalid_token', description: 'the token is not valid' };
    return { ok: true, principal };
  }
}

/** Answers 401 with an RFC 6750 `WWW-Authenticate` challenge and a JSON-RPC error body. */
export function sendUnauthorized(res: ServerResponse, result: Extract<AuthResult, { ok: false }>): void {
  const challenge =
    result.error === 'invalid_token'
      ? `Bearer realm="uee", error="invalid_token", error_description="${result.description}"`
      : 'Bearer realm="uee"';
  sendJsonRpcError(res, 401, -32001, `Unauthorized: ${result.description}`, { 'www-authenticate': challenge });
}

/** Writes a JSON-RPC error response with an HTTP status (the shape MCP clients expect on HTTP errors). */
export function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}, data?: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message, ...(data === undefined ? {} : { data }) }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** True when two principals are the same identity (a session stays bound to the principal that opened it). */
export function samePrincipal(a: Principal, b: Principal): boolean {
  return a.kind === b.kind && a.id === b.id && (a.kind !== 'tenant' || (b.kind === 'tenant' && a.tenantId === b.tenantId && a.readOnly === b.readOnly));
}
