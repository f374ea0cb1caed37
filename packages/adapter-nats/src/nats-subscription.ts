import {
  type Delivery,
  type DeliveryHandler,
  deadLetterHeaders,
  EventbusHeaders,
  type NackOptions,
  type ReceivedMessage,
  type Subscription,
} from '@org/eventbus';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { LinkState } from './link-state.js';
import { Puller } from './puller.js';
import { ACK, type AckInfo, fromNatsHeaders, KEY_HEADER, nakPayload, PROGRESS, TERM } from './wire.js';

/** One durable this subscription reads, and how its subjects map back to channels. */
export interface PullTarget {
  stream: string;
  durable: string;
  channelOf: (subject: string, headers: Record<string, string>) => string;
  /** Create the durable consumer (again), idempotently. */
  ensure: () => Promise<void>;
}

export interface SubscriptionContext {
  nc: NatsConnection;
  link: LinkState;
  group: string;
  prefetch: number;
  deadLetters: boolean;
  /** Redeliveries happen after this long without a settle or progress signal. */
  ackWaitMs: number;
  maxDeliver: number;
  drainTimeoutMs: number;
  pullExpiresMs: number;
  onError: (error: Error) => void;
  /** Publish a dead letter and resolve on the server's ack (retried with the same id). */
  publishDeadLetter: (headers: Record<string, string>, body: Uint8Array, id: string) => Promise<void>;
  onClosed: () => void;
}

interface InFlight {
  msg: Msg;
  lastProgress: number;
}

const TICK_MS = 250;

/**
 * A group's subscription: pulls within the prefetch credit, hands each message out as a Delivery,
 * sends `+WPI` progress while a handler runs (a 60 s launch is never redelivered mid-flight), and
 * on close stops pulling at once and waits (bounded) for handed-out deliveries to be settled.
 */
export class NatsSubscription implements Subscription {
  private readonly pullers: Puller[];
  private readonly inFlight = new Set<InFlight>();
  private readonly idleWaiters: (() => void)[] = [];
  /** Settles made while the link was down (the client would drop them): sent on reconnect. */
  private readonly heldSettles: { msg: Msg; payload: Uint8Array }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly progressEveryMs: number;
  private rotation = 0;
  private pumpScheduled = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly ctx: SubscriptionContext,
    targets: readonly PullTarget[],
    private readonly onDelivery: DeliveryHandler,
  ) {
    this.progressEveryMs = Math.max(200, Math.floor(ctx.ackWaitMs / 3));
    this.pullers = targets.map(
      (target) =>
        new Puller(ctx.nc, {
          stream: target.stream,
          durable: target.durable,
          expiresMs: ctx.pullExpiresMs,
          sharesCredit: targets.length > 1,
          onMessage: (msg, info) => this.dispatch(msg, info, target),
          onCredit: () => this.schedulePump(),
          onError: ctx.onError,
          recreate: target.ensure,
        }),
    );
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.pump();
  }

  /** The connection is back: pull again at once rather than wait for lost requests to time out. */
  reconnected(): void {
    for (const { msg, payload } of this.heldSettles.splice(0)) msg.respond(payload);
    if (this.closing) return;
    for (const puller of this.pullers) puller.reconnected();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const puller of this.pullers) puller.stop();
      if (this.inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, this.ctx.drainTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      clearInterval(this.timer);
      // Settles are plain publishes: make sure they reached the server before reporting closed.
      if (!this.ctx.nc.isClosed()) await this.ctx.nc.flush().catch(() => undefined);
      this.ctx.onClosed();
    })();
    return this.closing;
  }

  /**
   * Pull on the next turn of the event loop, not at once: a chunk of messages is dispatched
   * synchronously and fast handlers settle in the microtasks after it, so waiting lets their
   * credit add up to one large request instead of a round trip per message.
   */
  private schedulePump(): void {
    if (this.pumpScheduled || this.closing) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.closing) return;
    let free = this.ctx.prefetch - this.inFlight.size;
    for (const p of this.pullers) free -= p.requested;
    if (free <= 0) return;
    const lowWater = Math.max(1, Math.floor(this.ctx.prefetch / 4));
    const n = this.pullers.length;
    const ready: Puller[] = [];
    for (let i = 0; i < n; i++) {
      const puller = this.pullers[(this.rotation + i) % n]!;
      if (puller.canRequest(free, lowWater)) ready.push(puller);
    }
    this.rotation = (this.rotation + 1) % n;
    // A quiet channel holds one credit at a time, so a busy one is not starved by it.
    for (const puller of ready) {
      if (free <= 0) return;
      if (puller.cold) {
        puller.request(1);
        free--;
      }
    }
    const hot = ready.filter((p) => !p.cold);
    for (let i = 0; i < hot.length && free > 0; i++) {
      const puller = hot[i]!;
      const share = Math.max(1, Math.floor(free / (hot.length - i)));
      // Ask for no more than the server said it holds: extra credit would idle in the request.
      const known = n > 1 ? puller.backlog : undefined;
      const batch = known === undefined ? share : Math.max(1, Math.min(share, known - puller.requested));
      puller.request(batch);
      free -= batch;
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const puller of this.pullers) puller.checkAlive(now);
    for (const entry of this.inFlight) {
      if (now - entry.lastProgress >= this.progressEveryMs && this.ctx.link.connected) {
        entry.lastProgress = now;
        entry.msg.respond(PROGRESS);
      }
    }
  }

  private dispatch(msg: Msg, info: AckInfo | undefined, target: PullTarget): void {
    const entry: InFlight = { msg, lastProgress: Date.now() };
    this.inFlight.add(entry);
    const headers = fromNatsHeaders(msg.headers);
    const key = headers[KEY_HEADER] ?? headers['ce-partitionkey'];
    delete headers[KEY_HEADER];
    const message: ReceivedMessage = { channel: target.channelOf(msg.subject, headers), headers, body: msg.data };
    if (key !== undefined) message.key = key;
    const attempt = info?.deliveryCount ?? 1;
    let settled = false;
    const settle = (payload: Uint8Array): void => {
      if (settled) return;
      settled = true;
      if (this.ctx.link.connected) msg.respond(payload);
      else this.heldSettles.push({ msg, payload });
      this.release(entry);
    };
    const { group } = this.ctx;
    const delivery: Delivery = {
      message,
      attempt,
      ack: async () => settle(ACK),
      nack: async (options?: NackOptions) => {
        // The server would never deliver it again after this one: dead-letter rather than lose it.
        if (attempt >= this.ctx.maxDeliver && !this.ctx.deadLetters) {
          return delivery.deadLetter(`nacked on delivery ${attempt}, the consumer's max_deliver`);
        }
        settle(nakPayload(options?.delayMs ?? 0));
      },
      deadLetter: async (reason: string) => {
        if (settled) return;
        if (this.ctx.deadLetters) return settle(TERM);
        const id = `${group}:${info?.stream ?? target.stream}:${info?.streamSequence ?? msg.sid}`;
        try {
          await this.ctx.publishDeadLetter(deadLetterHeaders(delivery, group, reason), msg.data, id);
        } catch (error) {
          // Not dead-lettered: hand it back for a later attempt rather than hold it for ever.
          settle(nakPayload(1000));
          throw error;
        }
        settle(TERM);
      },
    };
    try {
      const result = this.onDelivery(delivery);
      if (result && typeof result.then === 'function') {
        result.then(undefined, (error: unknown) => this.handlerFailed(delivery, error));
      }
    } catch (error) {
      this.handlerFailed(delivery, error);
    }
  }

  /** A delivery handler must settle; if it threw instead, requeue so nothing is lost. */
  private handlerFailed(delivery: Delivery, error: unknown): void {
    this.ctx.onError(error instanceof Error ? error : new Error(String(error)));
    void delivery.nack({ delayMs: 100 }).catch(() => undefined);
  }

  private release(entry: InFlight): void {
    if (!this.inFlight.delete(entry)) return;
    if (this.inFlight.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.schedulePump();
  }
}

/** Dead letters keep the channel they failed on. */
export function deadLetterChannel(subject: string, headers: Record<string, string>): string {
  return headers[EventbusHeaders.deadLetterChannel] ?? subject;
}
