// Kafka end to end (publish → topic of 3 partitions → group consumer → handler), acks=all: raw
// @platformatic/kafka with plain JSON (the ceiling), with the structured CloudEvent the adapter sends
// (the envelope's own price) and with our CloudEvents binary headers, the
// adapter alone, and the bus in binary and structured mode (the paths: bench/lib/kafka-paths.ts).
import { type BenchPath, runBench, type Setup } from './lib/harness.js';
import { adapterAlone, bus, dropTopics, FETCH_MAX_BYTES, raw } from './lib/kafka-paths.js';

const path = (name: string, setup: Setup): BenchPath => ({ name, setup, after: dropTopics });
const paths = [
  path('raw @platformatic/kafka, plain JSON', raw('plain')),
  path('raw @platformatic/kafka, CloudEvents structured (same bytes as the adapter)', raw('structured')),
  path('raw @platformatic/kafka, CloudEvents binary headers', raw('binary')),
  path('KafkaTransport alone, structured', adapterAlone),
  path('bus, binary mode', bus('binary')),
  path('bus, structured mode', bus('structured')),
];
try {
  await runBench({
    section: 'kafka',
    title: 'Kafka (@platformatic/kafka 2, acks=all, 3 partitions)',
    intro: `One Apache Kafka broker (scripts/kafka.sh), a fresh topic per run. The raw producer sends with acks=all (not idempotent); the adapter's producer is idempotent with acks=all. Consumers fetch at most ${FETCH_MAX_BYTES.toLocaleString('en-US')} bytes per response; the bus handler runs at its default concurrency (10) and the adapter alone subscribes with prefetch 10 to match. The raw structured row sends what the adapter sends by default (the CloudEvent as one JSON document, its content-type header) and reads the envelope's data: against plain JSON it is the envelope's price, the adapter alone against it is the adapter's. Reproduce: \`EVENTBUS_KAFKA_BROKERS=127.0.0.1:9092 pnpm bench kafka\`.`,
    paths,
    load: { total: Number(process.env.BENCH_EVENTS ?? 20_000), lanes: 4, batch: 500 },
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    latency: { rate: 200, total: Number(process.env.BENCH_LATENCY_EVENTS ?? 1_500), paths: [paths[0]!, paths[4]!, paths[5]!] },
  });
} finally {
  await dropTopics();
}
process.exit(0);
