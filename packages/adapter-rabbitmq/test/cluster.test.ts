import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type DeliveryHandler,
  type OutgoingMessage,
  type PublishOptions,
  type SubscribeOptions,
  type Subscription,
  silentLogger,
} from '@org/eventbus';
import { type Cluster, clusterFailoverScenario, describeCluster, longestGap } from '@org/eventbus/testing';
import { expect, it } from 'vitest';
import { RabbitMqTransport } from '../src/index.js';
import { TopologyNames } from '../src/topology.js';

const script = fileURLToPath(new URL('../../../scripts/rabbitmq-cluster.sh', import.meta.url));
const names = new TopologyNames('eventbus-cluster-test');

/** The cluster's node URLs as one seed-list URL: amqp://guest:guest@127.0.0.1:15681,127.0.0.1:15682,… */
export function seedList(urls: readonly string[]): string {
  const [first, ...rest] = urls.map((url) => new URL(url));
  if (!first) throw new Error('a cluster has at least one node');
  return `${first.protocol}//${first.username}:${first.password}@${[first, ...rest].map((u) => u.host).join(',')}/`;
}

/** The node leading a quorum queue, as the cluster script reads it from a live node. */
function leaderOf(dir: string, queue: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [script, 'leader', queue], { env: { ...process.env, CLUSTER_DIR: dir }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${queue}: ${stderr || error.message}`));
      else resolve(stdout.trim());
    });
  });
}

/** When publishes resolved and deliveries arrived, to measure the time without progress around the kill. */
const progress = { published: [] as number[], delivered: [] as number[] };

/** The transport under test, recording its progress (the scenario's own gaps also count the restart's wait). */
class TimedTransport extends RabbitMqTransport {
  override async publish(messages: readonly OutgoingMessage[], options?: PublishOptions): Promise<void> {
    await super.publish(messages, options);
    progress.published.push(Date.now());
  }

  override subscribe(options: SubscribeOptions, onDelivery: DeliveryHandler): Promise<Subscription> {
    return super.subscribe(options, (delivery) => {
      progress.delivered.push(Date.now());
      return onDelivery(delivery);
    });
  }
}

function transport(cluster: Cluster): RabbitMqTransport {
  // Three replicas (the whole cluster): the group's queue survives the loss of any one node. Three
  // publishing connections start at seeds 1, 2, 0: whichever node is killed, one of them is on it,
  // so the test also covers publishes re-sent after their connection died before the confirm.
  return new TimedTransport({ url: seedList(cluster.urls), exchange: names.exchange, quorumInitialGroupSize: 3, publishers: 3, logger: silentLogger });
}

/** The longest gap between progress events from the kill to the last event (the end of the work). */
function stall(times: readonly number[], killedAt: number): number {
  const last = Math.max(killedAt, ...times);
  return longestGap(times, killedAt, last);
}

describeCluster('rabbitmq', { script, startTimeoutMs: 240_000 }, (cluster) => {
  it('connects through the seed list while the first seed is down', async () => {
    const c = cluster();
    const down = new RabbitMqTransport({ url: seedList(['amqp://guest:guest@127.0.0.1:1', ...c.urls]), exchange: names.exchange, logger: silentLogger });
    try {
      await expect(down.connect()).resolves.toBeUndefined();
    } finally {
      await down.close();
    }
  });

  it("loses no resolved publish when the node leading the group's quorum queue is SIGKILLed", async () => {
    const c = cluster();
    let killedAt = 0;
    const result = await clusterFailoverScenario({
      name: 'rabbitmq',
      cluster: {
        ...c,
        kill: async (node) => {
          await c.kill(node);
          killedAt = Date.now();
        },
      },
      makeTransport: transport,
      leaderOf: ({ group }) => leaderOf(c.dir, names.groupQueue(group)),
      // Restarting a node takes 20-30 s on a loaded 2-core machine; the scenario needs none of it to go on.
      maxDownMs: 15_000,
    });
    expect(result.lost).toBe(0);
    const publishStall = stall(progress.published, killedAt);
    const consumeStall = stall(progress.delivered, killedAt);
    const after = (times: number[]) => times.filter((t) => t > killedAt).length;
    console.info(
      `[eventbus] rabbitmq cluster failover, from the kill until the work ended: ${after(progress.published)} publish calls resolved and ` +
        `${after(progress.delivered)} deliveries arrived; longest time without a publish resolving ${publishStall} ms, without a delivery ${consumeStall} ms`,
    );
    expect(after(progress.published), 'publishes resolved after the kill').toBeGreaterThan(0);
    expect(Math.max(publishStall, consumeStall)).toBeLessThanOrEqual(30_000);
  }, 600_000);
});
