// The bus's own per-event CPU, with no broker in the way (`pnpm bench core`): 1 KB validated events
// through a NullTransport (bench/lib/null-transport.ts) — by hand (createEnvelope + zod +
// encodeStructured, then JSON.parse + zod + ack: what "RabbitMqTransport alone" does around the
// adapter) and through the bus in structured and binary mode. The difference between the bus and the
// hand path is core's cost per event (pipeline, context, settle, codec checks, publish bookkeeping).
// Rounds rotate the order; the median CPU µs/event and the median per-round difference are printed.
// `PROFILE=1` profiles one extra structured bus run and lists core's functions by self time.
import os from 'node:os';
import { createEventBus, silentLogger } from '@org/eventbus';
import { data, measured, readStructured, type Setup, structuredBatch, throughput } from './lib/harness.js';
import { NullTransport, type NullWire } from './lib/null-transport.js';
import { median, rotatingRounds } from './lib/rounds.js';
import { profiled } from './lib/self-time.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const Measured = measured('bench.core.measured');
const load = { total: EVENTS, lanes: 4, batch: 500 };

const byHand: Setup = async (onEvent) => {
  const consumer = new NullTransport();
  await consumer.subscribe({}, (d) => {
    onEvent(readStructured(d.message.body));
    return d.ack();
  });
  const publisher = new NullTransport().connectTo(consumer);
  return {
    send: (seq, n) => publisher.publish(structuredBatch(Measured.channel, Measured.type, seq, n)),
    close: async () => {},
  };
};

const bus =
  (wire: NullWire): Setup =>
  async (onEvent) => {
    const transport = new NullTransport(wire);
    const consumer = createEventBus({ transport, source: '/bench', logger: silentLogger });
    consumer.handle(Measured, { group: 'core', concurrency: 500 }, (event) => onEvent(event.data.sentAt));
    await consumer.start();
    const publisher = createEventBus({ transport: new NullTransport(wire).connectTo(transport), source: '/bench', logger: silentLogger });
    return {
      send: async (seq, n) => void (await publisher.publishBatch(Array.from({ length: n }, (_, i) => ({ contract: Measured, data: data(seq + i) })))),
      close: async () => void (await Promise.all([publisher.stop(), consumer.stop()])),
    };
  };

const paths = [
  { name: 'by hand, structured', run: () => throughput(byHand, load) },
  { name: 'bus, structured', run: () => throughput(bus('structured'), load) },
  { name: 'bus, binary', run: () => throughput(bus('binary'), load) },
] as const;

// One unmeasured pass of each, so the JIT has seen every path before the first round.
for (const path of paths) await path.run();
const results = await rotatingRounds(paths, ROUNDS);
const hand = results['by hand, structured'];
console.log(`\ncore: ${EVENTS} events × ${ROUNDS} rounds, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('| path | CPU µs/event (median) | over by hand (median per round) | events/s (median) |\n| --- | --- | --- | --- |');
for (const { name } of paths) {
  const samples = results[name];
  const over = median(samples.map((s, i) => s.cpuPerEvent - hand[i]!.cpuPerEvent));
  console.log(`| ${name} | ${median(samples.map((s) => s.cpuPerEvent)).toFixed(2)} | ${over.toFixed(2)} | ${Math.round(median(samples.map((s) => s.rate)))} |`);
}
if (process.env.PROFILE) await profiled(EVENTS, () => throughput(bus('structured'), load));
process.exit(0);
