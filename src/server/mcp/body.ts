import type { IncomingMessage } from 'node:http';
import { UeeError } from '../../core/index.js';

/** Reads a request body up to `limit` bytes (`PAYLOAD_TOO_LARGE` beyond) and parses it as JSON (`VALIDATION_FAILED`). */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new UeeError('VALIDATION_FAILED', 'Parse error: the body is not valid JSON', { cause: err, hint: 'send a JSON-RPC message' });
  }
}

function tooLarge(limit: number): UeeError {
  return new UeeError('PAYLOAD_TOO_LARGE', `request body exceeds ${limit} bytes`, { details: { limit }, hint: 'send less data per call' });
}
