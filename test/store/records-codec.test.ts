import { describe, expect, it } from 'vitest';
import type { InvocationRecordDraft } from '../../src/store/invocations.js';
import { STRIDE, packRecords, preparedInKeyOrder, unpackRecords } from '../../src/store/sqlite/records-codec.js';

// The records writer thread gets a batch as one flat array (packRecords): every field of every
// draft must come back as it was, optional fields only where they were.

const plain: InvocationRecordDraft = {
  recordId: '0195f3d0-0000-7000-8000-000000000001',
  tenantId: 'acme',
  at: '2026-12-03T12:00:00.000Z',
  event: { eventId: 'e1', type: 'TaskCreated', correlationId: 'c1', causationId: null, hop: 0 },
  plugin: { id: 'p1', name: 'Acme.Notes', version: 2 },
  attempt: 1,
  trigger: 'router',
  outcome: 'ok',
  durationMs: 0.25,
  usage: { hostCalls: 0, modelCalls: 0, emits: 0, outputBytes: 2 },
  effects: { committed: false, writes: [], events: [], readModelOps: 0, timers: 0, omitted: 0 },
  models: [],
};

const full: InvocationRecordDraft = {
  tenantId: null,
  at: '2026-12-03T12:00:01.000Z',
  event: { eventId: 'e2', type: 'TaskUpdated', correlationId: 'c2', causationId: 'e1', hop: 3, entityId: 't-1', entityTypeId: 'Task' },
  plugin: { id: 'p2', name: 'Acme.Bot', version: 7 },
  attempt: 4,
  trigger: 'redrive',
  outcome: 'dead',
  error: { code: 'PLUGIN_ERROR', message: 'boom' },
  durationMs: 12.5,
  usage: { hostCalls: 3, modelCalls: 1, emits: 2, outputBytes: 90, modelCost: 0.02, metrics: { hits: 2 } } as InvocationRecordDraft['usage'],
  effects: { committed: true, writes: [{ entityId: 't-1', entityTypeId: 'Task', version: 5 }], events: [{ eventId: 'e3', type: 'Done' }], readModelOps: 2, timers: 1, omitted: 4 },
  models: [{ model: 'm', ok: false, durationMs: 3, code: 'TIMEOUT' }],
  experiment: { id: 'x1', variant: 'b' },
  metrics: { latency: 3 },
  deadLetterId: 'dl-1',
};

describe('invocation records packed for the writer thread', () => {
  it('RECORDS-CODEC-1 every field comes back as it was, optional ones only where they were; rare parts only for the records that have some', () => {
    // The last: a chain's first event, its own correlation id.
    const batch = [plain, full, { ...plain, recordId: undefined, tenantId: 'globex' }, { ...plain, event: { ...plain.event, eventId: 'e9', correlationId: 'e9' } }].map((d) => {
      const copy = structuredClone(d);
      if (copy.recordId === undefined) delete copy.recordId;
      return copy;
    });
    const packed = packRecords(batch);
    expect(packed.slots).toHaveLength(batch.length * STRIDE);
    // What the thread receives: a structured clone, the slots' buffer moved.
    const received = structuredClone(packed, { transfer: [packed.slots.buffer] });
    expect(packed.slots.byteLength).toBe(0);
    expect(unpackRecords(received)).toStrictEqual(batch);
    // Only the records with rare parts carry an object; strings many records share are named once.
    expect(received.rest.map(([r]) => r)).toEqual([1]);
    expect(received.strings.filter((x) => x === 'router')).toHaveLength(1);
    expect(received.strings.filter((x) => x === 'ok')).toHaveLength(1);
  });

  it('RECORDS-CODEC-2 a group of appends comes out prepared, every record once, by tenant (the global tenant first), in the order taken within a tenant, in chunks of at most 256', () => {
    const tenants = ['globex', 'acme', null, 'initech'];
    let i = 0;
    const append = (n: number): InvocationRecordDraft[] =>
      Array.from({ length: n }, () => {
        const k = i++;
        return { ...structuredClone(plain), recordId: `r-${String(k).padStart(4, '0')}`, tenantId: tenants[k % tenants.length]!, event: { ...plain.event, eventId: `e-${k}` } };
      });
    const appends = [append(300), append(5), append(211)];
    const chunks = [...preparedInKeyOrder(appends.map((a) => packRecords(a)))];
    expect(chunks.every((c) => c.length > 0 && c.length <= 256)).toBe(true);
    const out = chunks.flat();
    const key = (t: string | null): string => t ?? '';
    const expected = appends.flat().map((d, at) => ({ d, at })).sort((a, b) => (key(a.d.tenantId) < key(b.d.tenantId) ? -1 : key(a.d.tenantId) > key(b.d.tenantId) ? 1 : a.at - b.at));
    expect(out.map((r) => r.recordId)).toEqual(expected.map((e) => e.d.recordId));
    expect(out[0]!.tenantId).toBeNull();
    expect(out.find((r) => r.recordId === 'r-0301')).toStrictEqual(appends[1]![1]);
  });
});
