import { ConfigError, type Logger, optionsFromQuery, redact } from '@org/eventbus';

export interface NatsTransportOptions {
  /** Server URLs (`nats://host:4222`, `tls://host:4222`). Credentials in a URL are used and never logged. */
  servers: string | readonly string[];
  user?: string;
  pass?: string;
  token?: string;
  /** Use TLS (implied by a `tls://` URL). */
  tls?: boolean;
  /** Connection name shown by the server's monitoring. */
  name?: string;
  /** Subject prefix: channel `orders.created` travels on `<prefix>.orders.created`. */
  prefix?: string;
  /** Stream holding `<prefix>.>`; derived from the prefix when omitted. */
  stream?: string;
  /** Subject prefix of dead letters (`<deadLetterPrefix>.<group>`), in a stream of their own. */
  deadLetterPrefix?: string;
  /** How long the server waits for a settle before redelivering; `working()` extends it while a handler runs. */
  ackWaitMs?: number;
  /** Redelivery timescale for deliveries nobody settled (a consumer that died); `[]` uses ackWaitMs alone. */
  backoffMs?: readonly number[];
  /**
   * Deliveries a message gets: a nack on the last one dead-letters, and a message delivered more
   * often without a settle (its consumer keeps dying) is dead-lettered without running the handler.
   * The server's own max_deliver is unlimited, so nothing leaves a group without a dead-letter copy.
   */
  maxDeliver?: number;
  /** Unsettled deliveries per group consumer across all its members. */
  maxAckPending?: number;
  /** Window in which the server drops a republished event id (the Nats-Msg-Id duplicate window). */
  duplicateWindowMs?: number;
  /** Age after which the streams drop messages; 0 keeps them until limits say otherwise. */
  maxAgeMs?: number;
  /** A new group starts at the oldest retained message (`all`) or only sees new ones (`new`). */
  deliverPolicy?: 'all' | 'new';
  /** Longest a publish waits, across reconnects and retries, before it rejects. */
  publishTimeoutMs?: number;
  /** Publish acks awaited at once within one `publish` call. */
  publishConcurrency?: number;
  /** Largest encoded message (headers + body) accepted; must fit the server's max_payload. */
  maxMessageBytes?: number;
  /** How long `Subscription.close()` waits for deliveries in flight to be settled. */
  drainTimeoutMs?: number;
  /** Lifetime of one pull request; the server sends idle heartbeats within it. */
  pullExpiresMs?: number;
  /** Delay between reconnect attempts (the client retries for ever). */
  reconnectTimeWaitMs?: number;
  /** Where connection loss and recovery are reported (one warning line each); console warnings by default. */
  logger?: Logger;
}

export type ResolvedOptions = Required<
  Omit<NatsTransportOptions, 'user' | 'pass' | 'token' | 'tls' | 'name' | 'servers' | 'backoffMs' | 'logger'>
> & {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
  tls: boolean;
  name: string;
  backoffMs: number[];
};

const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;

function positiveInt(option: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(option, `must be a whole number ≥ ${min} (got ${String(value)})`);
  }
  return value;
}

function subjectPrefix(option: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(value)) {
    throw new ConfigError(option, `must be dot-separated tokens of letters, digits, "_" or "-" (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** A stream name the server accepts, derived from a subject prefix. */
export function streamNameFor(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase();
}

export function resolveOptions(options: NatsTransportOptions): ResolvedOptions {
  const servers = typeof options.servers === 'string' ? [options.servers] : [...(options.servers ?? [])];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new ConfigError('servers', 'needs at least one server URL, e.g. nats://127.0.0.1:4222');
  }
  const prefix = subjectPrefix('prefix', options.prefix, 'eventbus');
  const deadLetterPrefix = subjectPrefix('deadLetterPrefix', options.deadLetterPrefix, `${prefix}-dead-letter`);
  if (deadLetterPrefix === prefix || deadLetterPrefix.startsWith(`${prefix}.`)) {
    throw new ConfigError('deadLetterPrefix', `must lie outside the channel prefix "${prefix}.>"`);
  }
  const stream = options.stream ?? streamNameFor(prefix);
  if (!/^[A-Za-z0-9_-]+$/.test(stream)) throw new ConfigError('stream', `"${stream}" is not a valid stream name`);
  const ackWaitMs = positiveInt('ackWaitMs', options.ackWaitMs, 30_000, 1000);
  const maxDeliver = positiveInt('maxDeliver', options.maxDeliver, 100, 2);
  // No consumer-level backoff table unless asked for: on nats-server 2.9 one holds back the
  // redelivery after a second delayed NAK, and core's retry already spaces attempts with NAK delays.
  const backoffMs = options.backoffMs ? [...options.backoffMs] : [];
  for (const [i, ms] of backoffMs.entries()) positiveInt(`backoffMs[${i}]`, ms, 0, 1000);
  if (backoffMs.length >= maxDeliver) {
    throw new ConfigError('backoffMs', `needs fewer steps (${backoffMs.length}) than maxDeliver (${maxDeliver})`);
  }
  const deliverPolicy = options.deliverPolicy ?? 'all';
  if (deliverPolicy !== 'all' && deliverPolicy !== 'new') {
    throw new ConfigError('deliverPolicy', `must be "all" or "new" (got ${JSON.stringify(deliverPolicy)})`);
  }
  const resolved: ResolvedOptions = {
    servers,
    tls: options.tls ?? servers.some((s) => s.startsWith('tls://')),
    name: options.name ?? 'eventbus',
    prefix,
    stream,
    deadLetterPrefix,
    ackWaitMs,
    backoffMs,
    maxDeliver,
    maxAckPending: positiveInt('maxAckPending', options.maxAckPending, 10_000),
    duplicateWindowMs: positiveInt('duplicateWindowMs', options.duplicateWindowMs, 120_000, 1000),
    maxAgeMs: positiveInt('maxAgeMs', options.maxAgeMs, 0, 0),
    deliverPolicy,
    publishTimeoutMs: positiveInt('publishTimeoutMs', options.publishTimeoutMs, 30_000, 100),
    publishConcurrency: positiveInt('publishConcurrency', options.publishConcurrency, 256),
    maxMessageBytes: positiveInt('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
    drainTimeoutMs: positiveInt('drainTimeoutMs', options.drainTimeoutMs, 30_000, 0),
    pullExpiresMs: positiveInt('pullExpiresMs', options.pullExpiresMs, 5_000, 1000),
    reconnectTimeWaitMs: positiveInt('reconnectTimeWaitMs', options.reconnectTimeWaitMs, 250, 10),
  };
  if (options.user !== undefined) resolved.user = options.user;
  if (options.pass !== undefined) resolved.pass = options.pass;
  if (options.token !== undefined) resolved.token = options.token;
  return resolved;
}

/**
 * Options from a `nats://[user:pass@|token@]host:port[,host:port]` URL; everything else comes from
 * `options`. Credentials move from the URL into options so they never appear in a server list or log.
 */
/** eventbus options a nats:// URL may carry in its query: `nats://host:4222?prefix=orders`. */
const URL_OPTIONS = {
  name: 'string',
  prefix: 'string',
  stream: 'string',
  deadLetterPrefix: 'string',
  ackWaitMs: 'number',
  maxDeliver: 'number',
  maxAckPending: 'number',
  duplicateWindowMs: 'number',
  maxAgeMs: 'number',
  deliverPolicy: 'string',
  publishTimeoutMs: 'number',
  publishConcurrency: 'number',
  maxMessageBytes: 'number',
  drainTimeoutMs: 'number',
} as const;

export function optionsFromUrl(url: string, options: Record<string, unknown> = {}): NatsTransportOptions {
  const scheme = /^(nats|tls):\/\//.exec(url)?.[1];
  if (!scheme) throw new ConfigError('url', `"${redact(url)}" is not a nats:// or tls:// URL`);
  const queryAt = url.indexOf('?');
  const rest = url.slice(scheme.length + 3, queryAt >= 0 ? queryAt : undefined);
  const query = new URLSearchParams(queryAt >= 0 ? url.slice(queryAt + 1) : '');
  const fromQuery = optionsFromQuery(query, URL_OPTIONS);
  const unknown = [...query.keys()];
  if (unknown.length > 0) {
    throw new ConfigError('url', `unknown parameter(s) ${unknown.map((k) => `"${k}"`).join(', ')}; nats:// takes ${Object.keys(URL_OPTIONS).join(', ')}`);
  }
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : '';
  const hosts = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/.*$/, '');
  if (hosts === '') throw new ConfigError('url', `"${redact(url)}" names no host`);
  const servers = hosts.split(',').map((h) => `${scheme}://${h.replace(/^(nats|tls):\/\//, '')}`);
  // Where the URL and `options` both set one, the URL (deployment configuration) wins, as on every adapter.
  const result: NatsTransportOptions = { ...(options as Partial<NatsTransportOptions>), ...fromQuery, servers };
  if (auth !== '') {
    const colon = auth.indexOf(':');
    if (colon >= 0) {
      result.user = decodeURIComponent(auth.slice(0, colon));
      result.pass = decodeURIComponent(auth.slice(colon + 1));
    } else {
      result.token = decodeURIComponent(auth);
    }
  }
  return result;
}
