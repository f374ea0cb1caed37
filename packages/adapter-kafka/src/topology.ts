import { ConfigError, errorMessage, redact, TransportError } from '@org/eventbus';
import type { Admin } from '@platformatic/kafka';
import { topicAlreadyExists } from './errors.js';
import type { ResolvedKafkaOptions } from './options.js';

const TOPIC_CHARS = /[^A-Za-z0-9._-]/g;
const topicNames = new Map<string, string>();

/** Kafka topic names allow [A-Za-z0-9._-] up to 249 characters; anything else becomes "_". */
export function topicName(name: string): string {
  let topic = topicNames.get(name);
  if (topic === undefined) {
    topic = name.replace(TOPIC_CHARS, '_').slice(0, 249);
    if (topicNames.size > 10_000) topicNames.clear();
    topicNames.set(name, topic);
  }
  return topic;
}

type TopicNaming = Pick<ResolvedKafkaOptions, 'topicPrefix' | 'retryTopicSuffix' | 'deadLetterTopicSuffix'>;

/** The Kafka topic of a channel or per-group topic: prefixed, and cleaned of what Kafka refuses. */
export function channelTopic(options: TopicNaming, name: string): string {
  return topicName(options.topicPrefix + name);
}

/** One of a group's delay topics: every record in it is held for `holdMs` from when it was written. */
export interface DelayTier {
  topic: string;
  holdMs: number;
}

/**
 * Hold lengths of the delay topics, longest first: 1 s × 4^k up to 17 min. A wait hops down them
 * (the longest not longer than what remains, then the next), so any wait takes at most 3 hops per
 * tier, 11 for an hour; under 1 s remains for the retry topic, which holds to the millisecond.
 * Fixed, not derived from `maxDelayMs`: every member of a group reads the same topics whatever it
 * was configured with.
 */
export const DELAY_TIER_MS: readonly number[] = [1_024_000, 256_000, 64_000, 16_000, 4_000, 1_000];

/**
 * A group's own topics: `<topicPrefix><group>.retry` (shared by its channels), its delay topics
 * `<topicPrefix><group>.retry.<n>s` (DELAY_TIER_MS) and `<topicPrefix><group>.dlt`.
 */
export function groupTopics(options: TopicNaming, group: string): { retryTopic: string; deadLetterTopic: string; delayTiers: DelayTier[] } {
  const retryTopic = channelTopic(options, group + options.retryTopicSuffix);
  return {
    retryTopic,
    deadLetterTopic: channelTopic(options, group + options.deadLetterTopicSuffix),
    delayTiers: DELAY_TIER_MS.map((holdMs) => ({ topic: topicName(`${retryTopic}.${holdMs / 1000}s`), holdMs })),
  };
}

type ReplicationOptions = Pick<ResolvedKafkaOptions, 'replicationFactor' | 'minInsyncReplicas'>;

/**
 * Replication of a topic created now, on a cluster reporting `liveBrokers`: `'auto'` → 3 copies when
 * it has 3 or more, else its size, and `min.insync.replicas` one less than the copies (at least 1), so
 * acks=all publishes go on with one node down. A number above the live brokers is refused here, with
 * the option's name, rather than by Kafka's INVALID_REPLICATION_FACTOR.
 */
export function replicationFor(options: ReplicationOptions, liveBrokers: number): { replicas: number; minInsync: number } {
  const { replicationFactor, minInsyncReplicas } = options;
  if (replicationFactor !== 'auto' && replicationFactor > liveBrokers) {
    throw new ConfigError(
      'replicationFactor',
      `is ${replicationFactor}, but the cluster reports ${liveBrokers} live broker(s): use at most ${liveBrokers}, or 'auto'`,
    );
  }
  const replicas = replicationFactor === 'auto' ? Math.max(1, Math.min(3, liveBrokers)) : replicationFactor;
  if (minInsyncReplicas !== 'auto' && minInsyncReplicas > replicas) {
    throw new ConfigError('minInsyncReplicas', `is ${minInsyncReplicas}, more than the ${replicas} copies a topic gets here: no publish could ever resolve`);
  }
  return { replicas, minInsync: minInsyncReplicas === 'auto' ? Math.max(1, replicas - 1) : minInsyncReplicas };
}

/** Creates topics on first use (channels, retry and dead-letter topics), once per transport. */
export class TopicRegistry {
  private readonly known = new Map<string, Promise<void>>();

  constructor(
    private readonly admin: Admin,
    private readonly options: Pick<ResolvedKafkaOptions, 'partitions'> & ReplicationOptions,
  ) {}

  async ensure(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((t) => !this.known.has(t));
    if (missing.length > 0) {
      const created = this.create(missing);
      for (const topic of missing) {
        this.known.set(
          topic,
          created.catch((error: unknown) => {
            this.known.delete(topic);
            throw error;
          }),
        );
      }
    }
    await Promise.all(topics.map((t) => this.known.get(t)));
  }

  private async create(topics: string[]): Promise<void> {
    const existing = new Set(await this.admin.listTopics().catch(() => [] as string[]));
    const absent = topics.filter((t) => !existing.has(t));
    if (absent.length === 0) return;
    // Asked per creation, not once at connect: a cluster grows, and a node may be down right now.
    const { brokers } = await this.admin.metadata({ topics: [], forceUpdate: true });
    const { replicas, minInsync } = replicationFor(this.options, brokers.size);
    const create = (names: string[]) =>
      this.admin.createTopics({
        topics: names,
        partitions: this.options.partitions,
        replicas,
        configs: [{ name: 'min.insync.replicas', value: String(minInsync) }],
      });
    // One request for all (a group has nine topics of its own); if it fails (another member created
    // one of them meanwhile), one at a time, to tell "already there" from a real refusal.
    if (!(absent.length > 1 && (await create(absent).then(() => true, () => false)))) {
      for (const topic of absent) {
        try {
          await create([topic]);
        } catch (error) {
          if (!topicAlreadyExists(error)) {
            throw new TransportError(redact(`could not create Kafka topic "${topic}": ${errorMessage(error)}`));
          }
        }
      }
    }
    await this.servable(absent);
  }

  /**
   * Waits until the leaders of new topics serve them. CreateTopics answers, and the metadata names
   * a leader, before that broker has loaded the partitions (tens to a hundred ms for a group's 27):
   * a produce or offsets lookup sent meanwhile fails with NOT_LEADER_OR_FOLLOWER and waits for its
   * retry, so the first publish, or a new consumer's first fetch, came late. ListOffsets answers
   * once every partition is served (the admin client retries it, connection.ts `retryDelay`). A
   * failure is left to the request that needs the topic, which retries as well.
   */
  private async servable(topics: readonly string[]): Promise<void> {
    const partitions = Array.from({ length: this.options.partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: -1n }));
    await this.admin.listOffsets({ topics: topics.map((name) => ({ name, partitions })) }).catch(() => {});
  }

  async close(): Promise<void> {
    await this.admin.close().catch(() => {});
  }
}
