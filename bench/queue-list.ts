// Listing the queues of a Redis bus (`npm run bench -- queue-list`), which housekeeping does every
// 15 s on the dispatching process (the orphan sweep) and on every change of the process roster (lane
// discovery). 1,000 queues, then 0 and 200,000 other keys under the bus's prefix — the
// de-duplication keys a bus holds: one per event published in the last `settledDedupeMs` (60 s), so
// 200,000 is a minute at ~3,300 events/s. `bus.queues()` (the queue index) beside, in the same run, the
// keyspace walk the listing was before 2026-12-07 (SCAN MATCH <prefix>q:* COUNT 1000): wall ms per
// listing and Redis server CPU µs per listing (its main thread's, from INFO cpu), median of ROUNDS alternating runs.
// Needs Redis (UEE_TEST_REDIS_URL, default redis://127.0.0.1:6379); nothing else may use it meanwhile
// for the server figures to be the listing's own.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { openRedisBus } from '../src/bus/index.js';
import { deleteRedisKeys } from '../test/router/app-site.js';
import { median, printResult, printTable } from './_table.js';

const REDIS_URL = process.env.UEE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUEUES = 1000;
const OTHER_KEYS = 200_000;
const ROUNDS = 7;

const prefix = `uee-bench-ql:${randomBytes(4).toString('hex')}:`;
const admin = new Redis(REDIS_URL);
const bus = await openRedisBus({ url: REDIS_URL, prefix });

/** CPU µs the Redis server's main thread has used so far (INFO cpu; the commands run there). */
async function serverUs(): Promise<number> {
  const cpu = await admin.info('cpu');
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? NaN);
  return Math.round((field('used_cpu_user_main_thread') + field('used_cpu_sys_main_thread')) * 1e6);
}

/** The listing before 2026-12-07: every key in Redis walked with SCAN, the queue streams kept. */
async function keyspaceWalk(): Promise<string[]> {
  const queuePrefix = `${prefix}q:`;
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${queuePrefix}*`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) out.push(k.slice(queuePrefix.length));
  } while (cursor !== '0');
  return [...new Set(out)];
}

/** Wall ms and server µs of one listing; throws unless it found every queue. */
async function measure(list: () => Promise<string[]>): Promise<{ ms: number; serverUs: number }> {
  const us0 = await serverUs();
  const t0 = process.hrtime.bigint();
  const found = await list();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const serverSpent = (await serverUs()) - us0;
  if (found.length !== QUEUES) throw new Error(`listed ${found.length} queues, made ${QUEUES}`);
  return { ms, serverUs: serverSpent };
}

try {
  for (let q = 0; q < QUEUES; q++) await bus.ensureQueue(`plugin:t${q}:p`);
  const rows: Array<Array<string | number>> = [];
  const figures: Record<string, number> = {};
  for (const others of [0, OTHER_KEYS]) {
    if (others > 0) {
      for (let i = 0; i < others; i += 10_000) {
        const p = admin.pipeline();
        for (let j = i; j < Math.min(others, i + 10_000); j++) p.set(`${prefix}dedupe:${j}`, '1', 'PX', 600_000);
        await p.exec();
      }
    }
    const index: Array<{ ms: number; serverUs: number }> = [];
    const walk: Array<{ ms: number; serverUs: number }> = [];
    await measure(() => bus.queues!()); // warm-up (scripts loaded)
    for (let r = 0; r < ROUNDS; r++) {
      walk.push(await measure(keyspaceWalk));
      index.push(await measure(() => bus.queues!()));
    }
    const at = (xs: Array<{ ms: number; serverUs: number }>, f: 'ms' | 'serverUs'): number => median(xs.map((x) => x[f]));
    const key = others === 0 ? 'NoOtherKeys' : 'OtherKeys';
    figures[`index${key}Ms`] = Number(at(index, 'ms').toFixed(2));
    figures[`index${key}ServerUs`] = Math.round(at(index, 'serverUs'));
    figures[`keyspaceWalk${key}Ms`] = Number(at(walk, 'ms').toFixed(2));
    figures[`keyspaceWalk${key}ServerUs`] = Math.round(at(walk, 'serverUs'));
    rows.push([`queue index (bus.queues())`, others.toLocaleString('en-US'), at(index, 'ms'), at(index, 'serverUs')]);
    rows.push([`keyspace walk (before, baseline)`, others.toLocaleString('en-US'), at(walk, 'ms'), at(walk, 'serverUs')]);
  }
  printTable(['listing of 1,000 queues', 'other keys', 'ms per listing', 'Redis server CPU µs per listing'], rows);
  printResult('queue-list', { queues: QUEUES, otherKeys: OTHER_KEYS, ...figures, walkVsIndexServerWithOtherKeys: Number((figures.keyspaceWalkOtherKeysServerUs! / figures.indexOtherKeysServerUs!).toFixed(1)) });
} finally {
  await bus.close();
  await deleteRedisKeys(prefix, REDIS_URL);
  await admin.quit();
}
