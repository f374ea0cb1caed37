import {
  ConfigError,
  consoleLogger,
  flag,
  type Logger,
  matching,
  oneOf,
  optionsFromQuery,
  positiveNumber,
  redact,
  safeLogger,
  wholeNumber,
} from '@org/eventbus';
import { splitSeeds } from './seeds.js';
import { MAX_DELAY_MS } from './topology.js';

export type QueueType = 'quorum' | 'classic';

/** How eventbus declares its queues: the type, and for quorum queues how many nodes hold each. */
export interface QueueSpec {
  type: QueueType;
  /** `x-quorum-initial-group-size`; undefined leaves it to the broker (`quorum_cluster_size`, 3, at most every node). */
  initialGroupSize: number | undefined;
}

export interface RabbitMqTransportOptions {
  /**
   * amqp:// or amqps:// URL: user, password, host, port, vhost and query (heartbeat, frameMax…). A
   * cluster may be given by several hosts (`amqp://u:p@rabbit-1:5672,rabbit-2,rabbit-3/vhost`): each
   * connection tries them in turn, on connect and on every reconnect.
   */
  url: string;
  /** Connect to this address instead of the URL's host and port (a proxy), keeping everything else. */
  endpoint?: { host: string; port: number };
  /** The topic exchange every channel is a routing key on. Default "eventbus". */
  exchange?: string;
  /** Queue type of group, dead-letter and retry queues. Default "quorum" (replicated, counts redeliveries). */
  queueType?: QueueType;
  /**
   * Quorum queues only: how many nodes hold each new queue (`x-quorum-initial-group-size`), e.g. 3 or
   * 5; a group of n survives the loss of (n-1)/2 of them. Default: not sent, so the broker's own
   * default applies (`quorum_cluster_size`, 3, capped at the nodes the cluster has). The argument is
   * fixed when a queue is created: setting it for queues that exist without it (or with another
   * value) is refused by RabbitMQ (PRECONDITION_FAILED); grow existing queues with `rabbitmq-queues grow`.
   */
  quorumInitialGroupSize?: number;
  /**
   * Always on: every publish carries the mandatory flag, so a message no group's queue is bound for
   * is returned by RabbitMQ and `publish` rejects with `UnroutableError` (provision groups first with
   * `bus.provision()`). Accepted for compatibility; `false` is refused, since it would drop such
   * messages silently.
   */
  mandatory?: true;
  /**
   * Connections that publish, each with one confirm channel, besides the one consumers use. Default 2:
   * the broker handles each connection serially, so a second one lets a publisher use a second broker
   * core. Concurrent publish calls may then reach a queue in a different order than they were made
   * (one call, and calls whose first event has the same key, keep theirs); 1 keeps call order.
   */
  publishers?: number;
  /** How long a publish may wait for the broker (reconnection included) before it rejects. Default 30 s. */
  publishTimeoutMs?: number;
  /** How long `connect()` keeps trying before it rejects. Default 15 s. */
  connectTimeoutMs?: number;
  /** How long a closing subscription waits for deliveries already handed out. Default 30 s. */
  drainTimeoutMs?: number;
  /**
   * How events are laid out on the wire (CloudEvents AMQP binding). "structured" (default): the
   * whole event as one JSON body, `content-type: application/cloudevents+json`; "binary": attributes
   * as `cloudEvents_` headers, the data alone in the body. Either mode reads both (docs/decisions/0008).
   */
  wireMode?: 'structured' | 'binary';
  /** Largest message (headers + body). Default 4 MiB; RabbitMQ's own limit is max_message_size. */
  maxMessageBytes?: number;
  /**
   * Longest hold of one step (a delayed nack, a deferral hop), in whole ms ≥ 1000. Default RabbitMQ's
   * own maximum, the 32-bit per-message TTL (2^31 - 1 ms, about 24.8 days); core chains longer waits
   * as hops. Lower it only to exercise those hops quickly (tests).
   */
  maxDelayMs?: number;
  /** AMQP heartbeat in seconds: how fast a silent dead peer is noticed. Default 10. */
  heartbeatSeconds?: number;
  /** Reconnect backoff after a lost connection. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** TLS options for amqps:// (ca, cert, key, passphrase, servername, rejectUnauthorized…), passed to tls.connect. */
  tls?: Record<string, unknown>;
  /**
   * Where connection loss, refused logins and subscription errors are reported, one warning line
   * each. Default: core's `consoleLogger('warn')`. Every line passes through `redact`.
   */
  logger?: Logger;
}

export interface ResolvedOptions {
  /** One connection URL per seed node (one for a URL with one host). */
  urls: string[];
  safeUrl: string;
  exchange: string;
  queue: QueueSpec;
  publishers: number;
  publishTimeoutMs: number;
  connectTimeoutMs: number;
  drainTimeoutMs: number;
  wireMode: 'structured' | 'binary';
  maxMessageBytes: number;
  maxDelayMs: number;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  socketOptions: Record<string, unknown>;
  logger: Logger;
  /** The user the URL logs in as (amqplib's default when it names none), for error messages. */
  user: string;
  vhost: string;
}

/** eventbus options that may ride in the URL's query; amqplib's own (heartbeat, frameMax…) stay in the URL. */
const URL_OPTIONS = {
  exchange: 'string',
  queueType: 'string',
  quorumInitialGroupSize: 'number',
  mandatory: 'boolean',
  publishers: 'number',
  publishTimeoutMs: 'number',
  connectTimeoutMs: 'number',
  drainTimeoutMs: 'number',
  wireMode: 'string',
  maxMessageBytes: 'number',
  maxDelayMs: 'number',
} as const;

function parseAmqpUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw new ConfigError('url', `"${redact(url)}" is not a URL (expected amqp://user:pass@host:5672/vhost)`);
  }
}

/**
 * What `fromUrl('amqp://…')` builds on. Connection details come from the URL, eventbus options from
 * its query (`?exchange=orders&queueType=classic`) or from `extra`; where both give one, the URL wins.
 * The values are checked by `resolveOptions`, as any other options are.
 */
export function optionsFromUrl(url: string, extra: Record<string, unknown> = {}): RabbitMqTransportOptions {
  const seeds = splitSeeds(url);
  // Every seed carries the same query: read it from the first.
  const parsed = parseAmqpUrl(seeds[0]!);
  const fromQuery = optionsFromQuery(parsed.searchParams, URL_OPTIONS);
  return { ...(extra as Partial<RabbitMqTransportOptions>), ...fromQuery, url: seeds.length === 1 ? parsed.toString() : url };
}

function connectionUrl(url: string, endpoint: RabbitMqTransportOptions['endpoint'], heartbeatSeconds: number): { url: string; user: string; vhost: string } {
  const parsed = parseAmqpUrl(url);
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new ConfigError('url', `scheme must be amqp:// or amqps:// (got ${parsed.protocol}//)`);
  }
  if (endpoint) {
    parsed.hostname = endpoint.host;
    parsed.port = String(endpoint.port);
  }
  // A dead peer behind a silent network is only noticed by heartbeats; the URL may set its own.
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(heartbeatSeconds));
  const text = parsed.toString();
  // amqplib: no user in the URL logs in as guest; the path (minus its slash) is the vhost, "/" when empty.
  const user = parsed.username ? decodeURIComponent(parsed.username) : 'guest';
  const vhost = parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/';
  return { url: text, user, vhost };
}

/** The URL of every seed (an endpoint replaces them all), and what error messages show of them. */
function connectionUrls(
  url: string,
  endpoint: RabbitMqTransportOptions['endpoint'],
  heartbeatSeconds: number,
): { urls: string[]; safeUrl: string; user: string; vhost: string } {
  const seeds = splitSeeds(url);
  const each = (endpoint ? seeds.slice(0, 1) : seeds).map((seed) => connectionUrl(seed, endpoint, heartbeatSeconds));
  const urls = each.map((seed) => seed.url);
  const { user, vhost } = each[0]!;
  return { urls, safeUrl: redact(urls.length === 1 ? urls[0]! : url), user, vhost };
}

export function resolveOptions(options: RabbitMqTransportOptions): ResolvedOptions {
  if (typeof options.url !== 'string') throw new ConfigError('url', 'is required');
  const exchange = matching('exchange', options.exchange, /^(?!amq\.)[\s\S]+$/, 'must be a non-empty name not starting with "amq."', 'eventbus');
  const queueType = oneOf('queueType', options.queueType, ['quorum', 'classic'], 'quorum');
  const initialGroupSize =
    options.quorumInitialGroupSize === undefined ? undefined : wholeNumber('quorumInitialGroupSize', options.quorumInitialGroupSize, 3, { min: 1, max: 255 });
  if (initialGroupSize !== undefined && queueType !== 'quorum') {
    throw new ConfigError('quorumInitialGroupSize', `applies to quorum queues only (queueType is "${queueType}")`);
  }
  if (!flag('mandatory', options.mandatory, true)) {
    throw new ConfigError(
      'mandatory',
      'is always on and can only be true (got false): a publish no group receives rejects with UnroutableError instead of vanishing; provision groups with bus.provision() before publishing',
    );
  }
  if (options.tls !== undefined && (options.tls === null || typeof options.tls !== 'object')) {
    throw new ConfigError('tls', 'must be an object of TLS options');
  }
  const heartbeatSeconds = positiveNumber('heartbeatSeconds', options.heartbeatSeconds, 10);
  const initial = positiveNumber('reconnect.initialDelayMs', options.reconnect?.initialDelayMs, 100);
  return {
    ...connectionUrls(options.url, options.endpoint, heartbeatSeconds),
    exchange,
    queue: { type: queueType, initialGroupSize },
    publishers: wholeNumber('publishers', options.publishers, 2, { min: 1, max: 16 }),
    publishTimeoutMs: positiveNumber('publishTimeoutMs', options.publishTimeoutMs, 30_000),
    connectTimeoutMs: positiveNumber('connectTimeoutMs', options.connectTimeoutMs, 15_000),
    drainTimeoutMs: positiveNumber('drainTimeoutMs', options.drainTimeoutMs, 30_000),
    wireMode: oneOf('wireMode', options.wireMode, ['structured', 'binary'], 'structured'),
    maxMessageBytes: positiveNumber('maxMessageBytes', options.maxMessageBytes, 4 * 1024 * 1024),
    maxDelayMs: wholeNumber('maxDelayMs', options.maxDelayMs, MAX_DELAY_MS, { min: 1000, max: MAX_DELAY_MS }),
    reconnectInitialDelayMs: initial,
    reconnectMaxDelayMs: Math.max(initial, positiveNumber('reconnect.maxDelayMs', options.reconnect?.maxDelayMs, 5_000)),
    socketOptions: { noDelay: true, ...(options.tls ?? {}) },
    logger: safeLogger(options.logger ?? consoleLogger('warn')),
  };
}
