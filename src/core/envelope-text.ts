import type { EventEnvelope } from './schemas.js';

/**
 * The JSON text an envelope was read from (a bus entry, a store's outbox or journal row), so what
 * sends it on splices that text in instead of stringifying the envelope again: a plugin's input
 * (one `JSON.stringify` of the envelope per event on the main thread, ~1 µs of a no-op event's ~30)
 * and a publish (the outbox relay republishes each event a commit wrote). Kept by object: an
 * envelope copied or changed (an experiment's tag makes a new object; nothing changes an envelope in
 * place) has no text and is stringified. Only `decodeEntry` and `readEvent` remember text, for text
 * whose parsed value passed the envelope check as it is (a value the schema had to change keeps
 * none); that text is what a publish or a commit wrote with `JSON.stringify`, which `JSON.parse` +
 * `JSON.stringify` give back byte for byte (test/core/envelope-text.test.ts).
 */
const texts = new WeakMap<EventEnvelope, string>();

/** Remembers that `event` is `JSON.parse(text)`. */
export function rememberEnvelopeText(event: EventEnvelope, text: string): void {
  texts.set(event, text);
}

/** `JSON.stringify(event)` when `event` was decoded from the bus, without stringifying it again. */
export function envelopeText(event: EventEnvelope): string {
  return texts.get(event) ?? JSON.stringify(event);
}
