import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ConfigError, type Transport } from '@org/eventbus';
import { type Cluster, clusterFailoverScenario, describeCluster } from '@org/eventbus/testing';
import { afterAll, expect, it } from 'vitest';
import { deleteTopology, fromUrl, NatsTransport } from '../src/index.js';
import { streamNameFor } from '../src/options.js';
import { runPrefix } from './helpers.js';

const script = fileURLToPath(new URL('../../../scripts/nats-cluster.sh', import.meta.url));

/** The seed list a user writes for a cluster: every node, one URL. */
function clusterUrl(cluster: Cluster): string {
  return `nats://${cluster.urls.map((u) => u.replace(/^nats:\/\//, '')).join(',')}`;
}

async function streamInfo(cluster: Cluster, stream: string) {
  const nc = await connect({ servers: cluster.urls.map((u) => u.replace(/^nats:\/\//, '')) });
  try {
    return await (await jetstreamManager(nc)).streams.info(stream);
  } finally {
    await nc.close();
  }
}

describeCluster('nats', { script }, (cluster) => {
  const prefix = runPrefix('cluster');
  const transports: Transport[] = [];
  /** Through the seed-list URL a user writes (`nats://a:1,b:2,c:3`), replicas left to 'auto'. */
  const transport = () => {
    const t = fromUrl(clusterUrl(cluster()), { prefix });
    transports.push(t);
    return t;
  };
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close().catch(() => {})));
    await deleteTopology({ servers: cluster().urls, prefix }).catch(() => {});
  });

  it('replicas auto: the streams get 3 copies on the three-node cluster, consumers follow them', async () => {
    const t = transport();
    await t.provision([{ group: 'auto', channels: ['orders.created'] }]);
    const info = await streamInfo(cluster(), streamNameFor(prefix));
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.replicas?.length).toBe(2);
    expect((await streamInfo(cluster(), `${streamNameFor(prefix)}_DEAD_LETTERS`)).config.num_replicas).toBe(3);
    // Deferred copies (issue 18) are as durable as the events they hold back.
    expect((await streamInfo(cluster(), `${streamNameFor(prefix)}_DEFERRED`)).config.num_replicas).toBe(3);
  });

  it('replicas larger than the cluster fail the first connect with a ConfigError naming the option', async () => {
    const t = new NatsTransport({ servers: cluster().urls, prefix: runPrefix('big'), replicas: 5 });
    transports.push(t);
    const error = await t.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(/replicas.*cluster of 3/);
  });

  it('the stream leader SIGKILLed during 5,000 publishes and consumption, then restarted: 0 lost, the consumer carries on', async () => {
    const result = await clusterFailoverScenario({
      name: 'nats',
      cluster: cluster(),
      makeTransport: () => transport(),
      leaderOf: async () => {
        const leader = (await streamInfo(cluster(), streamNameFor(prefix))).cluster?.leader;
        if (!leader) throw new Error('the stream reports no leader');
        return leader;
      },
      publishes: 5000,
    });
    expect(result.lost).toBe(0);
  }, 300_000);
});
