import { type Delivery, type Logger, type Subscription, silentLogger } from '@org/eventbus';
import { createSpy, describeBroker, eventually } from '@org/eventbus/testing';
import { Admin } from '@platformatic/kafka';
import { afterAll, afterEach, expect, it } from 'vitest';
import type { KafkaTransport } from '../src/index.js';
import { bodyOf, brokersFrom, deleteRunTopics, message, runId, testTransport } from './helpers.js';

interface Run {
  member: 'A' | 'B';
  n: number;
  start: number;
  end?: number;
}

/** Long enough for a slow handler to outlast the rebalance, short of the barrier's bound. */
const GROUP = { sessionTimeoutMs: 15_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 15_000, drainTimeoutMs: 12_000 };

/**
 * A rolling deploy on Kafka: worker A has 50 handlers in flight and drains (or simply keeps
 * running) while worker B joins the group. The rebalance barrier keeps A's partitions from moving
 * until A's deliveries are settled and committed, so B never starts one of them while A runs it.
 */
describeBroker('kafka drain during a rebalance', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const open: KafkaTransport[] = [];
  const transport = async (logger = silentLogger) => {
    const t = testTransport(brokers(), { ...GROUP, logger });
    open.push(t);
    await t.connect();
    return t;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(() => deleteRunTopics(brokers()), 60_000);

  async function groupState(group: string): Promise<string | undefined> {
    const admin = new Admin({ clientId: 'test-describe', bootstrapBrokers: brokersFrom(brokers()) });
    try {
      return (await admin.describeGroups({ groups: [group] })).get(group)?.state;
    } finally {
      await admin.close();
    }
  }

  async function rollingDeploy(drainA: boolean) {
    const id = runId();
    const channel = `dr-${id}`;
    const group = `g-${id}`;
    const runs: Run[] = [];
    const started = createSpy<Run>();
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const handler = (member: 'A' | 'B') => async (d: Delivery) => {
      const run: Run = { member, n: bodyOf(d.message.body).n, start: Date.now() };
      runs.push(run);
      started.fn(run);
      if (member === 'A') await gate;
      run.end = Date.now();
      await d.ack();
    };
    const barrier = createSpy<string>();
    const logA: Logger = { ...silentLogger, debug: (_obj, msg) => barrier.fn(msg ?? '') };
    const a = await transport(logA);
    const subA = await a.subscribe({ group, channels: [channel], prefetch: 50 }, handler('A'));
    await a.publish(Array.from({ length: 50 }, (_, n) => message(channel, n, { key: `k${n}` })));
    await started.waitForCount(50, { timeoutMs: 30_000 });

    const closingA = drainA ? subA.close() : undefined;
    const b = await transport();
    const joiningB: Promise<Subscription> = b.subscribe({ group, channels: [channel], prefetch: 50 }, handler('B'));
    // A saw the rebalance and holds its rejoin (or, without the barrier, B already runs A's events).
    await eventually(
      () => barrier.calls.some((m) => m.includes('waiting for 50 deliveries')) || runs.some((r) => r.member === 'B'),
      Boolean,
      { timeoutMs: 20_000, description: 'the rebalance reaching A' },
    );
    // While A holds its rejoin the group cannot complete the rebalance: B is still waiting.
    if (!runs.some((r) => r.member === 'B')) expect(await groupState(group)).toBe('PreparingRebalance');
    const gateOpenedAt = Date.now();
    openGate();
    await closingA;
    await joiningB;
    const bJoinedAt = Date.now();

    // The group works after the rebalance: 20 more events all run (on B alone once A has left).
    await a.publish(Array.from({ length: 20 }, (_, n) => message(channel, 100 + n, { key: `k${n}` })));
    await started.waitFor((calls) => calls.filter((r) => r.n >= 100).length >= 20, { timeoutMs: 30_000 });

    const firstBatch = runs.filter((r) => r.n < 50);
    const overlaps = firstBatch.filter((r) => r.member === 'B' && firstBatch.some((x) => x.member === 'A' && x.n === r.n && (x.end ?? Infinity) > r.start));
    expect(overlaps).toEqual([]);
    // A committed all 50 before it rejoined: none of them runs a second time anywhere.
    expect(firstBatch.map((r) => r.n).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, n) => n));
    if (drainA) expect(runs.filter((r) => r.n >= 100).every((r) => r.member === 'B')).toBe(true);
    return { waitedMs: bJoinedAt - gateOpenedAt };
  }

  it('a member draining while another joins: no event runs on both at once, none runs twice', async () => {
    const { waitedMs } = await rollingDeploy(true);
    console.log(`[drain-rebalance] B's subscribe completed ${waitedMs} ms after A's handlers were released`);
  }, 90_000);

  it('a member that keeps running while another joins: its in-flight events are not started again elsewhere', async () => {
    await rollingDeploy(false);
  }, 90_000);
});
