import { ListSubscriptionsByTopicCommand, PublishBatchCommand, type SNSClient } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { errorMessage, MessageTooLargeError, messageSize, type OutgoingMessage, TransportError, UnroutableError } from '@org/eventbus';
import { SQS_MAX_MESSAGE_BYTES, toWire, type WireMessage } from './attributes.js';
import { awsCode, awsError, isAbort, PublishBatchError, type PublishFailure } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { nameOfArn, type Topology } from './topology.js';
import { fifoId } from './wire.js';

const MAX_BATCH_ENTRIES = 10;
/** Attempts for entries the service refused on its side (throttling, internal errors). */
const ENTRY_ATTEMPTS = 3;

interface Entry {
  id: string;
  wire: WireMessage;
  groupId: string | undefined;
}

interface Destination {
  kind: 'topic' | 'queue';
  /** Topic ARN or queue URL. */
  target: string;
}

export interface BatchResult {
  failed: { index: number; code: string; message: string; senderFault: boolean }[];
}

/** How long a topic seen with a subscription is taken to still have one. */
export const SUBSCRIBED_TTL_MS = 30_000;

/**
 * Whether an SNS topic has at least one subscription, so that a publish no queue would receive
 * is rejected instead of dropped by SNS. A topic seen subscribed is trusted for `ttlMs` (the hot
 * path makes no call); one seen without is asked again on every publish until a group arrives.
 */
export class SubscriberCheck {
  private readonly subscribedAt = new Map<string, number>();
  private readonly asking = new Map<string, Promise<boolean>>();

  constructor(
    private readonly sns: SNSClient,
    private readonly ttlMs = SUBSCRIBED_TTL_MS,
  ) {}

  /** This transport just subscribed a queue to the topic (subscribe, provision): no need to ask. */
  subscribed(topicArn: string): void {
    this.subscribedAt.set(topicArn, Date.now());
  }

  async has(topicArn: string): Promise<boolean> {
    const seen = this.subscribedAt.get(topicArn);
    if (seen !== undefined && Date.now() - seen < this.ttlMs) return true;
    let asking = this.asking.get(topicArn);
    if (!asking) {
      // One question per topic at a time, however many publishes wait on it.
      asking = this.ask(topicArn).finally(() => this.asking.delete(topicArn));
      this.asking.set(topicArn, asking);
    }
    return asking;
  }

  private async ask(topicArn: string): Promise<boolean> {
    let NextToken: string | undefined;
    try {
      do {
        const page = await this.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, ...(NextToken ? { NextToken } : {}) }));
        // An unconfirmed (e-mail, HTTP) subscription receives nothing yet.
        if (page.Subscriptions?.some((s) => s.SubscriptionArn?.startsWith('arn:'))) {
          this.subscribedAt.set(topicArn, Date.now());
          return true;
        }
        NextToken = page.NextToken;
      } while (NextToken);
    } catch (error) {
      throw awsError(`listing the subscriptions of SNS topic "${nameOfArn(topicArn)}"`, error);
    }
    return false;
  }
}

/** Split into batches of at most 10 entries and 256 KiB together (SQS and SNS count the whole request). */
export function chunk<T extends { wire: WireMessage }>(entries: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length === MAX_BATCH_ENTRIES || (current.length > 0 && bytes + entry.wire.size > SQS_MAX_MESSAGE_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.wire.size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Run `work` over `items` with at most `limit` at once; never rejects (each task reports its own failures). */
async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** A FIFO message group id: the key, or the channel when there is none. */
function groupIdOf(message: OutgoingMessage): string {
  return fifoId(message.key !== undefined && message.key !== '' ? message.key : message.channel);
}

/**
 * Publishes through SNS (fan-out) with PublishBatch, or straight to group queues with
 * SendMessageBatch; refused entries are retried while the service says the fault is its own, and
 * whatever still fails is reported per entry in a PublishBatchError.
 */
export class Publisher {
  constructor(
    private readonly sqs: SQSClient,
    private readonly sns: SNSClient,
    private readonly topology: Topology,
    private readonly subscribers: SubscriberCheck,
    private readonly options: ResolvedOptions,
    private readonly maxMessageBytes: number,
  ) {}

  async publish(messages: readonly OutgoingMessage[], signal: AbortSignal | undefined): Promise<void> {
    const byDestination = new Map<string, { destination: Promise<Destination[]>; entries: Entry[] }>();
    for (const message of messages) {
      const size = messageSize(message);
      if (size > this.maxMessageBytes) throw new MessageTooLargeError(size, this.maxMessageBytes, `message ${message.id}`);
      const wire = toWire(message);
      if (wire.size > SQS_MAX_MESSAGE_BYTES) {
        throw new MessageTooLargeError(wire.size, SQS_MAX_MESSAGE_BYTES, `message ${message.id} with its SQS attributes`);
      }
      let slot = byDestination.get(message.channel);
      if (!slot) {
        slot = { destination: this.destinations(message.channel), entries: [] };
        slot.destination.catch(() => {});
        byDestination.set(message.channel, slot);
      }
      slot.entries.push({ id: message.id, wire, groupId: this.options.fifo ? groupIdOf(message) : undefined });
    }
    const jobs: { destination: Destination; entries: Entry[] }[] = [];
    for (const slot of byDestination.values()) {
      for (const destination of await slot.destination) {
        for (const entries of chunk(slot.entries)) jobs.push({ destination, entries });
      }
    }
    const failures: PublishFailure[] = [];
    await pool(jobs, this.options.publishConcurrency, async ({ destination, entries }) => {
      failures.push(...(await this.sendWithRetry(destination, entries, signal)));
    });
    signal?.throwIfAborted();
    if (failures.length > 0) throw new PublishBatchError(failures, messages.length);
  }

  private async destinations(channel: string): Promise<Destination[]> {
    if (this.options.publishTo === 'topic') {
      const topicArn = await this.topology.topicArn(channel);
      // SNS accepts a publish to a topic without subscriptions and drops it: refuse it instead.
      if (!(await this.subscribers.has(topicArn))) throw new UnroutableError(channel);
      return [{ kind: 'topic', target: topicArn }];
    }
    // Straight to the listed groups' queues: routed by definition.
    const groups = this.options.directGroups[channel];
    if (!groups || groups.length === 0) {
      throw new TransportError(`channel "${channel}" has no directGroups entry (publishTo: "queue" sends only to listed groups)`);
    }
    const queues = await Promise.all(groups.map((g) => this.topology.groupQueue(g)));
    return queues.map((q) => ({ kind: 'queue', target: q.queue.url }));
  }

  private async sendWithRetry(destination: Destination, entries: Entry[], signal: AbortSignal | undefined): Promise<PublishFailure[]> {
    let pending = entries;
    const failures: PublishFailure[] = [];
    for (let attempt = 1; pending.length > 0; attempt++) {
      const last = attempt === ENTRY_ATTEMPTS;
      let result: BatchResult;
      try {
        result = await this.sendBatch(destination, pending, signal);
      } catch (error) {
        // The SDK already retried the call; one more round of ours covers a connection cut mid-retry.
        if (last || isAbort(error) || signal?.aborted) {
          const code = isAbort(error) ? 'Aborted' : (awsCode(error) ?? 'NetworkError');
          return [...failures, ...pending.map((e) => ({ id: e.id, code, message: errorMessage(error), senderFault: false }))];
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        continue;
      }
      const retry: Entry[] = [];
      for (const f of result.failed) {
        const entry = pending[f.index]!;
        if (f.senderFault || last) failures.push({ id: entry.id, code: f.code, message: f.message, senderFault: f.senderFault });
        else retry.push(entry);
      }
      pending = retry;
      if (pending.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
    return failures;
  }

  private async sendBatch(destination: Destination, entries: Entry[], signal: AbortSignal | undefined): Promise<BatchResult> {
    const options = signal ? { abortSignal: signal } : {};
    const fifo = (e: Entry) => (e.groupId === undefined ? {} : { MessageGroupId: e.groupId, MessageDeduplicationId: fifoId(e.id) });
    const out =
      destination.kind === 'topic'
        ? await this.sns.send(
            new PublishBatchCommand({
              TopicArn: destination.target,
              PublishBatchRequestEntries: entries.map((e, i) => ({
                Id: String(i),
                Message: e.wire.body,
                MessageAttributes: e.wire.attributes as Record<string, { DataType: string; StringValue?: string }>,
                ...fifo(e),
              })),
            }),
            options,
          )
        : await this.sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: destination.target,
              Entries: entries.map((e, i) => ({
                Id: String(i),
                MessageBody: e.wire.body,
                MessageAttributes: e.wire.attributes,
                ...fifo(e),
              })),
            }),
            options,
          );
    return {
      failed: (out.Failed ?? []).map((f) => ({
        index: Number(f.Id),
        code: f.Code ?? 'Unknown',
        message: f.Message ?? '',
        senderFault: f.SenderFault ?? false,
      })),
    };
  }
}
