import { CLOCK_TOLERANCE_MS, deadLetterHeaders, nextAttemptHeaders, type ReceivedMessage, type SettleActions, type TrackedDelivery } from '@org/eventbus';
import type { HeldRecord } from './partition-state.js';
import type { DelayTier } from './topology.js';
import { HOLD_UNTIL_HEADER, HOP_UNTIL_HEADER, RETRY_CHANNEL_HEADER } from './wire.js';

/** A delivery as core's DeliveryTracker hands it to the settle actions: the record and its partition in `raw`. */
export type KafkaDelivery = TrackedDelivery<HeldRecord>;

/** What Kafka's settle actions need from one subscription. */
export interface SettleTargets {
  group: string;
  retryTopic: string;
  deadLetterTopic: string;
  /** The group's delay topics, longest hold first (topology's `delayTiers`). */
  delayTiers: readonly DelayTier[];
  /** Reading the group's dead letters: a nacked or deferred dead letter goes back to the dead-letter topic. */
  deadLetters: boolean;
  /** Longest hold of one nack delay or defer (the capability `maxDelayMs`); core chains longer waits. */
  maxDelayMs: number;
  /** Publish a copy of the message to `topic` with these headers; resolves once the broker has it. */
  republish(topic: string, message: ReceivedMessage, headers: Record<string, string>): Promise<void>;
  /** Queue the record again on its partition, to run again on this member (the scheduler counts it). */
  putBack(held: HeldRecord): void;
}

/**
 * Where a copy held until `until` goes now, and when that topic hands it out: the longest delay tier
 * not longer than the wait (every record of a tier is held for the same time, so a tier's partitions
 * come due in offset order and a long hold never sits in front of a short one), or the retry topic,
 * held to the millisecond, once less than the shortest tier remains. A copy released by a tier before
 * `until` is moved on by the subscription (HOLD_UNTIL_HEADER), hopping down the tiers.
 */
export function holdPlan(tiers: readonly DelayTier[], fallbackTopic: string, until: number, now: number): { topic: string; hopUntil: number } {
  const tier = tiers.find((t) => t.holdMs <= until - now);
  if (!tier) return { topic: fallbackTopic, hopUntil: until };
  // A few ms left after the tier: held that much longer there rather than a hop of its own.
  const hopUntil = now + tier.holdMs;
  return { topic: tier.topic, hopUntil: until - hopUntil <= CLOCK_TOLERANCE_MS ? until : hopUntil };
}

/**
 * How a delivery is settled on Kafka. An ack is bookkeeping only: the record's partition may commit
 * past it (the commit follows on its timer), no broker call per record. A nack republishes to the
 * group's retry topic with the next attempt, a delayed nack and a defer to the group's delay topics
 * (holdPlan) with their hold time, a dead letter to its dead-letter topic; each settles the record
 * once the broker has the copy. A defer keeps the attempt: Kafka counts no redeliveries of its own,
 * the attempt is the header core wrote. A plain redelivery leaves the offset uncommitted and runs the
 * record again here at once — core already held it for HANDLER_FAILURE_DELAY_MS after the failed
 * settle. A record of a partition this member lost is left alone: its new owner handles it again,
 * and moving it here as well would duplicate it.
 */
export function settleActions(targets: SettleTargets): SettleActions<HeldRecord> {
  const { group, retryTopic, deadLetterTopic, delayTiers } = targets;
  const move = async ({ raw, message }: KafkaDelivery, topic: string, headers: Record<string, string>) => {
    if (raw.state.revoked) return;
    await targets.republish(topic, message, headers);
    raw.state.settle(raw.entry);
  };
  /** A copy back to this group only (its own topics), not handed out before `until` (capped at maxDelayMs). */
  const hold = (delivery: KafkaDelivery, until: number, headers: Record<string, string>) => {
    const now = Date.now();
    const target = Math.min(until, now + targets.maxDelayMs);
    // A dead letter stays a dead letter: held in the dead-letter topic, which its reader alone reads.
    const { topic, hopUntil } = targets.deadLetters ? { topic: deadLetterTopic, hopUntil: target } : holdPlan(delayTiers, retryTopic, target, now);
    const copy: Record<string, string> = { ...headers, [RETRY_CHANNEL_HEADER]: delivery.message.channel, [HOP_UNTIL_HEADER]: String(hopUntil) };
    if (hopUntil < target) copy[HOLD_UNTIL_HEADER] = String(target);
    return move(delivery, topic, copy);
  };
  return {
    ack: ({ raw }) => {
      if (!raw.state.revoked) raw.state.settle(raw.entry);
    },
    nack: (delivery, delayMs) => {
      if (delayMs > 0) {
        const until = Date.now() + Math.min(delayMs, targets.maxDelayMs);
        return hold(delivery, until, nextAttemptHeaders(delivery, until));
      }
      const headers = nextAttemptHeaders(delivery);
      // A dead letter nacked by its reader stays a dead letter; anything else goes round the retry topic.
      if (targets.deadLetters) return move(delivery, deadLetterTopic, headers);
      return move(delivery, retryTopic, { ...headers, [RETRY_CHANNEL_HEADER]: delivery.message.channel });
    },
    deadLetter: (delivery, reason) => move(delivery, deadLetterTopic, deadLetterHeaders(delivery, group, reason)),
    defer: (delivery, notBefore, headers) => hold(delivery, notBefore, headers),
    redeliver: ({ raw }) => {
      if (!raw.state.revoked) targets.putBack(raw);
    },
  };
}
