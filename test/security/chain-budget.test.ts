/**
 * CHAIN-*: per-chain volume budgets. The hop limit bounds a chain's depth; a plugin that emits two
 * copies of its own trigger grows a chain as 2^hop within that depth. The router counts, per tenant
 * and correlation id, the plugin invocations and the events committed by plugins, in a counter the
 * deployment's processes share (the bus's backend), and dead-letters with CHAIN_BUDGET_EXCEEDED
 * beyond the operator's limits — never committing the emits that would cross the event budget.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UeeApp } from '../../src/app/index.js';
import { UeeError, type ErrorCode, type EventEnvelope } from '../../src/core/index.js';
import { pluginGroup } from '../../src/registry/index.js';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CHAIN_SWEEP_BATCH, CHAIN_SWEEP_SQL, ChainBudget, InMemoryChainCounter, RedisChainCounter, SqliteChainCounter, isRetryable, type ChainCounter } from '../../src/router/index.js';
import { TEST_REDIS_URL, randomPrefix, tempDir } from '../helpers.js';
import { BACKENDS, Observer, deleteRedisKeys, deployProbe, drained, marks, newSite, openApp, probeWasm, refresh, until, type AppSite } from '../router/harness.js';

let probe: Uint8Array;
beforeAll(async () => {
  probe = await probeWasm();
}, 300_000);

const acme = { tenantId: 'acme', actor: 'user:test' };
const globex = { tenantId: 'globex', actor: 'user:test' };
const AMP = pluginGroup('Amp', 'acme');

/** Tenant acme's self-amplifying plugin (two `Amp` per `Amp`) and tenant globex's healthy one. */
async function deployAttack(app: UeeApp): Promise<void> {
  await deployProbe(app, probe, { name: 'Amp', tenantScope: 'tenant', tenantId: 'acme', subscribeTo: ['Amp'], settings: { mode: 'emit', emitType: 'Amp', emitCount: 2 } });
  await deployProbe(app, probe, { name: 'Healthy', tenantScope: 'tenant', tenantId: 'globex', subscribeTo: ['TaskCreated'], settings: { mode: 'mark', marker: 'healthy' } });
}

/** Successful runs of the amplifier in an app (each committed its two emits). */
function ampSuccesses(app: UeeApp): number {
  return app.runtime!.router.metrics.snapshot().filter((s) => s.name === 'Amp').reduce((n, s) => n + s.successes, 0);
}

/** Waits for the chain to be cut (a dead letter) and everything routed to be handled. */
async function cut(app: UeeApp): Promise<void> {
  await until('a chain budget dead letter', async () => ((await app.bus.deadLetters({ group: AMP })).length > 0 ? true : undefined), 60_000);
  await drained(app, AMP, 60_000);
}

function ampEvents(events: EventEnvelope[], correlationId: string): EventEnvelope[] {
  return events.filter((e) => e.type === 'Amp' && e.correlationId === correlationId);
}

describe.each(BACKENDS)('chain volume budgets ($name bus)', ({ name }) => {
  let site: (AppSite & { dispose(): Promise<void> }) | undefined;
  const apps: UeeApp[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
    await site?.dispose();
    site = undefined;
  });

  it('CHAIN-1 a self-amplifying plugin stops at the event budget: nothing over it is committed, every dead letter is CHAIN_BUDGET_EXCEEDED, the other tenant keeps working', async () => {
    site = newSite(name, 'chain');
    // Within the hop limit the chain could grow to 2^10 invocations: only the volume budget stops it at 41 events.
    const app = await openApp(site, { hopLimit: '10', chainMaxEvents: '41', chainMaxInvocations: '100000' });
    apps.push(app);
    const observer = new Observer(app);
    await deployAttack(app);
    await refresh(app);
    const root = await app.store.commit(acme, { events: [{ type: 'Amp', payload: {} }] });
    const correlationId = root.events[0]!.correlationId;
    // Meanwhile, the other tenant's plugin handles its events.
    const tasks = [];
    for (let i = 0; i < 5; i++) tasks.push(await app.store.put(globex, { entityTypeId: 'Task', attributes: { i }, eventType: 'TaskCreated' }));
    await until('the healthy tenant handled every task', async () => ((await marks(app, 'globex')).filter((m) => m.marker === 'healthy').length === 5 ? true : undefined), 60_000);
    await cut(app);

    const emitted = ampEvents(await observer.poll(), correlationId).filter((e) => e.hop > 0);
    // The root's handler is free (2 events); then 41 events allowed, two per invocation: 20 invocations
    // commit (40 events); the 21st would cross the budget and commits nothing.
    expect(emitted.length).toBeLessThanOrEqual(2 + 41);
    expect(emitted.length % 2).toBe(0);
    expect(ampSuccesses(app)).toBeLessThanOrEqual(1 + 20);
    expect(ampSuccesses(app)).toBe(emitted.length / 2);
    const dead = await app.bus.deadLetters({ group: AMP, count: 1000 });
    expect(dead.length).toBeGreaterThan(0);
    for (const d of dead) expect(d.error.code).toBe('CHAIN_BUDGET_EXCEEDED');
    // Deterministic: dead-lettered at the first attempt, never retried.
    for (const d of dead) expect(d.attempts).toHaveLength(1);
    const healthy = (await marks(app, 'globex')).filter((m) => m.marker === 'healthy');
    expect(healthy.map((m) => m.sourceEntity).sort()).toEqual(tasks.map((t) => t.entityId).sort());
    expect(await marks(app, 'acme')).toEqual([]);
  });

  it('CHAIN-2 the invocation budget holds across two processes sharing the backends; a new chain gets its own budget', async () => {
    site = newSite(name, 'chain2');
    const limits = { hopLimit: '10', chainMaxEvents: '1000000', chainMaxInvocations: '30' };
    const first = await openApp(site, limits);
    apps.push(first);
    const second = await openApp(site, limits);
    apps.push(second);
    const observer = new Observer(first);
    await deployAttack(first);
    await refresh(first);
    await refresh(second);
    const root = await first.store.commit(acme, { events: [{ type: 'Amp', payload: {} }] });
    const correlationId = root.events[0]!.correlationId;
    await cut(first);
    await drained(second, AMP, 60_000);

    const runs = ampSuccesses(first) + ampSuccesses(second);
    // Both processes together: the root's handler plus at most the budget, whoever ran them (each
    // spending its own would allow 61).
    expect(runs).toBeLessThanOrEqual(1 + 30);
    expect(runs).toBeGreaterThan(0);
    const emitted = ampEvents(await observer.poll(), correlationId).filter((e) => e.hop > 0);
    expect(emitted.length).toBe(2 * runs);
    const dead = [...(await first.bus.deadLetters({ group: AMP, count: 1000 }))];
    expect(dead.length).toBeGreaterThan(0);
    for (const d of dead) expect(d.error.code).toBe('CHAIN_BUDGET_EXCEEDED');

    // The budget is per chain, not per plugin: a new root event is handled again.
    const again = await first.store.commit(acme, { events: [{ type: 'Amp', payload: {} }] });
    await until('the new chain to run', async () => (ampEvents(await observer.poll(), again.events[0]!.correlationId).length > 1 ? true : undefined), 60_000);
  });
});

describe('deterministic failures are not retried', () => {
  it('CHAIN-3 CHAIN_BUDGET_EXCEEDED and RESERVED_NAME come out the same on every attempt: not retryable', () => {
    const codes: ErrorCode[] = ['CHAIN_BUDGET_EXCEEDED', 'RESERVED_NAME', 'HOP_LIMIT_EXCEEDED', 'CAPABILITY_DENIED'];
    for (const code of codes) expect(isRetryable(new UeeError(code, 'x').toJSON())).toBe(false);
    expect(isRetryable(new UeeError('TIMEOUT', 'x').toJSON())).toBe(true);
  });
});

describe('chain counters', () => {
  const kinds: Array<[string, (path: string, prefix: string, ttlMs?: number) => Promise<ChainCounter[]>]> = [
    ['memory', () => Promise.resolve([new InMemoryChainCounter()])],
    // Two counters on one file / one prefix stand for two processes of one deployment.
    ['sqlite', (path, _p, ttl) => Promise.resolve([SqliteChainCounter.open(path, ttl), SqliteChainCounter.open(path, ttl)])],
    ['redis', async (_f, prefix, ttl) => [await RedisChainCounter.create(TEST_REDIS_URL, prefix, ttl), await RedisChainCounter.create(TEST_REDIS_URL, prefix, ttl)]],
  ];

  it.each(kinds)('CHAIN-4 %s: racing spends never pass the limit together; partial grants; tenants and chains are apart; a counter expires', async (_kind, open) => {
    using dir = tempDir('uee-chain-counter');
    const prefix = randomPrefix('chain');
    const counters = await open(join(dir.path, 'bus.db'), prefix, 300);
    try {
      const at = (i: number): ChainCounter => counters[i % counters.length]!;
      // 100 racing spends of 1 against a limit of 37, spread over the "processes".
      const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => at(i).spend('acme', 'c1', 'invocations', 1, 37)));
      expect(outcomes.filter((o) => o.ok)).toHaveLength(37);
      // Up-to grants: what is left, then nothing; other tenant, other chain and other resource untouched.
      const granted = await at(1).spendUpTo([
        { tenantId: 'acme', correlationId: 'c1', resource: 'invocations', amount: 5, limit: 40 },
        { tenantId: 'acme', correlationId: 'c1', resource: 'invocations', amount: 5, limit: 40 },
        { tenantId: 'globex', correlationId: 'c1', resource: 'invocations', amount: 5, limit: 40 },
        { tenantId: 'acme', correlationId: 'c2', resource: 'invocations', amount: 5, limit: 40 },
        { tenantId: 'acme', correlationId: 'c1', resource: 'events', amount: 5, limit: 40 },
      ]);
      expect(granted).toEqual([3, 0, 5, 5, 5]);
      // All-or-nothing spend: 36 more events do not fit under 40 (5 spent), 35 do.
      expect((await at(0).spend('acme', 'c1', 'events', 36, 40)).ok).toBe(false);
      expect(await at(0).spend('acme', 'c1', 'events', 35, 40)).toEqual({ ok: true, used: 40 });
      if (_kind !== 'memory') {
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect((await at(1).spend('acme', 'c1', 'invocations', 1, 37)).ok).toBe(true);
      }
    } finally {
      for (const c of counters) await c.close();
      if (_kind === 'redis') await deleteRedisKeys(prefix);
    }
  });

  it('CHAIN-6 sqlite: expired counters are swept through an index, at most a batch per spend, until none is left; live ones stay', async () => {
    using dir = tempDir('uee-chain-sweep');
    const path = join(dir.path, 'bus.db');
    const counter = SqliteChainCounter.open(path, 60_000);
    const db = new Database(path);
    try {
      // The sweep finds expired counters through the index on expires_at, not by reading every counter.
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${CHAIN_SWEEP_SQL}`).all(Date.now()) as Array<{ detail: string }>).map((r) => r.detail).join(' | ');
      expect(plan).toMatch(/USING (COVERING )?INDEX bus_chain_budget_expiry/);
      // 2.5 batches of expired counters (as an hour of chains leaves them) and one live counter.
      const expired = Math.floor(CHAIN_SWEEP_BATCH * 2.5);
      const insert = db.prepare('INSERT INTO bus_chain_budget (k, used, expires_at) VALUES (?, 1, ?)');
      db.transaction(() => {
        for (let i = 0; i < expired; i++) insert.run(`old:${i}`, Date.now() - 1000 - i);
      })();
      expect((await counter.spend('acme', 'live', 'events', 1, 10)).ok).toBe(true);
      const left = (): number => (db.prepare('SELECT count(*) AS n FROM bus_chain_budget WHERE k LIKE ?').get('old:%') as { n: number }).n;
      // The first spend's sweep deleted one batch, the oldest first.
      expect(left()).toBe(expired - CHAIN_SWEEP_BATCH);
      expect(db.prepare('SELECT k FROM bus_chain_budget WHERE k = ?').get(`old:${expired - 1}`)).toBeUndefined();
      // A full batch: the next spends go on sweeping, a batch each, until none is left.
      await counter.spend('acme', 'live', 'events', 1, 10);
      await counter.spend('acme', 'live', 'events', 1, 10);
      expect(left()).toBe(0);
      expect(await counter.spend('acme', 'live', 'events', 1, 10)).toEqual({ ok: true, used: 4 });
    } finally {
      db.close();
      await counter.close();
    }
  });

  it('CHAIN-5 ChainBudget: a root costs no counter call; a batch prepays per chain in one call; a chain seen exhausted is refused without asking the counter', async () => {
    const counter = new InMemoryChainCounter();
    let calls = 0;
    const counting: ChainCounter = {
      kind: 'counting',
      spend: (...a) => (calls++, counter.spend(...a)),
      spendUpTo: (lines) => (calls++, counter.spendUpTo(lines)),
      close: () => counter.close(),
    };
    const budget = new ChainBudget(counting, { maxEvents: 10, maxInvocations: 3 });
    const root = { tenantId: 'acme', correlationId: 'c', hop: 0 };
    const next = { ...root, hop: 1 };
    // A chain's root is handled without touching the counter (most events never chain).
    await budget.prepay([root, root]);
    await budget.invocation(root, undefined);
    await budget.events(root, 5);
    expect(calls).toBe(0);
    const prepaid = await budget.prepay(Array.from({ length: 5 }, () => next));
    expect(calls).toBe(1);
    for (let i = 0; i < 3; i++) await budget.invocation(next, prepaid);
    expect(calls).toBe(1);
    await expect(budget.invocation(next, prepaid)).rejects.toMatchObject({ code: 'CHAIN_BUDGET_EXCEEDED' });
    expect(calls).toBe(1);
    await expect(budget.events(next, 11)).rejects.toMatchObject({ code: 'CHAIN_BUDGET_EXCEEDED', hint: expect.stringContaining('--chain-max-events') });
  });
});
