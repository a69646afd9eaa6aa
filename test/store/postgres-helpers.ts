import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL used by integration tests (trust auth on the dev machines and in CI). */
export const TEST_POSTGRES_URL = process.env.UEE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A random schema name, so concurrent test files never share tables. */
export function randomSchema(label = 't'): string {
  return `uee_test_${label}_${randomBytes(6).toString('hex')}`;
}

/** The test database's URL with `schema` as the store's schema. */
export function schemaUrl(schema: string): string {
  return `${TEST_POSTGRES_URL}${TEST_POSTGRES_URL.includes('?') ? '&' : '?'}schema=${schema}`;
}

/** `url` spelled another way for the same database: the scheme's other name, and a client setting added. */
export function otherSpelling(url: string): string {
  const other = url.replace(/^postgres(ql)?:/, (_m, ql: string | undefined) => (ql === undefined ? 'postgresql:' : 'postgres:'));
  return `${other}${other.includes('?') ? '&' : '?'}application_name=other`;
}

/** Drops test schemas and everything in them. */
export async function dropSchemas(schemas: string[]): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await client.end();
  }
}
