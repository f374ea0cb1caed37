import { once } from 'node:events';
import { TransportError } from '@org/eventbus';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { type ConnectionManager, transportError } from './connection.js';
import type { TopologyNames } from './topology.js';
import { closeQuietly } from './wire.js';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** One AMQP publish: where to, and what. */
export interface Envelope {
  exchange: string;
  routingKey: string;
  body: Buffer;
  options: Options.Publish;
}

/** The broker said no (nack, or returned as unroutable): publishing again cannot help. */
class RefusedError extends TransportError {}

interface Attempt {
  confirmed: Promise<void>;
  /** False when the socket buffer is full: wait for `drain` before writing more. */
  writable: boolean;
}

/**
 * Publishes through one confirm channel shared by every caller. Each message gets its own confirm
 * callback, but the broker acknowledges many at once (`multiple`), so a batch costs about one
 * round trip. A message whose channel died before its confirm is sent again on the next connection
 * until the deadline: at least once, never silently lost.
 */
export class Publisher {
  private channel: Promise<ConfirmChannel> | undefined;
  private readonly returned = new Set<string>();

  constructor(
    private readonly connection: ConnectionManager,
    private readonly names: TopologyNames,
    private readonly publishTimeoutMs: number,
  ) {}

  /** A confirm channel on the current connection, for publishing and for declaring retry queues. */
  getChannel(deadline: number): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    const opening = this.open(deadline);
    this.channel = opening;
    opening.catch(() => {
      if (this.channel === opening) this.channel = undefined;
    });
    return opening;
  }

  private async open(deadline: number): Promise<ConfirmChannel> {
    const model = await this.connection.waitForConnection(deadline);
    const ch = await model.createConfirmChannel();
    ch.on('error', () => {
      // Channel errors also arrive as 'close' and as failed confirms; nothing more to do here.
    });
    ch.on('close', () => {
      if (this.current === ch) {
        this.current = undefined;
        this.channel = undefined;
      }
    });
    ch.on('return', (message: Message) => {
      const id = message.properties.messageId;
      if (typeof id === 'string') this.returned.add(id);
    });
    await ch.assertExchange(this.names.exchange, 'topic', { durable: true });
    await ch.assertExchange(this.names.deadLetterExchange, 'direct', { durable: true });
    this.current = ch;
    return ch;
  }

  private current: ConfirmChannel | undefined;

  /** Resolves when the broker confirmed every envelope; rejects on a refusal, the deadline or the signal. */
  async publish(envelopes: readonly Envelope[], signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.publishTimeoutMs;
    let pending = [...envelopes];
    let lastError: unknown;
    while (pending.length > 0) {
      signal?.throwIfAborted();
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new TransportError(
          `${pending.length} message(s) not confirmed by RabbitMQ within ${this.publishTimeoutMs} ms${lastError ? ` (${String((lastError as Error).message ?? lastError)})` : ''}`,
          { cause: lastError },
        );
      }
      let ch: ConfirmChannel;
      try {
        ch = await this.getChannel(deadline);
      } catch (error) {
        lastError = error;
        if (this.connection.closed) throw transportError('publish failed', error);
        // The connection is going down under us; give it a moment to be noticed and replaced.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const attempts = await this.sendAll(ch, pending);
      const outcomes = await withDeadline(
        Promise.allSettled(attempts.map((a) => a.confirmed)),
        deadline,
        signal,
      );
      const failed: Envelope[] = [];
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.status === 'fulfilled') continue;
        if (outcome.reason instanceof RefusedError) throw outcome.reason;
        lastError = outcome.reason;
        failed.push(pending[i]!);
      }
      pending = failed;
      if (pending.length > 0 && this.connection.closed) throw transportError('publish failed', lastError);
    }
  }

  private async sendAll(ch: ConfirmChannel, envelopes: readonly Envelope[]): Promise<Attempt[]> {
    const attempts: Attempt[] = [];
    for (const envelope of envelopes) {
      const attempt = this.sendOne(ch, envelope);
      attempts.push(attempt);
      if (!attempt.writable) {
        // Wait for the socket to drain (or the channel to die, which fails the remaining confirms).
        await Promise.race([once(ch, 'drain'), once(ch, 'close')]).catch(() => {});
      }
    }
    return attempts;
  }

  private sendOne(ch: ConfirmChannel, envelope: Envelope): Attempt {
    const { exchange, routingKey, body, options } = envelope;
    let writable = true;
    const confirmed = new Promise<void>((resolve, reject) => {
      try {
        writable = ch.publish(exchange, routingKey, body, options, (error: unknown) => {
          const id = options.messageId;
          const wasReturned = options.mandatory === true && id !== undefined && this.returned.delete(id);
          if (error) {
            const message = error instanceof Error ? error.message : String(error);
            if (message === 'message nacked') reject(new RefusedError(`RabbitMQ refused the message (nack) on ${routingKey}`));
            else reject(error);
          } else if (wasReturned) {
            reject(new RefusedError(`no queue is bound to channel "${routingKey}" (returned as unroutable; mandatory is on)`));
          } else resolve();
        });
      } catch (error) {
        writable = true;
        // A RangeError from encoding (headers over 64 KiB) will not get better by retrying.
        reject(error instanceof RangeError ? new RefusedError(error.message, { cause: error }) : error);
      }
    });
    return { confirmed, writable };
  }

  /** Waits for outstanding confirms on the open channel; a channel still waiting for a connection is abandoned. */
  async close(): Promise<void> {
    const ch = this.current;
    this.channel = undefined;
    this.current = undefined;
    if (!ch) return;
    // Publishes in progress already wait for their own confirms; this bounds the wait for stragglers.
    await Promise.race([ch.waitForConfirms().catch(() => {}), once(ch, 'close'), delay(this.publishTimeoutMs)]);
    await closeQuietly(ch);
  }
}

function withDeadline<T>(work: Promise<T>, deadline: number, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => finish(() => reject(signal?.reason ?? new Error('aborted')));
    const timer = setTimeout(
      () => finish(() => reject(new TransportError('RabbitMQ did not confirm the publish in time'))),
      Math.max(0, deadline - Date.now()),
    );
    function finish(then: () => void) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      then();
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error)),
    );
  });
}
