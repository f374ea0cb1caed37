import { PublishBatchCommand, PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { errorMessage } from '@org/eventbus';
import type { Entry } from './coalescer.js';
import { awsCode, isAbort } from './errors.js';
import { fifoId, sendDelaySeconds } from './wire.js';

export interface Destination {
  kind: 'topic' | 'queue';
  /** Topic ARN or queue URL. */
  target: string;
}

export interface BatchResult {
  failed: { index: number; code: string; message: string; senderFault: boolean }[];
}

const NONE: BatchResult = { failed: [] };
/** Client-side codes the SDK retries itself and that are worth another round of ours. */
const THROTTLED = new Set(['Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottled', 'RequestThrottledException', 'TooManyRequestsException']);

const fifoFields = (e: Entry) => (e.groupId === undefined ? {} : { MessageGroupId: e.groupId, MessageDeduplicationId: fifoId(e.id) });

/**
 * A scheduled message sent straight to a standard queue waits there (DelaySeconds, computed as it
 * leaves, so time spent coalescing counts): no group sees it before then. FIFO queues take no
 * per-message delay, SNS none at all; there the receiving subscription holds it.
 */
const delayFields = (e: Entry, maxDelayMs: number) => {
  if (e.groupId !== undefined) return {};
  const seconds = sendDelaySeconds(e.notBefore, maxDelayMs);
  return seconds > 0 ? { DelaySeconds: seconds } : {};
};

/**
 * One call for `entries`: SNS Publish / SQS SendMessage for a lone entry (the common "one publish per
 * request" case, without a batch's extra framing), PublishBatch / SendMessageBatch for more. A lone
 * entry's refusal is reported as a batch entry's would be, so callers see one shape; failures of
 * the call itself (network, abort) are thrown.
 */
export async function sendCall(
  clients: { sns: SNSClient; sqs: SQSClient },
  destination: Destination,
  entries: readonly Entry[],
  signal: AbortSignal | undefined,
  maxDelayMs: number,
): Promise<BatchResult> {
  const options = signal ? { abortSignal: signal } : undefined;
  if (entries.length === 1) {
    const e = entries[0]!;
    try {
      if (destination.kind === 'topic') {
        await clients.sns.send(
          new PublishCommand({ TopicArn: destination.target, Message: e.wire.body, MessageAttributes: e.wire.attributes, ...fifoFields(e) }),
          options,
        );
      } else {
        await clients.sqs.send(
          new SendMessageCommand({
            QueueUrl: destination.target,
            MessageBody: e.wire.body,
            MessageAttributes: e.wire.attributes,
            ...fifoFields(e),
            ...delayFields(e, maxDelayMs),
          }),
          options,
        );
      }
      return NONE;
    } catch (error) {
      const fault = faultOf(error);
      if (fault === undefined || isAbort(error)) throw error;
      const code = awsCode(error) ?? 'Unknown';
      return { failed: [{ index: 0, code, message: errorMessage(error), senderFault: fault === 'client' && !THROTTLED.has(code) }] };
    }
  }
  const out =
    destination.kind === 'topic'
      ? await clients.sns.send(
          new PublishBatchCommand({
            TopicArn: destination.target,
            PublishBatchRequestEntries: entries.map((e, i) => ({ Id: String(i), Message: e.wire.body, MessageAttributes: e.wire.attributes, ...fifoFields(e) })),
          }),
          options,
        )
      : await clients.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: destination.target,
            Entries: entries.map((e, i) => ({
              Id: String(i),
              MessageBody: e.wire.body,
              MessageAttributes: e.wire.attributes,
              ...fifoFields(e),
              ...delayFields(e, maxDelayMs),
            })),
          }),
          options,
        );
  if (!out.Failed || out.Failed.length === 0) return NONE;
  return {
    failed: out.Failed.map((f) => ({ index: Number(f.Id), code: f.Code ?? 'Unknown', message: f.Message ?? '', senderFault: f.SenderFault ?? false })),
  };
}

/** The side an AWS service error blames ('client' or 'server'); undefined for anything else (network, our own). */
function faultOf(error: unknown): 'client' | 'server' | undefined {
  if (error === null || typeof error !== 'object' || !('$fault' in error)) return undefined;
  const fault = error.$fault;
  return fault === 'client' || fault === 'server' ? fault : undefined;
}
