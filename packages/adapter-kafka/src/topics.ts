import { redact, TransportError } from '@org/eventbus';
import type { Admin } from '@platformatic/kafka';
import type { ResolvedKafkaOptions } from './options.js';
import { errorMessage } from './wire.js';

/** True when an error (or any error it wraps) says the topic exists already. */
function alreadyExists(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const e = error as { apiId?: unknown; code?: unknown; message?: unknown; errors?: unknown[]; cause?: unknown };
  if (e.apiId === 'TOPIC_ALREADY_EXISTS' || /already exists/i.test(String(e.message))) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => alreadyExists(inner, depth + 1))) return true;
  return alreadyExists(e.cause, depth + 1);
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
        if (!alreadyExists(error)) {
          throw new TransportError(redact(`could not create Kafka topic "${topic}": ${errorMessage(error)}`));
        }
      }
    }
  }

  async close(): Promise<void> {
    await this.admin.close().catch(() => {});
  }
}
