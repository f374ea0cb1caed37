import { ConfigError, redact } from '@org/eventbus';

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
  /** Suffixes of the per-group topics: `<group><suffix>`. */
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
}

export type ResolvedKafkaOptions = Required<Omit<KafkaTransportOptions, 'endpoint' | 'sasl'>> & {
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
    retryTopicSuffix,
    deadLetterTopicSuffix,
    requestTimeoutMs: positiveInt('requestTimeoutMs', options.requestTimeoutMs, 10_000),
    producers: positiveInt('producers', options.producers, 3),
    sasl: options.sasl,
    tls: options.tls ?? false,
  };
}

const NUMERIC_PARAMS = [
  'partitions',
  'replicationFactor',
  'partitionConcurrency',
  'sessionTimeoutMs',
  'heartbeatIntervalMs',
  'rebalanceTimeoutMs',
  'commitIntervalMs',
  'drainTimeoutMs',
  'maxMessageBytes',
  'maxWaitTimeMs',
  'requestTimeoutMs',
  'producers',
] as const;

/**
 * `kafka://host1:9092,host2:9092?partitions=6&clientId=api`: brokers from the authority, any
 * numeric option from the query; `options` override both.
 */
export function optionsFromUrl(url: string, options: Record<string, unknown> = {}): KafkaTransportOptions {
  const match = /^kafka:\/\/([^/?#]*)\/?(?:\?([^#]*))?$/i.exec(url.trim());
  if (!match) throw new ConfigError('url', `"${redact(url)}" is not kafka://host:port[,host:port…][?option=value]`);
  let authority = match[1] ?? '';
  const query = new URLSearchParams(match[2] ?? '');
  const fromQuery: Record<string, unknown> = {};
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const [username = '', password = ''] = authority.slice(0, at).split(':').map(decodeURIComponent);
    const mechanism = (query.get('mechanism') ?? 'PLAIN').toUpperCase();
    if (mechanism !== 'PLAIN' && mechanism !== 'SCRAM-SHA-256' && mechanism !== 'SCRAM-SHA-512') {
      throw new ConfigError('mechanism', `must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (got ${mechanism})`);
    }
    fromQuery.sasl = { mechanism, username, password };
    authority = authority.slice(at + 1);
  }
  if (query.get('tls') === 'true') fromQuery.tls = true;
  const brokers = authority.split(',').filter((b) => b !== '');
  for (const name of NUMERIC_PARAMS) {
    const value = query.get(name);
    if (value !== null) fromQuery[name] = positiveInt(name, value, 1);
  }
  for (const name of ['clientId', 'startFrom', 'retryTopicSuffix', 'deadLetterTopicSuffix'] as const) {
    const value = query.get(name);
    if (value !== null) fromQuery[name] = value;
  }
  return { brokers, ...fromQuery, ...options } as KafkaTransportOptions;
}
