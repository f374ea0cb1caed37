import type { Channel } from 'amqplib';
import type { QueueSpec } from './options.js';

/** Retry queues hold messages for a power-of-two bucket of delays, from 16 ms up. */
const MIN_BUCKET_MS = 16;
/** Longest delay one nack honours: RabbitMQ's per-message TTL is a 32-bit millisecond count. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

/** Every broker object eventbus declares, named from the exchange so two buses can share a vhost. */
export class TopologyNames {
  constructor(readonly exchange: string) {}

  get deadLetterExchange(): string {
    return `${this.exchange}.dead-letter`;
  }

  groupQueue(group: string): string {
    return `${this.exchange}.${group}`;
  }

  deadLetterQueue(group: string): string {
    return `${this.exchange}.${group}.dead-letter`;
  }

  /**
   * One queue per group per delay bucket. Per-message TTL only expires messages at a queue's head,
   * so delays in one queue stay within a factor of two: a message is never early, at most that late.
   */
  retryQueue(group: string, delayMs: number): string {
    return `${this.exchange}.${group}.retry.${retryBucket(delayMs)}`;
  }

  /**
   * The retry queues of a dead-letter reader's deferrals belong to this name as if it were a group:
   * its "group queue" is the dead-letter queue, so they lead back there, not to the live queue.
   */
  deadLetterRetryGroup(group: string): string {
    return `${group}.dead-letter`;
  }

  /** Every queue a group may own: its queue, its dead letters and a retry queue per possible bucket, for both. */
  queuesOf(group: string): string[] {
    const queues = [this.groupQueue(group), this.deadLetterQueue(group)];
    for (const owner of [group, this.deadLetterRetryGroup(group)]) {
      for (let bucket = MIN_BUCKET_MS; bucket <= 2 ** 31; bucket *= 2) queues.push(`${this.exchange}.${owner}.retry.${bucket}`);
    }
    return queues;
  }
}

/** One step of a deferral: the retry queue (by its bucket) the copy waits in, and its per-message TTL. */
export interface Hold {
  bucket: number;
  expirationMs: number;
}

/**
 * Where a deferred copy waits `waitMs` (capped at `maxDelayMs`), never early and never behind a
 * longer wait. A nack may sit in bucket B with any TTL up to B (B/2 late at most, fine for a
 * backoff); a deferral is a promised time, so it rounds DOWN to the largest bucket B ≤ wait and
 * takes exactly B as its TTL: everything ahead of it in that queue expires no later, so it leaves on
 * time. The rest of the wait (< B) is another hop, after core's receive check defers it again: about
 * one hop per set bit of the wait in 16 ms units. Below 16 ms the copy waits its exact time in
 * bucket 16, at most 16 ms behind what is ahead of it.
 */
export function deferHold(waitMs: number, maxDelayMs: number): Hold {
  const wait = Math.max(1, Math.round(Math.min(waitMs, maxDelayMs)));
  if (wait < MIN_BUCKET_MS) return { bucket: MIN_BUCKET_MS, expirationMs: wait };
  const bucket = 2 ** Math.floor(Math.log2(wait));
  return { bucket, expirationMs: Math.min(bucket, MAX_DELAY_MS) };
}

export function retryBucket(delayMs: number): number {
  let bucket = MIN_BUCKET_MS;
  while (bucket < delayMs && bucket < MAX_DELAY_MS) bucket *= 2;
  return Math.min(bucket, 2 ** 31);
}

function queueArguments({ type, initialGroupSize }: QueueSpec, extra: Record<string, unknown>): Record<string, unknown> {
  // Sent only when set: RabbitMQ compares it on every redeclare, and queues made without it have none.
  const group = initialGroupSize === undefined ? {} : { 'x-quorum-initial-group-size': initialGroupSize };
  return { 'x-queue-type': type, ...group, ...extra };
}

/**
 * Declares (idempotently) the exchange, the group's queue bound to its channels, and the group's
 * dead-letter exchange and queue. Arguments never change between versions: RabbitMQ refuses a
 * redeclare with different arguments (PRECONDITION_FAILED).
 */
export async function assertGroup(
  ch: Channel,
  names: TopologyNames,
  type: QueueSpec,
  group: string,
  channels: readonly string[],
): Promise<void> {
  await ch.assertExchange(names.exchange, 'topic', { durable: true });
  await assertDeadLetter(ch, names, type, group);
  const queue = names.groupQueue(group);
  await ch.assertQueue(queue, {
    durable: true,
    // What the broker itself rejects (e.g. a quorum delivery limit set by policy) lands in the dead-letter queue too.
    arguments: queueArguments(type, {
      'x-dead-letter-exchange': names.deadLetterExchange,
      'x-dead-letter-routing-key': group,
    }),
  });
  for (const channel of channels) await ch.bindQueue(queue, names.exchange, channel);
}

export async function assertDeadLetter(ch: Channel, names: TopologyNames, type: QueueSpec, group: string): Promise<void> {
  await ch.assertExchange(names.deadLetterExchange, 'direct', { durable: true });
  const queue = names.deadLetterQueue(group);
  await ch.assertQueue(queue, { durable: true, arguments: queueArguments(type, {}) });
  await ch.bindQueue(queue, names.deadLetterExchange, group);
}

/** A retry queue: messages wait out their per-message TTL, then dead-letter straight back to the group's queue. */
export async function assertRetryQueue(
  ch: Channel,
  names: TopologyNames,
  type: QueueSpec,
  group: string,
  delayMs: number,
): Promise<string> {
  const queue = names.retryQueue(group, delayMs);
  await ch.assertQueue(queue, {
    durable: true,
    arguments: queueArguments(type, {
      // The default exchange routes by queue name, so only this group gets the message back.
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': names.groupQueue(group),
    }),
  });
  return queue;
}
