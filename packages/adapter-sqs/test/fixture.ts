import { randomBytes } from 'node:crypto';
import { createEventBus, type EventBus, type Transport } from '@org/eventbus';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { SqsTransport, type SqsTransportOptions } from '../src/index.js';
import { type SqsEndpoint, sqsTestEndpoint } from './emulator.js';

/** What the transport and edge tests share: the endpoint, unique names, and transports closed after each test. */
export interface SqsFixture {
  /** The emulator's endpoint (undefined on real AWS); read it inside a test, once `beforeAll` has run. */
  readonly endpoint: string | undefined;
  /** A name no other test or run uses: `<tag>-<run>-<label>-<n>`. */
  unique(label: string): string;
  /** A transport on the endpoint with short timeouts, closed after the test. */
  transport(options?: SqsTransportOptions): SqsTransport;
  /** A bus on such a transport with fast retries, stopped after the test. */
  bus(options?: SqsTransportOptions): EventBus;
  /** Close a transport made some other way (createTransport) after the test. */
  track(transport: Transport): void;
  /** Config of plain AWS SDK clients on the same endpoint, as an operator's script or another team would use. */
  plainConfig(): { region: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string } };
  /** An `sqs://` URL for the endpoint and the test prefix, with `query` appended. */
  url(query?: string): string;
}

const PREFIX = 'eventbus-test-';

/** Starts the endpoint before the file's tests and stops it after; `tag` starts every unique name. */
export function sqsFixture(tag: string): SqsFixture {
  const run = randomBytes(4).toString('hex');
  const region = process.env.AWS_REGION ?? 'us-east-1';
  let seq = 0;
  let sqs: SqsEndpoint | undefined;
  const transports: Transport[] = [];
  const buses: EventBus[] = [];

  beforeAll(async () => {
    sqs = await sqsTestEndpoint();
  });
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.stop()));
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await sqs?.stop();
  });

  const fixture: SqsFixture = {
    get endpoint() {
      return sqs?.endpoint;
    },
    unique: (label) => `${tag}-${run}-${label}-${++seq}`,
    transport(options = {}) {
      const t = new SqsTransport({
        ...(sqs?.endpoint ? { endpoint: sqs.endpoint } : {}),
        prefix: PREFIX,
        visibilityTimeoutSeconds: 3,
        waitTimeSeconds: 2,
        ...options,
      });
      transports.push(t);
      return t;
    },
    bus(options = {}) {
      const b = createEventBus({ transport: fixture.transport(options), source: '/test', defaults: { backoff: { initialMs: 20, maxMs: 100 } } });
      buses.push(b);
      return b;
    },
    track(transport) {
      transports.push(transport);
    },
    plainConfig: () => ({
      region,
      ...(sqs?.endpoint ? { endpoint: sqs.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } } : {}),
    }),
    url: (query = '') => `sqs://${region}?prefix=${PREFIX}${query}${sqs?.endpoint ? `&endpoint=${sqs.endpoint}` : ''}`,
  };
  return fixture;
}
