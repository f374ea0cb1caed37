import { ConfigError, optionsFromQuery } from '@org/eventbus';
import type { SqsTransportOptions } from './options.js';
import { SqsTransport } from './transport.js';

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

/** Build an SQS transport from a `sqs://` URL (what createTransport(url) calls). */
export function fromUrl(url: string, options: Record<string, unknown> = {}): SqsTransport {
  return new SqsTransport({ ...(options as SqsTransportOptions), ...parseSqsUrl(url) });
}
