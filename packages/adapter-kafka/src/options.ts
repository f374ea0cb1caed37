import { ConfigError, type Logger, optionsFromQuery, redact } from '@org/eventbus';

export interface KafkaTransportOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: readonly string[];
  clientId?: string;
  /**
   * Connect to this address instead of every address the cluster advertises (a single-broker
   * cluster behind a TCP proxy or port forward).
   */
  endpoint?: { host: string; port: number };
  /** Partitions of topics this transport creates (channels, retry and dead-letter topics). Default 3. */
  partitions?: number;
  /** Replication factor of topics this transport creates. Default 1; use 3 on a production cluster. */
  replicationFactor?: number;
  /** Where a group with no committed offset starts. Default 'earliest': a new group sees what was kept. */
  startFrom?: 'earliest' | 'latest';
  /** Deliveries of one partition in flight at once (events of one key never overlap). Default: prefetch. */
  partitionConcurrency?: number;
  /** Consumer group session timeout (a dead consumer's partitions move after this). Default 10000. */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  /** How often settled offsets are committed. Default 100. */
  commitIntervalMs?: number;
  /** How long close() waits for handlers in flight. Default 30000. */
  drainTimeoutMs?: number;
  /** Largest encoded message (headers + body). Default 1000000 (the broker default is 1 MiB per batch). */
  maxMessageBytes?: number;
  /** Longest fetch wait on an idle partition (latency of the first message after a quiet spell). Default 500. */
  maxWaitTimeMs?: number;
  /**
   * Most bytes one fetch response may carry (per partition as well). Default 1048576 (1 MiB): the
   * client parses a response in time that grows with its size squared, so a consumer catching up on a
   * backlog spends far less CPU per record in 1 MiB responses than in the client's 10 MiB.
   */
  fetchMaxBytes?: number;
  /**
   * Put before every topic name and consumer group id this transport uses: channel topics
   * (`<topicPrefix><channel>`), the per-group retry and dead-letter topics and the group ids, so two
   * deployments (or test runs) on one cluster never share a topic or a group. Taken as it is, so add
   * the separator yourself (`"staging."`). Letters, digits, ".", "_" and "-"; default "" (none).
   */
  topicPrefix?: string;
  /** Suffixes of the per-group topics: `<topicPrefix><group><suffix>`. */
  retryTopicSuffix?: string;
  deadLetterTopicSuffix?: string;
  /** Timeout of one broker request. Default 10000. */
  requestTimeoutMs?: number;
  /** Idempotent producers sending in parallel (each one request at a time). Default 3. */
  producers?: number;
  /** SASL credentials (`kafka://user:password@host:9092?mechanism=SCRAM-SHA-256` sets them from the URL). */
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
  /** Connect with TLS (`?tls=true`). */
  tls?: boolean;
  /**
   * Where connection loss, failed reconnects, auth failures and rebalance overruns are reported,
   * one warning line each. Default: core's `consoleLogger('warn')`.
   */
  logger?: Logger;
}

export type ResolvedKafkaOptions = Required<Omit<KafkaTransportOptions, 'endpoint' | 'sasl' | 'logger'>> & {
  endpoint: { host: string; port: number } | undefined;
  sasl: KafkaTransportOptions['sasl'];
};

function positiveInt(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new ConfigError(option, `must be a whole number ≥ 1 (got ${String(value)})`);
  }
  return n;
}

function brokerAddress(option: string, value: string): string {
  if (!/^[^\s:/]+:\d{1,5}$/.test(value)) throw new ConfigError(option, `"${redact(value)}" is not host:port`);
  return value;
}

/** Leaves room for the channel or group after it within Kafka's 249 characters. */
const MAX_TOPIC_PREFIX = 200;

function prefix(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]*$/.test(value) || value.length > MAX_TOPIC_PREFIX) {
    throw new ConfigError(
      'topicPrefix',
      `may hold only letters, digits, ".", "_" and "-", at most ${MAX_TOPIC_PREFIX} characters (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

export function resolveOptions(options: KafkaTransportOptions): ResolvedKafkaOptions {
  if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw new ConfigError('brokers', 'needs at least one host:port');
  }
  const startFrom = options.startFrom ?? 'earliest';
  if (startFrom !== 'earliest' && startFrom !== 'latest') {
    throw new ConfigError('startFrom', `must be "earliest" or "latest" (got ${String(startFrom)})`);
  }
  const sessionTimeoutMs = positiveInt('sessionTimeoutMs', options.sessionTimeoutMs, 10_000);
  const heartbeatIntervalMs = positiveInt('heartbeatIntervalMs', options.heartbeatIntervalMs, Math.min(1000, Math.floor(sessionTimeoutMs / 3)));
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new ConfigError('heartbeatIntervalMs', `must be below sessionTimeoutMs (${sessionTimeoutMs})`);
  }
  const suffix = (option: string, value: string | undefined, fallback: string) => {
    const s = value ?? fallback;
    if (!/^[A-Za-z0-9._-]+$/.test(s)) throw new ConfigError(option, `"${s}" may hold only letters, digits, ".", "_" and "-"`);
    return s;
  };
  const topicPrefix = prefix(options.topicPrefix);
  const retryTopicSuffix = suffix('retryTopicSuffix', options.retryTopicSuffix, '.retry');
  const deadLetterTopicSuffix = suffix('deadLetterTopicSuffix', options.deadLetterTopicSuffix, '.dlt');
  if (retryTopicSuffix === deadLetterTopicSuffix) {
    throw new ConfigError('deadLetterTopicSuffix', 'must differ from retryTopicSuffix');
  }
  return {
    brokers: options.brokers.map((b) => brokerAddress('brokers', b)),
    clientId: options.clientId ?? 'eventbus',
    endpoint: options.endpoint,
    partitions: positiveInt('partitions', options.partitions, 3),
    replicationFactor: positiveInt('replicationFactor', options.replicationFactor, 1),
    startFrom,
    partitionConcurrency: options.partitionConcurrency === undefined ? 0 : positiveInt('partitionConcurrency', options.partitionConcurrency, 1),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs: positiveInt('rebalanceTimeoutMs', options.rebalanceTimeoutMs, Math.max(sessionTimeoutMs, 30_000)),
    commitIntervalMs: positiveInt('commitIntervalMs', options.commitIntervalMs, 100),
    drainTimeoutMs: positiveInt('drainTimeoutMs', options.drainTimeoutMs, 30_000),
    maxMessageBytes: positiveInt('maxMessageBytes', options.maxMessageBytes, 1_000_000),
    maxWaitTimeMs: positiveInt('maxWaitTimeMs', options.maxWaitTimeMs, 500),
    fetchMaxBytes: positiveInt('fetchMaxBytes', options.fetchMaxBytes, 1_048_576),
    topicPrefix,
    retryTopicSuffix,
    deadLetterTopicSuffix,
    requestTimeoutMs: positiveInt('requestTimeoutMs', options.requestTimeoutMs, 10_000),
    producers: positiveInt('producers', options.producers, 3),
    sasl: options.sasl,
    tls: options.tls ?? false,
  };
}

/** eventbus options a kafka:// URL may carry in its query; the constructor validates their values. */
const URL_OPTIONS = {
  partitions: 'number',
  replicationFactor: 'number',
  partitionConcurrency: 'number',
  sessionTimeoutMs: 'number',
  heartbeatIntervalMs: 'number',
  rebalanceTimeoutMs: 'number',
  commitIntervalMs: 'number',
  drainTimeoutMs: 'number',
  maxMessageBytes: 'number',
  maxWaitTimeMs: 'number',
  fetchMaxBytes: 'number',
  requestTimeoutMs: 'number',
  producers: 'number',
  clientId: 'string',
  startFrom: 'string',
  topicPrefix: 'string',
  retryTopicSuffix: 'string',
  deadLetterTopicSuffix: 'string',
  tls: 'boolean',
} as const;

/**
 * `kafka://user:pass@host1:9092,host2:9092?partitions=6&topicPrefix=staging.&mechanism=SCRAM-SHA-256`:
 * brokers and SASL credentials from the authority, options from the query. Where the URL and
 * `options` both set one, the URL (deployment configuration) wins, as on every adapter; an unknown
 * query parameter is an error that names it.
 */
export function optionsFromUrl(url: string, options: Record<string, unknown> = {}): KafkaTransportOptions {
  const match = /^kafka:\/\/([^/?#]*)\/?(?:\?([^#]*))?$/i.exec(url.trim());
  if (!match) throw new ConfigError('url', `"${redact(url)}" is not kafka://host:port[,host:port…][?option=value]`);
  let authority = match[1] ?? '';
  const query = new URLSearchParams(match[2] ?? '');
  const mechanism = (query.get('mechanism') ?? 'PLAIN').toUpperCase();
  query.delete('mechanism');
  const fromQuery = optionsFromQuery(query, URL_OPTIONS);
  const unknown = [...query.keys()];
  if (unknown.length > 0) {
    throw new ConfigError('url', `unknown parameter(s) ${unknown.map((k) => `"${k}"`).join(', ')}; kafka:// takes mechanism, ${Object.keys(URL_OPTIONS).join(', ')}`);
  }
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const [username = '', password = ''] = authority.slice(0, at).split(':').map(decodeURIComponent);
    if (mechanism !== 'PLAIN' && mechanism !== 'SCRAM-SHA-256' && mechanism !== 'SCRAM-SHA-512') {
      throw new ConfigError('mechanism', `must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (got ${mechanism})`);
    }
    fromQuery.sasl = { mechanism, username, password };
    authority = authority.slice(at + 1);
  }
  const brokers = authority.split(',').filter((b) => b !== '');
  return { ...options, ...fromQuery, brokers } as KafkaTransportOptions;
}
