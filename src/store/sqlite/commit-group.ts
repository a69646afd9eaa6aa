import type { Database } from 'better-sqlite3';
import { UeeError } from '../../core/index.js';

type Outcome = { value: unknown } | { error: unknown };

interface Waiter {
  apply: () => unknown;
  resolve: (value: never) => void;
  reject: (err: UeeError) => void;
}

/**
 * Group commit: the commits called in one turn (one microtask round) of the event loop are written
 * in one IMMEDIATE transaction, each inside its own savepoint, so the group pays one `BEGIN`/`COMMIT`
 * (one WAL append) instead of one each — most of a small commit's cost on SQLite.
 *
 * Each commit is still what it was alone: it runs after the earlier commits of its group and sees
 * their changes (versions, idempotency keys, fences, journal positions), and one that throws is rolled
 * back to its savepoint and rejected with its own error while the others commit. A commit's promise
 * settles only after the group's `COMMIT` returned, so what a caller is told is committed is in the
 * WAL (the durability of `applySchema`); a crash before that leaves none of the group.
 *
 * Every other call of the store writes the waiting group first ({@link CommitGroup.flush} from
 * `SqliteCore.run`), and so does `close()`: calls take effect in the order they were made, and none
 * is left waiting on a group that never runs.
 */
export class CommitGroup {
  #waiting: Waiter[] = [];
  readonly #toError: (err: unknown) => UeeError;
  /** Runs its argument inside the group's transaction: a savepoint, released or rolled back alone. */
  readonly #savepoint: (apply: () => unknown) => unknown;
  /** The group's transaction: IMMEDIATE takes the write lock up front, so concurrent writers queue instead of deadlocking. */
  readonly #group: (waiters: Waiter[], outcomes: Outcome[]) => void;

  constructor(db: Database, toError: (err: unknown) => UeeError) {
    this.#toError = toError;
    this.#savepoint = db.transaction((apply: () => unknown) => apply());
    const group = db.transaction((waiters: Waiter[], outcomes: Outcome[]) => {
      for (const w of waiters) {
        try {
          outcomes.push({ value: this.#savepoint(w.apply) });
        } catch (error) {
          // Some errors (SQLITE_FULL, IOERR, a trigger's RAISE(ROLLBACK)) roll back the whole transaction,
          // not the statement: the earlier commits are gone too, and the later ones must not run outside it.
          if (!db.inTransaction) throw new GroupLost(error, outcomes.length);
          outcomes.push({ error });
        }
      }
    });
    this.#group = (waiters, outcomes) => group.immediate(waiters, outcomes);
  }

  /** Queues `apply` (synchronous, run inside the group's transaction) and answers its result or its own error. */
  add<T>(apply: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#waiting.length === 0) queueMicrotask(() => this.flush());
      this.#waiting.push({ apply, resolve, reject });
    });
  }

  /** Writes the waiting commits now, in one transaction, and settles every one of them. Never throws. */
  flush(): void {
    const waiters = this.#waiting;
    if (waiters.length === 0) return;
    this.#waiting = [];
    const outcomes: Outcome[] = [];
    try {
      this.#group(waiters, outcomes);
    } catch (err) {
      // Nothing of the group is applied: the commit that lost the transaction gets its own error, the
      // others a retryable one (each would commit if tried again; idempotency keys make that safe).
      const lost = err instanceof GroupLost ? err : undefined;
      const cause = this.#toError(lost?.cause ?? err);
      waiters.forEach((w, i) => {
        const own = outcomes[i];
        if (i === lost?.index) w.reject(cause);
        else if (own !== undefined && 'error' in own) w.reject(this.#toError(own.error));
        else w.reject(notApplied(cause));
      });
      return;
    }
    waiters.forEach((w, i) => {
      const outcome = outcomes[i]!;
      if ('error' in outcome) w.reject(this.#toError(outcome.error));
      else w.resolve(outcome.value as never);
    });
  }
}

/** The failure of the commit at `index`, which took the group's whole transaction with it. */
class GroupLost extends Error {
  constructor(
    override readonly cause: unknown,
    readonly index: number,
  ) {
    super('the group commit transaction was rolled back');
  }
}

function notApplied(cause: UeeError): UeeError {
  return new UeeError('BACKEND_UNAVAILABLE', `not committed: the SQLite transaction it was grouped in failed (${cause.message})`, {
    retryable: true,
    hint: 'nothing of this commit was applied; retry it',
    cause,
  });
}
