import type { Backlog } from '@org/eventbus';
import { Admin } from '@platformatic/kafka';
import { clientClass, clientOptions } from './connection.js';
import type { ResolvedKafkaOptions } from './options.js';

/** Kafka's "latest" in a ListOffsets request: the offset the next record will get. */
const LATEST = -1n;

/**
 * A group's backlog on Kafka: its lag, the end offsets minus the group's committed offsets, summed
 * over every partition the group has committed on (its channel topics and its retry topic). The
 * records in flight are part of it (committed after they settle). Kafka keeps no age per group, so
 * `oldestAgeMs` is left out. A group that never committed has no lag to tell: 0.
 * One Admin client per transport, made on first use: metrics poll this.
 */
export class BacklogReader {
  private admin: Admin | undefined;

  constructor(private readonly options: ResolvedKafkaOptions) {}

  async backlog(group: string): Promise<Backlog> {
    this.admin ??= new (clientClass(Admin, this.options.endpoint))(clientOptions(this.options));
    const admin = this.admin;
    const [committed] = await admin.listConsumerGroupOffsets({ groups: [this.options.topicPrefix + group] });
    const topics = (committed?.topics ?? []).filter((t) => t.partitions.length > 0);
    if (topics.length === 0) return { messages: 0 };
    const ends = await admin.listOffsets({
      topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, timestamp: LATEST })) })),
    });
    const end = new Map<string, bigint>();
    for (const topic of ends) for (const p of topic.partitions) end.set(`${topic.name}/${p.partitionIndex}`, p.offset);
    let lag = 0n;
    for (const topic of topics) {
      for (const p of topic.partitions) {
        const last = end.get(`${topic.name}/${p.partitionIndex}`) ?? 0n;
        // -1: nothing committed on that partition yet; the group starts from the earliest, counted as 0 here.
        if (p.committedOffset >= 0n && last > p.committedOffset) lag += last - p.committedOffset;
      }
    }
    return { messages: Number(lag) };
  }

  async close(): Promise<void> {
    await this.admin?.close().catch(() => {});
  }
}
