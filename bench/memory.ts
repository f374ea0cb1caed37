// Memory transport end to end with validation on: 1 KB events through publish → decode → zod →
// handler → ack. Throughput is measured saturated (wall clock and per CPU-second, which a busy
// machine distorts less); latency at a paced rate, since under saturation it only measures the queue;
// resident memory is sampled while 1,000,000 events pass, and must stay flat.
import { performance } from 'node:perf_hooks';
import { createEventBus, defineEvent, MemoryTransport } from '@org/eventbus';
import { z } from 'zod';
import { percentile, table, writeSection } from './lib/report.js';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PACED = Math.min(TOTAL, 100_000);
const BATCH = 500;
const Measured = defineEvent({
  type: 'bench.measured',
  description: 'A 1 KB benchmark event.',
  schema: z.object({ seq: z.number().int(), sentAt: z.number(), payload: z.string() }),
});
const payload = 'x'.repeat(1024 - 60);
const mb = (n: number) => Math.round(n / 2 ** 20);

async function setup(name: string, concurrency: number, expected: number, onEvent: (sentAt: number) => void) {
  const maxBacklog = Number(process.env.BENCH_BACKLOG ?? 1_000);
  const bus = createEventBus({ transport: new MemoryTransport({ broker: `bench-${name}`, maxBacklog }), source: '/bench' });
  let received = 0;
  let markDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  bus.handle(Measured, { group: 'bench', concurrency }, (event) => {
    onEvent(event.data.sentAt);
    if (++received === expected) markDone();
  });
  await bus.start();
  return { bus, done };
}

const batch = (seq: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ contract: Measured, data: { seq: seq + i, sentAt: performance.now(), payload } }));

async function throughput(concurrency: number) {
  const { bus, done } = await setup(`tp-${concurrency}`, concurrency, TOTAL, () => {});
  const rss: number[] = [process.memoryUsage().rss];
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let seq = 0; seq < TOTAL; seq += BATCH) {
    await bus.publishBatch(batch(seq, Math.min(BATCH, TOTAL - seq)));
    if (seq % (TOTAL / 10) === 0) rss.push(process.memoryUsage().rss);
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  rss.push(process.memoryUsage().rss);
  await bus.stop();
  return {
    run: `saturated, concurrency ${concurrency}`,
    events: TOTAL,
    'events/s (wall)': Math.round(TOTAL / seconds),
    'events per CPU-second': Math.round(TOTAL / ((used.user + used.system) / 1e6)),
    'p50 ms': '—',
    'p99 ms': '—',
    'RSS MiB at each 10%': rss.map(mb).join(' '),
  };
}

async function pacedLatency(ratePerSecond: number) {
  const latencies: number[] = [];
  const { bus, done } = await setup('paced', 100, PACED, (sentAt) => latencies.push(performance.now() - sentAt));
  const perTick = ratePerSecond / 1000;
  const started = performance.now();
  for (let seq = 0; seq < PACED; ) {
    const due = Math.floor((performance.now() - started) * perTick);
    if (due > seq) {
      const n = Math.min(due - seq, PACED - seq);
      await bus.publishBatch(batch(seq, n));
      seq += n;
    } else {
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  await done;
  await bus.stop();
  latencies.sort((a, b) => a - b);
  return {
    run: `paced at ${ratePerSecond.toLocaleString('en-US')}/s`,
    events: PACED,
    'events/s (wall)': '—',
    'events per CPU-second': '—',
    'p50 ms': percentile(latencies, 50),
    'p99 ms': percentile(latencies, 99),
    'RSS MiB at each 10%': '—',
  };
}

const rows = [await throughput(100), await throughput(1), await pacedLatency(20_000)];
writeSection(
  'memory',
  `## Memory transport, end to end\n\n1 KB events through \`bus.publishBatch\` (batches of ${BATCH}) → encode → memory broker → decode → zod validation → handler → ack, in one process. Latency is the publish call → handler start. Target: ≥ 300,000 events/s and flat memory. Reproduce: \`pnpm bench memory\`.\n\n${table(rows)}`,
);
