import { errorMessage, MessageTooLargeError, messageSize, redact, TransportError } from '@org/eventbus';
import { createInbox, errors, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { LinkState } from './connection.js';
import { fitDeadLetter, type RawMessage, toNatsHeaders, wireSize } from './wire.js';

interface PublisherOptions {
  timeoutMs: number;
  concurrency: number;
  maxMessageBytes: number;
}

/** One attempt waits this long for its ack before the same id is sent again. */
const ATTEMPT_TIMEOUT_MS = 5_000;

function isTransient(error: unknown): boolean {
  if (error instanceof PubAckError) return !error.final;
  if (error instanceof errors.ClosedConnectionError || error instanceof errors.DrainingConnectionError) return false;
  return /disconnect/i.test(errorMessage(error));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Publishes with the event id as Nats-Msg-Id and waits for the server's ack. A lost ack (cut
 * connection, restarting server) is retried with the same id until the deadline: the server's
 * duplicate window makes the retry harmless, so "resolved" always means "stored once".
 */
export class Publisher {
  private readonly acks: PubAcks;

  constructor(
    private readonly nc: NatsConnection,
    private readonly link: LinkState,
    private readonly options: PublisherOptions,
  ) {
    this.acks = new PubAcks(nc);
  }

  /** The connection dropped: stop waiting for acks sent on it and resend (the same id) at once. */
  disconnected(): void {
    this.acks.lost();
  }

  close(): void {
    this.acks.close();
  }

  /** The server's max_payload: the hard bound on one message (headers included). */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Check every message first so a batch is refused whole, never half sent. `limit: false` skips
   * the publish limit (maxMessageBytes) and keeps only max_payload: a dead letter carries what the
   * server already accepted, whatever the publish limit says.
   */
  prepare(messages: readonly RawMessage[], limit = true): { message: RawMessage; headers: MsgHdrs }[] {
    const maxPayload = this.maxPayload;
    return messages.map((message) => {
      if (limit) {
        const size = messageSize(message);
        if (size > this.options.maxMessageBytes) throw new MessageTooLargeError(size, this.options.maxMessageBytes);
      }
      const headers = toNatsHeaders(message.headers, message.id);
      const onWire = wireSize(message);
      if (onWire > maxPayload) throw new MessageTooLargeError(onWire, maxPayload, 'message with its NATS headers');
      return { message, headers };
    });
  }

  /** A dead letter carries what the server delivered: only max_payload bounds it, not maxMessageBytes. */
  publishDeadLetter(message: RawMessage): Promise<void> {
    return this.publishAll([fitDeadLetter(message, this.maxPayload)], undefined, false);
  }

  /** Publish all with bounded parallelism; resolve when every one is acked, reject on the first failure. */
  async publishAll(messages: readonly RawMessage[], signal?: AbortSignal, limit = true): Promise<void> {
    const prepared = this.prepare(messages, limit);
    if (prepared.length <= this.options.concurrency) {
      const results = await Promise.allSettled(prepared.map((p) => this.publishOne(p.message, p.headers, signal)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      return;
    }
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && next < prepared.length) {
        const item = prepared[next++]!;
        try {
          await this.publishOne(item.message, item.headers, signal);
        } catch (error) {
          failure ??= error;
        }
      }
    };
    const workers = Math.min(this.options.concurrency, prepared.length);
    await Promise.all(Array.from({ length: workers }, worker));
    if (failure !== undefined) throw failure;
  }

  private async publishOne(message: RawMessage, headers: MsgHdrs, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.options.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      // Sent while reconnecting, it would be dropped by the client: wait for the link instead.
      if (!this.link.connected && !(await this.link.waitUntilConnected(deadline - Date.now(), signal))) {
        signal?.throwIfAborted();
        throw new TransportError(
          `publish to "${message.subject}" failed: not reconnected to NATS within ${this.options.timeoutMs} ms`,
        );
      }
      const remaining = deadline - Date.now();
      try {
        const timeoutMs = Math.max(100, Math.min(ATTEMPT_TIMEOUT_MS, remaining));
        if ((await this.acks.publish(message.subject, message.body, headers, timeoutMs)) === 'acked') return;
        // The connection dropped: go round again, waiting for it (same id, so no duplicate).
        if (Date.now() >= deadline) throw new PubAckError('timeout', false);
      } catch (error) {
        signal?.throwIfAborted();
        if (!isTransient(error) || this.nc.isClosed() || deadline - Date.now() <= 0) {
          throw new TransportError(
            redact(`publish to "${message.subject}" failed${isTransient(error) ? ` within ${this.options.timeoutMs} ms` : ''}: ${errorMessage(error)}`),
            { cause: error },
          );
        }
        await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5), Math.max(0, deadline - Date.now())), signal);
      }
    }
  }
}

/** Why an ack did not come: the attempt may be resent (same Nats-Msg-Id) unless `final`. */
class PubAckError extends Error {
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
class PubAcks {
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
