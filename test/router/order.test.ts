/**
 * ROUTER-ORDER-1: three worker processes share one PostgreSQL store and one Redis bus; events about
 * the same entity reach them interleaved with other entities' events, over several queues (a global
 * plugin and one plugin per tenant), and one worker is SIGKILLed mid-run. Each plugin's handling of
 * one entity's events is in stream order, each exactly once: one process at a time reads a queue
 * (a bus lease), and whoever takes it over handles what the previous owner left before anything new.
 */
import { describe, expect, it } from 'vitest';
import { pluginGroup } from '../../src/registry/index.js';
import { appendRecords, deployProbe, drained, killChild, processSuite, recordMismatches } from './harness.js';

const ENTITIES = 6;
const PER_ENTITY = 60;

describe('per-entity order across worker processes (PostgreSQL + Redis)', () => {
  const suite = processSuite();

  it('ROUTER-ORDER-1 three processes, one SIGKILLed mid-run: every plugin handles each entity\'s events once each, in stream order', async () => {
    const { producer, startWorker } = await suite.cluster('order');
    const tenants = ['acme', 'globex'];
    await deployProbe(producer, suite.probe, { name: 'OrderG', subscribeTo: ['Step'], settings: { mode: 'append', marker: 'G' } });
    for (const tenantId of tenants) {
      await deployProbe(producer, suite.probe, { name: 'OrderT', tenantScope: 'tenant', tenantId, subscribeTo: ['Step'], settings: { mode: 'append', marker: 'T' } });
    }
    await Promise.all([0, 1, 2].map(() => startWorker()));

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
        const victim = [...suite.workers][0]!;
        suite.workers.delete(victim);
        await killChild(victim);
        await startWorker();
      }
    }
    const expected = new Map<string, number[]>();
    for (let n = 0; n < seq; n++) {
      const c = Math.floor(n / 24);
      const entity = `${tenants[c % 2]!}-e${n % ENTITIES}`;
      for (const marker of ['G', 'T']) expected.set(`${marker}:${entity}`, [...(expected.get(`${marker}:${entity}`) ?? []), n]);
    }
    const groups = [pluginGroup('OrderG', null), ...tenants.map((t) => pluginGroup('OrderT', t))];
    for (const g of groups) await drained(producer, g, 120_000);
    expect(recordMismatches(expected, await appendRecords(producer, tenants))).toEqual([]);
    expect(await producer.bus.deadLetters()).toEqual([]);
  }, 300_000);
});
