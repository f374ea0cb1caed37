import amqp from 'amqplib';
import { MAX_DELAY_MS, retryBucket, type TopologyNames } from '../src/topology.js';

/** Every retry-bucket queue a group may use (16 ms up to the longest delay). */
function retryQueues(names: TopologyNames, group: string): string[] {
  const queues: string[] = [];
  for (let delay = 16; ; delay *= 2) {
    queues.push(names.retryQueue(group, delay));
    if (retryBucket(delay) >= MAX_DELAY_MS) return queues;
  }
}

async function onChannel(url: string, work: (ch: amqp.Channel) => Promise<void>): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    await work(await connection.createChannel());
  } finally {
    await connection.close().catch(() => {});
  }
}

/**
 * Break the group's delayed nacks the way a broker refuses them: its retry queues already exist with
 * other arguments (a classic queue with no dead-lettering), so declaring one fails with
 * PRECONDITION_FAILED. Resolves to the repair, which deletes them (the transport then declares its own).
 */
export async function breakRetryQueues(url: string, names: TopologyNames, group: string): Promise<() => Promise<void>> {
  const queues = retryQueues(names, group);
  await onChannel(url, async (ch) => {
    for (const queue of queues) await ch.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
  });
  return () =>
    onChannel(url, async (ch) => {
      for (const queue of queues) await ch.deleteQueue(queue);
    });
}

/**
 * Break the group's dead-letter path: its dead-letter queue is unbound from the dead-letter exchange,
 * so the (mandatory) copy is returned as unroutable. Resolves to the repair, which binds it again.
 */
export async function breakDeadLetter(url: string, names: TopologyNames, group: string): Promise<() => Promise<void>> {
  const queue = names.deadLetterQueue(group);
  await onChannel(url, (ch) => ch.unbindQueue(queue, names.deadLetterExchange, group).then(() => {}));
  return () => onChannel(url, (ch) => ch.bindQueue(queue, names.deadLetterExchange, group).then(() => {}));
}
