import { randomUUID } from 'node:crypto';
import {
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeadLetterVisitor } from '@org/eventbus';
import { toWire } from './attributes.js';
import { awsError } from './errors.js';
import { SettleBatcher } from './settle-batcher.js';
import type { GroupQueues } from './topology.js';
import { decodeMessage, fifoId } from './wire.js';

/** How long a scanned dead letter stays invisible to others while the scan holds it. */
const SCAN_VISIBILITY_S = 300;
/** Receives that come back empty, in a row, before the scan takes the queue as read. */
const EMPTY_RECEIVES = 2;

/**
 * A scan of one group's dead-letter queue: receive (invisible to others for the scan) each message
 * counted there when the scan began. A purge deletes it; a redrive first sends a copy with the new
 * headers to the group's own queue (never the topic: no other group gets it), then deletes it; a
 * kept one is made visible again when the scan ends. SQS counts approximately, so the scan also
 * stops after receives that find nothing.
 */
export async function scanDeadLetters(sqs: SQSClient, queues: GroupQueues, fifo: boolean, visit: DeadLetterVisitor): Promise<void> {
  const { queue, deadLetters } = queues;
  const batcher = new SettleBatcher(sqs, deadLetters.url, deadLetters.name);
  const count = await waiting(sqs, deadLetters.url, deadLetters.name);
  const kept: string[] = [];
  const visited = new Set<string>();
  try {
    let empty = 0;
    while (visited.size < count && empty < EMPTY_RECEIVES) {
      const messages = await receive(sqs, deadLetters.url, deadLetters.name, Math.min(10, count - visited.size));
      empty = messages.length === 0 ? empty + 1 : 0;
      for (const raw of messages) {
        const decoded = decodeMessage(raw, []);
        if (!decoded) continue;
        const handle = decoded.received.receiptHandle;
        // Seen already in this scan (SQS may hand a message out twice): leave it for the next scan.
        if (visited.has(raw.MessageId ?? handle)) {
          kept.push(handle);
          continue;
        }
        visited.add(raw.MessageId ?? handle);
        const answer = await visit(decoded.message);
        if (answer.action === 'keep') {
          kept.push(handle);
          continue;
        }
        if (answer.action === 'redrive') {
          const { message } = decoded;
          const wire = toWire({ ...message, headers: answer.headers });
          const group = fifo ? { MessageGroupId: fifoId(raw.Attributes?.MessageGroupId ?? message.key ?? message.channel), MessageDeduplicationId: randomUUID() } : {};
          try {
            await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: wire.body, MessageAttributes: wire.attributes, ...group }));
          } catch (error) {
            throw awsError(`redriving a dead letter to "${queue.name}"`, error);
          }
        }
        await batcher.delete(handle);
      }
    }
  } finally {
    // Visible again at once for whoever reads next (a later scan, a dead-letter subscriber).
    await Promise.allSettled(kept.map((handle) => batcher.changeVisibility(handle, 0)));
  }
}

async function waiting(sqs: SQSClient, url: string, name: string): Promise<number> {
  try {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  } catch (error) {
    throw awsError(`counting the dead letters in "${name}"`, error);
  }
}

async function receive(sqs: SQSClient, url: string, name: string, max: number): Promise<Message[]> {
  try {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: Math.max(1, max),
        WaitTimeSeconds: 1,
        VisibilityTimeout: SCAN_VISIBILITY_S,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['MessageGroupId', 'ApproximateReceiveCount'],
      }),
    );
    return out.Messages ?? [];
  } catch (error) {
    throw awsError(`receiving dead letters from "${name}"`, error);
  }
}
