/**
 * ROUTER-ORDER-1: three worker processes share one PostgreSQL store and one Redis bus; events about
 * the same entity reach them interleaved with other entities' events, over several queues (a global
 * plugin and one plugin per tenant), and one worker is SIGKILLed mid-run. Each plugin's handling of
 * one entity's events is in stream order, each exactly once: one process at a time reads a queue
 * (a bus lease), and whoever takes it over handles what the previous owner left before anything new.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { dropSchemas, randomSchema, schemaUrl } from '../store/postgres-helpers.js';
import { tempDir } from '../helpers.js';
import { allOfType, deployProbe, drained, newSite, openApp, probeWasm, killChild, spawnChild, type AppSite } from './harness.js';

const ENTITIES = 6;
const PER_ENTITY = 60;

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 600_000);
const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

describe('per-entity order across worker processes (PostgreSQL + Redis)', () => {
  const disposers: Array<() => Promise<void> | void> = [];
  const workers = new Set<ChildProcess>();
  afterEach(async () => {
    for (const w of workers) await killChild(w);
    workers.clear();
    for (const d of disposers.splice(0).reverse()) await d();
  });

  it('ROUTER-ORDER-1 three processes, one SIGKILLed mid-run: every plugin handles each entity\'s events once each, in stream order', async () => {
    const schema = randomSchema('order');
    schemas.push(schema);
    const store = schemaUrl(schema);
    const site = newSite('redis', 'order');
    disposers.push(() => site.dispose());
    const producer: UeeApp = await openApp(site, { store, runtime: 'off' });
    disposers.push(() => producer.close());
    const tenants = ['acme', 'globex'];
    await deployProbe(producer, probe, { name: 'OrderG', subscribeTo: ['Step'], settings: { mode: 'append', marker: 'G' } });
    for (const tenantId of tenants) {
      await deployProbe(producer, probe, { name: 'OrderT', tenantScope: 'tenant', tenantId, subscribeTo: ['Step'], settings: { mode: 'append', marker: 'T' } });
    }
    const start = (): Promise<ChildProcess> => {
      const dir = tempDir('uee-order-worker');
      disposers.push(() => dir[Symbol.dispose]());
      const workerSite: AppSite = { ...site, dataDir: dir.path };
      return spawnChild(join(import.meta.dirname, 'chaos-child.ts'), { site: workerSite, store }, 'READY');
    };
    for (let i = 0; i < 3; i++) workers.add(await start());

    // Round-robin over the entities, 24 events per commit, alternating tenants per commit.
    let seq = 0;
    const commits = (ENTITIES * PER_ENTITY) / 24;
    for (let c = 0; c < commits; c++) {
      const tenantId = tenants[c % 2]!;
      const events = Array.from({ length: 24 }, () => {
        const n = seq++;
        return { type: 'Step', entityId: `${tenantId}-e${n % ENTITIES}`, payload: { seq: n } };
      });
      await producer.store.commit({ tenantId, actor: 'user:test' }, { events });
      if (c === Math.floor(commits / 2)) {
        const victim = [...workers][0]!;
        workers.delete(victim);
        await killChild(victim);
        workers.add(await start());
      }
    }
    const expected = new Map<string, number[]>();
    for (let n = 0; n < seq; n++) {
      const c = Math.floor(n / 24);
      const entity = `${tenants[c % 2]!}-e${n % ENTITIES}`;
      expected.set(entity, [...(expected.get(entity) ?? []), n]);
    }
    const groups = [pluginGroup('OrderG', null), ...tenants.map((t) => pluginGroup('OrderT', t))];
    for (const g of groups) await drained(producer, g, 120_000);
    const got = new Map<string, number[]>();
    for (const tenantId of tenants) {
      for (const v of await allOfType(producer, tenantId, 'Order')) got.set(`${String(v.attributes.marker)}:${String(v.attributes.entity)}`, v.attributes.seqs as number[]);
    }
    const wrong: string[] = [];
    for (const [entity, seqs] of expected) {
      for (const marker of ['G', 'T']) {
        const list = got.get(`${marker}:${entity}`) ?? [];
        if (JSON.stringify(list) !== JSON.stringify(seqs)) wrong.push(`${marker}:${entity}: ${JSON.stringify(list.slice(0, 12))}…`);
      }
    }
    expect(wrong).toEqual([]);
    expect(got.size).toBe(2 * expected.size);
    expect(await producer.bus.deadLetters()).toEqual([]);
  }, 300_000);
});
