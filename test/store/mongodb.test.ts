import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, describe } from 'vitest';
import { openMongoStore } from '../../src/store/index.js';
import { storeConformance } from './conformance.js';

const url = process.env.MONGODB_URL;

if (url) {
  // A random database per store, so tests never share data; all of them are dropped at the end.
  const databases: string[] = [];
  afterAll(async () => {
    const client = await MongoClient.connect(url);
    try {
      for (const name of databases) await client.db(name).dropDatabase();
    } finally {
      await client.close();
    }
  });
  storeConformance('mongodb', () => {
    const database = `uee_test_${randomBytes(6).toString('hex')}`;
    databases.push(database);
    return openMongoStore({ url, database });
  });
} else {
  describe.skip('mongodb conformance (SKIPPED: MONGODB_URL not set)', () => {
    storeConformance('mongodb', () => Promise.reject(new Error('MONGODB_URL not set')));
  });
}
