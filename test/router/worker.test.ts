/**
 * ROUTER-WORKER: `uee worker` processes (router + runtime, no front door) share one PostgreSQL store
 * and one Redis bus with a front end that has no runtime: two workers handle every event once; one
 * drained by SIGTERM exits 0 and the other carries on alone. A worker on the embedded bus is refused.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { dropSchemas, randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { TEST_REDIS_URL, tempDir } from '../helpers.js';
import { deployProbe, drained, killChild, marks, newSite, openApp, probeWasm, until } from './harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'uee.mjs');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UEE_')));

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

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
  const disposers: Array<() => Promise<void> | void> = [];
  const workers: ChildProcess[] = [];
  afterEach(async () => {
    for (const w of workers.splice(0)) await killChild(w);
    for (const d of disposers.splice(0).reverse()) await d();
  });

  it('ROUTER-WORKER-1 two workers handle every event once; a SIGTERMed one drains and exits 0, the other carries on', async () => {
    const schema = randomSchema('worker');
    schemas.push(schema);
    const store = schemaUrl(schema);
    const site = newSite('redis', 'worker');
    disposers.push(() => site.dispose());
    const front: UeeApp = await openApp(site, { store, runtime: 'off' });
    disposers.push(() => front.close());
    await deployProbe(front, probe, { name: 'WorkG', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'G' } });
    for (const tenantId of ['acme', 'globex']) {
      await deployProbe(front, probe, { name: 'WorkT', tenantScope: 'tenant', tenantId, subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'T' } });
    }
    const env = (): Record<string, string> => {
      const dir = tempDir('uee-worker');
      disposers.push(() => dir[Symbol.dispose]());
      return { UEE_DATA_DIR: dir.path, UEE_STORE: store, UEE_BUS: TEST_REDIS_URL, UEE_REDIS_PREFIX: site.redisPrefix, UEE_TENANTS: 'acme,globex', UEE_LOG_LEVEL: 'error', UEE_WORKERS: '1' };
    };
    workers.push(await startWorker(env()), await startWorker(env()));
    const produce = async (from: number, n: number): Promise<void> => {
      for (const tenantId of ['acme', 'globex']) {
        await front.store.commit({ tenantId, actor: 'user:test' }, { events: Array.from({ length: n }, (_, i) => ({ type: 'Tick', payload: { seq: from + i } })) });
      }
    };
    const count = async (): Promise<number> => (await marks(front, 'acme')).length + (await marks(front, 'globex')).length;
    await produce(0, 50);
    await until('the first 200 effects', async () => ((await count()) >= 200 ? true : undefined), 60_000);

    const [first] = workers;
    const exited = new Promise<number | null>((resolve) => first!.once('exit', (code) => resolve(code)));
    first!.kill('SIGTERM');
    expect(await exited).toBe(0);
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
    disposers.push(() => dir[Symbol.dispose]());
    const r = spawnSync(process.execPath, [BIN, 'worker', '--data-dir', dir.path], { env: cleanEnv, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('CONFIG_INVALID');
    expect(r.stderr).toContain('--bus redis://');
  }, 60_000);
});
