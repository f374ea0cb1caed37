import { ConfigError, consoleLogger, type Logger, redact, safeLogger } from '@org/eventbus';

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

function positive(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(option, `must be a positive number (got ${String(value)})`);
  }
  return value;
}

function parseUrl(
  url: string,
  endpoint: RabbitMqTransportOptions['endpoint'],
  heartbeatSeconds: number,
): { url: string; safeUrl: string; user: string; vhost: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('url', `"${redact(url)}" is not a URL (expected amqp://user:pass@host:5672/vhost)`);
  }
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
  const exchange = options.exchange ?? 'eventbus';
  if (typeof exchange !== 'string' || exchange === '' || exchange.startsWith('amq.')) {
    throw new ConfigError('exchange', `must be a non-empty name not starting with "amq." (got ${JSON.stringify(exchange)})`);
  }
  const queueType = options.queueType ?? 'quorum';
  if (queueType !== 'quorum' && queueType !== 'classic') {
    throw new ConfigError('queueType', `must be "quorum" or "classic" (got ${JSON.stringify(queueType)})`);
  }
  const mandatory: unknown = options.mandatory;
  if (mandatory !== undefined && mandatory !== true) {
    throw new ConfigError(
      'mandatory',
      `is always on and can only be true (got ${JSON.stringify(mandatory)}): a publish no group receives rejects with UnroutableError instead of vanishing; provision groups with bus.provision() before publishing`,
    );
  }
  if (options.tls !== undefined && (options.tls === null || typeof options.tls !== 'object')) {
    throw new ConfigError('tls', 'must be an object of TLS options');
  }
  const publishers = options.publishers ?? 2;
  if (!Number.isInteger(publishers) || publishers < 1 || publishers > 16) {
    throw new ConfigError('publishers', `must be a whole number from 1 to 16 (got ${String(options.publishers)})`);
  }
  const heartbeatSeconds = positive('heartbeatSeconds', options.heartbeatSeconds, 10);
  const initial = positive('reconnect.initialDelayMs', options.reconnect?.initialDelayMs, 100);
  return {
    ...parseUrl(options.url, options.endpoint, heartbeatSeconds),
    exchange,
    queueType,
    publishers,
    publishTimeoutMs: positive('publishTimeoutMs', options.publishTimeoutMs, 30_000),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 15_000),
    drainTimeoutMs: positive('drainTimeoutMs', options.drainTimeoutMs, 30_000),
    maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, 4 * 1024 * 1024),
    reconnectInitialDelayMs: initial,
    reconnectMaxDelayMs: Math.max(initial, positive('reconnect.maxDelayMs', options.reconnect?.maxDelayMs, 5_000)),
    socketOptions: { noDelay: true, ...(options.tls ?? {}) },
    logger: safeLogger(options.logger ?? consoleLogger('warn')),
  };
}
