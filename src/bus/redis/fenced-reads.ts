import type { Redis } from 'ioredis';
import { UeeError } from '../../core/index.js';
import type { BlockingPool } from './connection.js';

/** Lease-fenced readers kept armed (a connection each, WATCHing its lease key between reads). */
const MAX_ARMED = 8;
/** Checks and reads one fenced read makes while its lease key keeps changing under it (TTL renewals) before it answers "not the holder". */
const ATTEMPTS = 3;

/** A stream entry as XREADGROUP answers it. */
export type RawEntry = [string, string[] | null];

/** One fenced read: the entries taken, and (when asked for) the id of the stream's last entry ('0-0' when empty). */
export interface FencedRead {
  entries: RawEntry[];
  last: string | undefined;
}

interface Reader {
  readonly conn: Redis;
  /** The connection WATCHes the lease key, and the value read just after the WATCH named the consumer. */
  armed: boolean;
  busy: boolean;
}

/**
 * Reads of a group made under a lease ({@link ReadOptions.lease}), fenced by Redis itself: the lease
 * key is WATCHed and read, and the read runs in MULTI / EXEC only when the key named the consumer —
 * Redis refuses the EXEC once the key changed after the WATCH (another process took the lease, or it
 * expired). A script doing both cost ~2.5 µs more Redis CPU per entry (every entry copied into Lua
 * and back), and ioredis's multi() re-handles every reply (~2.7 µs of the main thread per entry):
 * the commands are plain ones, each step's in one write.
 *
 * One round trip per read, like the unfenced read it replaces: a reader (lease key × consumer) keeps
 * a connection of its own that stays WATCHing the key between reads — each read's pipeline ends
 * with WATCH + GET for the next, so the next read is MULTI / XREADGROUP / EXEC alone. While the key
 * is unchanged since that WATCH, the value read then still holds. At most {@link MAX_ARMED} readers
 * are kept (the least recently used one gives its connection back); a reader in use by another call
 * lends nothing: that call checks and reads on a pooled connection, two round trips.
 */
export class FencedReads {
  /** Armed readers by lease key and consumer, least recently used first. */
  readonly #readers = new Map<string, Reader>();

  constructor(private readonly pool: BlockingPool) {}

  /**
   * Takes up to `count` new entries of `group` for `consumer` while the lease key names it; 'not the
   * holder' when it does not (nothing taken). `tail`: also the id of the stream's last entry, read in
   * the same step (a wait for anything newer starts there).
   */
  async read(stream: string, group: string, consumer: string, count: number, leaseKey: string, tail: boolean): Promise<FencedRead | 'not-holder'> {
    const key = `${leaseKey}\u0000${consumer}`;
    let reader = this.#readers.get(key);
    let lent = false;
    if (reader !== undefined && !reader.busy) {
      this.#readers.delete(key);
      this.#readers.set(key, reader);
    } else if (reader === undefined) {
      reader = { conn: this.pool.acquire(), armed: false, busy: false };
      this.#readers.set(key, reader);
      this.#evict();
    } else {
      reader = { conn: this.pool.acquire(), armed: false, busy: false };
      lent = true;
    }
    reader.busy = true;
    const { conn } = reader;
    try {
      for (let attempt = 1; ; attempt++) {
        if (!reader.armed) {
          const [, holder] = await send(conn, [['WATCH', leaseKey], ['GET', leaseKey]]);
          if (holder !== consumer) {
            await conn.call('UNWATCH');
            return 'not-holder';
          }
          reader.armed = true;
        }
        const commands: Command[] = [['MULTI'], ['XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '>']];
        if (tail) commands.push(['XREVRANGE', stream, '+', '-', 'COUNT', 1]);
        commands.push(['EXEC']);
        // Armed again for the next read (a lent connection goes back unwatched).
        if (!lent) commands.push(['WATCH', leaseKey], ['GET', leaseKey]);
        const answers = await send(conn, commands);
        const done = answers[tail ? 3 : 2];
        reader.armed = !lent && answers[answers.length - 1] === consumer;
        if (!lent && !reader.armed) await conn.call('UNWATCH');
        if (done === null) {
          // The key changed between the WATCH and the EXEC: nothing was read. Still this consumer's
          // (a TTL lease renewed): read again, armed by this step's WATCH.
          // A lent connection is checked again at the top (EXEC ended its WATCH).
          if (attempt >= ATTEMPTS || (!lent && !reader.armed)) {
            if (reader.armed) await conn.call('UNWATCH');
            reader.armed = false;
            return 'not-holder';
          }
          continue;
        }
        const [streams, last] = transaction(done, tail ? 2 : 1) as [Array<[string, RawEntry[]]> | null, RawEntry[] | undefined];
        return { entries: streams?.[0]?.[1] ?? [], last: tail ? (last?.[0]?.[0] ?? '0-0') : undefined };
      }
    } catch (err) {
      // Its state is unknown (a WATCH may be left): never reused.
      if (!lent) this.#readers.delete(key);
      this.pool.discard(conn);
      lent = false;
      throw err;
    } finally {
      reader.busy = false;
      if (lent) this.pool.release(conn);
    }
  }

  /** Gives back the connection of the least recently used readers past {@link MAX_ARMED} (not one in use). */
  #evict(): void {
    for (const [key, reader] of this.#readers) {
      if (this.#readers.size <= MAX_ARMED) return;
      if (reader.busy) continue;
      this.#readers.delete(key);
      reader.conn.call('UNWATCH').then(
        () => this.pool.release(reader.conn),
        () => this.pool.discard(reader.conn),
      );
    }
  }

  /** Forgets every reader (the pool's closeAll disconnects their connections). */
  clear(): void {
    this.#readers.clear();
  }
}

type Command = [string, ...Array<string | number>];

/**
 * Sends `commands` in one write and resolves with their replies, the first error among them thrown.
 * Plain calls with the socket corked: an ioredis pipeline measured ~60–100 µs more of the main
 * thread per read (its bookkeeping per command and per result), a write per command a syscall each.
 */
async function send(conn: Redis, commands: readonly Command[]): Promise<unknown[]> {
  const socket = conn.stream as { cork?: () => void; uncork?: () => void } | undefined;
  socket?.cork?.();
  let sent: Array<Promise<unknown>>;
  try {
    sent = commands.map(([name, ...args]) => conn.call(name, ...args));
  } finally {
    socket?.uncork?.();
  }
  const settled = await Promise.allSettled(sent);
  return settled.map((s) => {
    if (s.status === 'rejected') throw s.reason;
    return s.value;
  });
}

/** The replies of a transaction's `n` commands (EXEC's answer); the first error among them thrown. */
function transaction(done: unknown, n: number): unknown[] {
  if (!Array.isArray(done) || done.length !== n) throw new UeeError('INTERNAL', `a transaction of ${n} commands answered ${JSON.stringify(done)?.slice(0, 200)}`);
  for (const reply of done) if (reply instanceof Error) throw reply;
  return done;
}
