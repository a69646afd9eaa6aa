import { UeeError } from '../core/errors.js';

/**
 * Deliveries of one event to one plugin group that may end unfinished (never acknowledged, never
 * dead-lettered) before the next one is quarantined. A delivery ends unfinished only when the
 * process died during it (a fatal V8 error, an abort, a kill): a worker that merely dies is
 * reported by the host as `WORKER_CRASHED` and counted there. The count is per read, not per
 * start: events read in the same batch as the one that killed the process are counted too, hence
 * a margin of three. Deliveries a live process leaves unfinished on purpose — it is stopping, or its
 * queue was taken over (a commit refused `FENCED`) — are handed back uncounted (`EventBus.handBack`).
 */
export const DEFAULT_UNFINISHED_DELIVERIES = 3;

/**
 * Whether a delivery must be quarantined rather than run: the bus's delivery count persists across
 * restarts (Redis Streams' pending list, the embedded log's table), so a delivery that took the
 * process down every time is recognised on the next start, before it runs again. Returns the
 * `WORKER_CRASHED` error to dead-letter it with, or `null` to run it.
 *
 * @param deliveryCount the bus's count for this delivery, this one included
 * @param unfinished how many unfinished deliveries are tolerated @default DEFAULT_UNFINISHED_DELIVERIES
 */
export function quarantinedDelivery(deliveryCount: number, unfinished = DEFAULT_UNFINISHED_DELIVERIES): UeeError | null {
  if (deliveryCount <= unfinished) return null;
  return new UeeError('WORKER_CRASHED', `the event was delivered ${deliveryCount - 1} times without finishing (the process died during it); it is quarantined`, {
    details: { deliveryCount, unfinished: deliveryCount - 1, quarantined: true },
    hint: 'inspect the event and the plugin logs; fix the handler and redeploy (the event is dead-lettered, not retried)',
  });
}
