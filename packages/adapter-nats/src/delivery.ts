import { deadLetterHeaders, type SettleActions, type TrackedDelivery } from '@org/eventbus';
import type { Msg } from '@nats-io/transport-node';
import { ACK, type AckInfo, KEY_HEADER, nakPayload, TERM } from './wire.js';

/** A message off the broker, as core's DeliveryTracker holds it. */
export interface NatsRaw {
  msg: Msg;
  info: AckInfo | undefined;
  /** The stream it was pulled from (the ack subject says it too, when it could be read). */
  stream: string;
  /** When the last `+WPI` (or the delivery) told the server the handler is still at it. */
  lastProgress: number;
}

export interface SettleContext {
  group: string;
  /** The subscription reads the group's dead letters: dead-lettering one again only terminates it. */
  deadLetters: boolean;
  /** Deliveries after which a nack dead-letters (past them, the subscription dead-letters unhandled). */
  maxDeliver: number;
  /** Send a settle to the server (held while the link is down: the client would drop it). */
  respond: (msg: Msg, payload: Uint8Array) => void;
  /** Publish a dead letter and resolve on the server's ack (retried with the same id). */
  publishDeadLetter: (headers: Record<string, string>, body: Uint8Array, id: string) => Promise<void>;
  /** Publish a deferred copy to this reader's own deferred subject and resolve on the server's ack. */
  publishDeferred: (channel: string, headers: Record<string, string>, body: Uint8Array, id: string) => Promise<void>;
}

/** The JetStream calls behind each settle; core's tracker settles once and falls back to `redeliver`. */
export function settleActions(ctx: SettleContext): SettleActions<NatsRaw> {
  const deadLetter = async (d: TrackedDelivery<NatsRaw>, reason: string): Promise<void> => {
    const { msg, info, stream } = d.raw;
    if (ctx.deadLetters) return ctx.respond(msg, TERM);
    const id = `${ctx.group}:${info?.stream ?? stream}:${info?.streamSequence ?? msg.sid}`;
    // Only once the copy is stored is the original terminated; a refused copy throws, and the
    // tracker hands the original back for another try.
    await ctx.publishDeadLetter(deadLetterHeaders(d, ctx.group, reason), msg.data, id);
    ctx.respond(msg, TERM);
  };
  return {
    ack: (d) => ctx.respond(d.raw.msg, ACK),
    nack: (d, delayMs) => {
      // The handler gave up on its last delivery: dead-letter rather than hand it out past maxDeliver.
      if (d.attempt >= ctx.maxDeliver && !ctx.deadLetters) {
        return deadLetter(d, `nacked on delivery ${d.attempt}, the transport's maxDeliver`);
      }
      ctx.respond(d.raw.msg, nakPayload(delayMs));
    },
    deadLetter,
    // A NAK the server always takes; the delay keeps a refused dead-letter path from spinning.
    // Core already held it for HANDLER_FAILURE_DELAY_MS: a plain NAK, as every transport redelivers.
    defer: async (d, _notBefore, headers) => {
      const { msg, info, stream } = d.raw;
      // Not a NAK: the server would count the redelivery as an attempt. A copy carrying
      // `eventbus-attempt` and `eventbus-not-before` goes to this group's deferred subject, where the
      // subscription holds it (decision 0009). One id per delivery, so a retried publish is stored once
      // and a later deferral of the same message is a copy of its own.
      const id = `defer:${ctx.group}:${info?.stream ?? stream}:${info?.streamSequence ?? msg.sid}:${info?.deliveryCount ?? d.attempt}`;
      const copy = { ...headers };
      const { key } = d.message;
      if (key !== undefined && copy['ce-partitionkey'] !== key) copy[KEY_HEADER] = key;
      await ctx.publishDeferred(d.message.channel, copy, msg.data, id);
      ctx.respond(msg, ACK);
    },
    redeliver: (d) => ctx.respond(d.raw.msg, nakPayload(0)),
  };
}
