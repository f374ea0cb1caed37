// Throughput and p99 latency through the bus on a three-node cluster beside the same broker on one
// node, per broker: `pnpm bench cluster [nats|kafka|rabbitmq …]` (default: every broker with an entry
// below). Rounds alternate single and cluster so a noisy machine hurts both alike. The cluster runs
// from scripts/<broker>-cluster.sh and is stopped at the end; the single node is the machine's broker.
// Each broker adds one entry to TARGETS: how to build a transport on one node and on the cluster.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { createEventBus, defineEvent, silentLogger, type Transport } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { NatsTransport } from '@org/eventbus-nats';
import { deleteTopology as deleteRabbitTopology, RabbitMqTransport } from '@org/eventbus-rabbitmq';
import { type Cluster, type ClusterBroker, startCluster } from '@org/eventbus/testing';
import { z } from 'zod';
import { inLanes } from './lib/lanes.js';
import { percentile, table, writeSection } from './lib/report.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LATENCY_EVENTS = Number(process.env.BENCH_LATENCY_EVENTS ?? 200);
const run = randomBytes(3).toString('hex');

interface Target {
  /** What the cluster's topology is, for the table. */
  topology: string;
  /** The machine's single node, for `cleanup`. */
  singleUrls: readonly string[];
  single(prefix: string): Transport;
  clustered(cluster: Cluster, prefix: string): Transport;
  /** Remove what a prefix created on a node or the cluster. */
  cleanup(urls: readonly string[], prefix: string): Promise<void>;
}

/** Every node of a RabbitMQ cluster as one seed-list URL (amqp://u:p@h1:port,h2:port/vhost). */
function seedList(urls: readonly string[]): string {
  const parsed = urls.map((url) => new URL(url));
  const first = parsed[0];
  if (!first) throw new Error('a cluster has at least one node');
  return `${first.protocol}//${first.username}:${first.password}@${parsed.map((u) => u.host).join(',')}${first.pathname}${first.search}`;
}

const TARGETS: Partial<Record<ClusterBroker, Target>> = {
  rabbitmq: {
    topology: 'quorum queues of 3 (quorumInitialGroupSize 3), every node a seed',
    singleUrls: [process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672'],
    single: (prefix) =>
      new RabbitMqTransport({ url: process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672', exchange: prefix, logger: silentLogger }),
    clustered: (cluster, prefix) => new RabbitMqTransport({ url: seedList(cluster.urls), exchange: prefix, quorumInitialGroupSize: 3, logger: silentLogger }),
    cleanup: (urls, prefix) => deleteRabbitTopology(seedList(urls), { exchange: prefix, groups: ['bench'] }),
  },
  nats: {
    topology: "streams and consumers R3 (replicas 'auto')",
    singleUrls: [process.env.EVENTBUS_NATS_URL ?? 'nats://127.0.0.1:4222'],
    single: (prefix) => new NatsTransport({ servers: process.env.EVENTBUS_NATS_URL ?? 'nats://127.0.0.1:4222', prefix }),
    clustered: (cluster, prefix) => new NatsTransport({ servers: [...cluster.urls], prefix }),
    cleanup: async (urls, prefix) => {
      const { deleteTopology } = await import('@org/eventbus-nats');
      await deleteTopology({ servers: [...urls], prefix });
    },
  },
  kafka: {
    topology: "topics RF 3, min.insync.replicas 2, acks=all idempotent (replication 'auto')",
    singleUrls: (process.env.EVENTBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    single: (prefix) => new KafkaTransport({ brokers: (process.env.EVENTBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), topicPrefix: `${prefix}.` }),
    clustered: (cluster, prefix) => new KafkaTransport({ brokers: cluster.urls.map((u) => u.replace(/^kafka:\/\//, '')), topicPrefix: `${prefix}.` }),
    cleanup: async (urls, prefix) => {
      const { deleteTopology } = await import('@org/eventbus-kafka');
      await deleteTopology({ brokers: urls.map((u) => u.replace(/^kafka:\/\//, '')), topicPrefix: `${prefix}.` });
    },
  },
};

const schema = z.object({ n: z.number() });

/** One round: EVENTS in 8 lanes of batches of 50 while one consumer (100 in flight) takes them; then latency one at a time. */
async function round(makeTransport: (prefix: string) => Transport, prefix: string) {
  const contract = defineEvent({ type: `bench.cluster.${prefix}`, description: 'cluster benchmark event', schema });
  const consumerTransport = makeTransport(prefix);
  const publisherTransport = makeTransport(prefix);
  const consumer = createEventBus({ transport: consumerTransport, source: '/bench' });
  const publisher = createEventBus({ transport: publisherTransport, source: '/bench' });
  let received = 0;
  let onReceived: (n: number) => void = () => {};
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  consumer.handle(contract, { group: 'bench', concurrency: 100 }, (event) => {
    received++;
    const at = sentAt.get(event.data.n);
    if (at !== undefined) latencies.push(performance.now() - at);
    onReceived(received);
  });
  await consumer.provision();
  await consumer.start();
  const all = (target: number) =>
    new Promise<void>((resolve) => {
      onReceived = (n) => n >= target && resolve();
      if (received >= target) resolve();
    });
  const started = performance.now();
  const done = all(EVENTS);
  await inLanes(EVENTS, { lanes: 8, batch: 50 }, async (seq, n) => {
    await publisher.publishBatch(Array.from({ length: n }, (_, i) => ({ contract, data: { n: seq + i } })));
  });
  await done;
  const perSecond = EVENTS / ((performance.now() - started) / 1000);
  for (let i = 0; i < LATENCY_EVENTS; i++) {
    const n = EVENTS + i;
    const arrived = all(EVENTS + i + 1);
    sentAt.set(n, performance.now());
    await publisher.publish(contract, { n });
    await arrived;
  }
  await consumer.stop();
  await publisher.stop();
  await Promise.all([consumerTransport.close(), publisherTransport.close()]);
  return { perSecond, latencies };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function bench(broker: ClusterBroker, target: Target) {
  const script = fileURLToPath(new URL(`../scripts/${broker}-cluster.sh`, import.meta.url));
  const cluster = await startCluster({ script });
  const results = { single: { rates: [] as number[], latencies: [] as number[] }, cluster: { rates: [] as number[], latencies: [] as number[] } };
  const prefixes: { single: string[]; cluster: string[] } = { single: [], cluster: [] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of ['single', 'cluster'] as const) {
        const prefix = `bench-cluster-${run}-${kind}-${r}`;
        prefixes[kind].push(prefix);
        const make = kind === 'single' ? target.single : (p: string) => target.clustered(cluster, p);
        const { perSecond, latencies } = await round(make, prefix);
        results[kind].rates.push(perSecond);
        results[kind].latencies.push(...latencies);
        console.log(`${broker} round ${r + 1} ${kind}: ${Math.round(perSecond)} events/s`);
      }
    }
  } finally {
    for (const p of prefixes.single) await target.cleanup(target.singleUrls, p).catch(() => {});
    for (const p of prefixes.cluster) await target.cleanup(cluster.urls, p).catch(() => {});
    await cluster.stop();
  }
  return (['single', 'cluster'] as const).map((kind) => {
    const sorted = [...results[kind].latencies].sort((a, b) => a - b);
    return {
      broker,
      setup: kind === 'single' ? 'one node' : `three nodes: ${target.topology}`,
      'events/s (median)': Math.round(median(results[kind].rates)),
      'p50 ms': percentile(sorted, 50),
      'p99 ms': percentile(sorted, 99),
    };
  });
}

const asked = process.argv.slice(3).filter((a) => a in TARGETS) as ClusterBroker[];
const brokers = asked.length > 0 ? asked : (Object.keys(TARGETS) as ClusterBroker[]);
const loadAtStart = os.loadavg()[0] ?? 0;
const rows = [];
for (const broker of brokers) {
  const target = TARGETS[broker];
  if (target) rows.push(...(await bench(broker, target)));
}
const markdown = table(rows);
writeSection(
  'cluster',
  `## Three-node clusters beside one node (bench/cluster.ts)

${EVENTS.toLocaleString('en-US')} events per round, ${ROUNDS} rounds alternating one node and the cluster: 8 publish lanes of batches of 50 (every confirm awaited), one consumer group with 100 in flight, through the bus. Latency: ${LATENCY_EVENTS} events one at a time, publish call → handler. All nodes run on the same 2-core machine, so the cluster's cost here is replication work on shared cores, not network distance. Load average ${loadAtStart.toFixed(1)} at the start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at the end (2 cores shared with other work: rounds swing with it).

${markdown}`,
);
