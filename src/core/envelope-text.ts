import type { EventEnvelope } from './schemas.js';

/**
 * The JSON text an envelope was read from a store's outbox or journal row, so what sends it on
 * splices that text in instead of stringifying the envelope again: a publish (the outbox relay
 * republishes each event a commit wrote) and a plugin's input built from it. Kept by object: an
 * envelope copied or changed (an experiment's tag makes a new object; nothing changes an envelope in
 * place) has no text and is stringified. Only `readEvent` remembers text, for text whose parsed value
 * passed the envelope check as it is (a value the schema had to change keeps none); that text is what
 * a commit wrote with `JSON.stringify`, which `JSON.parse` + `JSON.stringify` give back byte for byte
 * (test/core/envelope-text.test.ts). A bus read does not use this table: its deliveries carry their
 * text (`Delivery.text`), handed to the plugin's input with the envelope — a WeakMap entry per event
 * read cost the no-op event ~1.5 µs of main-thread time (set, get and the GC's ephemeron work).
 */
const texts = new WeakMap<EventEnvelope, string>();

/** Remembers that `event` is `JSON.parse(text)`. */
export function rememberEnvelopeText(event: EventEnvelope, text: string): void {
  texts.set(event, text);
}

/**
 * Whether `event` is `JSON.parse` of the text {@link envelopeText} gives for it, as read and checked
 * by `readEvent`: an in-process reader of that text may take the object instead of parsing it again
 * (the embedded bus's hand-off from a publish to its dispatcher).
 */
export function isDecodedEnvelope(event: EventEnvelope): boolean {
  return texts.has(event);
}

/** `JSON.stringify(event)` when `event` was decoded from the bus, without stringifying it again. */
export function envelopeText(event: EventEnvelope): string {
  return texts.get(event) ?? JSON.stringify(event);
}
