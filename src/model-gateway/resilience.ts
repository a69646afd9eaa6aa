import { UeeError } from '../core/index.js';

/** Circuit states: `closed` passes calls; `open` refuses them until the cool-down ends; `half-open` lets one probe through. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Options of {@link CircuitBreakers}. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open a circuit. @default 5 */
  failureThreshold?: number;
  /** How long an open circuit refuses calls before a probe. @default 10000 */
  cooldownMs?: number;
  clock?: () => number;
}

interface Circuit {
  state: CircuitState;
  failures: number;
  openedAt: number;
  probing: boolean;
}

/**
 * One circuit breaker per provider target (`provider/target`): after `failureThreshold` consecutive
 * failures the circuit opens and calls fail fast with `CIRCUIT_OPEN` (so the gateway falls back
 * without touching the dead provider); after `cooldownMs` one probe is let through (half-open): its
 * success closes the circuit, its failure re-opens it.
 */
export class CircuitBreakers {
  readonly #circuits = new Map<string, Circuit>();
  readonly #threshold: number;
  readonly #cooldown: number;
  readonly #clock: () => number;

  constructor(options: CircuitBreakerOptions = {}) {
    this.#threshold = options.failureThreshold ?? 5;
    this.#cooldown = options.cooldownMs ?? 10_000;
    this.#clock = options.clock ?? Date.now;
  }

  /** Admits a call or throws `CIRCUIT_OPEN`. Returns whether this call is the half-open probe. */
  admit(key: string): void {
    const c = this.#circuit(key);
    if (c.state === 'closed') return;
    if (c.state === 'open' && this.#clock() - c.openedAt >= this.#cooldown) c.state = 'half-open';
    if (c.state === 'half-open' && !c.probing) {
      c.probing = true;
      return;
    }
    const retryAfterMs = Math.max(0, this.#cooldown - (this.#clock() - c.openedAt));
    throw new UeeError('CIRCUIT_OPEN', `circuit for ${key} is ${c.state}: failing fast`, {
      retryable: true,
      details: { target: key, state: c.state, retryAfterMs },
      hint: 'the provider failed repeatedly; the gateway will probe it again after the cool-down',
    });
  }

  success(key: string): void {
    const c = this.#circuit(key);
    c.state = 'closed';
    c.failures = 0;
    c.probing = false;
  }

  failure(key: string): void {
    const c = this.#circuit(key);
    c.failures++;
    if (c.state === 'half-open' || c.failures >= this.#threshold) {
      c.state = 'open';
      c.openedAt = this.#clock();
    }
    c.probing = false;
  }

  /** Current state of a target's circuit (`closed` when never seen). */
  state(key: string): CircuitState {
    const c = this.#circuits.get(key);
    if (c?.state === 'open' && this.#clock() - c.openedAt >= this.#cooldown) return 'half-open';
    return c?.state ?? 'closed';
  }

  #circuit(key: string): Circuit {
    let c = this.#circuits.get(key);
    if (!c) {
      c = { state: 'closed', failures: 0, openedAt: 0, probing: false };
      this.#circuits.set(key, c);
    }
    return c;
  }
}

/** Exponential backoff with ±20% jitter: `base · 2^attempt`. */
export function backoffMs(baseMs: number, attempt: number): number {
  const raw = baseMs * 2 ** attempt;
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

/** Resolves after `ms`, or rejects early with `TIMEOUT` when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new UeeError('TIMEOUT', 'aborted', { retryable: true }));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new UeeError('TIMEOUT', 'aborted', { retryable: true }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `work` with a deadline: its signal aborts after `timeoutMs` (or when `parent` aborts), and the
 * returned promise rejects with `TIMEOUT` at the deadline even if `work` ignores the signal.
 */
export async function withTimeout<T>(timeoutMs: number, parent: AbortSignal | undefined, what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onParent = (): void => controller.abort();
  parent?.addEventListener('abort', onParent, { once: true });
  if (parent?.aborted) controller.abort();
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new UeeError('TIMEOUT', `${what} timed out after ${timeoutMs} ms`, { retryable: true, details: { timeoutMs } }));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParent);
  }
}
