import { createInbox, type Msg, type NatsConnection, nanos, type Subscription } from '@nats-io/transport-node';

export interface PullerOptions {
  stream: string;
  durable: string;
  expiresMs: number;
  /** A message arrived for a pull request of ours: it now counts as in flight. */
  onMessage: (msg: Msg) => void;
  /** Credit came back (a request ended or was lost): ask the owner to pull again. */
  onCredit: () => void;
  onError: (error: Error) => void;
}

/**
 * Pulls from one durable consumer with at most one pull request outstanding, each asking for no
 * more than the owner's free credit — so deliveries held by this process never exceed prefetch,
 * and nothing sits in a client buffer while its ack_wait runs out.
 */
export class Puller {
  /** Messages asked for and not yet arrived (0 when no request is outstanding). */
  requested = 0;
  /** The last request ended without a message: ask for one at a time until it wakes up. */
  cold = false;
  private delivered = 0;
  private lastActivity = Date.now();
  private pausedUntil = 0;
  private inbox: string;
  private sub: Subscription;
  private stopped = false;
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

  get idle(): boolean {
    return this.requested === 0 && Date.now() >= this.pausedUntil;
  }

  request(batch: number): void {
    this.requested = batch;
    this.delivered = 0;
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
    this.requested = 0;
    this.cold = false;
    this.options.onCredit();
  }

  /** Called on a timer: a request that shows no sign of life (server restarted) is forgotten. */
  checkAlive(now: number): void {
    if (this.requested > 0 && now - this.lastActivity > this.heartbeatMs * 2 + 1000) {
      this.endRequest(false);
    } else if (this.requested === 0 && this.pausedUntil > 0 && now >= this.pausedUntil) {
      this.pausedUntil = 0;
      this.options.onCredit();
    }
  }

  stop(): void {
    this.stopped = true;
    this.sub.unsubscribe();
    this.requested = 0;
  }

  private receive(msg: Msg): void {
    this.lastActivity = Date.now();
    const code = msg.headers?.code ?? 0;
    if (code === 0 && msg.reply) {
      if (this.requested > 0) this.requested--;
      this.delivered++;
      this.cold = false;
      this.options.onMessage(msg);
      if (this.requested === 0) this.options.onCredit();
      return;
    }
    if (code === 100) return; // idle heartbeat: the request is alive
    if (code === 404 || code === 408) {
      this.endRequest(this.delivered === 0);
      return;
    }
    // 409 (consumer deleted, leadership change, limits) or 503 (no JetStream right now): back off briefly.
    if (code === 409 || code === 503) {
      const description = msg.headers?.description ?? '';
      if (!/exceeded maxwaiting/i.test(description)) {
        this.options.onError(new Error(`pull request on ${this.options.durable} ended: ${code} ${description}`));
      }
      this.pausedUntil = Date.now() + 1000;
      this.endRequest(false);
    }
  }

  private endRequest(empty: boolean): void {
    this.requested = 0;
    this.cold = empty;
    this.options.onCredit();
  }
}
