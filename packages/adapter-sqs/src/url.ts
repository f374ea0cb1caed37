import { ConfigError } from '@org/eventbus';
import type { SqsTransportOptions } from './options.js';
import { SqsTransport } from './transport.js';

const BOOLEAN: Record<string, boolean> = { true: true, '1': true, yes: true, false: false, '0': false, no: false };

function bool(name: string, value: string): boolean {
  const b = BOOLEAN[value.toLowerCase()];
  if (b === undefined) throw new ConfigError(name, `must be true or false (got "${value}")`);
  return b;
}

function int(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new ConfigError(name, `must be a whole number (got "${value}")`);
  return n;
}

type Param = (options: SqsTransportOptions, value: string) => void;

const PARAMS: Record<string, Param> = {
  endpoint: (o, v) => {
    o.endpoint = v;
  },
  prefix: (o, v) => {
    o.prefix = v;
  },
  fifo: (o, v) => {
    o.fifo = bool('fifo', v);
  },
  manage: (o, v) => {
    o.manage = bool('manage', v);
  },
  publishTo: (o, v) => {
    o.publishTo = v as SqsTransportOptions['publishTo'];
  },
  visibilityTimeout: (o, v) => {
    o.visibilityTimeoutSeconds = int('visibilityTimeout', v);
  },
  waitTime: (o, v) => {
    o.waitTimeSeconds = int('waitTime', v);
  },
  maxReceiveCount: (o, v) => {
    o.maxReceiveCount = int('maxReceiveCount', v);
  },
  pollers: (o, v) => {
    o.pollers = int('pollers', v);
  },
};

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
  for (const [name, value] of parsed.searchParams) {
    const apply = PARAMS[name];
    if (!apply) throw new ConfigError(`url?${name}`, `unknown parameter; known: ${Object.keys(PARAMS).join(', ')}`);
    apply(options, value);
  }
  return options;
}

/** Build an SQS transport from a `sqs://` URL (what createTransport(url) calls). */
export function fromUrl(url: string, options: Record<string, unknown> = {}): SqsTransport {
  return new SqsTransport({ ...(options as SqsTransportOptions), ...parseSqsUrl(url) });
}
