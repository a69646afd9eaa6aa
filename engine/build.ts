/**
 * Builds (or finds in the cache) the UEE JS engine: `node --import tsx engine/build.ts [--force]`.
 * Prints the artifact as one JSON line on stdout; progress goes to stderr as JSON log lines.
 */
import { createLogger } from '../src/core/logger.js';
import { buildEngine } from '../src/compiler/engine-build.js';

const artifact = await buildEngine({
  force: process.argv.includes('--force'),
  logger: createLogger({ level: 'info' }),
});
process.stdout.write(JSON.stringify(artifact) + '\n');
