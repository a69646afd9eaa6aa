import { UeeError, type Logger } from '../../core/index.js';
import type { Delivery } from '../port.js';
import { corruptLetter, isCorrupt, type CorruptEntry } from './codec.js';

/** Bus states: `open` until `close()` starts, then `closing`, then `closed`. */
export type BusState = 'open' | 'closing' | 'closed';

/**
 * The open/closed lifecycle every adapter shares: calls after `close()` fail with `CLOSED`, and
 * `close()` runs its cleanup once however often it is called (later calls await the first).
 */
export class BusLifecycle {
  #state: BusState = 'open';
  #closing: Promise<void> | undefined;

  constructor(private readonly kind: string) {}

  get state(): BusState {
    return this.#state;
  }

  /** True once `close()` has started. */
  get closed(): boolean {
    return this.#state !== 'open';
  }

  /** Throws `CLOSED` when the bus is closing or closed. */
  assertOpen(): void {
    if (this.#state !== 'open') {
      throw new UeeError('CLOSED', `the ${this.kind} event bus is closed`, { hint: 'open a new bus; this one was closed' });
    }
  }

  /** Runs `cleanup` once; every call resolves when it has finished. */
  close(cleanup: () => Promise<void>): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#state = 'closing';
    this.#closing = cleanup().finally(() => {
      this.#state = 'closed';
    });
    return this.#closing;
  }
}

/** What an adapter does with the corrupt entries of one batch: dead-letter and ack them. */
export type CorruptSink = (letters: Array<ReturnType<typeof corruptLetter>>) => Promise<void>;

/**
 * Splits decoded entries into deliveries and corrupt entries. Corrupt ones never reach the consumer:
 * they are dead-lettered with `CORRUPT_DATA` (and acked) through `sink`, and logged, so one bad entry
 * cannot crash or stall a consumer group.
 */
export async function screenEntries(
  entries: Array<Delivery | CorruptEntry>,
  group: string,
  sink: CorruptSink,
  logger: Logger,
): Promise<Delivery[]> {
  const valid: Delivery[] = [];
  let corrupt: CorruptEntry[] | undefined;
  for (const entry of entries) {
    if (isCorrupt(entry)) (corrupt ??= []).push(entry);
    else valid.push(entry);
  }
  if (corrupt) {
    const now = new Date();
    for (const entry of corrupt) logger.warn('corrupt stream entry dead-lettered', { group, id: entry.id, reason: entry.reason });
    await sink(corrupt.map((entry) => corruptLetter(entry, now)));
  }
  return valid;
}
