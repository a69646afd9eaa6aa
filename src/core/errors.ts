/**
 * Stable, machine-readable error codes. Agents and tests match on these, never on message text.
 * Adding a code is fine; renaming or removing one is a breaking change.
 */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'NOT_FOUND',
  'VERSION_CONFLICT',
  'UNKNOWN_TENANT',
  'TENANT_FORBIDDEN',
  'PAYLOAD_TOO_LARGE',
  'INVALID_FILTER',
  'QUERY_TOO_COSTLY',
  'INVALID_CURSOR',
  'IDEMPOTENCY_CONFLICT',
  'CORRUPT_DATA',
  'CONFIG_INVALID',
  'BACKEND_UNAVAILABLE',
  'CLOSED',
  'CAPABILITY_DENIED',
  'RESERVED_NAME',
  'BUDGET_EXCEEDED',
  'RATE_LIMITED',
  'LIMIT_EXCEEDED',
  'TIMEOUT',
  'PLUGIN_TRAP',
  'WORKER_CRASHED',
  'PLUGIN_ERROR',
  'PLUGIN_OUTPUT_INVALID',
  'INVALID_MODULE',
  'HOP_LIMIT_EXCEEDED',
  'CHAIN_BUDGET_EXCEEDED',
  'COMPILE_FAILED',
  'UNAUTHORIZED',
  'MODEL_UNAVAILABLE',
  'QUOTA_EXCEEDED',
  'CIRCUIT_OPEN',
  'CANCELLED',
  'INTERNAL',
  'TIMER_HORIZON_EXCEEDED',
  'ILLEGAL_TRANSITION',
  'WORKFLOW_INVALID',
  'DEPENDENCY_NOT_FOUND',
  'DEPENDENCY_DENIED',
  'DEPENDENCY_TOO_LARGE',
  'DEPENDENCY_NOT_PURE',
  'REGISTRY_UNAVAILABLE',
  'FENCED',
] as const;

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * `details.reason` of the `CANCELLED` answer for a plugin call dropped unrun because its caller no
 * longer wanted it when a worker came free (the router's queue lease it was made under had ended).
 */
export const NOT_WANTED = 'not-wanted';

/** Options for {@link UeeError}. */
export interface UeeErrorOptions {
  /** Structured facts about the failure (ids, limits, offending field). Must be JSON-serialisable. */
  details?: Record<string, unknown>;
  /** What the caller can do about it, phrased for an agent or operator. */
  hint?: string;
  /** Whether the same call may succeed later without changes. @default false */
  retryable?: boolean;
  /** The underlying error, kept for logs; never sent to clients. */
  cause?: unknown;
}

/**
 * The one error type of UEE. Every failure that crosses a module boundary is a `UeeError` with a
 * stable `code`; anything else is a bug and surfaces as `INTERNAL`.
 */
export class UeeError extends Error {
  override readonly name = 'UeeError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly hint: string | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: UeeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
  }

  /** The wire shape: what an API or MCP client may see. No stack, no cause. */
  toJSON(): SerializedError {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(Object.keys(this.details).length === 0 ? {} : { details: this.details }),
      retryable: this.retryable,
    };
  }
}

/** A {@link UeeError} as sent over the wire. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
  retryable: boolean;
}

/** True when `err` is a {@link UeeError}, optionally with the given code. */
export function isUeeError(err: unknown, code?: ErrorCode): err is UeeError {
  return err instanceof UeeError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a `UeeError`, keeping an existing one as it is. */
export function toUeeError(err: unknown, fallback: ErrorCode = 'INTERNAL'): UeeError {
  if (err instanceof UeeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new UeeError(fallback, message, { cause: err });
}
