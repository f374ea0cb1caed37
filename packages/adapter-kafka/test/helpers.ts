import { randomBytes } from 'node:crypto';
import type { OutgoingMessage } from '@org/eventbus';
import { Admin } from '@platformatic/kafka';
import { KafkaTransport } from '../src/index.js';
import type { KafkaTransportOptions } from '../src/options.js';
import { DELAY_TIER_MS } from '../src/topology.js';

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

/** Ids handed out in this file: `deleteRunTopics` removes every topic and group whose name carries one. */
const issuedIds = new Set<string>();

export const runId = () => {
  const id = randomBytes(4).toString('hex');
  issuedIds.add(id);
  return id;
};

/** Delete the topics and groups this file's tests named with `runId()` (8 random hex digits, so no false match). */
export async function deleteRunTopics(brokers: string): Promise<void> {
  const ids = [...issuedIds];
  issuedIds.clear();
  if (ids.length > 0) await deleteMatching(brokers, (name) => ids.some((id) => name.includes(id)));
}

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

/**
 * Delete what a conformance scenario made on the shared broker: its channel topics, each group's
 * retry and dead-letter topics, and the groups. Left behind, they pile up across CI runs.
 */
export function deleteCreated(brokers: string, { groups, channels }: { groups: string[]; channels: string[] }): Promise<void> {
  const names = new Set([...channels, ...groups.flatMap((g) => [g, `${g}.dlt`, ...heldTopics(`${g}.retry`)])]);
  return deleteMatching(brokers, (name) => names.has(name));
}

/** A group's retry topic and its delay topics. */
export function heldTopics(retryTopic: string): string[] {
  return [retryTopic, ...DELAY_TIER_MS.map((ms) => `${retryTopic}.${ms / 1000}s`)];
}

/** Delete every consumer group and topic whose name `matches`. */
async function deleteMatching(brokers: string, matches: (name: string) => boolean): Promise<void> {
  const admin = new Admin({ clientId: 'test-cleanup', bootstrapBrokers: brokersFrom(brokers) });
  try {
    const groups = [...(await admin.listGroups()).keys()].filter(matches);
    if (groups.length > 0) await admin.deleteGroups({ groups }).catch(() => {});
    const topics = (await admin.listTopics()).filter(matches);
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.close();
  }
}
