import { NatsTransport } from '../src/index.js';

/** Prefix shared by a conformance run and its child consumer process (set by conformance.test.ts). */
export const PREFIX_VARIABLE = 'EVENTBUS_NATS_CONFORMANCE_PREFIX';

export const CONFORMANCE_OPTIONS = { ackWaitMs: 3000, drainTimeoutMs: 10_000 } as const;

/** Builds the transport a conformance child process uses: same server and prefix as its parent. */
export function createConformanceTransport(): NatsTransport {
  const url = process.env.EVENTBUS_NATS_URL;
  const prefix = process.env[PREFIX_VARIABLE];
  if (!url || !prefix) throw new Error(`EVENTBUS_NATS_URL and ${PREFIX_VARIABLE} must be set`);
  return new NatsTransport({ servers: url, prefix, ...CONFORMANCE_OPTIONS });
}
