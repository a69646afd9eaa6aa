import type { EventEnvelope } from '../../core/index.js';
import type { Delivery } from '../port.js';
import { decodeEntry, isCorrupt, type CorruptEntry } from './codec.js';
import { InsertionOrder } from './insertion-order.js';

interface Kept {
  text: string;
  event: EventEnvelope;
}

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
  readonly #kept = new Map<string, Kept>();
  readonly #order = new InsertionOrder<Kept>();
  readonly #held = (k: Kept): boolean => this.#kept.get(k.text) === k;
  #chars = 0;

  /** `decodeEntry(id, text, deliveryCount)`, from the kept envelope when `text` was decoded before. */
  decode(id: string, text: string, deliveryCount: number): Delivery | CorruptEntry {
    const kept = this.#kept.get(text);
    if (kept !== undefined) return { id, event: kept.event, deliveryCount, text };
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
      // Not empty here: a text of at most a quarter of the characters bound fits an empty map.
      const oldest = this.#order.oldest(this.#held)!;
      kept.delete(oldest.text);
      this.#order.shift();
      this.#chars -= oldest.text.length;
    }
    const k: Kept = { text, event };
    kept.set(text, k);
    this.#order.push(k);
    this.#chars += text.length;
  }

  /** Envelopes kept now. */
  get size(): number {
    return this.#kept.size;
  }
}
