/**
 * ROUTER-WORKER: `uee worker` processes (router + runtime, no front door) share one PostgreSQL store
 * and one Redis bus with a front end that has no runtime: two workers handle every event once; one
 * drained by SIGTERM exits 0 and the other carries on alone. A worker on the embedded bus is refused.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { pluginGroup } from '../../src/registry/index.js';
import { TEST_REDIS_URL, tempDir } from '../helpers.js';
import { deployProbe, drained, marks, processSuite, stopChild, until } from './harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'uee.mjs');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UEE_')));

async function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'worker'], { env: { ...cleanEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => line.includes('"role":"worker"') && resolve());
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${stderr}`)));
  });
  return child;
}

describe('uee worker', () => {
  const suite = processSuite();

  it('ROUTER-WORKER-1 two workers handle every event once; a SIGTERMed one drains and exits 0, the other carries on', async () => {
    const { producer: front, site, store, dataDir } = await suite.cluster('worker');
    await deployProbe(front, suite.probe, { name: 'WorkG', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'G' } });
    for (const tenantId of ['acme', 'globex']) {
      await deployProbe(front, suite.probe, { name: 'WorkT', tenantScope: 'tenant', tenantId, subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'T' } });
    }
    const env = (): Record<string, string> => ({ UEE_DATA_DIR: dataDir(), UEE_STORE: store, UEE_BUS: TEST_REDIS_URL, UEE_REDIS_PREFIX: site.redisPrefix, UEE_TENANTS: 'acme,globex', UEE_LOG_LEVEL: 'error', UEE_WORKERS: '1' });
    const [first] = await Promise.all(
      [env(), env()].map(async (e) => {
        const worker = await startWorker(e);
        suite.workers.add(worker);
        return worker;
      }),
    );
    const produce = async (from: number, n: number): Promise<void> => {
      for (const tenantId of ['acme', 'globex']) {
        await front.store.commit({ tenantId, actor: 'user:test' }, { events: Array.from({ length: n }, (_, i) => ({ type: 'Tick', payload: { seq: from + i } })) });
      }
    };
    const count = async (): Promise<number> => (await marks(front, 'acme')).length + (await marks(front, 'globex')).length;
    await produce(0, 50);
    await until('the first 200 effects', async () => ((await count()) >= 200 ? true : undefined), 60_000);

    suite.workers.delete(first!);
    expect(await stopChild(first!)).toBe(0);
    await produce(50, 50);
    await until('400 effects', async () => ((await count()) >= 400 ? true : undefined), 90_000);
    for (const g of [pluginGroup('WorkG', null), pluginGroup('WorkT', 'acme'), pluginGroup('WorkT', 'globex')]) await drained(front, g, 60_000);
    const seen = new Map<string, number>();
    for (const tenantId of ['acme', 'globex']) for (const m of await marks(front, tenantId)) seen.set(`${tenantId}:${String(m.marker)}:${String(m.seq)}`, (seen.get(`${tenantId}:${String(m.marker)}:${String(m.seq)}`) ?? 0) + 1);
    expect(seen.size).toBe(400);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(await front.bus.deadLetters()).toEqual([]);
  }, 300_000);

  it('ROUTER-WORKER-2 a worker on the embedded bus is refused with CONFIG_INVALID and a hint', () => {
    const dir = tempDir('uee-worker-embedded');
    suite.defer(() => dir[Symbol.dispose]());
    const r = spawnSync(process.execPath, [BIN, 'worker', '--data-dir', dir.path], { env: cleanEnv, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('CONFIG_INVALID');
    expect(r.stderr).toContain('--bus redis://');
  }, 60_000);
});
