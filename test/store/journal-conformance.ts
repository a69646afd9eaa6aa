// The event-journal part of the store conformance suite (see conformance.ts and src/store/journal.ts):
// the same behaviour on every adapter.
import { describe, expect, it } from 'vitest';
import { newId, type TenantContext } from '../../src/core/index.js';
import type { EntityStore, JournalEntry } from '../../src/store/index.js';
import { tenantCtx } from '../helpers.js';
import { expectCode } from './conformance.js';

const A: TenantContext = tenantCtx('acme', 'user:alice');
const B: TenantContext = tenantCtx('globex', 'user:bob');
const G: TenantContext = tenantCtx(null, 'admin:root');

/** Every entry of a tenant's journal, page by page. */
export async function readAll(store: EntityStore, ctx: TenantContext, q: { after?: number; types?: string[]; limit?: number } = {}): Promise<JournalEntry[]> {
  const out: JournalEntry[] = [];
  let after = q.after ?? 0;
  for (let i = 0; i < 10_000; i++) {
    const page = await store.journal.read(ctx, { ...q, after });
    out.push(...page.entries);
    if (page.end) return out;
    expect(page.next).toBeGreaterThan(after);
    after = page.next;
  }
  throw new Error('journal read did not end');
}

/** Journal behaviour; `store()` is the suite's fresh store with tenants acme and globex. */
export function journalConformance(store: () => EntityStore): void {
  describe('event journal', () => {
    it('EJ01 every committed event is journaled in commit order and stays after the outbox publishes it', async () => {
      const s = store();
      const r1 = await s.commit(A, { writes: [{ entityId: 't-1', entityTypeId: 'Task', attributes: { n: 1 } }], events: [{ type: 'TaskNoted', payload: { x: 1 } }] });
      const r2 = await s.commit(A, { writes: [{ entityId: 't-1', entityTypeId: 'Task', attributes: { n: 2 } }] });
      await s.outbox.markPublished((await s.outbox.peek(100)).map((e) => e.seq));
      expect(await s.outbox.size()).toBe(0);
      const all = await readAll(s, A);
      expect(all.map((e) => e.event)).toEqual([...r1.events, ...r2.events]);
      expect(all.map((e) => e.position)).toEqual([1, 2, 3]);
      expect(new Set(all.map((e) => e.seq)).size).toBe(3);
      expect(await s.journal.info(A)).toEqual({ head: 3, oldest: 1 });
      const page = await s.journal.read(A, { after: 1, limit: 1 });
      expect(page.entries.map((e) => e.position)).toEqual([2]);
      expect(page).toMatchObject({ next: 2, end: false, head: 3 });
      expect(await s.journal.read(A, { after: 3 })).toMatchObject({ entries: [], next: 3, end: true });
    });

    it('EJ02 a failed commit journals nothing; an idempotent replay or a re-committed event id journals nothing more', async () => {
      const s = store();
      await s.put(A, { entityId: 't-1', entityTypeId: 'Task', attributes: {} });
      await expectCode(s.commit(A, { writes: [{ entityId: 't-1', entityTypeId: 'Task', attributes: {}, expectedVersion: 5 }], events: [{ type: 'Lost', payload: {} }] }), 'VERSION_CONFLICT');
      await s.commit(A, { idempotencyKey: 'k1', events: [{ type: 'Once', payload: {} }] });
      await s.commit(A, { idempotencyKey: 'k1', events: [{ type: 'Once', payload: {} }] });
      const eventId = newId();
      await s.commit(A, { events: [{ eventId, type: 'Preset', payload: { n: 1 } }] });
      await s.commit(A, { events: [{ eventId, type: 'Preset', payload: { n: 2 } }, { type: 'After', payload: {} }] });
      const types = (await readAll(s, A)).map((e) => e.event.type);
      expect(types).toEqual(['EntityCreated', 'Once', 'Preset', 'After']);
      const preset = (await readAll(s, A, { types: ['Preset'] }))[0]!;
      expect(preset.event.payload).toEqual({ n: 1 });
    });

    it('EJ03 a tenant reads only its own journal, with its own positions; global events are the global scope\'s', async () => {
      const s = store();
      await s.commit(A, { events: [{ type: 'Mine', payload: { t: 'a' } }] });
      await s.commit(B, { events: [{ type: 'Mine', payload: { t: 'b' } }, { type: 'Mine', payload: { t: 'b2' } }] });
      await s.commit(G, { events: [{ type: 'Mine', payload: { t: 'g' } }] });
      expect((await readAll(s, A)).map((e) => [e.position, e.event.payload.t])).toEqual([[1, 'a']]);
      expect((await readAll(s, B)).map((e) => [e.position, e.event.payload.t])).toEqual([[1, 'b'], [2, 'b2']]);
      expect((await readAll(s, G)).map((e) => e.event.payload.t)).toEqual(['g']);
      await expectCode(s.journal.read(tenantCtx('initech')), 'UNKNOWN_TENANT');
    });

    it('EJ04 reads by event types from a position; bad queries are VALIDATION_FAILED', async () => {
      const s = store();
      for (let i = 0; i < 10; i++) await s.commit(A, { events: [{ type: i % 2 === 0 ? 'Even' : 'Odd', payload: { i } }] });
      expect((await readAll(s, A, { types: ['Odd'], limit: 2 })).map((e) => e.event.payload.i)).toEqual([1, 3, 5, 7, 9]);
      expect((await readAll(s, A, { types: ['Even', 'Odd'], after: 6 })).map((e) => e.event.payload.i)).toEqual([6, 7, 8, 9]);
      expect(await s.journal.read(A, { types: ['None'] })).toMatchObject({ entries: [], next: 10, end: true });
      await expectCode(s.journal.read(A, { limit: 0 }), 'VALIDATION_FAILED');
      await expectCode(s.journal.read(A, { types: [] }), 'VALIDATION_FAILED');
      await expectCode(s.journal.read(A, { after: -1 }), 'VALIDATION_FAILED');
      await expectCode(s.journal.read(A, { types: Array.from({ length: 33 }, (_, i) => `T${i}`) }), 'VALIDATION_FAILED');
    });

    it('EJ05 retention deletes the oldest entries; positions are never reused', async () => {
      const s = store();
      for (let i = 0; i < 5; i++) await s.commit(A, { events: [{ type: 'Old', payload: { i } }] });
      await s.commit(B, { events: [{ type: 'Old', payload: {} }] });
      expect(await s.journal.purgeBefore('2000-01-01T00:00:00.000Z')).toBe(0);
      expect(await s.journal.purgeBefore(new Date(Date.now() + 60_000).toISOString(), 3)).toBe(3);
      expect((await readAll(s, A)).map((e) => e.event.payload.i)).toEqual([3, 4]);
      expect(await s.journal.info(A)).toEqual({ head: 5, oldest: 4 });
      expect(await s.journal.purgeBefore(new Date(Date.now() + 60_000).toISOString())).toBe(3);
      expect(await s.journal.info(A)).toEqual({ head: 5, oldest: null });
      await s.commit(A, { events: [{ type: 'New', payload: {} }] });
      expect((await readAll(s, A)).map((e) => e.position)).toEqual([6]);
      await expectCode(s.journal.purgeBefore('yesterday'), 'VALIDATION_FAILED');
    });

    it('EJ06 concurrent commits of one tenant: a reader following the head misses none and sees each once, in position order', async () => {
      const s = store();
      const seen: number[] = [];
      let after = 0;
      let writing = true;
      const reader = (async () => {
        for (;;) {
          const done = !writing;
          const page = await s.journal.read(A, { after, limit: 7 });
          seen.push(...page.entries.map((e) => e.position));
          after = page.next;
          if (done && page.end) return;
        }
      })();
      const commits = Array.from({ length: 40 }, (_, i) => s.commit(A, { events: [{ type: 'C', payload: { i } }, { type: 'C', payload: { i, second: true } }] }));
      const results = await Promise.all(commits);
      writing = false;
      await reader;
      expect(seen).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      const journaled = new Set((await readAll(s, A)).map((e) => e.event.eventId));
      expect(journaled).toEqual(new Set(results.flatMap((r) => r.events.map((e) => e.eventId))));
    });
  });
}
