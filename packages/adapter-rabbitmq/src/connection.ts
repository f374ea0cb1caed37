import { EventEmitter } from 'node:events';
import { redact, TransportError } from '@org/eventbus';
import amqp, { type ChannelModel } from 'amqplib';
import { closeQuietly, errorMessage } from './wire.js';
import type { ResolvedOptions } from './options.js';

/** Sleep that a close can cut short. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export function transportError(what: string, error: unknown): TransportError {
  return new TransportError(redact(`${what}: ${errorMessage(error)}`), { cause: error });
}

/**
 * One AMQP connection that comes back after it is lost (exponential backoff with jitter). Channels
 * die with their connection, so users listen for `connected` and rebuild theirs (topology, consumers).
 * We reconnect ourselves rather than with amqplib's `recovery` option, because every channel and
 * consumer must be rebuilt in order on the new connection anyway.
 */
export class ConnectionManager extends EventEmitter<{ connected: [ChannelModel]; disconnected: [Error] }> {
  private current: ChannelModel | undefined;
  private waiters: { resolve: (model: ChannelModel) => void; reject: (error: Error) => void }[] = [];
  private connecting: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private everConnected = false;

  /** `name` shows in the broker's management UI (connection_name), so each connection says what it is for. */
  constructor(
    private readonly options: ResolvedOptions,
    private readonly name: string,
  ) {
    super();
  }

  get closed(): boolean {
    return this.stop.signal.aborted;
  }

  get connection(): ChannelModel | undefined {
    return this.current;
  }

  /** First connection: keeps trying until `connectTimeoutMs`, then rejects with the last error. */
  async start(): Promise<void> {
    await this.waitForConnection(Date.now() + this.options.connectTimeoutMs);
  }

  /** The open connection, or the next one (reconnecting if needed), or a rejection at `deadline`. */
  waitForConnection(deadline: number): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(new TransportError('rabbitmq transport is closed'));
    if (this.current) return Promise.resolve(this.current);
    this.ensureConnecting();
    return new Promise<ChannelModel>((resolve, reject) => {
      const waiter = {
        resolve: (model: ChannelModel) => {
          clearTimeout(timer);
          resolve(model);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(
        () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(
            new TransportError(
              `no connection to RabbitMQ at ${this.options.safeUrl} within ${Math.max(0, deadline - Date.now() + 1)} ms${
                this.lastError ? ` (last error: ${redact(errorMessage(this.lastError))})` : ''
              }`,
            ),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiters.push(waiter);
    });
  }

  private lastError: unknown;

  private ensureConnecting(): void {
    if (this.connecting || this.closed) return;
    this.connecting = this.connectLoop().finally(() => {
      this.connecting = undefined;
    });
  }

  private async connectLoop(): Promise<void> {
    let attempt = 0;
    const { reconnectInitialDelayMs: initial, reconnectMaxDelayMs: max } = this.options;
    while (!this.closed) {
      try {
        const model = await amqp.connect(this.options.url, {
          ...this.options.socketOptions,
          timeout: 10_000,
          clientProperties: { connection_name: this.name },
        });
        if (this.closed) {
          await model.close().catch(() => {});
          return;
        }
        this.adopt(model);
        return;
      } catch (error) {
        this.lastError = error;
        attempt++;
        const base = Math.min(max, initial * 2 ** (attempt - 1));
        this.options.logger?.warn({ err: redact(errorMessage(error)), attempt }, 'rabbitmq connection failed; retrying');
        await delay(base * (0.8 + Math.random() * 0.4), this.stop.signal);
      }
    }
  }

  private adopt(model: ChannelModel): void {
    this.current = model;
    model.on('error', (error: Error) => {
      this.lastError = error;
    });
    model.on('close', (error?: Error) => {
      if (this.current !== model) return;
      this.current = undefined;
      if (this.closed) return;
      const reason = transportError('rabbitmq connection lost', error ?? 'closed');
      this.options.logger?.warn({ err: reason.message }, 'rabbitmq connection lost; reconnecting');
      this.emit('disconnected', reason);
      this.ensureConnecting();
    });
    if (this.everConnected) this.options.logger?.info({ url: this.options.safeUrl }, 'rabbitmq reconnected');
    this.everConnected = true;
    for (const waiter of this.waiters.splice(0)) waiter.resolve(model);
    this.emit('connected', model);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stop.abort();
    const error = new TransportError('rabbitmq transport is closed');
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    const model = this.current;
    this.current = undefined;
    if (model) await closeQuietly(model);
  }
}
