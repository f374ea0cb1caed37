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

export type QueueType = 'quorum' | 'classic';

export interface RabbitMqTransportOptions {
  /** amqp:// or amqps:// URL: user, password, host, port, vhost and query (heartbeat, frameMax…). */
  url: string;
  /** Connect to this address instead of the URL's host and port (a proxy), keeping everything else. */
  endpoint?: { host: string; port: number };
  /** The topic exchange every channel is a routing key on. Default "eventbus". */
  exchange?: string;
  /** Queue type of group, dead-letter and retry queues. Default "quorum" (replicated, counts redeliveries). */
  queueType?: QueueType;
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
  /** Largest message (headers + body). Default 4 MiB; RabbitMQ's own limit is max_message_size. */
  maxMessageBytes?: number;
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
  url: string;
  safeUrl: string;
  exchange: string;
  queueType: QueueType;
  publishers: number;
  publishTimeoutMs: number;
  connectTimeoutMs: number;
  drainTimeoutMs: number;
  maxMessageBytes: number;
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
  mandatory: 'boolean',
  publishers: 'number',
  publishTimeoutMs: 'number',
  connectTimeoutMs: 'number',
  drainTimeoutMs: 'number',
  maxMessageBytes: 'number',
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
  const parsed = parseAmqpUrl(url);
  const fromQuery = optionsFromQuery(parsed.searchParams, URL_OPTIONS);
  return { ...(extra as Partial<RabbitMqTransportOptions>), ...fromQuery, url: parsed.toString() };
}

function connectionUrl(
  url: string,
  endpoint: RabbitMqTransportOptions['endpoint'],
  heartbeatSeconds: number,
): { url: string; safeUrl: string; user: string; vhost: string } {
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
  return { url: text, safeUrl: redact(text), user, vhost };
}

export function resolveOptions(options: RabbitMqTransportOptions): ResolvedOptions {
  if (typeof options.url !== 'string') throw new ConfigError('url', 'is required');
  const exchange = matching('exchange', options.exchange, /^(?!amq\.)[\s\S]+$/, 'must be a non-empty name not starting with "amq."', 'eventbus');
  const queueType = oneOf('queueType', options.queueType, ['quorum', 'classic'], 'quorum');
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
    ...connectionUrl(options.url, options.endpoint, heartbeatSeconds),
    exchange,
    queueType,
    publishers: wholeNumber('publishers', options.publishers, 2, { min: 1, max: 16 }),
    publishTimeoutMs: positiveNumber('publishTimeoutMs', options.publishTimeoutMs, 30_000),
    connectTimeoutMs: positiveNumber('connectTimeoutMs', options.connectTimeoutMs, 15_000),
    drainTimeoutMs: positiveNumber('drainTimeoutMs', options.drainTimeoutMs, 30_000),
    maxMessageBytes: positiveNumber('maxMessageBytes', options.maxMessageBytes, 4 * 1024 * 1024),
    reconnectInitialDelayMs: initial,
    reconnectMaxDelayMs: Math.max(initial, positiveNumber('reconnect.maxDelayMs', options.reconnect?.maxDelayMs, 5_000)),
    socketOptions: { noDelay: true, ...(options.tls ?? {}) },
    logger: safeLogger(options.logger ?? consoleLogger('warn')),
  };
}
