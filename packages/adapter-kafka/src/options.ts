import { ConfigError, flag, type Logger, matching, oneOf, optionsFromQuery, redact, wholeNumber } from '@org/eventbus';

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
  /**
   * Copies of each partition of the topics this transport creates. `'auto'` (default): 3 when the
   * cluster reports 3 or more live brokers, else as many as it has (1 on a single broker). A number
   * larger than the live brokers fails the topic's creation with a ConfigError naming this option.
   * Existing topics keep what they were created with.
   */
  replicationFactor?: number | 'auto';
  /**
   * `min.insync.replicas` of the topics this transport creates: how many copies (leader included)
   * must hold a record before a publish resolves (producers send with acks=all). `'auto'` (default):
   * one less than the replication factor when it is 2 or more (a topic keeps taking publishes with
   * one node down), else 1. At most `replicationFactor`.
   */
  minInsyncReplicas?: number | 'auto';
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
  /**
   * Longest hold of one nack delay or `defer` (the capability `maxDelayMs`): whole ms, at least 1000.
   * Default 3600000 (1 h). Kafka holds nothing itself: a held copy waits in the group's delay topics
   * and hops down them (docs/decisions/0009-delays-kafka.md); core chains longer waits. Scaled down,
   * it makes waits beyond it testable in seconds.
   */
  maxDelayMs?: number;
  /** Largest encoded message (headers + body). Default 1000000 (the broker default is 1 MiB per batch). */
  maxMessageBytes?: number;
  /**
   * How events are laid out on the wire (CloudEvents Kafka binding). "structured" (default): the
   * whole event as one JSON value, `content-type: application/cloudevents+json`; "binary": attributes
   * as `ce_` headers, the data alone in the value. Either mode reads both (docs/decisions/0008).
   */
  wireMode?: 'structured' | 'binary';
  /**
   * Compression of the record batches this transport produces (channels, retries, delays, dead
   * letters): "none" (default), "gzip", "snappy", "lz4" or "zstd". Consumers read every codec
   * whatever they set. It trades client CPU for bytes on the network and the brokers' disks: worth it
   * for JSON events across a network, not for small events on a broker next door.
   * `maxMessageBytes` is checked against the uncompressed size.
   */
  compression?: KafkaCompression;
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

export const KAFKA_COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

export type ResolvedKafkaOptions = Required<Omit<KafkaTransportOptions, 'endpoint' | 'sasl' | 'logger'>> & {
  replicationFactor: number | 'auto';
  minInsyncReplicas: number | 'auto';
  endpoint: { host: string; port: number } | undefined;
  sasl: KafkaTransportOptions['sasl'];
};

/** host:port; checked here rather than with `matching`, whose message quotes the value unredacted. */
function brokerAddress(option: string, value: string): string {
  if (!/^[^\s:/]+:\d{1,5}$/.test(value)) throw new ConfigError(option, `"${redact(value)}" is not host:port`);
  return value;
}

/** One hold of a nack delay or defer: an hour unless scaled down, never below a second (the shortest delay tier). */
const DEFAULT_MAX_DELAY_MS = 3_600_000;
const MIN_MAX_DELAY_MS = 1000;

/** Leaves room for the channel or group after it within Kafka's 249 characters. */
const MAX_TOPIC_PREFIX = 200;
const TOPIC_CHARS = 'may hold only letters, digits, ".", "_" and "-"';

export function resolveOptions(options: KafkaTransportOptions): ResolvedKafkaOptions {
  if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw new ConfigError('brokers', 'needs at least one host:port');
  }
  const sessionTimeoutMs = wholeNumber('sessionTimeoutMs', options.sessionTimeoutMs, 10_000);
  const heartbeatIntervalMs = wholeNumber('heartbeatIntervalMs', options.heartbeatIntervalMs, Math.min(1000, Math.floor(sessionTimeoutMs / 3)));
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new ConfigError('heartbeatIntervalMs', `must be below sessionTimeoutMs (${sessionTimeoutMs})`);
  }
  const topicPrefix = matching(
    'topicPrefix',
    options.topicPrefix,
    new RegExp(`^[A-Za-z0-9._-]{0,${MAX_TOPIC_PREFIX}}$`),
    `${TOPIC_CHARS}, at most ${MAX_TOPIC_PREFIX} characters`,
    '',
  );
  const retryTopicSuffix = matching('retryTopicSuffix', options.retryTopicSuffix, /^[A-Za-z0-9._-]+$/, TOPIC_CHARS, '.retry');
  const deadLetterTopicSuffix = matching('deadLetterTopicSuffix', options.deadLetterTopicSuffix, /^[A-Za-z0-9._-]+$/, TOPIC_CHARS, '.dlt');
  if (retryTopicSuffix === deadLetterTopicSuffix) {
    throw new ConfigError('deadLetterTopicSuffix', 'must differ from retryTopicSuffix');
  }
  const replicationFactor = autoOr('replicationFactor', options.replicationFactor);
  const minInsyncReplicas = autoOr('minInsyncReplicas', options.minInsyncReplicas);
  if (replicationFactor !== 'auto' && minInsyncReplicas !== 'auto' && minInsyncReplicas > replicationFactor) {
    throw new ConfigError('minInsyncReplicas', `is ${minInsyncReplicas}, more than replicationFactor (${replicationFactor}): no publish could ever resolve`);
  }
  return {
    brokers: options.brokers.map((b) => brokerAddress('brokers', b)),
    clientId: options.clientId ?? 'eventbus',
    endpoint: options.endpoint,
    partitions: wholeNumber('partitions', options.partitions, 3),
    replicationFactor,
    minInsyncReplicas,
    startFrom: oneOf('startFrom', options.startFrom, ['earliest', 'latest'], 'earliest'),
    // 0: as many as the subscription's prefetch.
    partitionConcurrency: wholeNumber('partitionConcurrency', options.partitionConcurrency, 0),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs: wholeNumber('rebalanceTimeoutMs', options.rebalanceTimeoutMs, Math.max(sessionTimeoutMs, 30_000)),
    commitIntervalMs: wholeNumber('commitIntervalMs', options.commitIntervalMs, 100),
    drainTimeoutMs: wholeNumber('drainTimeoutMs', options.drainTimeoutMs, 30_000),
    maxDelayMs: wholeNumber('maxDelayMs', options.maxDelayMs, DEFAULT_MAX_DELAY_MS, { min: MIN_MAX_DELAY_MS }),
    maxMessageBytes: wholeNumber('maxMessageBytes', options.maxMessageBytes, 1_000_000),
    wireMode: oneOf('wireMode', options.wireMode, ['structured', 'binary'], 'structured'),
    compression: oneOf('compression', options.compression, KAFKA_COMPRESSIONS, 'none'),
    maxWaitTimeMs: wholeNumber('maxWaitTimeMs', options.maxWaitTimeMs, 500),
    fetchMaxBytes: wholeNumber('fetchMaxBytes', options.fetchMaxBytes, 1_048_576),
    topicPrefix,
    retryTopicSuffix,
    deadLetterTopicSuffix,
    requestTimeoutMs: wholeNumber('requestTimeoutMs', options.requestTimeoutMs, 10_000),
    producers: wholeNumber('producers', options.producers, 3),
    sasl: options.sasl,
    tls: flag('tls', options.tls, false),
  };
}

/** `'auto'` (also unset) or a whole number ≥ 1; a numeric string from a URL query is accepted. */
function autoOr(option: string, value: unknown): number | 'auto' {
  return value === undefined || value === 'auto' ? 'auto' : wholeNumber(option, value, 1);
}

const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** eventbus options a kafka:// URL may carry in its query; the constructor validates their values. */
const URL_OPTIONS = {
  partitions: 'number',
  replicationFactor: 'string',
  minInsyncReplicas: 'string',
  partitionConcurrency: 'number',
  sessionTimeoutMs: 'number',
  heartbeatIntervalMs: 'number',
  rebalanceTimeoutMs: 'number',
  commitIntervalMs: 'number',
  drainTimeoutMs: 'number',
  maxMessageBytes: 'number',
  maxDelayMs: 'number',
  maxWaitTimeMs: 'number',
  fetchMaxBytes: 'number',
  wireMode: 'string',
  compression: 'string',
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
  const mechanism = query.get('mechanism')?.toUpperCase();
  query.delete('mechanism');
  const fromQuery = optionsFromQuery(query, URL_OPTIONS);
  const unknown = [...query.keys()];
  if (unknown.length > 0) {
    throw new ConfigError('url', `unknown parameter(s) ${unknown.map((k) => `"${k}"`).join(', ')}; kafka:// takes mechanism, ${Object.keys(URL_OPTIONS).join(', ')}`);
  }
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const [username = '', password = ''] = authority.slice(0, at).split(':').map(decodeURIComponent);
    fromQuery.sasl = { mechanism: oneOf('mechanism', mechanism, SASL_MECHANISMS, 'PLAIN'), username, password };
    authority = authority.slice(at + 1);
  }
  const brokers = authority.split(',').filter((b) => b !== '');
  return { ...options, ...fromQuery, brokers } as KafkaTransportOptions;
}
