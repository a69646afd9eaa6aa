/**
 * ROUTER-CHAOS-1: three worker processes share one PostgreSQL store and one Redis bus while a
 * producer writes a stream over several plugins and tenants; every few seconds one process is
 * SIGKILLed and a new one started. Afterwards every event was handled by every plugin it concerns
 * exactly once (each effect committed once — none lost, none doubled) and nothing was dead-lettered.
 * `UEE_CHAOS_EVENTS` sets the stream's length (default 3,000; the issue's run uses 20,000).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { dropSchemas, randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { tempDir } from '../helpers.js';
import { deployProbe, drained, marks, newSite, openApp, probeWasm, until, killChild, spawnChild, type AppSite } from './harness.js';

const EVENTS = Number(process.env.UEE_CHAOS_EVENTS ?? 3000);
const KILL_EVERY_MS = 3000;

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

function startWorker(site: AppSite, store: string): Promise<ChildProcess> {
  return spawnChild(join(import.meta.dirname, 'chaos-child.ts'), { site, store }, 'READY');
}


describe('chaos: three worker processes on PostgreSQL + Redis, one SIGKILLed every few seconds', () => {
  const disposers: Array<() => Promise<void> | void> = [];
  const workers = new Set<ChildProcess>();
  afterEach(async () => {
    for (const w of workers) await killChild(w);
    workers.clear();
    for (const d of disposers.splice(0).reverse()) await d();
  });

  it('ROUTER-CHAOS-1 every event is handled by each plugin it concerns exactly once: 0 lost, 0 effects applied twice, no dead letters', async () => {
    const schema = randomSchema('chaos');
    schemas.push(schema);
    const store = schemaUrl(schema);
    const site = newSite('redis', 'chaos');
    disposers.push(() => site.dispose());
    // The producer writes and deploys only; the workers do all the routing and handling.
    const producer: UeeApp = await openApp(site, { store, runtime: 'off' });
    disposers.push(() => producer.close());
    await deployProbe(producer, probe, { name: 'ChaosA', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'A' } });
    await deployProbe(producer, probe, { name: 'ChaosB', subscribeTo: ['Tick'], settings: { mode: 'mark', marker: 'B' } });
    for (const tenantId of ['acme', 'globex']) {
      await deployProbe(producer, probe, { name: 'ChaosT', tenantScope: 'tenant', tenantId, subscribeTo: ['Tick'], settings: { mode: 'mark', marker: `T:${tenantId}` } });
    }
    const workerSite = (): AppSite => {
      const dir = tempDir('uee-chaos-worker');
      disposers.push(() => dir[Symbol.dispose]());
      return { ...site, dataDir: dir.path };
    };
    for (let i = 0; i < 3; i++) workers.add(await startWorker(workerSite(), store));

    // Produce in batches while a killer replaces a random worker every few seconds.
    let producing = true;
    let kills = 0;
    const killer = (async () => {
      while (producing) {
        await new Promise((r) => setTimeout(r, KILL_EVERY_MS));
        if (!producing) break;
        const victim = [...workers][Math.floor(Math.random() * workers.size)]!;
        workers.delete(victim);
        await killChild(victim);
        kills++;
        workers.add(await startWorker(workerSite(), store));
      }
    })();
    const tenants = ['acme', 'globex'];
    for (let seq = 0; seq < EVENTS; seq += 100) {
      const tenantId = tenants[(seq / 100) % 2]!;
      await producer.store.commit({ tenantId, actor: 'user:test' }, { events: Array.from({ length: Math.min(100, EVENTS - seq) }, (_, i) => ({ type: 'Tick', payload: { seq: seq + i } })) });
    }
    // Keep killing until at least three kills happened during the run.
    await until('three kills', () => (kills >= 3 ? true : undefined), 60_000);
    producing = false;
    await killer;

    const expected = 2 * EVENTS + EVENTS; // A and B see every event; each tenant's T sees its own half
    const count = async (): Promise<number> => (await marks(producer, 'acme')).length + (await marks(producer, 'globex')).length;
    await until('every effect committed', async () => ((await count()) >= expected ? true : undefined), 240_000);
    for (const g of [pluginGroup('ChaosA', null), pluginGroup('ChaosB', null), pluginGroup('ChaosT', 'acme'), pluginGroup('ChaosT', 'globex')]) await drained(producer, g, 60_000);

    const seen = new Map<string, number>();
    for (const tenantId of tenants) {
      for (const m of await marks(producer, tenantId)) {
        const key = `${String(m.marker)}:${String(m.seq)}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
    }
    const wrong: string[] = [];
    for (let seq = 0; seq < EVENTS; seq++) {
      const own = `T:${tenants[Math.floor(seq / 100) % 2]!}`;
      for (const marker of ['A', 'B', own]) if (seen.get(`${marker}:${seq}`) !== 1) wrong.push(`${marker}:${seq}=${seen.get(`${marker}:${seq}`) ?? 0}`);
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(await count()).toBe(expected);
    expect(await producer.bus.deadLetters()).toEqual([]);
    process.stdout.write(`ROUTER-CHAOS-1: ${EVENTS} events, ${expected} effects, ${kills} SIGKILLs of 3 worker processes, every effect committed once\n`);
  }, 600_000);
});
