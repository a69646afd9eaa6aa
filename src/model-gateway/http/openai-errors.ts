import type { ServerResponse } from 'node:http';
import type { UeeError } from '../../core/index.js';

/** An error body in OpenAI's shape, so OpenAI clients raise their usual typed errors. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** HTTP status, OpenAI error `type` and `code` for a gateway error. */
export function openAiErrorFor(e: UeeError): { status: number; type: string; code: string | null } {
  switch (e.code) {
    case 'UNAUTHORIZED':
      return { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' };
    case 'TENANT_FORBIDDEN':
    case 'CAPABILITY_DENIED':
      return { status: 403, type: 'permission_error', code: typeof e.details.reason === 'string' ? e.details.reason.toLowerCase() : 'forbidden' };
    case 'NOT_FOUND':
      return { status: 404, type: 'invalid_request_error', code: e.details.model === undefined ? 'not_found' : 'model_not_found' };
    case 'VALIDATION_FAILED':
      return { status: 400, type: 'invalid_request_error', code: null };
    case 'PAYLOAD_TOO_LARGE':
      return { status: 413, type: 'invalid_request_error', code: 'payload_too_large' };
    case 'QUOTA_EXCEEDED':
      return { status: 429, type: 'insufficient_quota', code: 'insufficient_quota' };
    case 'RATE_LIMITED':
    case 'LIMIT_EXCEEDED':
      return { status: 429, type: 'requests', code: 'rate_limit_exceeded' };
    case 'CIRCUIT_OPEN':
    case 'CLOSED':
      return { status: 503, type: 'server_error', code: 'service_unavailable' };
    case 'TIMEOUT':
      return { status: 504, type: 'server_error', code: 'timeout' };
    default:
      return { status: 500, type: 'server_error', code: e.code === 'MODEL_UNAVAILABLE' ? 'model_unavailable' : 'internal_error' };
  }
}

/** Writes `e` as an OpenAI error response, with `retry-after` (seconds) and `retry-after-ms` when known. */
export function sendOpenAiError(res: ServerResponse, e: UeeError): void {
  const { status, type, code } = openAiErrorFor(e);
  const body: OpenAiErrorBody = { error: { message: e.message, type, param: typeof e.details.param === 'string' ? e.details.param : null, code } };
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) };
  const retryAfterMs = typeof e.details.retryAfterMs === 'number' ? e.details.retryAfterMs : status === 429 || status === 503 ? 1000 : undefined;
  if (retryAfterMs !== undefined) {
    headers['retry-after'] = Math.max(1, Math.ceil(retryAfterMs / 1000));
    headers['retry-after-ms'] = Math.max(0, Math.round(retryAfterMs));
  }
  if (e.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer';
  res.writeHead(status, headers);
  res.end(text);
}
