import { randomBytes } from 'node:crypto';
import type { OutgoingMessage } from '@org/eventbus';
import { KafkaTransport } from '../src/index.js';
import type { KafkaTransportOptions } from '../src/options.js';

/** Broker list for tests: EVENTBUS_KAFKA_BROKERS (host:port[,host:port]). */
export function brokersFrom(value: string): string[] {
  return value
    .replace(/^kafka:\/\//, '')
    .split(',')
    .filter((b) => b !== '');
}

/** Group timings short enough for tests: a dead member's partitions move within ~3 s. */
export const FAST_GROUP = {
  sessionTimeoutMs: 3000,
  heartbeatIntervalMs: 300,
  rebalanceTimeoutMs: 5000,
  maxWaitTimeMs: 200,
} satisfies Partial<KafkaTransportOptions>;

export function testTransport(brokers: string, options: Partial<KafkaTransportOptions> = {}): KafkaTransport {
  return new KafkaTransport({ brokers: brokersFrom(brokers), ...FAST_GROUP, ...options });
}

export const runId = () => randomBytes(4).toString('hex');

export function message(channel: string, n: number, extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    channel,
    id: `id-${n}`,
    headers: {
      ce_id: `id-${n}`,
      ce_type: 'test.event',
      ce_source: '/test',
      ce_specversion: '1.0',
      'content-type': 'application/json',
    },
    body: Buffer.from(JSON.stringify({ n })),
    ...extra,
  };
}

export function bodyOf(body: Uint8Array): { n: number } {
  return JSON.parse(Buffer.from(body).toString()) as { n: number };
}
