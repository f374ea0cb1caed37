import { once } from 'node:events';
import { errorMessage, TransportError, UnroutableError } from '@org/eventbus';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { ConfirmWait, ConfirmWaits } from './confirm-waits.js';
import { type ConnectionManager, closeQuietly, type Wait, waitFor } from './connection.js';
import { LoginRefusedError, transportError } from './errors.js';
import type { TopologyNames } from './topology.js';

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

/**
 * Publishes through one confirm channel shared by every caller. Each message gets its own confirm
 * callback, but the broker acknowledges many at once (`multiple`), so a batch costs about one
 * round trip. A message whose channel died before its confirm is sent again on the next connection
 * until the deadline: at least once, never silently lost.
 */
export class Publisher {
  private channel: Promise<ConfirmChannel> | undefined;
  /** The open channel, once `channel` resolved: publishing on it needs no await. */
  private current: ConfirmChannel | undefined;
  /**
   * Messages the open channel's broker returned as unroutable (mandatory), by destination and id,
   * until their confirm: RabbitMQ sends a message's basic.return before its basic.ack.
   */
  private returned = new Map<string, number>();
  private readonly waits: ConfirmWaits;

  constructor(
    private readonly connection: ConnectionManager,
    private readonly names: TopologyNames,
    private readonly publishTimeoutMs: number,
  ) {
    this.waits = new ConfirmWaits(() => new TransportError(`RabbitMQ did not confirm the publish within ${publishTimeoutMs} ms (publishTimeoutMs)`));
  }

  /** A confirm channel on the current connection, for publishing and for declaring retry queues. */
  getChannel(wait: Wait): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    const opening = this.open(wait);
    this.channel = opening;
    opening.catch(() => {
      if (this.channel === opening) this.channel = undefined;
    });
    return opening;
  }

  private async open(wait: Wait): Promise<ConfirmChannel> {
    const model = await this.connection.waitForConnection(wait);
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
    const returned = new Map<string, number>();
    ch.on('return', ({ fields, properties }: Message) => {
      const key = returnKey(fields.exchange, fields.routingKey, properties.messageId);
      returned.set(key, (returned.get(key) ?? 0) + 1);
    });
    await ch.assertExchange(this.names.exchange, 'topic', { durable: true });
    await ch.assertExchange(this.names.deadLetterExchange, 'direct', { durable: true });
    this.returned = returned;
    this.current = ch;
    return ch;
  }

  /** Resolves when the broker confirmed every envelope; rejects on a refusal, the deadline or the signal. */
  async publish(envelopes: readonly Envelope[], signal?: AbortSignal): Promise<void> {
    const wait = waitFor(this.publishTimeoutMs, 'publishTimeoutMs');
    const { deadline } = wait;
    let pending = envelopes;
    let lastError: unknown;
    while (pending.length > 0) {
      signal?.throwIfAborted();
      if (deadline - Date.now() <= 0) {
        throw new TransportError(
          `${pending.length} message(s) not confirmed by RabbitMQ within ${this.publishTimeoutMs} ms (publishTimeoutMs)${lastError ? ` (${errorMessage(lastError)})` : ''}`,
          { cause: lastError },
        );
      }
      // The open channel without an await (a microtask hop per publish); else open one.
      let ch = this.current;
      if (ch === undefined) {
        try {
          ch = await this.getChannel(wait);
        } catch (error) {
          lastError = error;
          if (this.connection.closed) throw transportError('publish failed', error);
          // A refused login, or no connection until the deadline: the error names the cause and the option.
          if (error instanceof LoginRefusedError || deadline - Date.now() <= 0) throw error;
          // The connection is going down under us; give it a moment to be noticed and replaced.
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
      }
      const failed: Envelope[] = [];
      if (pending.length === 1) {
        // The common case (one event per POST), without the arrays of a batch.
        const sent = this.sendWait(ch, pending[0]!, deadline, signal);
        const outcome = await (sent instanceof ConfirmWait ? sent.settled : sent.then((w) => w.settled));
        if (outcome) {
          if (outcome.final) throw outcome.error;
          lastError = outcome.error;
          failed.push(pending[0]!);
        }
      } else {
        const waits: ConfirmWait[] = [];
        for (const envelope of pending) {
          // Await only a full socket buffer: an await per message would let amqplib flush each one in a write of its own.
          const sent = this.sendWait(ch, envelope, deadline, signal);
          waits.push(sent instanceof ConfirmWait ? sent : await sent);
        }
        const outcomes = await Promise.all(waits.map((w) => w.settled));
        for (const [i, outcome] of outcomes.entries()) {
          if (!outcome) continue;
          if (outcome.final) throw outcome.error;
          lastError = outcome.error;
          failed.push(pending[i]!);
        }
      }
      pending = failed;
      if (pending.length > 0 && this.connection.closed) throw transportError('publish failed', lastError);
    }
  }

  /** Writes one message; when the socket buffer is full, waits for `drain` (or the channel's death) first. */
  private sendWait(ch: ConfirmChannel, envelope: Envelope, deadline: number, signal?: AbortSignal): ConfirmWait | Promise<ConfirmWait> {
    const wait = this.waits.add(deadline, signal);
    if (wait.done || this.sendOne(ch, envelope, wait)) return wait;
    return untilDrainedOrClosed(ch).then(() => wait);
  }

  /** False when the socket buffer is full: wait for `drain` before writing more. */
  private sendOne(ch: ConfirmChannel, envelope: Envelope, wait: ConfirmWait): boolean {
    const { exchange, routingKey, body, options } = envelope;
    const returned = this.returned;
    try {
      return ch.publish(exchange, routingKey, body, options, (error: unknown) => {
        if (error) {
          const message = error instanceof Error ? error.message : String(error);
          if (message === 'message nacked') wait.finish({ error: new RefusedError(`RabbitMQ refused the message (nack) on ${routingKey}`), final: true });
          else wait.finish({ error, final: false });
        } else if (returned.size > 0 && takeReturn(returned, returnKey(exchange, routingKey, options.messageId))) {
          wait.finish({ error: this.unroutable(exchange, routingKey), final: true });
        } else wait.finish();
      });
    } catch (error) {
      // A RangeError from encoding (headers over 64 KiB) will not get better by retrying.
      if (error instanceof RangeError) wait.finish({ error: new RefusedError(error.message, { cause: error }), final: true });
      else wait.finish({ error, final: false });
      return true;
    }
  }

  /** What a returned message says: nobody receives the channel, or a retry or dead-letter destination is missing. */
  private unroutable(exchange: string, routingKey: string): TransportError {
    if (exchange === this.names.exchange) return new UnroutableError(routingKey);
    const where = exchange === '' ? `queue "${routingKey}" does not exist` : `nothing is bound to exchange "${exchange}" with routing key "${routingKey}"`;
    return new RefusedError(`RabbitMQ returned the message as unroutable: ${where}`);
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

function returnKey(exchange: string, routingKey: string, messageId: unknown): string {
  return `${exchange}\u0000${routingKey}\u0000${typeof messageId === 'string' ? messageId : ''}`;
}

function takeReturn(returned: Map<string, number>, key: string): boolean {
  const count = returned.get(key);
  if (count === undefined) return false;
  if (count <= 1) returned.delete(key);
  else returned.set(key, count - 1);
  return true;
}

/**
 * Resolves on the channel's `drain` or `close`, removing both listeners either way (two `once()`
 * promises in a race would leave the loser's listener on the channel for every wait).
 */
function untilDrainedOrClosed(ch: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      ch.off('drain', done);
      ch.off('close', done);
      resolve();
    };
    ch.on('drain', done);
    ch.on('close', done);
  });
}
