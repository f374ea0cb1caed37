import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** Why an ack did not come: the attempt may be resent (same Nats-Msg-Id) unless `final`. */
export class PubAckError extends Error {
  override readonly name = 'PubAckError';
  constructor(
    message: string,
    readonly final: boolean,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: (outcome: 'acked' | 'lost') => void;
  reject: (error: Error) => void;
  deadline: number;
}

const decoder = new TextDecoder();

/** The reason a reply is not a successful publish ack, or undefined when it is one. */
function ackError(msg: Msg): PubAckError | undefined {
  const code = msg.headers?.code ?? 0;
  // No stream listens on the subject (yet, or the server is still starting JetStream).
  if (code === 503) return new PubAckError('no JetStream stream answered (no responders)', false);
  if (code !== 0) return new PubAckError(`${code} ${msg.headers?.description ?? ''}`.trim(), false);
  let ack: { stream?: string; error?: { code?: number; description?: string } };
  try {
    ack = JSON.parse(decoder.decode(msg.data)) as typeof ack;
  } catch {
    return new PubAckError('unreadable publish ack', false);
  }
  if (ack.error) {
    const unavailable = ack.error.code === 503;
    return new PubAckError(`JetStream refused the message: ${ack.error.description ?? ack.error.code}`, !unavailable);
  }
  return ack.stream ? undefined : new PubAckError('publish ack without a stream', false);
}

/**
 * JetStream publish acks over one wildcard reply subscription. `js.publish()` does the same through
 * the client's request machinery, which builds an Error (with a stack) and a timer for every
 * request; at thousands of events a second that was a tenth of the publish cost. Timeouts here are
 * swept by one timer, and a dropped connection settles every ack still awaited as `lost` at once.
 */
export class PubAcks {
  private readonly prefix = createInbox();
  private readonly pending = new Map<string, Pending>();
  private readonly sub: Subscription;
  private readonly sweeper: NodeJS.Timeout;
  private seq = 0;

  constructor(private readonly nc: NatsConnection) {
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (_error, msg) => this.receive(msg) });
    this.sweeper = setInterval(() => this.sweep(), 100);
    this.sweeper.unref();
  }

  /** Resolves `acked` once stored (or found a duplicate), `lost` if the connection dropped first. */
  publish(subject: string, body: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<'acked' | 'lost'> {
    const token = (++this.seq).toString(36);
    return new Promise((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + timeoutMs });
      try {
        this.nc.publish(subject, body, { reply: `${this.prefix}.${token}`, headers });
      } catch (error) {
        this.pending.delete(token);
        reject(error);
      }
    });
  }

  /** The connection dropped: no ack awaited on it will come. */
  lost(): void {
    for (const p of this.pending.values()) p.resolve('lost');
    this.pending.clear();
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    for (const p of this.pending.values()) p.reject(new PubAckError('the connection was closed', true));
    this.pending.clear();
  }

  private receive(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length + 1);
    const p = this.pending.get(token);
    if (!p) return;
    this.pending.delete(token);
    const error = ackError(msg);
    if (error) p.reject(error);
    else p.resolve('acked');
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(token);
      p.reject(new PubAckError('timeout', false));
    }
  }
}
