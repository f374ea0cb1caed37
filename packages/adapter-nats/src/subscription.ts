import {
  attemptFromHeaders,
  type DeliveryHandler,
  DeliveryTracker,
  EventbusHeaders,
  type ReceivedMessage,
  type Subscription,
} from '@org/eventbus';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { LinkState } from './connection.js';
import { type NatsRaw, type SettleContext, settleActions } from './delivery.js';
import { Puller } from './puller.js';
import { type AckInfo, fromNatsHeaders, KEY_HEADER, nakPayload, PROGRESS } from './wire.js';

/** One durable this subscription reads, and how its subjects map back to channels. */
export interface PullTarget {
  stream: string;
  durable: string;
  channelOf: (subject: string, headers: Record<string, string>) => string;
  /** Create the durable consumer (again), idempotently. */
  ensure: () => Promise<void>;
  /** The group's deferred copies: held until `eventbus-not-before`, their attempt read from headers. */
  deferred?: boolean;
}

/** What a subscription needs beside its targets; group, deadLetters, maxDeliver and publishDeadLetter go to the settles. */
export interface SubscriptionContext extends Omit<SettleContext, 'respond'> {
  nc: NatsConnection;
  /** Longest hold of a deferred copy in one step (the `maxDelayMs` option). */
  maxDelayMs: number;
  link: LinkState;
  prefetch: number;
  /** Redeliveries happen after this long without a settle or progress signal. */
  ackWaitMs: number;
  drainTimeoutMs: number;
  pullExpiresMs: number;
  onError: (error: Error) => void;
  onClosed: () => void;
}

const TICK_MS = 250;

/** Deferred copies asked for in one request (two may be open): most are holds, settled on arrival without credit. */
const DEFERRED_BATCH = 16;

/** A message that arrived while every handler slot was taken: held here (with progress) until one frees. */
interface Waiting {
  msg: Msg;
  info: AckInfo | undefined;
  target: PullTarget;
  headers: Record<string, string>;
  attempt: number;
  lastProgress: number;
}

/**
 * A group's subscription: pulls within the prefetch credit, hands each message to core's
 * DeliveryTracker, sends `+WPI` progress while a handler runs (a 60 s launch is never redelivered
 * mid-flight), and on close stops pulling at once and drains the tracker.
 */
export class NatsSubscription implements Subscription {
  /** The channel (or dead-letter) consumers, sharing the prefetch credit. */
  private readonly pullers: Puller[];
  /**
   * The group's deferred copies, pulled outside the credit: an idle request there would hold credit
   * the channels need. Most of what it gets is a hold, settled on arrival. A due copy runs as soon as
   * a handler slot is free, even while a quiet channel's pull request holds credit (at prefetch 1 it
   * would otherwise wait for that request to expire); a channel message that then arrives waits in
   * `waiting` for the slot, so handlers never exceed prefetch.
   */
  private readonly deferredPuller: Puller | undefined;
  private readonly waiting: Waiting[] = [];
  private readonly tracker: DeliveryTracker<NatsRaw>;
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
    onDelivery: DeliveryHandler,
  ) {
    this.progressEveryMs = Math.max(200, Math.floor(ctx.ackWaitMs / 3));
    this.tracker = new DeliveryTracker<NatsRaw>({
      actions: settleActions({
        group: ctx.group,
        deadLetters: ctx.deadLetters,
        maxDeliver: ctx.maxDeliver,
        respond: (msg, payload) => this.respond(msg, payload),
        publishDeadLetter: ctx.publishDeadLetter,
        publishDeferred: ctx.publishDeferred,
      }),
      handler: (delivery) => {
        // Delivered more often than maxDeliver without a settle (a consumer that keeps dying on it):
        // the server would go on for ever, so dead-letter it without running the handler again.
        if (!ctx.deadLetters && delivery.attempt > ctx.maxDeliver) {
          return delivery.deadLetter(`delivered ${delivery.attempt} times without being settled (maxDeliver ${ctx.maxDeliver})`);
        }
        return onDelivery(delivery);
      },
      onError: ctx.onError,
      drainTimeoutMs: ctx.drainTimeoutMs,
      onSettled: () => this.schedulePump(),
    });
    const own = targets.filter((t) => !t.deferred);
    const puller = (target: PullTarget) =>
      new Puller(ctx.nc, {
        stream: target.stream,
        durable: target.durable,
        expiresMs: ctx.pullExpiresMs,
        // The deferred copies count as a sharer: a drained channel then holds one credit in its idle
        // request, not all of it, so a channel message rarely has to wait behind a due copy.
        sharesCredit: !target.deferred && targets.length > 1,
        onMessage: (msg, info) => this.dispatch(msg, info, target),
        onCredit: () => this.schedulePump(),
        onError: ctx.onError,
        recreate: target.ensure,
      });
    this.pullers = own.map(puller);
    const deferred = targets.find((t) => t.deferred);
    this.deferredPuller = deferred && puller(deferred);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.pump();
  }

  /** The connection is back: pull again at once rather than wait for lost requests to time out. */
  reconnected(): void {
    for (const { msg, payload } of this.heldSettles.splice(0)) msg.respond(payload);
    if (this.closing) return;
    for (const puller of this.pullers) puller.reconnected();
    this.deferredPuller?.reconnected();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const puller of this.pullers) puller.stop();
      this.deferredPuller?.stop();
      // Messages no handler took: back to the group at once. The server counts this delivery, so
      // such a message comes back one attempt higher (rare: it arrived while every slot was taken).
      for (const { msg } of this.waiting.splice(0)) this.respond(msg, nakPayload(0));
      await this.tracker.drain();
      clearInterval(this.timer);
      // Settles are plain publishes: make sure they reached the server before reporting closed.
      if (!this.ctx.nc.isClosed()) await this.ctx.nc.flush().catch(() => undefined);
      this.ctx.onClosed();
    })();
    return this.closing;
  }

  private respond(msg: Msg, payload: Uint8Array): void {
    if (this.ctx.link.connected) msg.respond(payload);
    else this.heldSettles.push({ msg, payload });
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
    while (this.tracker.size < this.ctx.prefetch && this.waiting.length > 0) this.track(this.waiting.shift()!);
    // More deferred copies once none waits for a slot (a copy's hold is timed from its notBefore,
    // so pulling it later makes it no later, as long as it is pulled before then).
    if (!this.waiting.some((w) => w.target.deferred) && this.deferredPuller?.canRequest(DEFERRED_BATCH, 1)) {
      this.deferredPuller.request(DEFERRED_BATCH);
    }
    let free = this.ctx.prefetch - this.tracker.size - this.waiting.length;
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
    this.deferredPuller?.checkAlive(now);
    if (!this.ctx.link.connected) return;
    for (const { raw } of this.tracker.deliveries()) {
      if (now - raw.lastProgress < this.progressEveryMs) continue;
      raw.lastProgress = now;
      raw.msg.respond(PROGRESS);
    }
    for (const w of this.waiting) {
      if (now - w.lastProgress < this.progressEveryMs) continue;
      w.lastProgress = now;
      w.msg.respond(PROGRESS);
    }
  }

  private dispatch(msg: Msg, info: AckInfo | undefined, target: PullTarget): void {
    const headers = fromNatsHeaders(msg.headers);
    if (!target.deferred || !info) {
      this.admit({ msg, info, target, headers, attempt: info?.deliveryCount ?? 1, lastProgress: Date.now() });
      return;
    }
    // A deferred copy's first delivery is always its hold, even when the time has passed (a
    // consumer that was down): so the server's count is exactly one hold plus the attempts since,
    // and the attempt is the one the copy carries plus those (decision 0009).
    if (info.deliveryCount === 1) {
      const wait = Number(headers[EventbusHeaders.notBefore]) - Date.now();
      const holdMs = Number.isFinite(wait) ? Math.min(Math.max(1, wait), this.ctx.maxDelayMs) : 1;
      this.respond(msg, nakPayload(holdMs));
    } else {
      const attempt = attemptFromHeaders(headers) + info.deliveryCount - 2;
      this.admit({ msg, info, target, headers, attempt, lastProgress: Date.now() });
    }
    this.schedulePump();
  }

  /** To a handler now if a slot is free and nothing waits before it, else into `waiting`. */
  private admit(w: Waiting): void {
    if (this.waiting.length === 0 && this.tracker.size < this.ctx.prefetch) this.track(w);
    else this.waiting.push(w);
  }

  private track({ msg, info, target, headers, attempt }: Waiting): void {
    const key = headers[KEY_HEADER] ?? headers['ce-partitionkey'];
    delete headers[KEY_HEADER];
    const message: ReceivedMessage = { channel: target.channelOf(msg.subject, headers), headers, body: msg.data };
    if (key !== undefined) message.key = key;
    this.tracker.dispatch({ msg, info, stream: target.stream, lastProgress: Date.now() }, message, attempt);
  }
}
