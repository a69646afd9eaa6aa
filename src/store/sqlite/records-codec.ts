import type { InvocationRecordDraft } from '../invocations.js';

/**
 * How the main thread hands invocation records to the records writer thread (records-thread.ts):
 * one flat array of primitives per batch, {@link STRIDE} slots per record, instead of the drafts
 * themselves. Posting a draft cost the main thread a structured clone of its nine objects: in
 * bench/routing's no-op run 3.8 µs per record (2.5 packed), in bench/records 2.1–2.2 (1.4–1.5
 * packed). What is rare — effects listed, model calls, an error, an experiment, metrics, a dead
 * letter, usage beyond the four counts — travels in the record's last slot as it is (undefined when
 * there is none).
 */

/** Slots per record. */
export const STRIDE = 26;

/** The parts of a draft that are not always there (see {@link packRecords}). */
interface Rest {
  writes?: InvocationRecordDraft['effects']['writes'];
  events?: InvocationRecordDraft['effects']['events'];
  models?: InvocationRecordDraft['models'];
  error?: InvocationRecordDraft['error'];
  experiment?: InvocationRecordDraft['experiment'];
  metrics?: InvocationRecordDraft['metrics'];
  deadLetterId?: string;
  usage?: InvocationRecordDraft['usage'];
}

type Slot = string | number | boolean | null | undefined | Rest;

/** The records as one flat array ({@link unpackRecords} gives them back, field for field). */
export function packRecords(drafts: readonly InvocationRecordDraft[]): Slot[] {
  const out = new Array<Slot>(drafts.length * STRIDE);
  let i = 0;
  for (const d of drafts) {
    const { event: e, plugin: p, usage: u, effects: f } = d;
    let rest: Rest | undefined;
    if (f.writes.length > 0) (rest ??= {}).writes = f.writes;
    if (f.events.length > 0) (rest ??= {}).events = f.events;
    if (d.models.length > 0) (rest ??= {}).models = d.models;
    if (d.error !== undefined) (rest ??= {}).error = d.error;
    if (d.experiment !== undefined) (rest ??= {}).experiment = d.experiment;
    if (d.metrics !== undefined) (rest ??= {}).metrics = d.metrics;
    if (d.deadLetterId !== undefined) (rest ??= {}).deadLetterId = d.deadLetterId;
    // Usage with more than its four counts (model cost, metrics) goes as it is.
    if (Object.keys(u).length !== 4) (rest ??= {}).usage = u;
    out[i++] = d.recordId;
    out[i++] = d.tenantId;
    out[i++] = d.at;
    out[i++] = e.eventId;
    out[i++] = e.type;
    out[i++] = e.correlationId;
    out[i++] = e.causationId;
    out[i++] = e.hop;
    out[i++] = e.entityId;
    out[i++] = e.entityTypeId;
    out[i++] = p.id;
    out[i++] = p.name;
    out[i++] = p.version;
    out[i++] = d.attempt;
    out[i++] = d.trigger;
    out[i++] = d.outcome;
    out[i++] = d.durationMs;
    out[i++] = u.hostCalls;
    out[i++] = u.modelCalls;
    out[i++] = u.emits;
    out[i++] = u.outputBytes;
    out[i++] = f.committed;
    out[i++] = f.readModelOps;
    out[i++] = f.timers;
    out[i++] = f.omitted;
    out[i++] = rest;
  }
  return out;
}

/** Slot `i`, as the type the draft's field has there (the thread trusts the main thread's packing). */
function v(slots: readonly unknown[], i: number): never {
  return slots[i] as never;
}

/** The drafts {@link packRecords} packed. */
export function unpackRecords(slots: readonly unknown[]): InvocationRecordDraft[] {
  const out: InvocationRecordDraft[] = [];
  for (let i = 0; i + STRIDE <= slots.length; i += STRIDE) {
    const rest: Rest = v(slots, i + 25) ?? {};
    const event: InvocationRecordDraft['event'] = { eventId: v(slots, i + 3), type: v(slots, i + 4), correlationId: v(slots, i + 5), causationId: v(slots, i + 6), hop: v(slots, i + 7) };
    if (v(slots, i + 8) !== undefined) event.entityId = v(slots, i + 8);
    if (v(slots, i + 9) !== undefined) event.entityTypeId = v(slots, i + 9);
    const draft: InvocationRecordDraft = {
      tenantId: v(slots, i + 1),
      at: v(slots, i + 2),
      event,
      plugin: { id: v(slots, i + 10), name: v(slots, i + 11), version: v(slots, i + 12) },
      attempt: v(slots, i + 13),
      trigger: v(slots, i + 14),
      outcome: v(slots, i + 15),
      durationMs: v(slots, i + 16),
      usage: rest.usage ?? { hostCalls: v(slots, i + 17), modelCalls: v(slots, i + 18), emits: v(slots, i + 19), outputBytes: v(slots, i + 20) },
      effects: { committed: v(slots, i + 21), writes: rest.writes ?? [], events: rest.events ?? [], readModelOps: v(slots, i + 22), timers: v(slots, i + 23), omitted: v(slots, i + 24) },
      models: rest.models ?? [],
    };
    if (v(slots, i) !== undefined) draft.recordId = v(slots, i);
    if (rest.error !== undefined) draft.error = rest.error;
    if (rest.experiment !== undefined) draft.experiment = rest.experiment;
    if (rest.metrics !== undefined) draft.metrics = rest.metrics;
    if (rest.deadLetterId !== undefined) draft.deadLetterId = rest.deadLetterId;
    out.push(draft);
  }
  return out;
}
