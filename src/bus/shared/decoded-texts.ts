import type { EventEnvelope } from '../../core/index.js';
import type { Delivery } from '../port.js';
import { decodeEntry, isCorrupt, type CorruptEntry } from './codec.js';

/** Bounds of a {@link DecodedTexts}: envelopes kept, and characters of their texts. */
const MAX_ENTRIES = 16_384;
const MAX_CHARS = 8_000_000;

/**
 * Envelopes decoded from stream entries, by their text: an entry whose text was decoded before (the
 * dispatcher's read of an event, then each queue it was routed to, which holds a copy of the same
 * text; or an envelope this process published as the store decoded it, see `isDecodedEnvelope`)
 * gets the same object instead of a second `JSON.parse` and check. `JSON.parse` of equal texts gives
 * equal values, so the object stands for any entry of that text (nothing downstream changes an
 * envelope). Oldest first, bounded by {@link MAX_ENTRIES} and {@link MAX_CHARS}; a lookup hashes
 * the text (~0.3 µs for an event's ~300 characters against ~1.5 µs to parse it, 2026-12-05).
 */
export class DecodedTexts {
  readonly #kept = new Map<string, EventEnvelope>();
  #chars = 0;

  /** `decodeEntry(id, text, deliveryCount)`, from the kept envelope when `text` was decoded before. */
  decode(id: string, text: string, deliveryCount: number): Delivery | CorruptEntry {
    const kept = this.#kept.get(text);
    if (kept !== undefined) return { id, event: kept, deliveryCount, text };
    const entry = decodeEntry(id, text, deliveryCount);
    // Only an envelope its text gives back as it is (decodeEntry then hands the text on with it).
    if (!isCorrupt(entry) && entry.text !== undefined) this.keep(text, entry.event);
    return entry;
  }

  /** Keeps `event` as the decoding of `text` (the caller guarantees it is: `JSON.parse(text)`, checked). */
  keep(text: string, event: EventEnvelope): void {
    const kept = this.#kept;
    if (text.length > MAX_CHARS / 4 || kept.has(text)) return;
    while (kept.size >= MAX_ENTRIES || this.#chars + text.length > MAX_CHARS) {
      const oldest = kept.keys().next().value as string;
      kept.delete(oldest);
      this.#chars -= oldest.length;
    }
    kept.set(text, event);
    this.#chars += text.length;
  }

  /** Envelopes kept now. */
  get size(): number {
    return this.#kept.size;
  }
}
