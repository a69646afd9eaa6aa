import { prepareInvocationRecord, type InvocationRecord, type InvocationRecordDraft } from '../invocations.js';

/**
 * How the main thread hands invocation records to the records writer thread (records-thread.ts):
 * per batch, the records' numbers and string references in ONE `Float64Array` ({@link STRIDE}
 * slots per record), moved to the thread (a transfer, not a copy), and the strings they name in one
 * array, a string named by many records (tenant, event type, plugin, outcome, the time of a
 * millisecond) once. Posting the drafts themselves cost the main thread a structured clone of their
 * nine objects: in bench/routing's no-op run 3.8 µs per record; one flat array of primitives (the
 * previous packing) 2.5, a clone of each slot. What is rare — effects listed, model calls, an error,
 * an experiment, metrics, a dead letter, usage beyond the four counts — travels as it is, in `rest`
 * (only for the records that have some).
 */

/** Slots per record. */
export const STRIDE = 25;

/** A string slot's value for `null` and for `undefined` (a string's is its index in `strings`, ≥ 0). */
const NULL = -1;
const UNDEFINED = -2;

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

/** A batch as the thread receives it (see above). */
export interface PackedRecords {
  slots: Float64Array<ArrayBuffer>;
  strings: string[];
  /** `[record index, its rare parts]`, for the records that have some. */
  rest: Array<[number, Rest]>;
}

/** The records packed ({@link unpackRecords} gives them back, field for field); post `slots.buffer` in the transfer list. */
export function packRecords(drafts: readonly InvocationRecordDraft[]): PackedRecords {
  const slots = new Float64Array(drafts.length * STRIDE);
  const strings: string[] = [];
  const index = new Map<string, number>();
  /** A string many records share: named once. */
  const shared = (x: string | null | undefined): number => {
    if (typeof x !== 'string') return x === null ? NULL : UNDEFINED;
    let at = index.get(x);
    if (at === undefined) index.set(x, (at = strings.push(x) - 1));
    return at;
  };
  /** A string of this record only (an id): not looked up. */
  const own = (x: string | null | undefined): number => (typeof x !== 'string' ? (x === null ? NULL : UNDEFINED) : strings.push(x) - 1);
  const rests: Array<[number, Rest]> = [];
  let i = 0;
  for (let r = 0; r < drafts.length; r++) {
    const d = drafts[r]!;
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
    if (rest !== undefined) rests.push([r, rest]);
    const eventId = own(e.eventId);
    slots[i++] = own(d.recordId);
    slots[i++] = shared(d.tenantId);
    slots[i++] = shared(d.at);
    slots[i++] = eventId;
    slots[i++] = shared(e.type);
    // A chain's first event is its own correlation id.
    slots[i++] = e.correlationId === e.eventId ? eventId : own(e.correlationId);
    slots[i++] = shared(e.causationId);
    slots[i++] = e.hop;
    slots[i++] = shared(e.entityId);
    slots[i++] = shared(e.entityTypeId);
    slots[i++] = shared(p.id);
    slots[i++] = shared(p.name);
    slots[i++] = p.version;
    slots[i++] = d.attempt;
    slots[i++] = shared(d.trigger);
    slots[i++] = shared(d.outcome);
    slots[i++] = d.durationMs;
    slots[i++] = u.hostCalls;
    slots[i++] = u.modelCalls;
    slots[i++] = u.emits;
    slots[i++] = u.outputBytes;
    slots[i++] = f.committed ? 1 : 0;
    slots[i++] = f.readModelOps;
    slots[i++] = f.timers;
    slots[i++] = f.omitted;
  }
  return { slots, strings, rest: rests };
}

/** How many records a packed batch holds. */
export const packedCount = (packed: PackedRecords): number => packed.slots.length / STRIDE;

/** The tenant of a packed batch's `r`-th record (null: a global event's). */
export function packedTenant(packed: PackedRecords, r: number): string | null {
  const at = packed.slots[r * STRIDE + 1]!;
  return at < 0 ? null : packed.strings[at]!;
}

/** The drafts {@link packRecords} packed. */
export function unpackRecords(packed: PackedRecords): InvocationRecordDraft[] {
  const reader = packedReader(packed);
  const out: InvocationRecordDraft[] = [];
  for (let r = 0; r < packedCount(packed); r++) out.push(reader(r));
  return out;
}

/** A function giving a packed batch's `r`-th draft, field for field as packed, one at a time. */
export function packedReader(packed: PackedRecords): (r: number) => InvocationRecordDraft {
  const { slots, strings } = packed;
  const rests = new Map(packed.rest);
  /** A string slot's value (the thread trusts the main thread's packing). */
  const str = (i: number): never => {
    const at = slots[i]!;
    return (at === NULL ? null : at === UNDEFINED ? undefined : strings[at]) as never;
  };
  const num = (i: number): number => slots[i]!;
  return (r) => {
    const i = r * STRIDE;
    const rest: Rest = rests.get(r) ?? {};
    const event: InvocationRecordDraft['event'] = { eventId: str(i + 3), type: str(i + 4), correlationId: str(i + 5), causationId: str(i + 6), hop: num(i + 7) };
    if (slots[i + 8] !== UNDEFINED) event.entityId = str(i + 8);
    if (slots[i + 9] !== UNDEFINED) event.entityTypeId = str(i + 9);
    const draft: InvocationRecordDraft = {
      tenantId: str(i + 1),
      at: str(i + 2),
      event,
      plugin: { id: str(i + 10), name: str(i + 11), version: num(i + 12) },
      attempt: num(i + 13),
      trigger: str(i + 14),
      outcome: str(i + 15),
      durationMs: num(i + 16),
      usage: rest.usage ?? { hostCalls: num(i + 17), modelCalls: num(i + 18), emits: num(i + 19), outputBytes: num(i + 20) },
      effects: { committed: slots[i + 21] === 1, writes: rest.writes ?? [], events: rest.events ?? [], readModelOps: num(i + 22), timers: num(i + 23), omitted: num(i + 24) },
      models: rest.models ?? [],
    };
    if (slots[i] !== UNDEFINED) draft.recordId = str(i);
    if (rest.error !== undefined) draft.error = rest.error;
    if (rest.experiment !== undefined) draft.experiment = rest.experiment;
    if (rest.metrics !== undefined) draft.metrics = rest.metrics;
    if (rest.deadLetterId !== undefined) draft.deadLetterId = rest.deadLetterId;
    return draft;
  };
}

/** Records a group's insert is handed at a time by {@link preparedInKeyOrder}. */
const CHUNK = 256;
/** A record's position in a group: its append's index × this + its index in the append. */
const POSITION = 2 ** 24;

/**
 * A group of packed appends' records prepared for insertion, by tenant (the order of the table's
 * key and of its tenant-led index, so one transaction dirties each tenant's pages once), in the order
 * taken within a tenant. Each is unpacked only when its chunk is inserted: the group never holds all
 * its records at once, so a big group costs the thread's heap no more than a small one.
 */
export function* preparedInKeyOrder(group: readonly PackedRecords[]): Generator<InvocationRecord[]> {
  const readers = group.map(packedReader);
  const byTenant = new Map<string, number[]>();
  group.forEach((packed, a) => {
    for (let r = 0; r < packedCount(packed); r++) {
      const tenant = packedTenant(packed, r) ?? '';
      let positions = byTenant.get(tenant);
      if (positions === undefined) byTenant.set(tenant, (positions = []));
      positions.push(a * POSITION + r);
    }
  });
  let chunk: InvocationRecord[] = [];
  for (const tenant of [...byTenant.keys()].sort()) {
    for (const at of byTenant.get(tenant)!) {
      chunk.push(prepareInvocationRecord(readers[Math.floor(at / POSITION)]!(at % POSITION)));
      if (chunk.length === CHUNK) {
        yield chunk;
        chunk = [];
      }
    }
  }
  if (chunk.length > 0) yield chunk;
}
