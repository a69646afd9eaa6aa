/** Messages between the compiler worker pool (`worker-pool.ts`) and its threads (`compile-worker.ts`). */
import type { SerializedError } from '../core/errors.js';
import type { CompileAsOptions } from './compile-as.js';
import type { CompileCOptions } from './compile-c.js';

/** A job for a compiler thread. */
export type WorkerJob =
  | { readonly op: 'typecheck'; readonly files: Record<string, string>; readonly entry: string; readonly sdkRoot: string; readonly packages?: readonly string[]; readonly typesRoot?: string }
  | { readonly op: 'asc'; readonly options: Omit<CompileAsOptions, 'signal'> }
  | { readonly op: 'clang'; readonly options: Omit<CompileCOptions, 'signal'> };

/** A thread's answer to the job with the same id. */
export type WorkerReply = { readonly id: number; readonly result: unknown } | { readonly id: number; readonly error: SerializedError };
