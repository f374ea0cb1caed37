import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { errorMessage, MessageTooLargeError, messageSize, type OutgoingMessage, TransportError, UnroutableError } from '@org/eventbus';
import { SQS_MAX_MESSAGE_BYTES, toWire, type WireMessage } from './attributes.js';
import { type BatchResult, type Destination, sendCall } from './broker-calls.js';
import { Coalescer, type Entry, MAX_BATCH_ENTRIES } from './coalescer.js';
import { awsCode, isAbort, PublishBatchError, type PublishFailure } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { SubscriberCheck } from './subscriber-check.js';
import type { Topology } from './topology.js';
import { fifoId } from './wire.js';

/** Attempts for entries the service refused on its side (throttling, internal errors). */
const ENTRY_ATTEMPTS = 3;

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
 * Publishes through SNS (fan-out), or straight to group queues. A publish of one message joins its
 * destination's Coalescer (alone: SNS Publish / SQS SendMessage; with others that arrive while a
 * call is in flight: one batch); a publish of several goes out in batches of its own. Refused
 * entries are retried while the service says the fault is its own; whatever still fails is
 * reported per entry in a PublishBatchError, to the caller whose entry it was.
 */
export class Publisher {
  private readonly coalescers = new Map<string, Coalescer>();
  private readonly clients: { sns: SNSClient; sqs: SQSClient };
  /** FIFO: one call at a time per destination, so calls cannot overtake each other within a message group. */
  private readonly callsPerDestination: number;

  constructor(
    sqs: SQSClient,
    sns: SNSClient,
    private readonly topology: Topology,
    private readonly subscribers: SubscriberCheck,
    private readonly options: ResolvedOptions,
    private readonly maxMessageBytes: number,
  ) {
    this.clients = { sns, sqs };
    this.callsPerDestination = options.fifo ? 1 : options.publishConcurrency;
  }

  async publish(messages: readonly OutgoingMessage[], signal: AbortSignal | undefined): Promise<void> {
    if (messages.length === 1) return this.publishOne(messages[0]!, signal);
    const byDestination = new Map<string, { destination: Promise<Destination[]>; entries: Entry[] }>();
    for (const message of messages) {
      const entry = this.entryOf(message);
      let slot = byDestination.get(message.channel);
      if (!slot) {
        slot = { destination: this.destinations(message.channel), entries: [] };
        slot.destination.catch(() => {});
        byDestination.set(message.channel, slot);
      }
      slot.entries.push(entry);
    }
    const jobs: { destination: Destination; entries: Entry[] }[] = [];
    for (const slot of byDestination.values()) {
      for (const destination of await slot.destination) {
        for (const entries of chunk(slot.entries)) jobs.push({ destination, entries });
      }
    }
    const failures: PublishFailure[] = [];
    await pool(jobs, this.callsPerDestination, async ({ destination, entries }) => {
      failures.push(...(await this.sendWithRetry(destination, entries, signal)).values());
    });
    signal?.throwIfAborted();
    if (failures.length > 0) throw new PublishBatchError(failures, messages.length);
  }

  private async publishOne(message: OutgoingMessage, signal: AbortSignal | undefined): Promise<void> {
    const entry = this.entryOf(message);
    const destinations = await this.destinations(message.channel);
    const failures: PublishFailure[] = [];
    if (destinations.length === 1) {
      const failure = await this.coalescer(destinations[0]!).submit(entry, signal);
      if (failure) failures.push(failure);
    } else {
      for (const failure of await Promise.all(destinations.map((d) => this.coalescer(d).submit(entry, signal)))) if (failure) failures.push(failure);
    }
    signal?.throwIfAborted();
    if (failures.length > 0) throw new PublishBatchError(failures, 1);
  }

  /** The message laid out for SQS, refused here if SQS would refuse it for its size. */
  private entryOf(message: OutgoingMessage): Entry {
    const size = messageSize(message);
    if (size > this.maxMessageBytes) throw new MessageTooLargeError(size, this.maxMessageBytes, `message ${message.id}`);
    const wire = toWire(message);
    if (wire.size > SQS_MAX_MESSAGE_BYTES) {
      throw new MessageTooLargeError(wire.size, SQS_MAX_MESSAGE_BYTES, `message ${message.id} with its SQS attributes`);
    }
    return { id: message.id, wire, groupId: this.options.fifo ? groupIdOf(message) : undefined, notBefore: message.notBefore };
  }

  private coalescer(destination: Destination): Coalescer {
    let coalescer = this.coalescers.get(destination.target);
    if (!coalescer) {
      coalescer = new Coalescer((entries, signal) => this.sendWithRetry(destination, entries, signal), this.callsPerDestination);
      this.coalescers.set(destination.target, coalescer);
    }
    return coalescer;
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

  /** Send `entries`, retrying what the service refused on its side; the entries finally refused, each with why. */
  private async sendWithRetry(destination: Destination, entries: Entry[], signal: AbortSignal | undefined): Promise<Map<Entry, PublishFailure>> {
    let pending = entries;
    const failures = new Map<Entry, PublishFailure>();
    for (let attempt = 1; pending.length > 0; attempt++) {
      const last = attempt === ENTRY_ATTEMPTS;
      let result: BatchResult;
      try {
        result = await sendCall(this.clients, destination, pending, signal, this.options.maxDelayMs);
      } catch (error) {
        // The SDK already retried the call; one more round of ours covers a connection cut mid-retry.
        if (last || isAbort(error) || signal?.aborted) {
          const code = isAbort(error) ? 'Aborted' : (awsCode(error) ?? 'NetworkError');
          for (const e of pending) failures.set(e, { id: e.id, code, message: errorMessage(error), senderFault: false });
          return failures;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        continue;
      }
      if (result.failed.length === 0) break;
      const retry: Entry[] = [];
      for (const f of result.failed) {
        const entry = pending[f.index]!;
        if (f.senderFault || last) failures.set(entry, { id: entry.id, code: f.code, message: f.message, senderFault: f.senderFault });
        else retry.push(entry);
      }
      pending = retry;
      if (pending.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
    return failures;
  }
}
