import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UeeApp } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/index.js';
import { HttpServer } from '../../src/server/http.js';
import type { ModelGateway } from '../../src/model-gateway/index.js';
import { createOpenAiHandler } from '../../src/model-gateway/index.js';
import { tempDir } from '../helpers.js';

/**
 * A quota window no test straddles. Windows are wall-clock (epoch-aligned): a test counting what it
 * spent in the default 60 s window fails whenever its calls and its read fall on either side of a
 * minute boundary (GW-BILL-2 read 0 of 30 tokens so, in about 1 run in 150).
 */
export const LONG_WINDOW_MS = 31 * 24 * 3_600_000;

/** A gateway's OpenAI-compatible endpoint on the project's HttpServer, on a random loopback port. */
export async function serveGateway(
  gateway: ModelGateway,
  tokens: Record<string, string | null>,
): Promise<{ baseURL: string; close(): Promise<void>; [Symbol.asyncDispose](): Promise<void> }> {
  const http = new HttpServer(silentLogger);
  http.mount('/v1', createOpenAiHandler({ gateway, tokens }));
  const addr = await http.listen('127.0.0.1', 0);
  const close = async (): Promise<void> => {
    http.destroy();
    await http.close();
  };
  return { baseURL: `http://127.0.0.1:${addr.port}/v1`, close, [Symbol.asyncDispose]: close };
}

/** A raw HTTP server on a random loopback port (failing, hanging or counting upstreams). */
export async function rawServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; hits: () => number; close(): Promise<void>; [Symbol.asyncDispose](): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://127.0.0.1:${port}/v1`, hits: () => hits, close, [Symbol.asyncDispose]: close };
}

/** A loopback URL nothing listens on (connection refused). */
export async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1`;
}

/** A tenant context. */
export function ctx(tenantId: string | null = 'acme'): { tenantId: string | null; actor: string } {
  return { tenantId, actor: 'user:test' };
}

/** A real app for model-plugin tests: SQLite in a temp dir, embedded bus, one runtime worker. `close()` also removes the dir. */
export async function openPluginApp(label: string): Promise<{ app: UeeApp; close: () => Promise<void> }> {
  const dir = tempDir(`uee-${label}`);
  try {
    const app = await UeeApp.create(loadConfig({ dataDir: dir.path, tenants: 'acme', workers: '1', logLevel: 'error' }, {}), silentLogger);
    return {
      app,
      close: async () => {
        await app.close();
        dir[Symbol.dispose]();
      },
    };
  } catch (err) {
    dir[Symbol.dispose]();
    throw err;
  }
}
