/**
 * Prints the size of `tools/list` (JSON.stringify of the result, in bytes) for an admin, a tenant and
 * a read-only tenant principal, and the five largest tools: what an agent pays for on every session.
 *
 * Usage: node --import tsx scripts/tools-list-size.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { UeeApp } from '../src/app/index.js';
import { silentLogger, type Principal } from '../src/core/index.js';
import { McpHost } from '../src/server/mcp/index.js';

const dir = mkdtempSync(join(tmpdir(), 'uee-list-size-'));
const app = await UeeApp.create(loadConfig({ dataDir: dir, port: '0', tenants: 'acme' }, {}), silentLogger);
try {
  const host = McpHost.create(app, silentLogger, { conformanceFixtures: false });
  const principals: Record<string, Principal> = {
    admin: { kind: 'admin', id: 'admin' },
    tenant: { kind: 'tenant', id: 'acme', tenantId: 'acme', readOnly: false },
    'tenant (read-only)': { kind: 'tenant', id: 'acme-ro', tenantId: 'acme', readOnly: true },
  };
  for (const [label, principal] of Object.entries(principals)) {
    const result = { tools: host.tools.list(principal) };
    console.log(`${label.padEnd(20)} ${String(result.tools.length).padStart(3)} tools ${String(Buffer.byteLength(JSON.stringify(result))).padStart(7)} bytes`);
  }
  const largest = host.tools
    .list(principals.admin!)
    .map((t) => ({ name: t.name, bytes: Buffer.byteLength(JSON.stringify(t)) }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 5);
  console.log(`largest: ${largest.map((t) => `${t.name} ${t.bytes}`).join(', ')}`);
} finally {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
