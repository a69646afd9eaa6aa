import { z } from 'zod';
import { EventEnvelopeSchema, UeeError, envelopeText, isEventEnvelope, type EventEnvelope } from '../../core/index.js';
import type { DeadLetter, Delivery } from '../port.js';

/** The error code of a stream entry that is not a valid event envelope. */
export const CORRUPT_CODE = 'CORRUPT_DATA';
/** The event type of the stand-in envelope a corrupt entry is dead-lettered with. */
export const CORRUPT_EVENT_TYPE = 'BusEntryCorrupt';
const RAW_EXCERPT_CHARS = 4096;

/**
 * Encodes a batch for publishing. Publish checks only what the bus itself relies on: each event is
 * an object whose `eventId` (the de-duplication key) has 1-128 characters, and it encodes as JSON.
 * The full envelope schema is applied where entries are read back (both adapters), so an invalid
 * event from a buggy producer never reaches a consumer: it becomes a `CORRUPT_DATA` dead letter.
 * Validating on both sides would double the schema cost per event (see bench/bus.ts); producers are
 * typed and build envelopes from validated drafts, readers face whatever is in the stream.
 */
/** Whether `value` is an event id the bus takes (its de-duplication key): a string of 1-128 characters. Publish and settle check the same. */
export function isBusEventId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 128;
}

export function checkPublishBatch(events: readonly EventEnvelope[]): string[] {
  if (!Array.isArray(events)) throw new UeeError('VALIDATION_FAILED', 'publish expects an array of events');
  const encoded: string[] = new Array<string>(events.length);
  for (let i = 0; i < events.length; i++) {
    const event: unknown = events[i];
    const eventId = typeof event === 'object' && event !== null ? (event as { eventId?: unknown }).eventId : undefined;
    if (!isBusEventId(eventId)) {
      throw new UeeError('VALIDATION_FAILED', `invalid event at index ${i}: eventId must be a string of 1-128 characters`, {
        details: { index: i, path: 'eventId' },
        hint: 'fix the event; nothing of this batch was published',
      });
    }
    try {
      // An envelope read back from the store or the bus is published as the text it was read from.
      encoded[i] = envelopeText(event as EventEnvelope);
    } catch (err) {
      throw new UeeError('VALIDATION_FAILED', `invalid event at index ${i}: not JSON-encodable`, { details: { index: i, eventId }, cause: err });
    }
  }
  return encoded;
}

/** A stream entry that could not be decoded into an event. */
export interface CorruptEntry {
  id: string;
  deliveryCount: number;
  /** An excerpt of what was stored, for the dead letter. */
  raw: string;
  reason: string;
}

/** Decodes a stored entry; anything that is not a valid envelope becomes a {@link CorruptEntry}. */
export function decodeEntry(id: string, raw: string | undefined, deliveryCount: number): Delivery | CorruptEntry {
  if (raw === undefined) return { id, deliveryCount, raw: '', reason: 'entry has no event field' };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { id, deliveryCount, raw: raw.slice(0, RAW_EXCERPT_CHARS), reason: 'event field is not JSON' };
  }
  // The common case — an envelope as our producers write it — costs a plain check, not a zod parse.
  // A plugin's input splices the text in instead of stringifying the envelope again (Delivery.text).
  if (isEventEnvelope(value)) return { id, event: value, deliveryCount, text: raw };
  const result = EventEnvelopeSchema.safeParse(value);
  if (result.success) return { id, event: result.data, deliveryCount };
  const issue = result.error.issues[0];
  const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unknown issue';
  return { id, deliveryCount, raw: raw.slice(0, RAW_EXCERPT_CHARS), reason: `not a valid event envelope (${where})` };
}

/** True for the corrupt variant of {@link decodeEntry}'s result. */
export function isCorrupt(entry: Delivery | CorruptEntry): entry is CorruptEntry {
  return !('event' in entry);
}

/** Excerpt of arbitrary stored fields, for a {@link CorruptEntry}. */
export function rawExcerpt(value: unknown): string {
  return JSON.stringify(value).slice(0, RAW_EXCERPT_CHARS);
}

/**
 * The dead letter a corrupt entry becomes: a stand-in `BusEntryCorrupt` system event whose payload
 * carries the stream id, an excerpt of the stored data and why it was rejected, so the port's
 * `DeadLetter.event` stays a valid envelope.
 */
export function corruptLetter(entry: CorruptEntry, now: Date): { delivery: Delivery; error: { code: string; message: string } } {
  const at = now.toISOString();
  const event: EventEnvelope = {
    eventId: `corrupt:${entry.id}`,
    type: CORRUPT_EVENT_TYPE,
    tenantId: null,
    payload: { streamId: entry.id, raw: entry.raw, reason: entry.reason },
    occurredAt: at,
    correlationId: `corrupt:${entry.id}`,
    causationId: null,
    hop: 0,
    source: { kind: 'system', id: 'bus' },
  };
  return { delivery: { id: entry.id, event, deliveryCount: entry.deliveryCount }, error: { code: CORRUPT_CODE, message: `stream entry ${entry.id}: ${entry.reason}` } };
}

const ErrorSchema = z.object({ code: z.string(), message: z.string() });
const DeadRecordSchema = z.object({
  group: z.string(),
  originalId: z.string(),
  event: EventEnvelopeSchema,
  error: ErrorSchema,
  attempts: z.array(ErrorSchema.extend({ at: z.string() })),
  deadAt: z.string(),
});

/** A dead letter without its own id, as stored. */
export type DeadRecord = Omit<DeadLetter, 'id'>;

/** The stored form of a dead letter. */
export function encodeDeadRecord(
  group: string,
  delivery: Delivery,
  error: { code: string; message: string },
  attempts: DeadLetter['attempts'] | undefined,
  now: Date,
): string {
  const deadAt = now.toISOString();
  const record: DeadRecord = {
    group,
    originalId: delivery.id,
    event: delivery.event,
    error: { code: String(error.code), message: String(error.message) },
    attempts: attempts ?? [{ at: deadAt, code: String(error.code), message: String(error.message) }],
    deadAt,
  };
  return JSON.stringify(record);
}

/** Decodes a stored dead letter; `undefined` when it is not one (the caller logs and skips it). */
export function decodeDeadRecord(id: string, raw: string | undefined): DeadLetter | undefined {
  if (raw === undefined) return undefined;
  try {
    const result = DeadRecordSchema.safeParse(JSON.parse(raw));
    return result.success ? { id, ...result.data } : undefined;
  } catch {
    return undefined;
  }
}
