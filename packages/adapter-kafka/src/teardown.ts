import { ConfigError } from '@org/eventbus';
import { Admin } from '@platformatic/kafka';

export interface KafkaTeardownOptions {
  /** host:port of one or more brokers. */
  brokers: readonly string[];
  /** The transport's `topicPrefix`: every topic and consumer group behind it goes. Must not be empty. */
  topicPrefix: string;
  clientId?: string;
}

/**
 * Delete a deployment's topics (channels, retry and dead-letter topics, with their records) and its
 * consumer groups — everything behind one `topicPrefix`. For test runs and short-lived environments
 * on a shared cluster; an empty prefix is refused, since it would mean every topic.
 */
export async function deleteTopology({ brokers, topicPrefix, clientId = 'eventbus-teardown' }: KafkaTeardownOptions): Promise<void> {
  if (typeof topicPrefix !== 'string' || topicPrefix === '') {
    throw new ConfigError('topicPrefix', 'is required: an empty prefix would delete every topic of the cluster');
  }
  const admin = new Admin({ clientId, bootstrapBrokers: [...brokers] });
  try {
    const groups = [...(await admin.listGroups()).keys()].filter((g) => g.startsWith(topicPrefix));
    if (groups.length > 0) await admin.deleteGroups({ groups }).catch(() => {});
    // A topic already being deleted is still listed for a moment and answers "unknown topic" (code 3),
    // which fails the whole request: what matters is that none of ours is left afterwards.
    let failure: unknown;
    for (let round = 0; round < 5; round++) {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
      if (topics.length === 0) return;
      failure = await admin.deleteTopics({ topics }).then(() => undefined, (error: unknown) => error);
      if (failure === undefined) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw failure;
  } finally {
    await admin.close();
  }
}
