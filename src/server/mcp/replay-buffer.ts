import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * A bounded in-memory event store for one Streamable HTTP session: lets a client that lost its SSE
 * stream (or whose stream the server closed for polling, SEP-1699) resume with `Last-Event-ID`.
 * Keeps the newest `capacity` messages; older ones cannot be replayed.
 */
export class ReplayBuffer implements EventStore {
  #seq = 0;
  readonly #events = new Map<string, { streamId: string; message: JSONRPCMessage; seq: number }>();

  constructor(private readonly capacity = 1000) {}

  storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const seq = ++this.#seq;
    const eventId = `e${seq}`;
    this.#events.set(eventId, { streamId, message, seq });
    if (this.#events.size > this.capacity) {
      const oldest = this.#events.keys().next().value;
      if (oldest !== undefined) this.#events.delete(oldest);
    }
    return Promise.resolve(eventId);
  }

  getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return Promise.resolve(this.#events.get(eventId)?.streamId);
  }

  async replayEventsAfter(lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const last = this.#events.get(lastEventId);
    if (!last) return '';
    for (const [eventId, e] of this.#events) {
      if (e.streamId === last.streamId && e.seq > last.seq) await send(eventId, e.message);
    }
    return last.streamId;
  }
}
