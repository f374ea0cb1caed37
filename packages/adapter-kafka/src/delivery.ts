import { deadLetterHeaders, nextAttemptHeaders, type ReceivedMessage, type SettleActions, type TrackedDelivery } from '@org/eventbus';
import type { HeldRecord } from './partition-state.js';
import { RETRY_CHANNEL_HEADER } from './wire.js';

/** A delivery as core's DeliveryTracker hands it to the settle actions: the record and its partition in `raw`. */
export type KafkaDelivery = TrackedDelivery<HeldRecord>;

/** What Kafka's settle actions need from one subscription. */
export interface SettleTargets {
  group: string;
  retryTopic: string;
  deadLetterTopic: string;
  /** Reading the group's dead letters: a nacked dead letter goes back to the dead-letter topic. */
  deadLetters: boolean;
  /** Longest retry delay (the capability `maxDelayMs`): a partition waits at most this long for one retry record. */
  maxDelayMs: number;
  /** Publish a copy of the message to `topic` with these headers; resolves once the broker has it. */
  republish(topic: string, message: ReceivedMessage, headers: Record<string, string>): Promise<void>;
  /** Queue the record again on its partition, to run again on this member (the scheduler counts it). */
  putBack(held: HeldRecord): void;
}

/**
 * How a delivery is settled on Kafka. An ack is bookkeeping only: the record's partition may commit
 * past it (the commit follows on its timer), no broker call per record. A nack republishes to the
 * group's retry topic with the next attempt and a not-before time, a dead letter to its dead-letter
 * topic; either settles the record once the broker has the copy. A plain redelivery leaves the
 * offset uncommitted and runs the record again here at once — core already held it for
 * HANDLER_FAILURE_DELAY_MS after the failed settle. A record of a partition this member lost is
 * left alone: its new owner handles it again, and moving it here as well would duplicate it.
 */
export function settleActions(targets: SettleTargets): SettleActions<HeldRecord> {
  const { group, retryTopic, deadLetterTopic } = targets;
  const move = async ({ raw, message }: KafkaDelivery, topic: string, headers: Record<string, string>) => {
    if (raw.state.revoked) return;
    await targets.republish(topic, message, headers);
    raw.state.settle(raw.entry);
  };
  return {
    ack: ({ raw }) => {
      if (!raw.state.revoked) raw.state.settle(raw.entry);
    },
    nack: (delivery, delayMs) => {
      const notBefore = delayMs > 0 ? Date.now() + Math.min(delayMs, targets.maxDelayMs) : undefined;
      const headers = nextAttemptHeaders(delivery, notBefore);
      // A dead letter nacked by its reader stays a dead letter; anything else goes round the retry topic.
      if (targets.deadLetters) return move(delivery, deadLetterTopic, headers);
      return move(delivery, retryTopic, { ...headers, [RETRY_CHANNEL_HEADER]: delivery.message.channel });
    },
    deadLetter: (delivery, reason) => move(delivery, deadLetterTopic, deadLetterHeaders(delivery, group, reason)),
    // Filled in by the delay work (issue 18): until then a deferral falls back to a plain redelivery.
    defer: () => {
      throw new Error('defer is not implemented on this transport yet');
    },
    redeliver: ({ raw }) => {
      if (!raw.state.revoked) targets.putBack(raw);
    },
  };
}
