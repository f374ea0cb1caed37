import { MessageTooLargeError, messageSize, redact, TransportError } from '@org/eventbus';
import { errors, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import type { LinkState } from './connection.js';
import { PubAckError, PubAcks } from './pub-acks.js';
import { toNatsHeaders, wireSize } from './wire.js';

export interface RawMessage {
  subject: string;
  id: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

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
  return /disconnect/i.test(String((error as Error)?.message));
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
            redact(`publish to "${message.subject}" failed${isTransient(error) ? ` within ${this.options.timeoutMs} ms` : ''}: ${(error as Error).message}`),
            { cause: error },
          );
        }
        await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5), Math.max(0, deadline - Date.now())), signal);
      }
    }
  }
}
