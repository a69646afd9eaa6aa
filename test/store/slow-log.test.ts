import { describe, expect, it } from 'vitest';
import { slowestShapes, type SlowQuery } from '../../src/store/query-index.js';

/** A logged run of a read-model query on `scores` filtered by `field`. */
function run(field: string, value: string, ms: number, at: string): SlowQuery {
  return {
    target: 'readModel',
    scope: 'scores',
    shape: { [field]: '<string>' },
    access: 'scan',
    index: null,
    probe: null,
    fallback: null,
    rowsExamined: 2000,
    rowsReturned: 1,
    ms,
    suggestedIndex: { target: 'readModel', scope: 'scores', field },
    error: null,
    at,
    filter: { [field]: value },
  };
}

describe('slow-query log', () => {
  it('SLOW-1 shapes are ranked by total time, not by one run: a shape run three times at 4 ms comes before one run once at 9 ms', () => {
    const shapes = slowestShapes([
      run('region', 'eu', 9, '2026-01-01T00:00:00.000Z'),
      run('player', 'p17', 4, '2026-01-01T00:00:01.000Z'),
      run('player', 'p1200', 5, '2026-01-01T00:00:02.000Z'),
      run('player', 'p999', 3, '2026-01-01T00:00:03.000Z'),
    ]);
    expect(shapes.map((s) => [Object.keys(s.shape)[0], s.count, s.totalMs])).toEqual([
      ['player', 3, 12],
      ['region', 1, 9],
    ]);
    // the slowest run's plan and literal filter, the last run's time
    expect(shapes[0]).toMatchObject({ ms: 5, filter: { player: 'p1200' }, at: '2026-01-01T00:00:02.000Z', lastAt: '2026-01-01T00:00:03.000Z' });
  });

  it('SLOW-2 the same filter shape on another plan (after an index was added) or another view is another entry; limit bounds the shapes', () => {
    const scan = run('player', 'p1', 4, '2026-01-01T00:00:00.000Z');
    const indexed = { ...run('player', 'p2', 1, '2026-01-01T00:00:01.000Z'), access: 'index' as const, index: 'ix_player' };
    const otherView = { ...run('player', 'p3', 2, '2026-01-01T00:00:02.000Z'), scope: 'games' };
    expect(slowestShapes([scan, indexed, otherView]).map((s) => [s.scope, s.access, s.count])).toEqual([
      ['scores', 'scan', 1],
      ['games', 'scan', 1],
      ['scores', 'index', 1],
    ]);
    expect(slowestShapes([scan, indexed, otherView], 1)).toHaveLength(1);
  });
});
