import { fileURLToPath } from 'node:url';
import { ConfigError, type Transport } from '@org/eventbus';
import { type Cluster, clusterFailoverScenario, describeCluster } from '@org/eventbus/testing';
import { Admin, ConfigResourceTypes, ConfigSources } from '@platformatic/kafka';
import { afterAll, expect, it } from 'vitest';
import { fromUrl, KafkaTransport } from '../src/index.js';
import { topicName } from '../src/topology.js';
import { FAST_GROUP, runId } from './helpers.js';

const script = fileURLToPath(new URL('../../../scripts/kafka-cluster.sh', import.meta.url));

const hostPorts = (cluster: Cluster) => cluster.urls.map((u) => u.replace(/^kafka:\/\//, ''));

/** The seed list a user writes for a cluster: every node, one URL. */
function clusterUrl(cluster: Cluster): string {
  return `kafka://${hostPorts(cluster).join(',')}`;
}

async function withAdmin<T>(cluster: Cluster, use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ clientId: 'cluster-test', bootstrapBrokers: hostPorts(cluster) });
  try {
    return await use(admin);
  } finally {
    await admin.close();
  }
}

/** Partition 0's replicas and leader, as a fresh metadata request reports them (node.id n is node kn). */
function partitionOf(cluster: Cluster, topic: string) {
  return withAdmin(cluster, async (admin) => {
    const partition = (await admin.metadata({ topics: [topic], forceUpdate: true })).topics.get(topic)?.partitions[0];
    if (!partition) throw new Error(`no partition 0 of ${topic} in the cluster's metadata`);
    return partition;
  });
}

describeCluster('kafka', { script, startTimeoutMs: 240_000 }, (cluster) => {
  const topicPrefix = `cluster-${runId()}.`;
  const transports: Transport[] = [];
  /**
   * Through the seed-list URL a user writes (`kafka://a:1,b:2,c:3`), replication left to 'auto'. One
   * partition per topic: the node killed leads everything the group reads, not a third of it.
   */
  const transport = () => {
    const t = fromUrl(clusterUrl(cluster()), { topicPrefix, partitions: 1, ...FAST_GROUP });
    transports.push(t);
    return t;
  };
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close().catch(() => {})));
  }, 60_000);

  it("replication 'auto': topics get 3 copies on the three-node cluster and their own min.insync.replicas 2", async () => {
    const t = transport();
    await t.provision([{ group: 'auto', channels: ['orders.created'] }]);
    const topic = topicName(`${topicPrefix}orders.created`);
    expect((await partitionOf(cluster(), topic)).replicas).toHaveLength(3);
    const [described] = await withAdmin(cluster(), (admin) =>
      admin.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: ['min.insync.replicas'] }] }),
    );
    const minInsync = described?.configs.find((c) => c.name === 'min.insync.replicas');
    // The topic's own setting, not the broker default the script also sets to 2.
    expect(minInsync).toMatchObject({ value: '2', configSource: ConfigSources.DYNAMIC_TOPIC_CONFIG });
    expect((await partitionOf(cluster(), topicName(`${topicPrefix}auto.dlt`))).replicas).toHaveLength(3);
  }, 120_000);

  it('a replication factor larger than the cluster fails the first topic with a ConfigError naming the option', async () => {
    const t = new KafkaTransport({ brokers: hostPorts(cluster()), topicPrefix: `big-${runId()}.`, replicationFactor: 5 });
    transports.push(t);
    const error = await t.provision([{ group: 'big', channels: ['orders.created'] }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(/replicationFactor.*is 5, but the cluster reports 3 live broker/);
  }, 120_000);

  it('the partition leader SIGKILLed during 5,000 publishes and consumption, then restarted: 0 lost, the consumer carries on', async () => {
    const result = await clusterFailoverScenario({
      name: 'kafka',
      cluster: cluster(),
      makeTransport: () => transport(),
      leaderOf: async ({ channel }) => `k${(await partitionOf(cluster(), topicName(topicPrefix + channel))).leader}`,
      publishes: 5000,
    });
    expect(result.lost).toBe(0);
  }, 400_000);
});
