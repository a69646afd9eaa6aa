import type { BatchDoneMessage, DoneMessage, DoneStatus } from './protocol.js';

/**
 * The worker's results of one batch as {@link BatchDoneMessage} and back. Each call's numbers go in
 * `DONE_STRIDE` slots of one `Float64Array` (moved to the main thread, not copied); its text, when it
 * has one, in an array of strings (a plugin's output: most calls have one); its logs and abort,
 * which most calls lack, as the JSON text of index/value pairs. `unpackDone(packDone(done))` equals
 * `JSON.parse(JSON.stringify(done))` — what the batch's JSON text gave before (test/runtime/done-codec.test.ts).
 */

/** Slots of one call: id, status, rc, outputBytes, hostCalls, droppedLogs, instantiateUs, durationMs, flags. */
export const DONE_STRIDE = 9;
const STATUSES: readonly DoneStatus[] = ['ok', 'error', 'trap', 'aborted'];
const STATUS_CODE: Readonly<Record<DoneStatus, number>> = { ok: 0, error: 1, trap: 2, aborted: 3 };
/** `flags` bits. */
const DIRECT_IO = 1;
const HAS_RC = 2;

type Rare = Pick<DoneMessage, 'logs' | 'abort'>;

/** The message of `done` and the buffer to transfer with it. */
export function packDone(done: readonly DoneMessage[]): { message: BatchDoneMessage; transfer: ArrayBuffer[] } {
  const numbers = new Float64Array(done.length * DONE_STRIDE);
  let texts: Array<string | undefined> | undefined;
  let rare: Array<[number, Rare]> | undefined;
  for (let i = 0; i < done.length; i++) {
    const d = done[i]!;
    const o = i * DONE_STRIDE;
    numbers[o] = d.id;
    numbers[o + 1] = STATUS_CODE[d.status];
    numbers[o + 2] = d.rc ?? 0;
    numbers[o + 3] = d.outputBytes;
    numbers[o + 4] = d.hostCalls;
    numbers[o + 5] = d.droppedLogs;
    numbers[o + 6] = d.instantiateUs;
    numbers[o + 7] = d.durationMs;
    numbers[o + 8] = (d.directIo === true ? DIRECT_IO : 0) | (d.rc === undefined ? 0 : HAS_RC);
    if (d.text !== undefined) (texts ??= new Array<string | undefined>(done.length))[i] = d.text;
    if (d.logs.length > 0 || d.abort !== undefined) {
      const r: Rare = { logs: d.logs };
      if (d.abort !== undefined) r.abort = d.abort;
      (rare ??= []).push([i, r]);
    }
  }
  const message: BatchDoneMessage = { t: 'done', numbers };
  if (texts !== undefined) message.texts = texts;
  if (rare !== undefined) message.rare = JSON.stringify(rare);
  return { message, transfer: [numbers.buffer] };
}

/** The results `packDone` packed, in their order. */
export function unpackDone(msg: BatchDoneMessage): DoneMessage[] {
  const { numbers, texts } = msg;
  const n = numbers.length / DONE_STRIDE;
  const done = new Array<DoneMessage>(n);
  for (let i = 0; i < n; i++) {
    const o = i * DONE_STRIDE;
    const flags = numbers[o + 8]!;
    const d: DoneMessage = {
      id: numbers[o]!,
      status: STATUSES[numbers[o + 1]!]!,
      rc: (flags & HAS_RC) !== 0 ? numbers[o + 2]! : undefined,
      text: texts === undefined ? undefined : texts[i],
      outputBytes: numbers[o + 3]!,
      abort: undefined,
      hostCalls: numbers[o + 4]!,
      logs: [],
      droppedLogs: numbers[o + 5]!,
      instantiateUs: numbers[o + 6]!,
      durationMs: numbers[o + 7]!,
      directIo: (flags & DIRECT_IO) !== 0 ? true : undefined,
    };
    done[i] = d;
  }
  if (msg.rare !== undefined) {
    for (const [i, r] of JSON.parse(msg.rare) as Array<[number, Rare]>) {
      const d = done[i]!;
      d.logs = r.logs;
      if (r.abort !== undefined) d.abort = r.abort;
    }
  }
  return done;
}
