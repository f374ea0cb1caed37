import { type Delivery, DeliveryTracker } from '@org/eventbus';
import { describe, expect, it } from 'vitest';
import { PartitionScheduler } from '../src/partition-scheduler.js';
import type { Entry, HeldRecord } from '../src/partition-state.js';

const entry = (offset: number): Entry => ({
  offset: BigInt(offset),
  message: { channel: 'c', headers: {}, body: new Uint8Array([offset]) },
  attempt: 1,
  notBefore: undefined,
  settled: false,
});

function scheduler(prefetch: number) {
  const log: string[] = [];
  const deliveries: Delivery[] = [];
  const noop = () => {};
  const tracker: DeliveryTracker<HeldRecord> = new DeliveryTracker<HeldRecord>({
    handler: (delivery) => {
      log.push(`handle ${delivery.message.body[0]}`);
      deliveries.push(delivery);
    },
    onError: noop,
    drainTimeoutMs: 1000,
    onSettled: () => scheduled.settled(),
    // An ack frees the record's slot in its partition, as Kafka's settle actions do.
    actions: { ack: ({ raw }) => raw.state.settle(raw.entry), nack: noop, deadLetter: noop, defer: noop, redeliver: noop },
  });
  const scheduled = new PartitionScheduler(tracker, { prefetch, partitionConcurrency: prefetch, maxBuffered: 256, maxHeld: 1024, backpressure: noop });
  return { scheduled, log, deliveries, state: scheduled.partitionState('t', 0)! };
}

describe('kafka partition scheduler', () => {
  it("hands a fetch response's records out before the client's next fetch (queued with process.nextTick) runs", async () => {
    const { scheduled, log, state } = scheduler(10);
    // What the client does with one fetch response, in a socket callback (a macrotask, so ticks run
    // before microtasks after it): push each record ('data' → add), then queue the next fetch.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        for (let offset = 0; offset < 3; offset++) scheduled.add(state, entry(offset));
        process.nextTick(() => log.push('next fetch'));
        setImmediate(resolve);
      }),
    );
    // Behind a microtask the handlers waited for the next fetch request to be built and written first.
    expect(log).toEqual(['handle 0', 'handle 1', 'handle 2', 'next fetch']);
  });

  it('starts no more than prefetch at once, and the next as soon as one settles', async () => {
    const { scheduled, log, deliveries, state } = scheduler(2);
    for (let offset = 0; offset < 4; offset++) scheduled.add(state, entry(offset));
    await expect.poll(() => log).toEqual(['handle 0', 'handle 1']);
    await deliveries[0]!.ack();
    await expect.poll(() => log).toEqual(['handle 0', 'handle 1', 'handle 2']);
    expect(scheduled.inFlight).toBe(2);
  });
});
