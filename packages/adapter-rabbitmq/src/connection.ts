import { EventEmitter } from 'node:events';
import { errorMessage, redact, TransportError } from '@org/eventbus';
import amqp, { type ChannelModel } from 'amqplib';
import { refusal, transportError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { coalesceWrites } from './write-coalescing.js';

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

/** How long a caller waits for a connection, and the option that sets it (named in the error). */
export interface Wait {
  deadline: number;
  timeoutMs: number;
  option: string;
}

export function waitFor(timeoutMs: number, option: string): Wait {
  return { deadline: Date.now() + timeoutMs, timeoutMs, option };
}

type OutageKind = 'lost' | 'refused' | 'timeout';

/**
 * The warnings of one transport's connections (one consuming, one or more publishing): each kind of
 * trouble is logged once per outage, however many connections meet it, and again after a recovery.
 */
export class OutageLog {
  private readonly warned = new Set<OutageKind>();

  constructor(private readonly logger: ResolvedOptions['logger']) {}

  warn(kind: OutageKind, connection: string, message: string): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    const text = kind === 'lost' ? 'rabbitmq connection lost; reconnecting' : 'rabbitmq: no connection';
    this.logger.warn({ connection, err: message }, text);
  }

  recovered(): void {
    this.warned.clear();
  }
}

/**
 * One AMQP connection that comes back after it is lost (exponential backoff with jitter). Channels
 * die with their connection, so users listen for `connected` and rebuild theirs (topology, consumers).
 * We reconnect ourselves rather than with amqplib's `recovery` option, because every channel and
 * consumer must be rebuilt in order on the new connection anyway.
 *
 * A refused login (or vhost) fails every waiting caller at once with that cause. Before the first
 * connection the loop then stops (the next call tries once more); after it, the loop keeps trying at
 * the longest backoff, so a running service comes back once the credentials are fixed.
 */
export class ConnectionManager extends EventEmitter<{ connected: [ChannelModel]; disconnected: [Error] }> {
  private current: ChannelModel | undefined;
  private waiters: { resolve: (model: ChannelModel) => void; reject: (error: Error) => void }[] = [];
  private connecting: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private everConnected = false;
  private lastError: unknown;

  /** The seed (index into `options.urls`) the next attempt connects to. */
  private seed: number;

  /**
   * `name` shows in the broker's management UI (connection_name), so each connection says what it
   * is for; `firstSeed` is where it starts among several seeds, so a transport's connections spread.
   */
  constructor(
    private readonly options: ResolvedOptions,
    private readonly name: string,
    private readonly outage: OutageLog,
    firstSeed = 0,
  ) {
    super();
    this.seed = firstSeed % options.urls.length;
  }

  /** The seed to try now; the next call moves on, so a dead node is tried again only after the others. */
  private nextSeed(): string {
    const url = this.options.urls[this.seed]!;
    this.seed = (this.seed + 1) % this.options.urls.length;
    return url;
  }

  get closed(): boolean {
    return this.stop.signal.aborted;
  }

  get connection(): ChannelModel | undefined {
    return this.current;
  }

  /** First connection: keeps trying until `connectTimeoutMs`, then rejects with the last error. */
  async start(): Promise<void> {
    await this.waitForConnection(waitFor(this.options.connectTimeoutMs, 'connectTimeoutMs'));
  }

  /** The open connection, or the next one (reconnecting if needed), or a rejection at the wait's deadline. */
  waitForConnection(wait: Wait): Promise<ChannelModel> {
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
          const error = this.timedOut(wait);
          this.warnOnce('timeout', error.message);
          reject(error);
        },
        Math.max(0, wait.deadline - Date.now()),
      );
      this.waiters.push(waiter);
    });
  }

  private timedOut({ timeoutMs, option }: Wait): TransportError {
    const cause = this.lastError === undefined ? 'no answer from the broker yet' : redact(errorMessage(this.lastError));
    return new TransportError(
      `could not connect to RabbitMQ at ${this.options.safeUrl} within ${timeoutMs} ms (${option}): ${cause}`,
      this.lastError === undefined ? {} : { cause: this.lastError },
    );
  }

  private ensureConnecting(): void {
    if (this.connecting || this.closed) return;
    this.connecting = this.connectLoop().finally(() => {
      this.connecting = undefined;
    });
  }

  /**
   * Tries the seeds in turn (after a lost connection, starting with the node after the one it was
   * on); backs off only after every seed failed once, so a dead node costs one refused connect.
   */
  private async connectLoop(): Promise<void> {
    let attempt = 0;
    let failures = 0;
    const { reconnectInitialDelayMs: initial, reconnectMaxDelayMs: max, logger, urls } = this.options;
    while (!this.closed) {
      try {
        const model = await amqp.connect(this.nextSeed(), {
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
        failures++;
        const refused = refusal(error, this.options);
        this.lastError = refused ?? error;
        if (refused) {
          this.warnOnce('refused', refused.message);
          for (const waiter of this.waiters.splice(0)) waiter.reject(refused);
          if (!this.everConnected) return;
          await delay(max * (0.8 + Math.random() * 0.4), this.stop.signal);
          continue;
        }
        logger.debug({ err: redact(errorMessage(error)), attempt: failures, connection: this.name }, 'rabbitmq connection attempt failed; retrying');
        if (failures % urls.length !== 0) continue;
        attempt++;
        const base = Math.min(max, initial * 2 ** (attempt - 1));
        await delay(base * (0.8 + Math.random() * 0.4), this.stop.signal);
      }
    }
  }

  private warnOnce(kind: OutageKind, message: string): void {
    this.outage.warn(kind, this.name, message);
  }

  private adopt(model: ChannelModel): void {
    coalesceWrites(model);
    this.current = model;
    this.lastError = undefined;
    this.outage.recovered();
    model.on('error', (error: Error) => {
      this.lastError = error;
    });
    model.on('close', (error?: Error) => {
      if (this.current !== model) return;
      this.current = undefined;
      if (this.closed) return;
      const reason = transportError(`rabbitmq connection lost (${this.name})`, error ?? 'closed by the broker');
      this.warnOnce('lost', reason.message);
      this.emit('disconnected', reason);
      this.ensureConnecting();
    });
    if (this.everConnected) this.options.logger.info({ url: this.options.safeUrl, connection: this.name }, 'rabbitmq reconnected');
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

/**
 * Closing a channel or connection waits for the broker's close-ok, which never comes if the socket
 * dies at that moment: wait for either, and never longer than `ms`.
 */
export async function closeQuietly(
  target: { close(): Promise<void>; once(event: 'close', listener: () => void): unknown },
  ms = 2_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    target.close().catch(() => {}),
    new Promise<void>((resolve) => target.once('close', () => resolve())),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
