// RabbitMQ: the bus end to end (publishBatch → confirm → quorum queue → handler → ack) on one node
// beside the three-node cluster of scripts/rabbitmq-cluster.sh (queues of three replicas, every node
// a seed), in the same run, alternating so machine noise hits both. Prints the rows docs/clusters.md
// quotes. Usage: `EVENTBUS_RABBITMQ_URL=amqp://… pnpm exec tsx bench/rabbitmq-cluster.ts`
// (starts and stops its own cluster; BENCH_EVENTS, BENCH_ROUNDS). `rabbitmqClusterTarget` is the
// RabbitMQ entry for bench/cluster.ts's TARGETS (same shape), so `pnpm bench cluster rabbitmq` runs it too.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createEventBus, defineEvent, silentLogger, type Transport } from '@org/eventbus';
import { deleteTopology, RabbitMqTransport } from '@org/eventbus-rabbitmq';
import { z } from 'zod';
import { inLanes } from './lib/lanes.js';
import { percentile, table } from './lib/report.js';

const SINGLE = process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const TOTAL = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PACED = { events: 2_000, perSecond: 500 };
const SCRIPT = fileURLToPath(new URL('../scripts/rabbitmq-cluster.sh', import.meta.url));
const Measured = defineEvent({
  type: 'bench.rabbitmq.cluster',
  description: 'A 1 KB benchmark event.',
  schema: z.object({ seq: z.number().int(), sentAt: z.number(), payload: z.string() }),
});
const payload = 'x'.repeat(1024 - 60);

/** Every node of the cluster as one seed-list URL (amqp://guest:guest@127.0.0.1:15681,127.0.0.1:15682,…), vhost and query of the first. */
function seedList(urls: readonly string[]): string {
  const parsed = urls.map((url) => new URL(url));
  const first = parsed[0];
  if (!first) throw new Error('a cluster has at least one node');
  return `${first.protocol}//${first.username}:${first.password}@${parsed.map((u) => u.host).join(',')}${first.pathname}${first.search}`;
}

/** RabbitMQ's entry for bench/cluster.ts: one node, or every node as a seed with queues of three. */
export const rabbitmqClusterTarget = {
  topology: 'quorum queues of 3 (quorumInitialGroupSize 3), every node a seed',
  single: (prefix: string): Transport => new RabbitMqTransport({ url: SINGLE, exchange: prefix, logger: silentLogger }),
  clustered: (cluster: { urls: readonly string[] }, prefix: string): Transport =>
    new RabbitMqTransport({ url: seedList(cluster.urls), exchange: prefix, quorumInitialGroupSize: 3, logger: silentLogger }),
  cleanup: (urls: readonly string[], prefix: string): Promise<void> => deleteTopology(seedList(urls), { exchange: prefix, groups: ['bench'] }),
};

interface Target {
  name: string;
  url: string;
  quorumInitialGroupSize?: number;
}

/** Throughput (events/s, publish start → last handled) and paced latency (publish call → handler) on one target. */
async function measure(target: Target): Promise<{ perSecond: number; p50: number; p99: number }> {
  const exchange = `bench-cluster-${randomUUID().slice(0, 8)}`;
  const group = 'g';
  const transport = () =>
    new RabbitMqTransport({ url: target.url, exchange, logger: silentLogger, ...(target.quorumInitialGroupSize ? { quorumInitialGroupSize: target.quorumInitialGroupSize } : {}) });
  const consumer = createEventBus({ transport: transport(), source: '/bench' });
  const publisher = createEventBus({ transport: transport(), source: '/bench' });
  const latencies: number[] = [];
  let received = 0;
  let expected = TOTAL;
  let markDone: () => void = () => {};
  consumer.handle(Measured, { group, concurrency: 500 }, (event) => {
    if (event.data.seq < 0) latencies.push(performance.now() - event.data.sentAt);
    if (++received === expected) markDone();
  });
  await consumer.start();
  await publisher.transport.connect();
  try {
    let done = new Promise<void>((resolve) => {
      markDone = resolve;
    });
    const started = performance.now();
    await inLanes(TOTAL, { lanes: 4, batch: 500 }, async (seq, n) => {
      await publisher.publishBatch(Array.from({ length: n }, (_, i) => ({ contract: Measured, data: { seq: seq + i, sentAt: performance.now(), payload } })));
    });
    await done;
    const perSecond = Math.round(TOTAL / ((performance.now() - started) / 1000));
    received = 0;
    expected = PACED.events;
    done = new Promise<void>((resolve) => {
      markDone = resolve;
    });
    const pacedStart = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < PACED.events; i++) {
      const wait = pacedStart + (i * 1000) / PACED.perSecond - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      sends.push(publisher.publish(Measured, { seq: -1 - i, sentAt: performance.now(), payload }));
    }
    await Promise.all(sends);
    await done;
    latencies.sort((a, b) => a - b);
    return { perSecond, p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)) };
  } finally {
    await Promise.all([publisher.stop(), consumer.stop()]);
    await deleteTopology(target.url, { exchange, groups: [group] }).catch(() => {});
  }
}

function cluster(command: string, dir: string): string {
  return execFileSync('bash', [SCRIPT, command], { env: { ...process.env, CLUSTER_DIR: dir, CLUSTER_OWNER_PID: String(process.pid) }, encoding: 'utf8', timeout: 240_000 });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-bench-rabbitmq-cluster-'));
  try {
    const seeds = seedList([...cluster('start', dir).matchAll(/^node \S+ (\S+) \d+$/gm)].map((m) => m[1] ?? ''));
    const targets: Target[] = [
      { name: 'one node (quorum queue, 1 replica)', url: SINGLE },
      { name: 'three-node cluster (quorum queues of 3, seed list)', url: seeds, quorumInitialGroupSize: 3 },
    ];
    const rows = new Map<string, { perSecond: number[]; p50: number[]; p99: number[] }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
        const r = await measure(target);
        const row = rows.get(target.name) ?? { perSecond: [], p50: [], p99: [] };
        row.perSecond.push(r.perSecond);
        row.p50.push(r.p50);
        row.p99.push(r.p99);
        rows.set(target.name, row);
        console.error(`round ${round + 1}: ${target.name}: ${r.perSecond} events/s, p50 ${r.p50} ms, p99 ${r.p99} ms`);
      }
    }
    // The middle value (of an even count, the lower of the two middle ones).
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    console.log(`load average at the end: ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs; ${TOTAL} events × ${ROUNDS} rounds, median`);
    console.log(
      table(
        [...rows].map(([name, r]) => ({
          target: name,
          'events/s': median(r.perSecond),
          [`p50 ms (${PACED.perSecond}/s)`]: median(r.p50),
          [`p99 ms (${PACED.perSecond}/s)`]: median(r.p99),
        })),
      ),
    );
  } finally {
    cluster('stop', dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
