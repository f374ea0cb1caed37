import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Backlog } from '@org/eventbus';
import { awsError } from './errors.js';
import type { GroupQueues } from './topology.js';

/**
 * A group's backlog on SQS from its queue's attributes (one API call, approximate as SQS counts):
 * visible (waiting) + not visible (in flight, or held for a retry by the visibility timeout) +
 * delayed. SQS tells no oldest age through the queue API (CloudWatch's ApproximateAgeOfOldestMessage
 * does), so `oldestAgeMs` is left out.
 */
export async function groupBacklog(sqs: SQSClient, queues: GroupQueues): Promise<Backlog> {
  const { url, name } = queues.queue;
  try {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    const count = (attribute: string) => Number(Attributes[attribute as keyof typeof Attributes] ?? 0);
    return {
      messages: count('ApproximateNumberOfMessages') + count('ApproximateNumberOfMessagesNotVisible') + count('ApproximateNumberOfMessagesDelayed'),
      inFlight: count('ApproximateNumberOfMessagesNotVisible'),
    };
  } catch (error) {
    throw awsError(`reading the backlog of "${name}"`, error);
  }
}
