import type { Backlog } from '@org/eventbus';
import type { Channel } from 'amqplib';
import { closeQuietly } from './connection.js';
import type { DeadLetterScanDeps } from './dead-letters.js';

/**
 * A group's backlog on RabbitMQ: the ready messages of its queue, as `queue.declare` (passive) counts
 * them. AMQP tells neither the unacked ones (in flight) nor the oldest's age — that needs the
 * management API, which this adapter does not require. A group with no queue has no backlog.
 */
export async function groupBacklog(deps: DeadLetterScanDeps, group: string): Promise<Backlog> {
  const model = await deps.publishers.primaryConnection.waitForConnection(deps.wait());
  const ch: Channel = await model.createChannel();
  // A missing queue closes the channel (404), reported through the rejected call below.
  ch.on('error', () => {});
  try {
    const { messageCount } = await ch.checkQueue(deps.names.groupQueue(group));
    return { messages: messageCount };
  } catch (error) {
    if (/NOT_FOUND|404/.test(String(error))) return { messages: 0 };
    throw error;
  } finally {
    await closeQuietly(ch);
  }
}
