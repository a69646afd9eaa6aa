import type { Database } from 'better-sqlite3';
import { UeeError } from '../../core/index.js';

type Outcome = { value: unknown } | { error: unknown };

interface Waiter {
  /** Reads and checks, writing nothing (a throw is the commit's own error); answers its writes. */
  plan: () => () => unknown;
  resolve: (value: never) => void;
  reject: (err: UeeError) => void;
}

/**
 * Group commit: the commits called in one turn (one microtask round) of the event loop are written
 * in one IMMEDIATE transaction, so the group pays one `BEGIN`/`COMMIT` (one WAL append) instead of
 * one each — most of a small commit's cost on SQLite.
 *
 * Each commit is still what it was alone: it runs after the earlier commits of its group and sees
 * their changes (versions, idempotency keys, fences, journal positions), and one that fails is
 * rejected with its own error, nothing of it applied, while the others commit. A commit's promise
 * settles only after the group's `COMMIT` returned, so what a caller is told is committed is in the
 * WAL (the durability of `applySchema`); a crash before that leaves none of the group.
 *
 * A commit comes in two parts: its plan reads and checks (versions, idempotency key, fence) and
 * writes nothing, so a commit refused there — the usual failure — leaves nothing to undo; its writes
 * then apply the plan. The group first runs every commit so, without savepoints: a savepoint per
 * commit copies each page the commit first touches into SQLite's statement journal, which cost a
 * one-write commit ~6 µs in memory and ~38 µs once the journal spilled to a temporary file (past
 * 64 KiB), about half of the commit. Only when a commit's writes fail half-way (a constraint, a full
 * disk) is the group rolled back and run again with each commit in its own savepoint, where the failed
 * one is rolled back alone; a failure that ends the transaction itself takes the whole group (rejected,
 * the others retryable).
 *
 * Every other call of the store writes the waiting group first ({@link CommitGroup.flush} from
 * `SqliteCore.run`), and so does `close()`: calls take effect in the order they were made, and none
 * is left waiting on a group that never runs.
 */
export class CommitGroup {
  #waiting: Waiter[] = [];
  readonly #toError: (err: unknown) => UeeError;
  /** The group's transaction (IMMEDIATE takes the write lock up front, so concurrent writers queue instead of deadlocking): first without savepoints, then, if a commit's writes failed half-way, with one per commit. */
  readonly #group: (waiters: Waiter[], outcomes: Outcome[]) => void;

  constructor(db: Database, toError: (err: unknown) => UeeError) {
    this.#toError = toError;
    const direct = db.transaction((waiters: Waiter[], outcomes: Outcome[]) => {
      for (const w of waiters) {
        let write: () => unknown;
        try {
          write = w.plan();
        } catch (error) {
          // Some errors (SQLITE_FULL, IOERR, a trigger's RAISE(ROLLBACK)) roll back the whole transaction,
          // not the statement: the earlier commits are gone too, and the later ones must not run outside it.
          if (!db.inTransaction) throw new GroupLost(error, outcomes.length);
          outcomes.push({ error });
          continue;
        }
        try {
          outcomes.push({ value: write() });
        } catch (error) {
          if (!db.inTransaction) throw new GroupLost(error, outcomes.length);
          // Only SQLite itself fails a write here (batches are validated before they are queued): rare.
          throw new HalfWritten();
        }
      }
    });
    const savepoint = db.transaction((w: Waiter) => w.plan()());
    const careful = db.transaction((waiters: Waiter[], outcomes: Outcome[]) => {
      for (const w of waiters) {
        try {
          outcomes.push({ value: savepoint(w) });
        } catch (error) {
          if (!db.inTransaction) throw new GroupLost(error, outcomes.length);
          outcomes.push({ error });
        }
      }
    });
    this.#group = (waiters, outcomes) => {
      try {
        direct.immediate(waiters, outcomes);
      } catch (err) {
        if (!(err instanceof HalfWritten)) throw err;
        // Rolled back: nothing of the group stays; every commit plans again on what is committed.
        outcomes.length = 0;
        careful.immediate(waiters, outcomes);
      }
    };
  }

  /**
   * Queues a commit (both parts synchronous, run inside the group's transaction; `plan` may run again
   * if the group is redone) and answers what its writes return, or its own error.
   */
  add<T>(plan: () => () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#waiting.length === 0) queueMicrotask(() => this.flush());
      this.#waiting.push({ plan, resolve, reject });
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

/** A commit's writes failed and left part of them in the group's transaction: the group is redone with savepoints. */
class HalfWritten extends Error {
  constructor() {
    super('a commit of the group failed half-way through its writes');
  }
}
