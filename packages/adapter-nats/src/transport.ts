import {
  checkSubscribeOptions,
  ConfigError,
  consoleLogger,
  type DeliveryHandler,
  errorMessage,
  type GroupTopology,
  hideSecrets,
  type Logger,
  type OutgoingMessage,
  PendingWork,
  type PublishOptions,
  redact,
  safeLogger,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportCapabilities,
  TransportError,
} from '@org/eventbus';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { type ConnectionOptions, connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { fitDeadLetter } from './dead-letter.js';
import { LinkState } from './connection.js';
import { type NatsTransportOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { NatsSubscription, type PullTarget, deadLetterChannel } from './subscription.js';
import { Publisher, type RawMessage } from './publisher.js';
import { deadLetterStream, ensureConsumer, ensureStreams } from './topology.js';
import {
  channelSubject,
  deadLetterDurable,
  deadLetterSubject,
  groupDurable,
  KEY_HEADER,
} from './wire.js';

interface Connected {
  nc: NatsConnection;
  link: LinkState;
  jsm: JetStreamManager;
  publisher: Publisher;
}

/**
 * Transport over NATS JetStream: one stream per subject prefix, a durable pull consumer per group
 * and channel, dead letters in a stream of their own. Moves bytes and settles deliveries; retry
 * policy, decoding and routing stay in core.
 */
export class NatsTransport implements Transport {
  readonly name = 'nats';
  readonly capabilities: TransportCapabilities;
  private readonly options: ResolvedOptions;
  private readonly logger: Logger;
  private connecting: Promise<Connected> | undefined;
  private readonly subscriptions = new Set<NatsSubscription>();
  private readonly publishes = new PendingWork();
  private closing: Promise<void> | undefined;

  constructor(options: NatsTransportOptions) {
    this.options = resolveOptions(options);
    this.logger = safeLogger(options.logger ?? consoleLogger('warn'), { transport: 'nats' });
    const { servers, user, prefix, stream } = this.options;
    hideSecrets(this, () => ({ servers: servers.join(','), ...(user === undefined ? {} : { user }), prefix, stream }));
    this.capabilities = {
      encoding: { mode: 'binary', attributePrefix: 'ce-' },
      // Competing pull consumers with prefetch > 1 (and redelivery) interleave one key's events.
      orderingPerKey: false,
      nativeDelay: true,
      maxDelayMs: 2_147_483_647,
      nativeDeadLetter: true,
      unroutedPublish: 'kept',
      maxMessageBytes: this.options.maxMessageBytes,
    };
  }

  connect(): Promise<void> {
    return this.connection().then(() => undefined);
  }

  async publish(messages: readonly OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const raw = messages.map((m): RawMessage => {
      const headers = { ...m.headers };
      if (m.key !== undefined && headers['ce-partitionkey'] !== m.key) headers[KEY_HEADER] = m.key;
      return { subject: channelSubject(this.options.prefix, m.channel), id: m.id, headers, body: m.body };
    });
    const { publisher } = await this.connection();
    await this.publishes.track(publisher.publishAll(raw, options.signal));
  }

  async subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    this.assertOpen();
    checkSubscribeOptions(options);
    const { nc, jsm, link } = await this.connection();
    const { group } = options;
    const opts = this.options;
    let targets: PullTarget[];
    try {
      targets = await this.declare(jsm, options);
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new TransportError(redact(`cannot set up the consumers of group "${group}": ${(error as Error).message}`), { cause: error });
    }
    const onError = (error: Error) => options.onError?.(error);
    const subscription = new NatsSubscription(
      {
        nc,
        link,
        group,
        prefetch: options.prefetch,
        deadLetters: options.deadLetters === true,
        ackWaitMs: Math.min(opts.ackWaitMs, ...opts.backoffMs),
        maxDeliver: opts.maxDeliver,
        drainTimeoutMs: opts.drainTimeoutMs,
        pullExpiresMs: opts.pullExpiresMs,
        onError,
        publishDeadLetter: (headers, body, id) =>
          this.publishDeadLetter({ subject: deadLetterSubject(opts.deadLetterPrefix, group), id, headers, body }),
        onClosed: () => this.subscriptions.delete(subscription),
      },
      targets,
      onDelivery,
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Create each group's durable consumers (and the streams) as `subscribe` does, without pulling:
   * from then on the streams keep every event for the group, even with `deliverPolicy: 'new'`.
   */
  async provision(groups: readonly GroupTopology[]): Promise<void> {
    this.assertOpen();
    const { jsm } = await this.connection();
    for (const { group, channels } of groups) {
      try {
        await this.declare(jsm, { group, channels, prefetch: 1 });
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        throw new TransportError(redact(`cannot provision the consumers of group "${group}": ${errorMessage(error)}`), { cause: error });
      }
    }
  }

  /** The durable consumers a subscription reads: one per channel, or the group's dead letters. */
  private async declare(jsm: JetStreamManager, options: SubscribeOptions): Promise<PullTarget[]> {
    const opts = this.options;
    const { group } = options;
    if (options.deadLetters) {
      const stream = deadLetterStream(opts);
      const durable = deadLetterDurable(group);
      const ensure = () => ensureConsumer(jsm, stream, durable, deadLetterSubject(opts.deadLetterPrefix, group), opts);
      await ensure();
      return [{ stream, durable, channelOf: deadLetterChannel, ensure: () => ensureStreams(jsm, opts).then(ensure) }];
    }
    const targets: PullTarget[] = [];
    for (const channel of new Set(options.channels)) {
      const durable = groupDurable(group, channel);
      const ensure = () => ensureConsumer(jsm, opts.stream, durable, channelSubject(opts.prefix, channel), opts);
      await ensure();
      // Recreating after a loss also brings back the streams, in case they went too.
      targets.push({ stream: opts.stream, durable, channelOf: () => channel, ensure: () => ensureStreams(jsm, opts).then(ensure) });
    }
    return targets;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions].map((s) => s.close()));
      await this.publishes.settled();
      const connected = await this.connecting?.catch(() => undefined);
      if (!connected) return;
      connected.publisher.close();
      if (connected.nc.isClosed()) return;
      try {
        await connected.nc.drain();
      } catch {
        await connected.nc.close();
      }
    })();
    return this.closing;
  }

  /** A dead letter carries what the server delivered: only max_payload bounds it, not maxMessageBytes. */
  private async publishDeadLetter(message: RawMessage): Promise<void> {
    const { publisher } = await this.connection();
    await publisher.publishAll([fitDeadLetter(message, publisher.maxPayload)], undefined, false);
  }

  private connection(): Promise<Connected> {
    this.assertOpen();
    this.connecting ??= this.open();
    // A failed first connect may be retried by the next call.
    this.connecting.catch(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<Connected> {
    const opts = this.options;
    const connectOptions: ConnectionOptions = {
      servers: opts.servers,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs,
      reconnectJitter: 100,
      pingInterval: 10_000,
      // An Error (with a captured stack) per request is a tenth of the publish cost; our own
      // errors say which subject failed.
      noAsyncTraces: true,
    };
    if (opts.user !== undefined) connectOptions.user = opts.user;
    if (opts.pass !== undefined) connectOptions.pass = opts.pass;
    if (opts.token !== undefined) connectOptions.token = opts.token;
    if (opts.tls) connectOptions.tls = {};
    let nc: NatsConnection;
    try {
      nc = await connect(connectOptions);
    } catch (error) {
      const where = opts.servers.join(', ');
      // The server answered and refused: retrying the same credentials cannot help, so say it at once.
      if (error instanceof errors.AuthorizationError || /authori[sz]ation violation/i.test(errorMessage(error))) {
        const who = opts.user !== undefined ? `user "${opts.user}"` : opts.token !== undefined ? 'the token' : 'an anonymous client';
        throw new TransportError(redact(`NATS authentication failed for ${who} at ${where}: check the user, password or token`), {
          cause: error,
        });
      }
      throw new TransportError(redact(`cannot connect to NATS at ${where}: ${errorMessage(error)}`), { cause: error });
    }
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStreams(jsm, opts);
      const link = new LinkState();
      const publisher = new Publisher(nc, link, {
        timeoutMs: opts.publishTimeoutMs,
        concurrency: opts.publishConcurrency,
        maxMessageBytes: opts.maxMessageBytes,
      });
      void this.watchStatus(nc, link, publisher);
      return { nc, link, jsm, publisher };
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw new TransportError(redact(`cannot set up JetStream streams: ${(error as Error).message}`), { cause: error });
    }
  }

  private async watchStatus(nc: NatsConnection, link: LinkState, publisher: Publisher): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.logger.warn(
          { server: status.server },
          'NATS connection lost; reconnecting for ever (publishes and settles wait for it, bounded by publishTimeoutMs)',
        );
        link.disconnected();
        publisher.disconnected();
      } else if (status.type === 'reconnect') {
        this.logger.info({ server: status.server }, 'NATS connection restored');
        link.reconnected();
        for (const s of this.subscriptions) s.reconnected();
      } else if (status.type === 'error') {
        this.logger.warn({ error: errorMessage(status.error) }, 'NATS server reported an error on the connection');
      }
    }
  }

  private assertOpen(): void {
    if (this.closing) throw new TransportError('nats transport is closed');
  }
}
