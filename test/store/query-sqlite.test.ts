import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import { tempDir } from '../helpers.js';
import { queryConformance } from './query-conformance.js';

const dir = tempDir('uee-query');
afterAll(() => dir[Symbol.dispose]());
let n = 0;

queryConformance('sqlite', (limits) => openSqliteStore({ path: join(dir.path, `q-${n++}.db`), ...(limits === undefined ? {} : { limits }) }));
