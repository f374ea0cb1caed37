import { errorMessage, redact, TransportError } from '@org/eventbus';
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

/** A group's own topics: `<topicPrefix><group>.retry` (shared by its channels) and `<topicPrefix><group>.dlt`. */
export function groupTopics(options: TopicNaming, group: string): { retryTopic: string; deadLetterTopic: string } {
  return {
    retryTopic: channelTopic(options, group + options.retryTopicSuffix),
    deadLetterTopic: channelTopic(options, group + options.deadLetterTopicSuffix),
  };
}

/** Creates topics on first use (channels, retry and dead-letter topics), once per transport. */
export class TopicRegistry {
  private readonly known = new Map<string, Promise<void>>();

  constructor(
    private readonly admin: Admin,
    private readonly options: Pick<ResolvedKafkaOptions, 'partitions' | 'replicationFactor'>,
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
    for (const topic of absent) {
      try {
        await this.admin.createTopics({
          topics: [topic],
          partitions: this.options.partitions,
          replicas: this.options.replicationFactor,
        });
      } catch (error) {
        if (!topicAlreadyExists(error)) {
          throw new TransportError(redact(`could not create Kafka topic "${topic}": ${errorMessage(error)}`));
        }
      }
    }
  }

  async close(): Promise<void> {
    await this.admin.close().catch(() => {});
  }
}
