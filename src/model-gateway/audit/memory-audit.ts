import type { AuditLog, AuditQuery, AuditRecord, UsageGroup, UsageSummary } from './port.js';
import { matchesQuery, summarizeRecords } from './port.js';

/** The embedded audit log: the last `capacity` records in a ring buffer. */
export class MemoryAuditLog implements AuditLog {
  readonly kind = 'memory';
  readonly #ring: Array<AuditRecord | undefined>;
  #next = 0;
  #size = 0;

  /** @param capacity records kept. @default 10000 */
  constructor(readonly capacity = 10_000) {
    this.#ring = new Array<AuditRecord | undefined>(capacity);
  }

  append(record: AuditRecord): void {
    this.#ring[this.#next] = record;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  query(filter: AuditQuery = {}): AuditRecord[] {
    const limit = Math.min(filter.limit ?? 100, 10_000);
    const out: AuditRecord[] = [];
    for (const r of this.#newestFirst()) {
      if (out.length >= limit) break;
      if (matchesQuery(r, filter)) out.push(r);
    }
    return out;
  }

  summarize(by: UsageGroup, filter: Omit<AuditQuery, 'limit'> = {}): UsageSummary[] {
    return summarizeRecords([...this.#newestFirst()].filter((r) => matchesQuery(r, filter)), by);
  }

  close(): void {}

  *#newestFirst(): Generator<AuditRecord> {
    for (let i = 1; i <= this.#size; i++) {
      const r = this.#ring[(this.#next - i + this.capacity) % this.capacity];
      if (r) yield r;
    }
  }
}
