import { errorMessage, redact, TransportError } from '@org/eventbus';
import amqp, { type Channel } from 'amqplib';
import { splitSeeds } from './seeds.js';
import { TopologyNames } from './topology.js';

export interface TeardownOptions {
  /** The exchange the transport was created with (its `exchange` option). */
  exchange: string;
  /** The groups whose queues (live, dead-letter and every retry bucket) go. */
  groups: Iterable<string>;
}

/**
 * Delete what eventbus declared for these groups on this exchange: their queues (messages included)
 * and the two exchanges. For tearing down a test run or a short-lived environment — queues left on a
 * shared broker weigh on it. Objects that do not exist are skipped.
 */
export async function deleteTopology(url: string, { exchange, groups }: TeardownOptions): Promise<void> {
  const names = new TopologyNames(exchange);
  const connection = await connectToAny(url);
  try {
    let ch: Channel = await connection.createChannel();
    // A refused delete closes the channel; carry on with a new one.
    const attempt = async (op: (c: Channel) => Promise<unknown>) => {
      try {
        await op(ch);
      } catch {
        ch = await connection.createChannel();
      }
    };
    for (const group of groups) for (const queue of names.queuesOf(group)) await attempt((c) => c.deleteQueue(queue));
    await attempt((c) => c.deleteExchange(names.exchange));
    await attempt((c) => c.deleteExchange(names.deadLetterExchange));
  } finally {
    await connection.close().catch(() => {});
  }
}

/** The first seed of the URL that answers (a URL may list several nodes of a cluster). */
async function connectToAny(url: string): Promise<amqp.ChannelModel> {
  let lastError: unknown;
  for (const seed of splitSeeds(url)) {
    try {
      return await amqp.connect(seed);
    } catch (error) {
      lastError = error;
    }
  }
  throw new TransportError(redact(`could not connect to ${url} to delete topology: ${errorMessage(lastError)}`));
}
