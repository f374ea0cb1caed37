import type { SettleActions, TrackedDelivery } from '../delivery-tracker.js';
import { TransportError } from '../errors.js';
import { deadLetterHeaders } from '../headers.js';
import type { GroupQueue, MemoryRaw } from './group-queue.js';
import { encodedCopy } from './wire.js';

const MEMORY_SETTLE: SettleActions<MemoryRaw> = {
  ack({ raw }) {
    raw.queue.finish();
  },
  nack({ raw }, delayMs) {
    if (delayMs > 0 && raw.queue.refusing.has('delayed-nack')) throw refused(raw.queue, 'a delayed redelivery');
    raw.queue.redeliver({ message: raw.entry.message, attempt: raw.entry.attempt + 1 }, delayMs);
  },
  deadLetter({ raw }, reason) {
    const { entry, queue } = raw;
    if (queue.refusing.has('dead-letter')) throw refused(queue, 'the dead-letter copy');
    const message = entry.message.event ? encodedCopy(entry.message, entry.message.event) : entry.message;
    queue.deadLetter(message, deadLetterHeaders({ message, attempt: entry.attempt }, queue.group, reason));
    queue.finish();
  },
  defer(delivery, notBefore, headers) {
    deferFor(delivery, notBefore, headers, Number.POSITIVE_INFINITY);
  },
  redeliver({ raw }) {
    raw.queue.redeliver({ message: raw.entry.message, attempt: raw.entry.attempt + 1 }, 0);
  },
};

/**
 * The memory broker's settle calls. Each runs synchronously and cannot fail: what the tracker adds
 * here is the exactly-once bookkeeping and the one handler-failure policy every transport shares.
 */
export function settleActions(maxDelayMs: number): SettleActions<MemoryRaw> {
  return { ...MEMORY_SETTLE, defer: (delivery, notBefore, headers) => deferFor(delivery, notBefore, headers, maxDelayMs) };
}

/**
 * The same attempt (a deferral is not a failed one); the copy goes back to this group's queue only,
 * held at most `maxDelayMs`: a longer wait comes back early and the receive check defers it again.
 */
function deferFor({ raw }: TrackedDelivery<MemoryRaw>, notBefore: number, headers: Record<string, string>, maxDelayMs: number): void {
  const { entry, queue } = raw;
  queue.redeliverAt({ message: { ...entry.message, headers }, attempt: entry.attempt }, Math.min(notBefore, Date.now() + maxDelayMs));
}

function refused(queue: GroupQueue, what: string): TransportError {
  return new TransportError(`the memory broker refused ${what} for group "${queue.group}" (a fault a test injected)`);
}

/** After the tracker settled a delivery (any way): release its key and pull more. */
export function memorySettled(delivery: TrackedDelivery<MemoryRaw>): void {
  delivery.raw.queue.settled(delivery.raw.entry);
}

