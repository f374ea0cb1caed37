import { DeliveryTracker } from '../delivery-tracker.js';
import type { DeliveryHandler, SubscribeOptions, Subscription } from '../transport.js';
import { memorySettled, settleActions } from './delivery.js';
import type { Consumer, GroupQueue } from './group-queue.js';

/**
 * One consumer of a group's queue: its deliveries go through core's DeliveryTracker; `close()` stops
 * taking more, drains what is in flight, and hands back what never settled.
 */
export function subscribeQueue(
  queue: GroupQueue,
  options: SubscribeOptions,
  onDelivery: DeliveryHandler,
  drainTimeoutMs: number,
  maxDelayMs: number,
  onClosed: (subscription: Subscription) => void,
): Subscription {
  const tracker = new DeliveryTracker({
    actions: settleActions(maxDelayMs),
    handler: onDelivery,
    onError: options.onError ?? (() => {}),
    drainTimeoutMs,
    onSettled: memorySettled,
  });
  const consumer: Consumer = { prefetch: options.prefetch, closed: false, tracker };
  queue.addConsumer(consumer);
  let closing: Promise<void> | undefined;
  const subscription: Subscription = {
    close: () => {
      closing ??= (async () => {
        queue.removeConsumer(consumer);
        if (!(await tracker.drain())) {
          // What is still unsettled goes back to the queue, as a broker requeues a closed channel's
          // unacked messages; a handler settling it later is a no-op.
          for (const delivery of [...tracker.deliveries()]) void delivery.nack();
        }
        onClosed(subscription);
      })();
      return closing;
    },
  };
  return subscription;
}
