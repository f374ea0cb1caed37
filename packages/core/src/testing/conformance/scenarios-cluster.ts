import { expect } from 'vitest';
import { idempotency } from '../../middleware/idempotency.js';
import type { Middleware } from '../../context.js';
import type { Transport } from '../../transport.js';
import type { Cluster } from '../cluster.js';
import { Harness, missing, type PayloadContract, provisionGroup, SeenIds } from './harness.js';
import type { ConformanceOptions } from './options.js';

export interface ClusterFailoverOptions {
  /** The broker's name, for the report line. */
  name: string;
  cluster: Cluster;
  /** A transport on the whole cluster (every node as a seed), with the cluster topology options under test. */
  makeTransport: (cluster: Cluster) => Transport | Promise<Transport>;
  /**
   * The node leading what carries the group's events (NATS: the channel stream; Kafka: the partition;
   * RabbitMQ: the group's quorum queue), asked of the broker after the group was provisioned.
   */
  leaderOf: (target: { group: string; channel: string }) => Promise<string>;
  /** Publishes in the run; 5,000 by default. */
  publishes?: number;
  /** Kill the leader once this fraction of the publishes was sent (0.3). */
  killAt?: number;
  /**
   * Restart it once this fraction was sent (0.6) and events were both published and delivered since
   * the kill — the cluster failed over — or `maxDownMs` after the kill, whichever comes first.
   */
  restartAt?: number;
  /** Longest the killed node stays down (15 s). */
  maxDownMs?: number;
  /**
   * Require progress while the leader is down (publishes resolving, new deliveries): true by default,
   * so a topology that only recovers when the node comes back (one replica) fails. False for a broker
   * that is expected to pause until the node returns.
   */
  progressWhileDown?: boolean;
  /**
   * Redeliveries (deliveries past the first of one event) the broker may make around a failover:
   * unacknowledged work in flight when the leader died. The handler runs behind `idempotency()`, so
   * a duplicate never runs twice; this bounds the raw count. Default: 10% of the publishes.
   */
  maxDuplicates?: number;
  /** Longest time without progress (no new delivery, no publish resolving) allowed after the kill (60 s). */
  maxStallMs?: number;
  /** How long every resolved publish may take to arrive once publishing ended (120 s). */
  deliveryTimeoutMs?: number;
  /** Remove what the run created (streams, topics, queues). Failures are ignored. */
  cleanup?: ConformanceOptions['cleanup'];
  /** Where the report line goes; console.info by default. */
  log?: (line: string) => void;
}

export interface ClusterFailoverResult {
  publishes: number;
  resolved: number;
  rejected: number;
  /** Resolved publishes never delivered: must be 0. */
  lost: number;
  /** Deliveries past the first per event id (at-least-once redeliveries). */
  duplicates: number;
  /** Handler runs past the first per event id behind idempotency(): must be 0. */
  duplicateRuns: number;
  /** The node killed, and when (ms from the first publish) it was killed and back. */
  leader: string;
  killedAtMs: number;
  restartedAtMs: number;
  /** Publish batches resolved and events first delivered while the killed node was down. */
  whileDown: { published: number; delivered: number };
  /** Longest gap without a new delivery, and without a publish resolving, from the kill to the end. */
  consumeStallMs: number;
  publishStallMs: number;
  totalMs: number;
}

/** The longest gap between consecutive progress times within [from, to]. */
export function longestGap(times: readonly number[], from: number, to: number): number {
  let last = from;
  let longest = 0;
  for (const t of [...times.filter((x) => x > from && x <= to)].sort((a, b) => a - b)) {
    longest = Math.max(longest, t - last);
    last = t;
  }
  return Math.max(longest, to - last);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

/** Counts every delivery reaching the handler's chain, before idempotency() drops the duplicates. */
function countingDeliveries(into: Map<string, number>): Middleware {
  return (next) => async (ctx) => {
    into.set(ctx.event.id, (into.get(ctx.event.id) ?? 0) + 1);
    await next(ctx);
  };
}

/**
 * The leader of the group's stream/partition/queue is killed with SIGKILL during `publishes`
 * publishes and live consumption, then restarted. Every publish that resolved is delivered to the
 * consumer that was running all along (no restart of the application), duplicates stay within
 * `maxDuplicates` and never run the handler twice, and the time without progress is measured and
 * reported. Call it inside a test of `describeCluster`; it throws (through expect) when a promise breaks.
 */
export async function clusterFailoverScenario(options: ClusterFailoverOptions): Promise<ClusterFailoverResult> {
  const { cluster } = options;
  const total = options.publishes ?? 5000;
  const h = new Harness(() => options.makeTransport(cluster), options.cleanup);
  try {
    const contract: PayloadContract = h.contract('failover');
    const group = h.group();
    await provisionGroup(h, group, [contract.channel]);

    const deliveries = new Map<string, number>();
    const runs = new Map<string, number>();
    const seen = new SeenIds();
    const deliveredAt: number[] = [];
    const consumer = await h.bus();
    consumer.handle(
      contract,
      { group, concurrency: 50, middleware: [countingDeliveries(deliveries), idempotency({ ttl: 600_000 })] },
      (event) => {
        runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
        if (!seen.seen.has(event.id)) deliveredAt.push(Date.now());
        seen.add(event.id);
      },
    );
    await consumer.start();
    const leader = await options.leaderOf({ group, channel: contract.channel });
    expect(cluster.nodes, `leaderOf answered "${leader}", not a node of the cluster`).toContain(leader);

    const publisher = await h.bus();
    const resolved = new Set<string>();
    const publishedAt: number[] = [];
    let rejected = 0;
    let sent = 0;
    const started = Date.now();
    const lanes = Array.from({ length: 4 }, async () => {
      while (sent < total) {
        const first = sent;
        sent += 50;
        const batch = Array.from({ length: Math.min(50, total - first) }, (_, j) => ({ contract, data: { n: first + j } }));
        try {
          for (const e of await publisher.publishBatch(batch)) resolved.add(e.id);
          publishedAt.push(Date.now());
        } catch {
          // The caller saw the error: the event is not promised. Counted, not retried.
          rejected += batch.length;
        }
      }
    });
    let killedAt = 0;
    let restartedAt = 0;
    const since = (times: readonly number[], from: number) => times.filter((t) => t > from).length;
    const whileDown = { published: 0, delivered: 0 };
    const fault = (async () => {
      await until(() => sent >= total * (options.killAt ?? 0.3), 120_000);
      await cluster.kill(leader);
      killedAt = Date.now();
      const failedOver = () => since(publishedAt, killedAt) > 0 && since(deliveredAt, killedAt) > 0;
      await until(() => sent >= total * (options.restartAt ?? 0.6) && failedOver(), options.maxDownMs ?? 15_000);
      whileDown.published = since(publishedAt, killedAt);
      whileDown.delivered = since(deliveredAt, killedAt);
      await cluster.restart(leader);
      restartedAt = Date.now();
    })();
    // The gaps end with the work itself, not with the restart: work that finished while the node was
    // still down did not pause.
    const [publishedEnd] = await Promise.all([Promise.all(lanes).then(() => Date.now()), fault]);
    await seen.waitForAll(resolved, { timeoutMs: options.deliveryTimeoutMs ?? 120_000, description: 'every resolved publish' }).catch(() => {});
    const end = deliveredAt.at(-1) ?? publishedEnd;

    const count = (m: Map<string, number>) => [...m.values()].reduce((sum, n) => sum + n - 1, 0);
    const result: ClusterFailoverResult = {
      publishes: total,
      resolved: resolved.size,
      rejected,
      lost: missing(resolved, seen.seen).length,
      duplicates: count(deliveries),
      duplicateRuns: count(runs),
      leader,
      killedAtMs: killedAt - started,
      restartedAtMs: restartedAt - started,
      whileDown,
      consumeStallMs: longestGap(deliveredAt, killedAt, end),
      publishStallMs: longestGap(publishedAt, killedAt, publishedEnd),
      totalMs: end - started,
    };
    (options.log ?? console.info)(
      `[eventbus] ${options.name} cluster failover: leader ${leader} SIGKILLed at ${result.killedAtMs} ms, back at ${result.restartedAtMs} ms ` +
        `(while down: ${whileDown.published} publish batches resolved, ${whileDown.delivered} events delivered); ` +
        `${result.resolved}/${total} publishes resolved (${rejected} rejected), ${result.lost} lost, ${result.duplicates} redelivered ` +
        `(${result.duplicateRuns} ran twice); longest time without progress: consume ${result.consumeStallMs} ms, publish ${result.publishStallMs} ms; total ${result.totalMs} ms`,
    );
    expect(result.resolved, `only ${result.resolved} of ${total} publishes resolved`).toBeGreaterThan(total / 2);
    expect(result.lost, 'resolved publishes never delivered').toBe(0);
    if (options.progressWhileDown ?? true) {
      expect(whileDown.published, 'publishes resolved while the leader was down (no failover?)').toBeGreaterThan(0);
      expect(whileDown.delivered, 'events delivered while the leader was down (no failover?)').toBeGreaterThan(0);
    }
    expect(result.duplicateRuns, 'handler runs past the first behind idempotency()').toBe(0);
    expect(result.duplicates, 'redeliveries around the failover').toBeLessThanOrEqual(options.maxDuplicates ?? Math.ceil(total / 10));
    expect(result.consumeStallMs, 'longest time without a new delivery after the kill').toBeLessThanOrEqual(options.maxStallMs ?? 60_000);
    expect(result.publishStallMs, 'longest time without a publish resolving after the kill').toBeLessThanOrEqual(options.maxStallMs ?? 60_000);
    return result;
  } finally {
    await h.cleanup();
  }
}
