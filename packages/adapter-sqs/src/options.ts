import { ConfigError, consoleLogger, flag, hideSecrets, type Logger, matching, oneOf, optionsFromQuery, safeLogger, wholeNumber } from '@org/eventbus';

export interface SqsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SqsTransportOptions {
  /** AWS region; defaults to AWS_REGION, then us-east-1. */
  region?: string;
  /** One endpoint for SQS and SNS (an emulator such as fauxqs or LocalStack); AWS's own when omitted. */
  endpoint?: string;
  /**
   * Explicit credentials. Without them the AWS default chain is used — except for a loopback
   * `endpoint` (an emulator), where dummy credentials are used so nothing real is ever sent there.
   */
  credentials?: SqsCredentials;
  /** Prefix of every topic and queue name, so apps and environments share an account safely. */
  prefix?: string;
  /** Create topics, queues, subscriptions and dead-letter queues as needed (idempotent). With false, use existing ones only. */
  manage?: boolean;
  /** FIFO topics and queues: order per key (message group id = key, deduplication id = event id). */
  fifo?: boolean;
  /**
   * Where publish sends: `topic` (SNS, fan-out to every subscribed group) or `queue` (straight to
   * the queues of `directGroups[channel]`, skipping SNS when the groups are known).
   */
  publishTo?: 'topic' | 'queue';
  /** For `publishTo: 'queue'`: the groups that receive each channel. */
  directGroups?: Record<string, readonly string[]>;
  /** Visibility timeout of queues this transport creates, in seconds (a dead consumer's work returns after it). */
  visibilityTimeoutSeconds?: number;
  /** Long-poll wait of each ReceiveMessage, 1–20 s. */
  waitTimeSeconds?: number;
  /** Receives before SQS's redrive policy moves a message to the dead-letter queue (the safety net). */
  maxReceiveCount?: number;
  /**
   * The longest nack delay held by one ChangeMessageVisibility (SQS allows 12 h after a receive);
   * longer delays are chained through re-sent copies. Default 43,140 s (12 h less a minute).
   */
  maxVisibilityDelaySeconds?: number;
  /**
   * The longest hold of one step, in whole ms ≥ 1000 (the transport's `capabilities.maxDelayMs`):
   * every visibility change of a nack and every delayed copy of a deferral or scheduled publish
   * holds at most this long, longer waits going in hops. SQS itself caps a delayed copy at 900 s and
   * a visibility change at 12 h and the adapter already chains past those, so the default is
   * setTimeout's limit (no cap of its own); scale it down to exercise the hops in tests.
   */
  maxDelayMs?: number;
  /** How long a closing subscription waits for in-flight deliveries to settle. */
  drainTimeoutMs?: number;
  /** PublishBatch / SendMessageBatch calls in flight at once per publish. */
  publishConcurrency?: number;
  /** Concurrent long polls per subscription (each takes up to 10 messages). */
  pollers?: number;
  /**
   * Where the transport reports what an operator must know (receives failing, settle failures of a
   * subscription without `onError`), one line each, secrets removed. Default: warnings to the console.
   */
  logger?: Logger;
}

export interface ResolvedOptions {
  region: string;
  endpoint: string | undefined;
  credentials: SqsCredentials | undefined;
  prefix: string;
  manage: boolean;
  fifo: boolean;
  publishTo: 'topic' | 'queue';
  directGroups: Record<string, readonly string[]>;
  visibilityTimeoutSeconds: number;
  waitTimeSeconds: number;
  maxReceiveCount: number;
  maxVisibilityDelaySeconds: number;
  maxDelayMs: number;
  drainTimeoutMs: number;
  publishConcurrency: number;
  pollers: number | undefined;
  logger: Logger;
}

/** setTimeout's limit, and the default `maxDelayMs`: one step that holds anything SQS can be asked to. */
export const MAX_DELAY_MS = 2_147_483_647;

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

/** Dummy credentials for emulators: they accept any, and real keys must never be sent to them. */
const EMULATOR_CREDENTIALS: SqsCredentials = { accessKeyId: 'eventbus-emulator', secretAccessKey: 'eventbus-emulator' };

export function resolveOptions(options: SqsTransportOptions = {}): ResolvedOptions {
  const defaultRegion = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const region = matching('region', options.region ?? defaultRegion, /^[a-z0-9-]+$/, 'is not an AWS region name', defaultRegion);
  if (options.endpoint !== undefined) {
    try {
      const url = new URL(options.endpoint);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new ConfigError('endpoint', 'must be an http(s) URL such as http://127.0.0.1:4566');
    }
  }
  const prefix = matching('prefix', options.prefix, /^[A-Za-z0-9_-]{0,40}$/, 'may hold letters, digits, "-" and "_" only, at most 40 characters', 'eventbus-');
  const creds = options.credentials;
  if (creds !== undefined && (typeof creds.accessKeyId !== 'string' || typeof creds.secretAccessKey !== 'string')) {
    throw new ConfigError('credentials', 'needs accessKeyId and secretAccessKey strings');
  }
  const publishTo = oneOf('publishTo', options.publishTo, ['topic', 'queue'], 'topic');
  const directGroups = options.directGroups ?? {};
  if (publishTo === 'queue' && Object.keys(directGroups).length === 0) {
    throw new ConfigError('directGroups', 'is required with publishTo: "queue" (which groups receive each channel)');
  }
  const resolved: ResolvedOptions = {
    region,
    endpoint: options.endpoint,
    credentials: creds ?? (options.endpoint !== undefined && isLoopback(options.endpoint) ? EMULATOR_CREDENTIALS : undefined),
    prefix,
    manage: flag('manage', options.manage, true),
    fifo: flag('fifo', options.fifo, false),
    publishTo,
    directGroups,
    visibilityTimeoutSeconds: wholeNumber('visibilityTimeoutSeconds', options.visibilityTimeoutSeconds, 30, { max: 43_200 }),
    waitTimeSeconds: wholeNumber('waitTimeSeconds', options.waitTimeSeconds, 20, { max: 20 }),
    maxReceiveCount: wholeNumber('maxReceiveCount', options.maxReceiveCount, 50, { max: 1000 }),
    maxVisibilityDelaySeconds: wholeNumber('maxVisibilityDelaySeconds', options.maxVisibilityDelaySeconds, 43_140, { max: 43_140 }),
    maxDelayMs: wholeNumber('maxDelayMs', options.maxDelayMs, MAX_DELAY_MS, { min: 1000, max: MAX_DELAY_MS }),
    drainTimeoutMs: wholeNumber('drainTimeoutMs', options.drainTimeoutMs, 30_000, { min: 0, max: 3_600_000 }),
    publishConcurrency: wholeNumber('publishConcurrency', options.publishConcurrency, 8, { max: 100 }),
    pollers: options.pollers === undefined ? undefined : wholeNumber('pollers', options.pollers, 1, { max: 50 }),
    logger: safeLogger(options.logger ?? consoleLogger('warn')),
  };
  // `transport.options` is public: inspecting or serialising it must not show the secret key.
  hideSecrets(resolved, () => ({ ...resolved, credentials: resolved.credentials ? { accessKeyId: maskKey(resolved.credentials.accessKeyId) } : undefined, logger: undefined }));
  return resolved;
}

/** An access key id as errors and summaries show it: its kind (`AKIA`, `ASIA`) and last four characters. */
function maskKey(accessKeyId: string): string {
  return accessKeyId.length > 8 ? `${accessKeyId.slice(0, 4)}…${accessKeyId.slice(-4)}` : '…';
}

/** What a `sqs://` URL's query may set, typed for core's reader; names as in the docs' URL table. */
const URL_OPTIONS = {
  endpoint: 'string',
  prefix: 'string',
  fifo: 'boolean',
  manage: 'boolean',
  publishTo: 'string',
  visibilityTimeout: 'number',
  waitTime: 'number',
  maxReceiveCount: 'number',
  pollers: 'number',
  maxDelayMs: 'number',
} as const;

/** URL parameters shorter than the option they set. */
const OPTION_OF: Record<string, string> = { visibilityTimeout: 'visibilityTimeoutSeconds', waitTime: 'waitTimeSeconds' };

/**
 * `sqs://<region>?endpoint=http://127.0.0.1:4566&prefix=app-&fifo=true&manage=false&visibilityTimeout=30`
 * — the region is the host (empty: AWS_REGION, then us-east-1). User info, if present, is taken as
 * `accessKeyId:secretAccessKey` (meant for emulators; prefer the AWS default credential chain).
 * Anything else (directGroups, credentials objects) comes in `options`; the URL wins where both say.
 */
export function parseSqsUrl(url: string): SqsTransportOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not echoed even redacted: a string that is not a URL may hide a secret where redact cannot see it.
    throw new ConfigError('url', 'is not a valid URL; expected sqs://<region>?endpoint=…');
  }
  if (parsed.protocol !== 'sqs:') throw new ConfigError('url', `expected the sqs:// scheme (got "${parsed.protocol}//")`);
  const options: SqsTransportOptions = {};
  if (parsed.hostname) options.region = parsed.hostname;
  if (parsed.username || parsed.password) {
    if (!parsed.username || !parsed.password) throw new ConfigError('url', 'credentials in the URL need both accessKeyId:secretAccessKey');
    options.credentials = {
      accessKeyId: decodeURIComponent(parsed.username),
      secretAccessKey: decodeURIComponent(parsed.password),
    };
  }
  const query = new URLSearchParams(parsed.searchParams);
  const fromQuery = optionsFromQuery(query, URL_OPTIONS);
  const [unknown] = query.keys();
  if (unknown !== undefined) throw new ConfigError(`url?${unknown}`, `unknown parameter; known: ${Object.keys(URL_OPTIONS).join(', ')}`);
  // Option values are checked where every option is, in resolveOptions (a ConfigError naming the option).
  for (const [name, value] of Object.entries(fromQuery)) Object.assign(options, { [OPTION_OF[name] ?? name]: value });
  return options;
}

/** The options a `sqs://` URL and `extra` give together (what `fromUrl` builds a transport from). */
export function optionsFromUrl(url: string, extra: SqsTransportOptions = {}): SqsTransportOptions {
  return { ...extra, ...parseSqsUrl(url) };
}
