import { createInbox, type Msg, type NatsConnection, nanos, type Subscription } from '@nats-io/transport-node';
import { type AckInfo, parseAckSubject } from './wire.js';

export interface PullerOptions {
  stream: string;
  durable: string;
  expiresMs: number;
  /** Other pullers share the credit: a drained one should then hold as little as possible. */
  sharesCredit: boolean;
  /** A message arrived for a pull request of ours: it now counts as in flight. */
  onMessage: (msg: Msg, info: AckInfo | undefined) => void;
  /** Credit came back (a request ended or was lost): ask the owner to pull again. */
  onCredit: () => void;
  onError: (error: Error) => void;
  /** The consumer seems gone (deleted, or a server that lost its state): create it again. */
  recreate: () => Promise<void>;
}

/** A second request may be sent while the first has this share of its batch or less left. */
const PIPELINE_DEPTH = 2;

/**
 * Pulls from one durable consumer with pull requests that never ask for more than the owner's free
 * credit — so deliveries held by this process never exceed prefetch, and nothing sits in a client
 * buffer while its ack_wait runs out. Up to two requests overlap so a busy consumer never waits a
 * round trip between batches; the server fills them oldest first.
 */
export class Puller {
  /** Messages asked for and not yet arrived, across the requests outstanding. */
  requested = 0;
  /**
   * Nothing is waiting on this consumer (its last message said so, or a request expired empty):
   * ask for one at a time, so a drained channel does not hold credit a busy one could use.
   */
  cold = false;
  /** Messages the server had left for this consumer at the last delivery (unknown at first). */
  backlog: number | undefined;
  /** Unfilled count of each outstanding request, oldest first. */
  private readonly open: number[] = [];
  private lastMessage = 0;
  private lastActivity = Date.now();
  private pausedUntil = 0;
  private inbox: string;
  private sub: Subscription;
  private stopped = false;
  private recreating = false;
  private readonly heartbeatMs: number;
  private readonly nextSubject: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: PullerOptions,
  ) {
    this.heartbeatMs = Math.max(500, Math.min(5_000, Math.floor(options.expiresMs / 4)));
    this.nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${options.stream}.${options.durable}`;
    this.inbox = createInbox();
    this.sub = this.listen();
  }

  private listen(): Subscription {
    return this.nc.subscribe(this.inbox, {
      callback: (error, msg) => (error ? this.options.onError(error) : this.receive(msg)),
    });
  }

  /**
   * May this puller send a request now: none outstanding, or (busy) one that is nearly filled
   * while `free` credit is worth a batch of its own.
   */
  canRequest(free: number, lowWater: number): boolean {
    if (this.stopped || Date.now() < this.pausedUntil || free <= 0) return false;
    if (this.open.length === 0) return true;
    return !this.cold && this.open.length < PIPELINE_DEPTH && this.requested <= lowWater && free >= lowWater;
  }

  request(batch: number): void {
    this.open.push(batch);
    this.requested += batch;
    this.lastActivity = Date.now();
    const body = { batch, expires: nanos(this.options.expiresMs), idle_heartbeat: nanos(this.heartbeatMs) };
    this.nc.publish(this.nextSubject, JSON.stringify(body), { reply: this.inbox });
  }

  /**
   * The connection came back. Messages sent to us while it was down are lost (they return after
   * ack_wait), so a request may never complete: pull afresh on a new inbox, which also keeps any
   * request the server still holds from delivering beyond our credit.
   */
  reconnected(): void {
    if (this.stopped) return;
    this.sub.unsubscribe();
    this.inbox = createInbox();
    this.sub = this.listen();
    this.forgetRequests(false);
  }

  /** Called on a timer: requests that show no sign of life (a restarted server lost them) are forgotten. */
  checkAlive(now: number): void {
    if (this.requested > 0 && now - this.lastActivity > this.heartbeatMs * 2 + 1000) {
      this.forgetRequests(false);
    } else if (this.open.length === 0 && this.pausedUntil > 0 && now >= this.pausedUntil) {
      this.pausedUntil = 0;
      this.options.onCredit();
    }
  }

  stop(): void {
    this.stopped = true;
    this.sub.unsubscribe();
    this.open.length = 0;
    this.requested = 0;
  }

  private receive(msg: Msg): void {
    const now = Date.now();
    this.lastActivity = now;
    const code = msg.headers?.code ?? 0;
    if (code === 0 && msg.reply) {
      if (this.open.length > 0) {
        this.requested--;
        if (--this.open[0]! <= 0) this.open.shift();
      }
      this.lastMessage = now;
      const info = parseAckSubject(msg.reply);
      this.backlog = info?.pending;
      // Alone, a caught-up consumer keeps asking in batches; sharing, it leaves credit to busy ones.
      this.cold = this.options.sharesCredit && this.backlog === 0;
      this.options.onMessage(msg, info);
      if (this.open.length < PIPELINE_DEPTH) this.options.onCredit();
      return;
    }
    if (code === 100) return; // idle heartbeat: the requests are alive
    if (code === 404 || code === 408) {
      // Requests expire in the order they were sent: this is the oldest one.
      const unfilled = this.open.shift() ?? 0;
      this.requested = Math.max(0, this.requested - unfilled);
      this.cold = this.open.length === 0 && now - this.lastMessage >= this.options.expiresMs;
      this.options.onCredit();
      return;
    }
    // 409 (consumer deleted, leadership change, limits) or 503 (nobody serves this consumer): back off briefly.
    if (code === 409 || code === 503) {
      const description = msg.headers?.description ?? '';
      if (!/exceeded maxwaiting/i.test(description)) {
        this.options.onError(new Error(`pull request on ${this.options.durable} ended: ${code} ${description}`));
      }
      this.pausedUntil = now + 1000;
      this.forgetRequests(false);
      if (code === 503 || /consumer deleted/i.test(description)) this.recreate();
    }
  }

  private recreate(): void {
    if (this.recreating || this.stopped) return;
    this.recreating = true;
    this.options
      .recreate()
      .catch((error: unknown) => this.options.onError(error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        this.recreating = false;
      });
  }

  private forgetRequests(cold: boolean): void {
    this.open.length = 0;
    this.requested = 0;
    this.cold = cold;
    this.options.onCredit();
  }
}
