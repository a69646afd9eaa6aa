/** Source-size and compile-time limits shared by the toolchains. */
import { UeeError } from '../core/errors.js';
import type { CompileLimits } from './types.js';
import { DEFAULT_LIMITS } from './types.js';

/** Completes `options`' limits with {@link DEFAULT_LIMITS}. */
export function resolveLimits(options: CompileLimits): Required<CompileLimits> {
  return {
    maxSourceBytes: options.maxSourceBytes ?? DEFAULT_LIMITS.maxSourceBytes,
    timeoutMs: options.timeoutMs ?? DEFAULT_LIMITS.timeoutMs,
    memoryMaxPages: options.memoryMaxPages ?? DEFAULT_LIMITS.memoryMaxPages,
  };
}

/**
 * Rejects an empty file set, a missing entry (`VALIDATION_FAILED`) or sources over `maxBytes`
 * (`PAYLOAD_TOO_LARGE`, with the size of every file in details).
 */
export function checkSources(files: Record<string, string>, entry: string, maxBytes: number): void {
  const names = Object.keys(files);
  if (names.length === 0) {
    throw new UeeError('VALIDATION_FAILED', 'no source files given', { hint: 'Pass files: { "main.ts": "…" }.' });
  }
  const normal = (p: string): string => p.replace(/\\/g, '/').replace(/^\.?\//, '');
  if (!names.some((n) => normal(n) === normal(entry))) {
    throw new UeeError('VALIDATION_FAILED', `entry "${entry}" is not one of the files`, {
      details: { entry, files: names },
      hint: `Set entry to one of: ${names.join(', ')}.`,
    });
  }
  const sizes = Object.fromEntries(names.map((n) => [n, Buffer.byteLength(files[n] ?? '', 'utf8')]));
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  if (total > maxBytes) {
    throw new UeeError('PAYLOAD_TOO_LARGE', `sources are ${total} bytes; the limit is ${maxBytes}`, {
      details: { total, limit: maxBytes, sizes },
      hint: 'Split the plugin or remove embedded data; large data belongs in read models or tenant config.',
    });
  }
}

/** The `CANCELLED` error of a compile stopped by its caller. */
export function compileCancelled(): UeeError {
  return new UeeError('CANCELLED', 'the compile was cancelled', { hint: 'compile again if the result is still needed' });
}

/**
 * Runs `fn` with a wall-clock budget: `remaining()` tells child steps how long they may take, and the
 * whole call rejects with `TIMEOUT` when the budget is spent, or with `CANCELLED` when `outer`
 * aborts. Either way the `signal` given to `fn` aborts (its reason is that error), so the steps
 * running then (compiler threads, child processes) are stopped, not only abandoned.
 */
export async function withDeadline<T>(
  ms: number,
  what: string,
  fn: (remaining: () => number, signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  if (outer?.aborted) throw compileCancelled();
  const deadline = Date.now() + ms;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const stop = (err: UeeError): void => {
      controller.abort(err);
      reject(err);
    };
    timer = setTimeout(
      () =>
        stop(
          new UeeError('TIMEOUT', `${what} exceeded ${ms} ms`, {
            details: { timeoutMs: ms },
            retryable: true,
            hint:
              'the compile time limit is fixed; module-level (top-level) code runs at compile time, so move loops and ' +
              'heavy work into a handler, split large sources, and retry (a busy server can also be the cause)',
          }),
        ),
      ms,
    );
    onAbort = () => stop(compileCancelled());
    outer?.addEventListener('abort', onAbort, { once: true });
  });
  const work = fn(() => Math.max(1, deadline - Date.now()), controller.signal);
  try {
    return await Promise.race([work, stopped]);
  } finally {
    clearTimeout(timer);
    if (onAbort) outer?.removeEventListener('abort', onAbort);
    work.catch(() => undefined);
    stopped.catch(() => undefined);
  }
}
