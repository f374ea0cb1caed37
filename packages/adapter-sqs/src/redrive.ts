import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, type ReceiveMessageCommandOutput, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { awsError } from './errors.js';
import { chunk } from './publisher.js';
import { SettleBatcher } from './settle-batcher.js';
import type { GroupQueues } from './topology.js';
import { redrivenCopy } from './wire.js';

export interface RedriveOptions {
  /** Move at most this many dead letters (default: all). */
  max?: number;
}

/**
 * Move a group's dead letters back to its queue (to its group only, never to other groups of the
 * channel): each is sent first and deleted from the dead-letter queue after, so a crash in between
 * duplicates a message rather than losing it. Returns how many moved.
 */
export async function redriveDeadLetters(sqs: SQSClient, queues: GroupQueues, fifo: boolean, options: RedriveOptions = {}): Promise<number> {
  const { queue, deadLetters } = queues;
  const batcher = new SettleBatcher(sqs, deadLetters.url, deadLetters.name);
  const max = options.max ?? Number.POSITIVE_INFINITY;
  let moved = 0;
  while (moved < max) {
    let received: ReceiveMessageCommandOutput;
    try {
      received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: deadLetters.url,
          MaxNumberOfMessages: Math.min(10, max - moved),
          WaitTimeSeconds: 1,
          VisibilityTimeout: 60,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['MessageGroupId'],
        }),
      );
    } catch (error) {
      throw awsError(`receiving dead letters from "${deadLetters.name}"`, error);
    }
    const messages = received.Messages ?? [];
    if (messages.length === 0) break;
    const entries = messages.map((m, i) => {
      const { wire, groupId } = redrivenCopy(m);
      return { index: i, handle: m.ReceiptHandle, wire, group: groupId };
    });
    const refused: string[] = [];
    for (const batch of chunk(entries)) {
      let failed: Set<string>;
      try {
        const out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queue.url,
            Entries: batch.map((e) => ({
              Id: String(e.index),
              MessageBody: e.wire.body,
              MessageAttributes: e.wire.attributes,
              ...(fifo ? { MessageGroupId: e.group, MessageDeduplicationId: randomUUID() } : {}),
            })),
          }),
        );
        failed = new Set((out.Failed ?? []).map((f) => f.Id ?? ''));
        refused.push(...(out.Failed ?? []).map((f) => `${f.Code ?? 'Unknown'} ${f.Message ?? ''}`));
      } catch (error) {
        throw awsError(`redriving dead letters to "${queue.name}"`, error);
      }
      const sent = batch.filter((e) => !failed.has(String(e.index)) && e.handle !== undefined);
      await Promise.all(sent.map((e) => batcher.delete(e.handle!)));
      moved += sent.length;
    }
    if (refused.length > 0) {
      throw awsError(`redriving dead letters to "${queue.name}"`, new Error(`${refused.length} message(s) refused: ${refused[0]}`));
    }
  }
  return moved;
}
