import { afterAll } from 'vitest';
import { openPostgresStore } from '../../src/store/index.js';
import { queryConformance } from './query-conformance.js';
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
