import { fileURLToPath } from 'node:url';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type ConformanceOptions, runTransportConformance, SCENARIOS } from '@org/eventbus/testing';
import { afterAll, beforeAll } from 'vitest';
import { SqsTransport, type SqsTransportOptions } from '../src/index.js';
import { deadLetterName, resourceName } from '../src/topology.js';
import { breakDeadLetters } from './break-settle.js';
import { CHILD_ENV } from './child-transport.js';
import { type RestartableEmulator, restartableEmulator, type SqsEndpoint, sqsTestEndpoint } from './emulator.js';

/** Short visibility timeout: a SIGKILLed consumer's messages come back in seconds. */
const VISIBILITY_SECONDS = 3;
const PREFIX = 'eventbus-cf-';

let sqs: SqsEndpoint | undefined;

const base: SqsTransportOptions = { prefix: PREFIX, visibilityTimeoutSeconds: VISIBILITY_SECONDS, waitTimeSeconds: 2 };

let privateEmulator: RestartableEmulator | undefined;

/** The conformance transport on the shared emulator (or AWS), with `extra` options. */
function conformanceTransport(extra: SqsTransportOptions = {}): SqsTransport {
  return new SqsTransport({ ...base, ...(sqs?.endpoint ? { endpoint: sqs.endpoint } : {}), ...extra });
}

/** A plain SDK client on the same endpoint, as an operator breaking things by hand would use. */
function operatorClient(): SQSClient {
  return new SQSClient({
    region: process.env.AWS_REGION ?? 'us-east-1',
    ...(sqs?.endpoint ? { endpoint: sqs.endpoint, credentials: { accessKeyId: 'operator', secretAccessKey: 'operator' } } : {}),
  });
}

/** Why the delayed-nack settle-failure scenario cannot run here. */
const DELAYED_NACK_UNBREAKABLE =
  "a delayed nack is one ChangeMessageVisibility on the group's own queue: nothing refuses it for one group without refusing its receives and acks too";

/**
 * Typed loosely on purpose: scenario names added by core after this file are matched at run time
 * (an unknown name is ignored).
 */
const skip: Partial<Record<string, string>> = { 'settle-failure-delayed-nack': DELAYED_NACK_UNBREAKABLE };

const options: ConformanceOptions = {
  skip,
  child: { module: fileURLToPath(new URL('./child-transport.ts', import.meta.url)), export: 'createConformanceTransport' },
  redeliveryTimeoutMs: VISIBILITY_SECONDS * 1000,
  // The in-process emulator shares this process's two cores with the test itself.
  scale: 0.5,
  timeoutMs: 60_000,
  async breakSettle(what, group) {
    if (what === 'delayed-nack') throw new Error(`sqs: ${DELAYED_NACK_UNBREAKABLE}`);
    return breakDeadLetters(operatorClient(), deadLetterName(resourceName(PREFIX, group, false)));
  },
  // The password travels as the secret access key; the emulator accepts any (real AWS would refuse it).
  withCredentials: (password, logger) => conformanceTransport({ credentials: { accessKeyId: 'eventbus-conformance', secretAccessKey: password }, logger }),
  checksCredentials: false,
  // One step scaled down to a second: the delayed copy and the visibility change each hold at most that.
  makeTransport: ({ maxDelayMs }) => conformanceTransport({ maxDelayMs }),
  privateBroker: {
    async start() {
      privateEmulator = await restartableEmulator();
    },
    factory: () => new SqsTransport({ ...base, endpoint: privateEmulator!.endpoint }),
    restart: () => privateEmulator!.restart(),
    stop: async () => {
      await privateEmulator?.stop();
      privateEmulator = undefined;
    },
  },
};

beforeAll(async () => {
  sqs = await sqsTestEndpoint();
  // The suite reads these when a scenario runs, after this hook.
  if (sqs.address) options.brokerEndpoint = sqs.address;
  // Against real AWS (EVENTBUS_SQS_ENDPOINT=aws) the conformance password is refused like any wrong key.
  options.checksCredentials = sqs.endpoint === undefined;
  if (sqs.endpoint) process.env[CHILD_ENV.endpoint] = sqs.endpoint;
  process.env[CHILD_ENV.prefix] = PREFIX;
  process.env[CHILD_ENV.visibility] = String(VISIBILITY_SECONDS);
});

afterAll(async () => {
  await sqs?.stop();
});

runTransportConformance(
  'sqs',
  ({ endpoint } = {}) =>
    new SqsTransport({
      ...base,
      ...(endpoint ? { endpoint: `http://${endpoint.host}:${endpoint.port}` } : sqs?.endpoint ? { endpoint: sqs.endpoint } : {}),
    }),
  options,
);

/** Scenarios worth repeating on FIFO topics and queues; the rest behave as on standard queues. */
const FIFO_SCENARIOS = new Set<string>([
  'key-order',
  'publish-before-subscribe',
  'fan-out',
  'nack-delay',
  'max-attempts',
  'poison',
  'publish-no-group',
  'provision-before-publish',
  // FIFO queues take no per-message delay: the subscription holds scheduled events, in key order.
  'delay-key-order',
  'retry-after-not-attempts',
  'delay-never-early',
  'delay-survives-restart',
]);

runTransportConformance(
  'sqs (FIFO topics and queues)',
  () => new SqsTransport({ ...base, prefix: 'eventbus-cf-fifo-', fifo: true, ...(sqs?.endpoint ? { endpoint: sqs.endpoint } : {}) }),
  {
    redeliveryTimeoutMs: VISIBILITY_SECONDS * 1000,
    skip: Object.fromEntries(
      SCENARIOS.filter((s) => !FIFO_SCENARIOS.has(s)).map((s) => [s, 'run on standard queues above; FIFO changes only ordering and deduplication']),
    ),
  },
);
