import type { Backlog } from '@org/eventbus';
import { Admin } from '@platformatic/kafka';
import { clientClass, clientOptions } from './connection.js';
import type { ResolvedKafkaOptions } from './options.js';

/** Kafka's "latest" in a ListOffsets request: the offset the next record will get. */
const LATEST = -1n;
/** Beyond the commit interval, for the commit request itself to land. */
const COMMIT_MARGIN_MS = 100;

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

  /**
   * Offsets are committed every `commitIntervalMs` after records settle, so a lag read right after
   * the last settle still counts those records. A lag above 0 is read again one commit interval
   * (plus a margin) later, and the later reading is the answer: settled records are not backlog.
   */
  async backlog(group: string): Promise<Backlog> {
    const first = await this.lag(group);
    if (first === 0) return { messages: 0 };
    await new Promise((resolve) => setTimeout(resolve, this.options.commitIntervalMs + COMMIT_MARGIN_MS));
    return { messages: await this.lag(group) };
  }

  private async lag(group: string): Promise<number> {
    this.admin ??= new (clientClass(Admin, this.options.endpoint))(clientOptions(this.options));
    const admin = this.admin;
    const [committed] = await admin.listConsumerGroupOffsets({ groups: [this.options.topicPrefix + group] });
    const topics = (committed?.topics ?? []).filter((t) => t.partitions.length > 0);
    if (topics.length === 0) return 0;
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
    return Number(lag);
  }

  async close(): Promise<void> {
    await this.admin?.close().catch(() => {});
  }
}
