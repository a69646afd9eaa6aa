/**
 * SQLITE-PREP: no SQLite statement binds its LIMIT as a bare parameter. SQLite (3.53, as
 * better-sqlite3 12 builds it) lets a bound `LIMIT ?` shape the plan, so every new bind — the same
 * value too — expires the statement and the next step parses and plans it again: a queue read went
 * from ~2.8 to ~6.2 µs a call (`npm run bench -- statements`). `LIMIT +?` is the same limit,
 * evaluated when the statement runs, and keeps the prepared plan.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('SQLite statements', () => {
  it('SQLITE-PREP-1 bind no LIMIT as a bare parameter (a re-prepare per call): `LIMIT +?` instead', () => {
    const offenders = sources(SRC).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\bLIMIT\s+\?(?!\?)/.test(line) ? [`${relative(SRC, file)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(offenders).toEqual([]);
  });

  it('SQLITE-PREP-2 `LIMIT +?` limits exactly as `LIMIT ?` does, whatever the bound value', () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY)');
      const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
      for (let n = 1; n <= 20; n++) insert.run(n);
      const bare = db.prepare<[number, number], { n: number }>('SELECT n FROM t WHERE n > ? ORDER BY n LIMIT ?');
      const plus = db.prepare<[number, number], { n: number }>('SELECT n FROM t WHERE n > ? ORDER BY n LIMIT +?');
      for (const [after, limit] of [[0, 1], [0, 5], [3, 64], [18, 4], [0, 0], [0, -1]] as const) {
        expect(plus.all(after, limit)).toEqual(bare.all(after, limit));
      }
    } finally {
      db.close();
    }
  });
});
