import { afterAll, describe } from 'vitest';
import { openPostgresStore } from '../../src/store/index.js';
import { queryConformance } from './query-conformance.js';
import { queryStatsPersistence } from './query-stats-persistence.js';
import { TEST_POSTGRES_URL, dropSchemas, randomSchema } from './postgres-helpers.js';

// A random schema per store; all of them are dropped at the end.
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

queryConformance(
  'postgres',
  (limits) => {
    const schema = randomSchema('q');
    schemas.push(schema);
    return openPostgresStore({ url: TEST_POSTGRES_URL, schema, ...(limits === undefined ? {} : { limits }) });
  },
  { stringRanges: false },
);

describe('postgres query stats', () => {
  const schema = randomSchema('qs');
  schemas.push(schema);
  queryStatsPersistence(() => openPostgresStore({ url: TEST_POSTGRES_URL, schema, limits: { slowQueryMs: 1_000_000, filter: { maxDocumentsExamined: 100 } } }));
});
