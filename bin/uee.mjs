#!/usr/bin/env -S node --max-semi-space-size=64
// Entry point of the `uee` command: runs the TypeScript CLI through tsx (no build step, nothing stale).
// The shebang's V8 flags are the server's (src/cli/node-flags.ts says why; a test keeps them equal).
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { register } from 'tsx/esm/api';

register();
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
