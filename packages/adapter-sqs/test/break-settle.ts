import { CreateQueueCommand, DeleteQueueCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { awsCode } from '../src/errors.js';

/**
 * Break a group's dead-letter path on the broker: delete its dead-letter queue, so SendMessage to it
 * fails. The repair creates it again under the same name — hence the same ARN, which the group
 * queue's redrive policy still names (AWS refuses the name for 60 s after a delete: retried). The
 * repair destroys `client`.
 */
export async function breakDeadLetters(client: SQSClient, deadLetterQueue: string): Promise<() => Promise<void>> {
  const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: deadLetterQueue }));
  await client.send(new DeleteQueueCommand({ QueueUrl }));
  const Attributes: Record<string, string> = { MessageRetentionPeriod: String(14 * 24 * 3600) };
  if (deadLetterQueue.endsWith('.fifo')) Attributes.FifoQueue = 'true';
  return async () => {
    try {
      for (let tries = 0; ; tries++) {
        try {
          await client.send(new CreateQueueCommand({ QueueName: deadLetterQueue, Attributes }));
          return;
        } catch (error) {
          if (awsCode(error)?.endsWith('QueueDeletedRecently') !== true || tries >= 15) throw error;
          await new Promise((r) => setTimeout(r, 5000));
        }
      }
    } finally {
      client.destroy();
    }
  };
}
