import type { EventEnvelope } from './schemas.js';

/**
 * The JSON text an envelope read back from the bus was decoded from, so a plugin's input can splice
 * it in instead of stringifying the envelope again (one `JSON.stringify` of the envelope per event
 * on the main thread, ~1.5 µs of a no-op event's ~30). Kept by object: an envelope copied or changed
 * (an experiment's tag makes a new object; nothing changes an envelope in place) has no text and is
 * stringified. Only `decodeEntry` remembers text, for an entry whose parsed value passed the
 * envelope check as it is; that text is what a publish wrote with `JSON.stringify`, which
 * `JSON.parse` + `JSON.stringify` give back byte for byte (test/core/envelope-text.test.ts).
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
