import type { DeadLetterVisitor } from '@org/eventbus';
import type { Channel } from 'amqplib';
import { closeQuietly, type Wait } from './connection.js';
import type { PublisherPool } from './publisher-pool.js';
import type { TopologyNames } from './topology.js';
import { CHANNEL_HEADER, fromConsumeMessage, toPublishOptions } from './wire.js';

export interface DeadLetterScanDeps {
  publishers: PublisherPool;
  names: TopologyNames;
  wait: () => Wait;
}

/**
 * A scan of one group's dead-letter queue: `basic.get` each message that was there when the scan
 * began (the queue's count then), without acking it. A purge acks it; a redrive first publishes a
 * copy to the group's own queue through the default exchange (confirmed and mandatory: no other
 * group gets it), then acks it; a kept one stays unacked (so the scan never gets it twice) and is
 * handed back at the end. Nothing is removed before its copy is confirmed.
 */
export async function scanDeadLetters(deps: DeadLetterScanDeps, group: string, visit: DeadLetterVisitor): Promise<void> {
  const { publishers, names } = deps;
  const model = await publishers.primaryConnection.waitForConnection(deps.wait());
  const ch: Channel = await model.createChannel();
  // A missing queue closes the channel (404), reported below through the rejected call.
  ch.on('error', () => {});
  const queue = names.deadLetterQueue(group);
  try {
    let count: number;
    try {
      ({ messageCount: count } = await ch.checkQueue(queue));
    } catch (error) {
      // No dead-letter queue: the group never subscribed or was provisioned here, so it has none.
      if (/NOT_FOUND|404/.test(String(error))) return;
      throw error;
    }
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const msg = await ch.get(queue, { noAck: false });
      if (msg === false) break;
      const message = fromConsumeMessage(msg);
      const answer = await visit(message);
      if (answer.action === 'keep') {
        kept++;
        continue;
      }
      if (answer.action === 'redrive') {
        const outgoing = { channel: message.channel, id: msg.properties.messageId ?? '', headers: answer.headers, body: message.body };
        const options = toPublishOptions(message.key === undefined ? outgoing : { ...outgoing, key: message.key }, { [CHANNEL_HEADER]: message.channel });
        options.mandatory = true;
        await publishers.primary.publish([{ exchange: '', routingKey: names.groupQueue(group), body: msg.content, options }]);
      }
      ch.ack(msg);
    }
    if (kept > 0) await handBack(ch, queue, kept);
  } finally {
    await closeQuietly(ch);
  }
}

/** How long a scan waits for the broker to count its kept messages as ready again. */
const HAND_BACK_MS = 5_000;

/**
 * Requeue every kept message and wait until the queue counts them as ready: the broker applies a
 * requeue after answering it, and the next scan (a `show` after a `list`) counts the queue first.
 */
async function handBack(ch: Channel, queue: string, kept: number): Promise<void> {
  ch.nackAll(true);
  const deadline = Date.now() + HAND_BACK_MS;
  while (Date.now() < deadline) {
    const { messageCount } = await ch.checkQueue(queue);
    if (messageCount >= kept) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
