// The invocation-record part of the store conformance suite (see conformance.ts): the same
// behaviour on every adapter.
import { describe, expect, it } from 'vitest';
import type { TenantContext } from '../../src/core/index.js';
import type { EntityStore, InvocationRecord, InvocationRecordDraft } from '../../src/store/index.js';
import { RECORD_CAPS } from '../../src/store/index.js';
import { tenantCtx } from '../helpers.js';
import { expectCode } from './conformance.js';

const A: TenantContext = tenantCtx('acme', 'user:alice');
const B: TenantContext = tenantCtx('globex', 'user:bob');
const G: TenantContext = tenantCtx(null, 'admin:root');

let seq = 0;

/** A record draft of `tenantId` at `at`, with overrides. */
export function draft(tenantId: string | null, at: string, over: Partial<InvocationRecordDraft> = {}): InvocationRecordDraft {
  seq++;
  return {
    tenantId,
    at,
    event: { eventId: `ev-${seq}`, type: 'TaskCreated', correlationId: 'corr-1', causationId: null, hop: 0, entityId: 'task-1', entityTypeId: 'Task' },
    plugin: { id: 'p-1', name: 'triage', version: 1 },
    attempt: 1,
    trigger: 'router',
    outcome: 'ok',
    durationMs: 1.5,
    usage: { hostCalls: 2, modelCalls: 0, emits: 1, outputBytes: 10 },
    effects: { committed: true, writes: [{ entityId: 'task-1', entityTypeId: 'Task', version: 2 }], events: [{ eventId: 'ev-x', type: 'TaskTriaged' }], readModelOps: 0, timers: 0, omitted: 0 },
    models: [],
    ...over,
  };
}

/** Appends and waits until stored: a store whose appends settle when taken writes them on flush (see `InvocationRecordStore.append`). */
export async function appendStored(s: EntityStore, drafts: readonly InvocationRecordDraft[]): Promise<void> {
  await s.invocations.append(drafts);
  await s.invocations.flush?.();
}

async function all(store: EntityStore, ctx: TenantContext, q: Parameters<EntityStore['invocations']['query']>[1] = {}): Promise<InvocationRecord[]> {
  const out: InvocationRecord[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await store.invocations.query(ctx, { ...q, ...(cursor === undefined ? {} : { cursor }) });
    out.push(...page.items);
    if (page.nextCursor === null) return out;
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

/** Invocation-record behaviour; `store()` is the suite's fresh store with tenants acme and globex. */
export function invocationConformance(store: () => EntityStore): void {
  describe('invocation records', () => {
    it('IR01 records read back whole, newest first, by event, correlation, entity, plugin and time', async () => {
      const s = store();
      const r1 = draft('acme', '2026-12-01T06:00:00.000Z');
      const r2 = draft('acme', '2026-12-01T06:00:01.000Z', { event: { ...r1.event, eventId: 'ev-b', correlationId: 'corr-2', entityId: 'task-2' }, plugin: { id: 'p-2', name: 'notify', version: 3 }, outcome: 'dead', error: { code: 'PLUGIN_TRAP', message: 'boom' }, experiment: { id: 'exp-1', variant: 'b' }, metrics: { score: 0.5 } });
      await appendStored(s, [r1, r2]);
      const both = await all(s, A);
      expect(both.map((r) => r.event.eventId)).toEqual(['ev-b', r1.event.eventId]);
      expect(both[0]).toMatchObject({ ...r2, recordId: expect.any(String) });
      expect((await all(s, A, { eventId: r1.event.eventId })).map((r) => r.event.eventId)).toEqual([r1.event.eventId]);
      expect((await all(s, A, { correlationId: 'corr-2' })).map((r) => r.event.eventId)).toEqual(['ev-b']);
      expect((await all(s, A, { entityId: 'task-1' })).map((r) => r.event.eventId)).toEqual([r1.event.eventId]);
      expect((await all(s, A, { plugin: 'notify' })).map((r) => r.plugin.version)).toEqual([3]);
      expect((await all(s, A, { pluginId: 'p-1' })).length).toBe(1);
      expect((await all(s, A, { outcome: 'dead' })).length).toBe(1);
      expect((await all(s, A, { experimentId: 'exp-1' })).length).toBe(1);
      expect((await all(s, A, { from: '2026-12-01T06:00:00.500Z' })).map((r) => r.event.eventId)).toEqual(['ev-b']);
      expect((await all(s, A, { to: '2026-12-01T06:00:00.500Z' })).map((r) => r.event.eventId)).toEqual([r1.event.eventId]);
    });

    it('IR02 a tenant never sees another tenant\'s records; global records only with a global context', async () => {
      const s = store();
      await appendStored(s, [draft('acme', '2026-12-01T06:00:00.000Z'), draft('globex', '2026-12-01T06:00:00.000Z'), draft(null, '2026-12-01T06:00:00.000Z')]);
      expect((await all(s, A)).map((r) => r.tenantId)).toEqual(['acme']);
      expect((await all(s, B)).map((r) => r.tenantId)).toEqual(['globex']);
      expect((await all(s, G)).map((r) => r.tenantId)).toEqual([null]);
      await expectCode(s.invocations.query(tenantCtx('initech'), {}), 'UNKNOWN_TENANT');
    });

    it('IR03 pages by cursor without gaps or repeats; a cursor of another query is INVALID_CURSOR', async () => {
      const s = store();
      const drafts = Array.from({ length: 25 }, (_, i) => draft('acme', new Date(Date.UTC(2026, 11, 1, 6, 0, i)).toISOString()));
      await appendStored(s, drafts);
      const page = await s.invocations.query(A, { limit: 10 });
      expect(page.items).toHaveLength(10);
      const every = await all(s, A, { limit: 7 });
      expect(every.map((r) => r.event.eventId)).toEqual(drafts.map((d) => d.event.eventId).reverse());
      await expectCode(s.invocations.query(A, { plugin: 'other', cursor: page.nextCursor! }), 'INVALID_CURSOR');
      await expectCode(s.invocations.query(A, { limit: 0 }), 'VALIDATION_FAILED');
    });

    it('IR04 each record is capped: long errors cut, effect and model lists bounded with the rest counted', async () => {
      const s = store();
      const many = Array.from({ length: RECORD_CAPS.effects + 30 }, (_, i) => ({ entityId: `e${i}`, entityTypeId: 'Task', version: 1 }));
      await appendStored(s, [
        draft('acme', '2026-12-01T06:00:00.000Z', {
          outcome: 'retry',
          error: { code: 'PLUGIN_ERROR', message: 'x'.repeat(100_000) },
          effects: { committed: false, writes: many, events: [], readModelOps: 0, timers: 0, omitted: 0 },
          models: Array.from({ length: 500 }, () => ({ model: 'm', ok: true, durationMs: 1 })),
          metrics: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`m${i}`, i])),
        }),
      ]);
      const [r] = await all(s, A);
      expect(r!.error!.message.length).toBeLessThanOrEqual(RECORD_CAPS.errorMessage);
      expect(r!.effects.writes).toHaveLength(RECORD_CAPS.effects);
      expect(r!.effects.omitted).toBe(30);
      expect(r!.models).toHaveLength(RECORD_CAPS.models);
      expect(Object.keys(r!.metrics!)).toHaveLength(RECORD_CAPS.metrics);
    });

    it('IR04b a record with nothing but too many effects (no error, models or metrics) is capped too', async () => {
      const s = store();
      const many = Array.from({ length: RECORD_CAPS.effects + 7 }, (_, i) => ({ eventId: `ev-out-${i}`, type: 'TaskTriaged' }));
      await appendStored(s, [draft('acme', '2026-12-01T06:00:00.000Z', { effects: { committed: true, writes: [], events: many, readModelOps: 0, timers: 0, omitted: 1 } })]);
      const [r] = await all(s, A);
      expect(r!.effects.events).toHaveLength(RECORD_CAPS.effects);
      expect(r!.effects.omitted).toBe(8);
    });

    it('IR04c many records in one append (more than one multi-row statement, more than 65,535 parameters) are all stored, none twice', async () => {
      const s = store();
      // A flush hands the store a whole buffer: 6,100 rows of 11 columns is past PostgreSQL's bind limit.
      const drafts = Array.from({ length: 6_100 }, (_, i) => draft('acme', new Date(Date.UTC(2026, 11, 1, 6, 0, 0, i)).toISOString(), { recordId: `r-${String(i).padStart(5, '0')}` }));
      await appendStored(s, drafts);
      await appendStored(s, drafts.slice(0, 40));
      expect((await all(s, A, { limit: 1000 })).map((r) => r.recordId)).toEqual(drafts.map((d) => d.recordId).reverse());
    });

    it('IR05 retention deletes records older than the cutoff, in bounded batches, and nothing newer', async () => {
      const s = store();
      await appendStored(s, [
        ...Array.from({ length: 5 }, (_, i) => draft(i % 2 === 0 ? 'acme' : 'globex', `2026-11-0${i + 1}T00:00:00.000Z`)),
        draft('acme', '2026-12-01T06:00:00.000Z'),
      ]);
      expect(await s.invocations.purgeBefore('2026-12-01T00:00:00.000Z', 3)).toBe(3);
      expect(await s.invocations.purgeBefore('2026-12-01T00:00:00.000Z', 3)).toBe(2);
      expect(await s.invocations.purgeBefore('2026-12-01T00:00:00.000Z', 3)).toBe(0);
      expect((await all(s, A)).map((r) => r.at)).toEqual(['2026-12-01T06:00:00.000Z']);
      expect(await all(s, B)).toEqual([]);
    });

    it('IR06 appending the same record twice stores it once', async () => {
      const s = store();
      const d = { ...draft('acme', '2026-12-01T06:00:00.000Z'), recordId: '0193f000-0000-7000-8000-000000000001' };
      await appendStored(s, [d]);
      await appendStored(s, [d]);
      expect(await all(s, A)).toHaveLength(1);
    });

    it('IR07 any text in a searchable field reads back whole and finds its record; a record id twice in one append is stored once', async () => {
      const s = store();
      // What a text array or a JSON list must quote or escape: quotes, backslashes, braces, commas,
      // the word NULL, an empty string, spaces, control characters and characters beyond ASCII.
      const odd = ['a"b', 'back\\slash', '{x,y}', 'NULL', '', ' lead and trail ', 'tab\tnew\nline', 'ünï ✓ 🚀', '\\"{,}"\\'];
      const drafts = odd.map((text, i) =>
        draft('acme', new Date(Date.UTC(2026, 11, 1, 7, 0, i)).toISOString(), {
          recordId: `odd-${i}`,
          event: { eventId: `ev-${text}`, type: 'TaskCreated', correlationId: `corr-${text}`, causationId: null, hop: 0, entityId: text, entityTypeId: 'Task' },
          error: { code: 'PLUGIN_TRAP', message: `failed on ${text}` },
          outcome: 'dead',
        }),
      );
      // The same record id twice in one append (and a record between them): stored once.
      await appendStored(s, [...drafts, drafts[0]!]);
      const stored = await all(s, A, { limit: 1000 });
      expect(stored.map((r) => r.recordId)).toEqual(drafts.map((d) => d.recordId).reverse());
      for (const [i, text] of odd.entries()) {
        const mine = stored.find((r) => r.recordId === `odd-${i}`)!;
        expect(mine.event).toMatchObject({ eventId: `ev-${text}`, correlationId: `corr-${text}`, entityId: text });
        expect(mine.error?.message).toBe(`failed on ${text}`);
        expect((await all(s, A, { eventId: `ev-${text}` })).map((r) => r.recordId)).toEqual([`odd-${i}`]);
        expect((await all(s, A, { correlationId: `corr-${text}` })).map((r) => r.recordId)).toEqual([`odd-${i}`]);
        expect((await all(s, A, { entityId: text })).map((r) => r.recordId)).toEqual([`odd-${i}`]);
      }
    });
  });
}
