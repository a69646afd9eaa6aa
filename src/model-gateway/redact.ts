/** Replacement text for secrets. */
export const REDACTED = '[redacted]';

/**
 * Scrubs known secrets (provider API keys, tenant tokens) from text and JSON-like values before they
 * reach audit records, logs, errors or HTTP answers. Secrets shorter than 6 characters are ignored
 * (too likely to collide with ordinary text).
 */
export class Redactor {
  #secrets: string[] = [];

  add(...secrets: Array<string | undefined>): void {
    for (const s of secrets) if (s !== undefined && s.length >= 6 && !this.#secrets.includes(s)) this.#secrets.push(s);
    this.#secrets.sort((a, b) => b.length - a.length);
  }

  text(value: string): string {
    let out = value;
    for (const s of this.#secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }

  /** Deep-copies `value` with every string scrubbed. */
  value<T>(value: T): T {
    if (this.#secrets.length === 0) return value;
    if (typeof value === 'string') return this.text(value) as T;
    if (Array.isArray(value)) return value.map((v: unknown) => this.value(v)) as T;
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, this.value(v)])) as T;
    }
    return value;
  }
}
