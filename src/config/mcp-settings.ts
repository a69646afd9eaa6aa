import { createHash } from 'node:crypto';
import { PrincipalSchema, TenantIdSchema, UeeError, type Principal } from '../core/index.js';

/** A bearer token accepted over HTTP and the principal it stands for. The token itself is kept only hashed. */
export interface McpToken {
  /** SHA-256 (hex) of the token: compared instead of the token, and safe to log. */
  sha256: string;
  principal: Principal;
}

/** MCP surface settings, validated once by `loadConfig`. */
export interface McpConfig {
  /** Tokens accepted in `Authorization: Bearer …` on `/mcp` and `/sse`. @default [] (every HTTP call is refused) */
  tokens: McpToken[];
  /**
   * Principal given to HTTP requests that carry no `Authorization` header; `null` refuses them with 401.
   * Only allowed while the server binds a loopback address. @default null
   */
  anonymous: Principal | null;
  /** Principal of `uee mcp` (stdio): from `--token`, else `--identity`. @default admin */
  stdioPrincipal: Principal;
  /** Host names (no port) accepted in the `Host` header besides loopback names and the bind address. @default [] */
  allowedHosts: string[];
  /** Origins (`scheme://host[:port]`) accepted in the `Origin` header besides loopback origins. @default [] */
  allowedOrigins: string[];
  /** Serves the official conformance suite's fixture tools, resources and prompts. Test only. @default false */
  conformanceFixtures: boolean;
  /** How long a finished MCP task stays readable (`tasks/get`), counted from its creation. @default 3600000 (1 h) */
  taskTtlMs: number;
}

/** Raw MCP settings as they come from flags and environment. */
export interface RawMcpSettings {
  tokens?: string | undefined;
  anonymous?: string | undefined;
  identity?: string | undefined;
  token?: string | undefined;
  allowedHosts?: string | undefined;
  allowedOrigins?: string | undefined;
  conformanceFixtures?: string | undefined;
  taskTtlMs?: string | undefined;
  host: string;
}

/** Environment variable behind each MCP setting. */
export const MCP_SETTING_ENV = {
  tokens: 'UEE_TOKENS',
  anonymous: 'UEE_MCP_ANONYMOUS',
  identity: 'UEE_MCP_IDENTITY',
  token: 'UEE_MCP_TOKEN',
  allowedHosts: 'UEE_MCP_ALLOWED_HOSTS',
  allowedOrigins: 'UEE_MCP_ALLOWED_ORIGINS',
  conformanceFixtures: 'UEE_MCP_CONFORMANCE_FIXTURES',
  taskTtlMs: 'UEE_MCP_TASK_TTL_MS',
} as const;

/** The command-line flag of a setting, where `uee` has one (the others are environment-only). */
const FLAGS: Partial<Record<keyof typeof MCP_SETTING_ENV, string>> = {
  token: '--token',
  identity: '--identity',
};

function mcpError(key: keyof typeof MCP_SETTING_ENV, message: string, hint: string): UeeError {
  const flag = FLAGS[key];
  const env = MCP_SETTING_ENV[key];
  return new UeeError('CONFIG_INVALID', `setting ${flag === undefined ? env : `${flag} (${env})`}: ${message}`, {
    details: { setting: key, ...(flag === undefined ? {} : { flag }), env },
    hint,
  });
}

/** SHA-256 hex of a token: how tokens are stored and looked up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const TOKEN_RE = /^[\x21-\x7e]{16,512}$/;
const PRINCIPAL_HINT = 'principals are "admin", "admin:reviewer", "tenant:<tenantId>", "tenant:<tenantId>:ro" or "tenant:<tenantId>:reviewer"';

/**
 * Parses a principal spec: `admin`, `admin:reviewer`, `tenant:<id>`, `tenant:<id>:ro`, `tenant:<id>:rw` or
 * `tenant:<id>:reviewer` (a human who may approve change proposals). `id` names the
 * principal (it is recorded as `createdBy` on writes).
 */
export function parsePrincipalSpec(spec: string, id: string): Principal | undefined {
  const parts = spec.trim().split(':');
  if (parts[0] === 'admin' && parts.length <= 2) {
    if (parts.length === 1) return { kind: 'admin', id };
    return parts[1] === 'reviewer' ? { kind: 'admin', id, reviewer: true } : undefined;
  }
  if (parts[0] !== 'tenant' || parts.length < 2 || parts.length > 3) return undefined;
  const tenantId = TenantIdSchema.safeParse(parts[1]);
  if (!tenantId.success) return undefined;
  const mode = parts[2] ?? 'rw';
  // `reviewer`: a human's read-write token that may also approve other principals' proposals.
  if (mode === 'reviewer') return { kind: 'tenant', id, tenantId: tenantId.data, readOnly: false, reviewer: true };
  if (mode !== 'ro' && mode !== 'rw') return undefined;
  return { kind: 'tenant', id, tenantId: tenantId.data, readOnly: mode === 'ro' };
}

/**
 * Parses `UEE_TOKENS`: either JSON (`{"<token>": "admin" | "tenant:acme:ro" | {principal object}}`) or a
 * list `token=admin,token2=tenant:acme:ro` (comma- or whitespace-separated). Tokens are 16-512 visible
 * ASCII characters and unique.
 */
export function parseTokens(raw: string | undefined): McpToken[] {
  if (raw === undefined || raw.trim() === '') return [];
  const entries: Array<[string, unknown]> = [];
  const text = raw.trim();
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw mcpError('tokens', 'is not valid JSON', 'use {"<token>": "admin"} or the list form token=admin,token2=tenant:acme:ro');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw mcpError('tokens', 'JSON must be an object of token → principal', 'use {"<token>": "admin"}');
    }
    entries.push(...Object.entries(parsed));
  } else {
    for (const item of text.split(/[\s,]+/).filter((s) => s.length > 0)) {
      const eq = item.indexOf('=');
      if (eq <= 0) throw mcpError('tokens', `entry "${describeToken(item)}" has no "=<principal>"`, 'use token=admin or token=tenant:acme:ro');
      entries.push([item.slice(0, eq), item.slice(eq + 1)]);
    }
  }
  const seen = new Set<string>();
  return entries.map(([token, spec]) => {
    if (!TOKEN_RE.test(token)) {
      throw mcpError('tokens', `token "${describeToken(token)}" must be 16-512 visible ASCII characters`, 'generate one with: openssl rand -hex 24');
    }
    const sha256 = hashToken(token);
    if (seen.has(sha256)) throw mcpError('tokens', `token "${describeToken(token)}" is listed twice`, 'give each principal its own token');
    seen.add(sha256);
    const id = `token:${sha256.slice(0, 12)}`;
    let principal: Principal | undefined;
    if (typeof spec === 'string') principal = parsePrincipalSpec(spec, id);
    else {
      const result = PrincipalSchema.safeParse({ id, ...(spec as object) });
      principal = result.success ? result.data : undefined;
    }
    if (!principal) throw mcpError('tokens', `token "${describeToken(token)}" has an invalid principal`, PRINCIPAL_HINT);
    return { sha256, principal };
  });
}

/** Never echo a whole token into a message. */
function describeToken(token: string): string {
  return token.length <= 4 ? '****' : `${token.slice(0, 4)}…`;
}

const LOOPBACK_BIND = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Builds the complete {@link McpConfig} from raw settings. */
export function parseMcpSettings(raw: RawMcpSettings): McpConfig {
  const tokens = parseTokens(raw.tokens);
  let anonymous: Principal | null = null;
  if (raw.anonymous !== undefined && raw.anonymous !== 'none') {
    anonymous = parsePrincipalSpec(raw.anonymous, 'anonymous') ?? null;
    if (!anonymous) throw mcpError('anonymous', `invalid principal "${raw.anonymous}"`, `use "none" or one of: ${PRINCIPAL_HINT}`);
    if (!LOOPBACK_BIND.has(raw.host)) {
      throw mcpError('anonymous', `anonymous access needs a loopback bind address, but --host is "${raw.host}"`, 'bind 127.0.0.1, or configure UEE_TOKENS and drop UEE_MCP_ANONYMOUS');
    }
  }
  let stdioPrincipal: Principal = { kind: 'admin', id: 'stdio' };
  if (raw.token !== undefined) {
    const found = tokens.find((t) => t.sha256 === hashToken(raw.token ?? ''));
    if (!found) throw mcpError('token', 'is not one of the configured tokens (UEE_TOKENS)', 'pass a token listed in UEE_TOKENS, or use --identity');
    stdioPrincipal = found.principal;
  } else if (raw.identity !== undefined) {
    const parsed = parsePrincipalSpec(raw.identity, 'stdio');
    if (!parsed) throw mcpError('identity', `invalid principal "${raw.identity}"`, PRINCIPAL_HINT);
    stdioPrincipal = parsed;
  }
  const list = (value: string | undefined): string[] =>
    (value ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const allowedHosts = list(raw.allowedHosts).map((h) => h.toLowerCase());
  for (const h of allowedHosts) {
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)$/.test(h)) throw mcpError('allowedHosts', `"${h}" is not a host name`, 'list host names without scheme or port, e.g. uee.internal,10.0.0.5');
  }
  const allowedOrigins = list(raw.allowedOrigins).map((o) => {
    try {
      const url = new URL(o);
      if (url.origin === 'null') throw new Error('opaque');
      return url.origin;
    } catch {
      throw mcpError('allowedOrigins', `"${o}" is not an origin`, 'list origins as scheme://host[:port]');
    }
  });
  const flag = raw.conformanceFixtures ?? '0';
  if (!['0', '1', 'true', 'false'].includes(flag)) throw mcpError('conformanceFixtures', `expected 0 or 1, got "${flag}"`, 'set 1 only in conformance tests');
  const ttl = raw.taskTtlMs === undefined ? 3_600_000 : Number(raw.taskTtlMs);
  if (!Number.isInteger(ttl) || ttl < 1000 || ttl > 7 * 86_400_000) {
    throw mcpError('taskTtlMs', `expected whole milliseconds from 1000 to 604800000, got "${raw.taskTtlMs}"`, 'e.g. 3600000 keeps finished tasks for an hour');
  }
  return { tokens, anonymous, stdioPrincipal, allowedHosts, allowedOrigins, conformanceFixtures: flag === '1' || flag === 'true', taskTtlMs: ttl };
}
