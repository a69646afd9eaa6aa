import { UeeError } from '../core/index.js';

/**
 * Prints a running server's status as JSON; an unreachable server is a clear `BACKEND_UNAVAILABLE`.
 * `token` (when given) is sent as a bearer token; `/status` answers admin tokens only.
 */
export async function runStatus(baseUrl: string, token?: string): Promise<number> {
  let url: URL;
  try {
    url = new URL('/status', baseUrl);
  } catch {
    throw new UeeError('CONFIG_INVALID', `setting --url (UEE_URL): "${baseUrl}" is not a valid URL`, {
      hint: 'use e.g. http://127.0.0.1:7070',
    });
  }
  let response: Response;
  try {
    response = await fetch(url, {
      signal: AbortSignal.timeout(5000),
      ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new UeeError('BACKEND_UNAVAILABLE', `cannot reach the UEE server at ${url.origin} (${cause})`, {
      hint: 'start it with "uee start", or point --url / UEE_URL at the running server',
      retryable: true,
    });
  }
  const body = await response.text();
  if (response.status === 401 || response.status === 403) {
    throw new UeeError(response.status === 401 ? 'UNAUTHORIZED' : 'TENANT_FORBIDDEN', `the server at ${url.origin} answers /status to admin tokens only (HTTP ${response.status})`, {
      hint: 'pass an admin token of UEE_TOKENS with --token (or UEE_MCP_TOKEN); GET /healthz answers liveness without one',
    });
  }
  process.stdout.write(body + '\n');
  return response.ok ? 0 : 1;
}
