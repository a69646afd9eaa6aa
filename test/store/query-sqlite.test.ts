import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { openSqliteStore } from '../../src/store/index.js';
import { tempDir } from '../helpers.js';
import { queryConformance } from './query-conformance.js';
import { queryStatsPersistence } from './query-stats-persistence.js';

const dir = tempDir('uee-query');
afterAll(() => dir[Symbol.dispose]());
let n = 0;

queryConformance('sqlite', (limits) => openSqliteStore({ path: join(dir.path, `q-${n++}.db`), ...(limits === undefined ? {} : { limits }) }));

describe('sqlite query stats', () => {
  const path = join(dir.path, 'stats.db');
  queryStatsPersistence(() => openSqliteStore({ path, limits: { slowQueryMs: 1_000_000, filter: { maxDocumentsExamined: 100 } } }));
});
