import type { Logger } from '../../logger.js';
import type { Transport } from '../../transport.js';

export interface Endpoint {
  host: string;
  port: number;
}

export type TransportFactory = (options: {
  /** Connect through this address instead of the broker's own (a TCP proxy in fault scenarios). */
  endpoint?: Endpoint;
}) => Transport | Promise<Transport>;

export const SCENARIOS = [
  'publish-before-subscribe',
  'competing-consumers',
  'fan-out',
  'channel-isolation',
  'nack-redelivery',
  'nack-delay',
  'max-attempts',
  'poison',
  'key-order',
  'close-one-subscription',
  'graceful-close',
  'publisher-flush',
  'connection-cut',
  'broker-restart',
  'max-size',
  'odd-headers',
  'close-idempotent',
  'prefetch-bound',
  'sigkill',
  'settle-failure-dead-letter',
  'settle-failure-delayed-nack',
  'oversized-dead-letter',
  'publish-no-group',
  'provision-before-publish',
  'rebalance-drain',
  'no-secrets-in-output',
  'auth-failure',
  'emit-after-success',
  'metrics',
  'dead-letter-admin',
  'delay-never-early',
  'delay-beyond-max',
  'delay-survives-restart',
  'retry-after-not-attempts',
  'delay-key-order',
  'delay-cancel',
] as const;

export type ScenarioName = (typeof SCENARIOS)[number];

export interface ConformanceOptions {
  /** The broker's TCP address, for the connection-cut scenario's proxy. */
  brokerEndpoint?: Endpoint;
  /**
   * A broker the test itself owns and may restart (never the machine's shared one): the factory
   * builds transports connected to it; `restart` stops and starts it, keeping its data.
   */
  privateBroker?: {
    start(): Promise<void>;
    factory: TransportFactory;
    restart(): Promise<void>;
    stop(): Promise<void>;
  };
  /**
   * For the SIGKILL scenario: a module the child process imports (absolute path or package name)
   * and the name of its export, a function `() => Transport | Promise<Transport>`.
   */
  child?: { module: string; export?: string };
  /** Scenarios this transport cannot run, each with the reason shown in the test name. */
  skip?: Partial<Record<ScenarioName, string>>;
  /** How long a message held by a dead consumer takes to come back (SQS visibility timeout). */
  redeliveryTimeoutMs?: number;
  /** Multiply the large message counts (1 = as in docs/architecture.md); slow emulators may scale down. */
  scale?: number;
  /** Per-test timeout in ms. */
  timeoutMs?: number;
  /**
   * Remove what a scenario created on the shared broker (queues, consumers, topics) once it is over,
   * so repeated runs do not pile up resources. Failures here are ignored.
   */
  cleanup?: (created: { groups: string[]; channels: string[] }) => Promise<void>;
  /**
   * Break, on the broker, the path one settle of `group` takes, so that settle fails the way a
   * broker refuses it: `dead-letter` — the group's dead-letter destination refuses the copy;
   * `delayed-nack` — the delayed redelivery cannot be arranged (retry queue or topic refused).
   * Resolves to a function that repairs it. Called after the group subscribed. Without this hook the
   * settle-failure scenarios skip with the reason given in `skip`.
   */
  breakSettle?: (what: 'dead-letter' | 'delayed-nack', group: string) => Promise<() => Promise<void>>;
  /**
   * A transport whose broker credentials carry `password` (user `eventbus-conformance` where the
   * URL needs one) and which logs to `logger`. The secrets scenario checks that the password
   * appears in no log line, error, `util.inspect` or `JSON.stringify` output.
   */
  withCredentials?: (password: string, logger: Logger) => Transport | Promise<Transport>;
  /**
   * The broker checks credentials (and `withCredentials`' password is wrong): connecting must fail
   * fast with an error saying authentication failed. False where the broker accepts any (the
   * machine's NATS, the SQS emulator): the auth-failure scenario skips with that reason.
   */
  checksCredentials?: boolean;
  /**
   * A transport of this broker with its longest one-step hold scaled down (the adapter's `maxDelayMs`
   * option), so the delay-beyond-max scenario runs a 3× longer delay in seconds. Without it that
   * scenario skips, saying so.
   */
  makeTransport?: (options: { maxDelayMs: number }) => Transport | Promise<Transport>;
  /** The `maxDelayMs` the delay-beyond-max scenario asks `makeTransport` for (default 1000; delays are 3× it). */
  scaledMaxDelayMs?: number;
}
