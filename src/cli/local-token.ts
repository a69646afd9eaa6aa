import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UeeError } from '../core/index.js';
import { hashToken, parsePrincipalSpec, type UeeConfig } from '../config/index.js';

/** File in the data directory holding the generated local admin token. */
export const LOCAL_TOKEN_FILE = 'local-admin-token';

/** The generated local admin token a server started without `UEE_TOKENS` uses. */
export interface LocalToken {
  readonly token: string;
  readonly path: string;
  /** True when this start created it (false: read back from an earlier start). */
  readonly created: boolean;
}

/** Reads the data directory's local admin token, if one was generated. */
export function readLocalToken(dataDir: string): string | undefined {
  try {
    const token = readFileSync(join(dataDir, LOCAL_TOKEN_FILE), 'utf8').trim();
    return token.length > 0 ? token : undefined;
  } catch {
    return undefined;
  }
}

/**
 * When no MCP token and no anonymous principal are configured, `uee start` would refuse every MCP
 * request. Instead it uses a local admin token: generated once (24 random bytes, hex), kept in
 * `<dataDir>/local-admin-token` (mode 0600, so only this user can read it) and reused by later
 * starts and by `uee status`. Configured tokens always win: then nothing is generated.
 */
export function withLocalToken(config: UeeConfig): { config: UeeConfig; local?: LocalToken } {
  if (config.mcp.tokens.length > 0 || config.mcp.anonymous !== null) return { config };
  const path = join(config.dataDir, LOCAL_TOKEN_FILE);
  let token = readLocalToken(config.dataDir);
  let created = false;
  if (token === undefined) {
    token = randomBytes(24).toString('hex');
    try {
      mkdirSync(config.dataDir, { recursive: true });
      writeFileSync(path, token + '\n', { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (err) {
      // another process may have written it in between: use that one
      const existing = readLocalToken(config.dataDir);
      if (existing === undefined) {
        throw new UeeError('CONFIG_INVALID', `cannot write the local admin token to ${path}`, {
          cause: err,
          hint: 'make the data directory (--data-dir / UEE_DATA_DIR) writable, or set UEE_TOKENS',
        });
      }
      token = existing;
    }
  }
  const sha256 = hashToken(token);
  const principal = parsePrincipalSpec('admin:reviewer', `token:${sha256.slice(0, 12)}`);
  if (!principal) throw new UeeError('INTERNAL', 'admin principal spec rejected');
  return { config: { ...config, mcp: { ...config.mcp, tokens: [{ sha256, principal }] } }, local: { token, path, created } };
}

/**
 * The lines `uee start` prints for a local user: where the server is and how to connect a client.
 * `stdio` (the CLI script and data directory) adds the stdio config for clients without HTTP
 * support in their config file (Claude Desktop).
 */
export function startBanner(baseUrl: string, local: LocalToken | undefined, stdio?: { bin: string; dataDir: string }): string {
  const mcpUrl = `${baseUrl}/mcp`;
  const token = local?.token ?? '<your token from UEE_TOKENS>';
  const lines = [
    '',
    `UEE is ready at ${baseUrl}  (MCP: ${mcpUrl}, OpenAI-compatible models: ${baseUrl}/v1)`,
    local
      ? `  admin token (${local.created ? 'generated' : 'reused'}, kept in ${local.path}; set UEE_TOKENS to use your own):\n    ${local.token}`
      : '  tokens: from UEE_TOKENS',
    '  connect an MCP client:',
    `    Claude Code:  claude mcp add --transport http uee ${mcpUrl} --header "Authorization: Bearer ${token}"`,
    `    Cursor / VS Code (JSON): {"uee": {"type": "http", "url": "${mcpUrl}", "headers": {"Authorization": "Bearer ${token}"}}}`,
    stdio
      ? `    Claude Desktop or any stdio client (no token, same data): {"uee": {"command": "${process.execPath}", "args": ${JSON.stringify([stdio.bin, 'mcp', '--data-dir', stdio.dataDir])}}}`
      : '    or over stdio, no token:  npx uee mcp',
    `  review agents' changes: ${baseUrl}/review${local ? `#token=${local.token}` : ' (paste a reviewer token)'}  or  npx uee proposals list`,
    '  see the state: npx uee status',
    '',
  ];
  return lines.join('\n') + '\n';
}
