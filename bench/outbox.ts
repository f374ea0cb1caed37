// The outbox relay against direct publishing, 1 KB events, on RabbitMQ (confirms on, quorum queue) and
// Kafka (acks=all): rows already committed in the outbox → relay (lock batch, publish, wait for the
// broker's confirm, delete, commit) → confirmed on the broker, against `bus.publishBatch` of the same
// events in batches of the same size, one batch at a time as one relay works. Publish side only (a
// provisioned queue / topic, no consumer): the relay's cost is what is measured. Interleaved rounds;
// the ratio is the median of the per-round ratios. Target: relay ÷ direct ≥ 0.8. The relay runs with its
// defaults (2 batches in flight, 1,000 rows a batch), and with 500-row batches 2 in flight and one at a
// time (the defaults until 2026-12-06), to show what each default buys.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createEventBus, defineEvent, type EventBus, silentLogger, type Transport } from '@org/eventbus';
import { KafkaTransport } from '@org/eventbus-kafka';
import { createOutbox, createRelay, DEFAULT_BATCH_SIZE, DEFAULT_BATCHES_IN_FLIGHT, migrate } from '@org/eventbus-postgres';
import { deleteTopology, RabbitMqTransport } from '@org/eventbus-rabbitmq';
import pg from 'pg';
import { z } from 'zod';
import { table, writeSection } from './lib/report.js';
import { clock, rotatingRounds, type Sample, summary } from './lib/rounds.js';

const PG_URL = process.env.EVENTBUS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const AMQP_URL = process.env.EVENTBUS_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const BROKERS = (process.env.EVENTBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').replace(/^kafka:\/\//, '').split(',');
const TOTAL = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const BATCH = 500;
const RUN = randomUUID().slice(0, 8);
const SCHEMA = `bench_outbox_${RUN}`;
const TABLES = { outbox: `${SCHEMA}.outbox`, inbox: `${SCHEMA}.inbox` };
const payload = 'x'.repeat(1024 - 60);
const Measured = defineEvent({
  type: 'bench.outbox.measured',
  channel: `bench-outbox-${RUN}`,
  description: 'A 1 KB benchmark event.',
  schema: z.object({ seq: z.number().int(), payload: z.string() }),
});

const entries = (seq: number, n: number) => Array.from({ length: n }, (_, i) => ({ contract: Measured, data: { seq: seq + i, payload } }));

async function direct(bus: EventBus): Promise<Sample> {
  const stop = clock(TOTAL);
  for (let seq = 0; seq < TOTAL; seq += BATCH) await bus.publishBatch(entries(seq, Math.min(BATCH, TOTAL - seq)));
  return stop();
}

/** Fill the outbox (outside the clock: the service's own transactions pay for that), then time the relay draining it. */
async function relayed(pool: pg.Pool, bus: EventBus, transport: Transport, tuning: { batchesInFlight?: number; batchSize?: number }): Promise<Sample> {
  const outbox = createOutbox({ bus, tables: TABLES });
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (let seq = 0; seq < TOTAL; seq += BATCH) await outbox.publishBatch(client, entries(seq, Math.min(BATCH, TOTAL - seq)));
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  const relay = createRelay({ pool, transport, tables: TABLES, ...tuning, logger: silentLogger });
  const stop = clock(TOTAL);
  const published = await relay.drain();
  const sample = stop();
  if (published !== TOTAL) throw new Error(`relay published ${published} of ${TOTAL}`);
  return sample;
}

async function compare(name: string, transport: Transport, group: string) {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 6 });
  await migrate(pool, { tables: TABLES });
  await transport.connect();
  // A group bound to the channel keeps every event (RabbitMQ refuses unrouted publishes), nobody consumes.
  await transport.provision([{ group, channels: [Measured.channel] }]);
  const bus = createEventBus({ transport, source: '/bench', logger: silentLogger });
  try {
    const results = await rotatingRounds(
      [
        { name: 'direct', run: () => direct(bus) },
        { name: 'defaults', run: () => relayed(pool, bus, transport, {}) },
        { name: 'pipelined', run: () => relayed(pool, bus, transport, { batchesInFlight: 2, batchSize: BATCH }) },
        { name: 'serial', run: () => relayed(pool, bus, transport, { batchesInFlight: 1, batchSize: BATCH }) },
      ],
      ROUNDS,
    );
    const baseline = summary(results.direct, results.direct);
    const row = (path: string, s: ReturnType<typeof summary>) => ({
      broker: name,
      path,
      'events/s': Math.round(s.medianRate),
      'per round': s.perRound,
      'ratio to direct': Number(s.ratio.toFixed(2)),
    });
    return [
      row('bus.publishBatch (500/call)', baseline),
      row(`outbox relay, defaults (${DEFAULT_BATCHES_IN_FLIGHT} batches in flight, ${DEFAULT_BATCH_SIZE.toLocaleString('en-US')} rows a batch)`, summary(results.defaults, results.direct)),
      row(`outbox relay, 2 batches in flight, ${BATCH} rows a batch`, summary(results.pipelined, results.direct)),
      row(`outbox relay, 1 batch at a time, ${BATCH} rows a batch (the defaults until 2026-12-06)`, summary(results.serial, results.direct)),
    ];
  } finally {
    await bus.stop();
    await pool.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await pool.end();
  }
}

const loadBefore = os.loadavg()[0] ?? 0;
const rabbitGroup = `bench-outbox-${RUN}`;
const rows = [
  ...(await compare('RabbitMQ', new RabbitMqTransport({ url: AMQP_URL, exchange: `bench-outbox-${RUN}`, logger: silentLogger }), rabbitGroup)),
  ...(await compare('Kafka', new KafkaTransport({ brokers: BROKERS }), `bench-outbox-${RUN}`)),
];
await deleteTopology(AMQP_URL, { exchange: `bench-outbox-${RUN}`, groups: [rabbitGroup] });
const loadAfter = os.loadavg()[0] ?? 0;
const md = table(rows);
writeSection(
  'outbox',
  `## Outbox relay (bench/outbox.ts)

Rows committed in the outbox → relay → confirmed on the broker, against \`bus.publishBatch\` of the same
1 KB events in batches of ${BATCH}, one call at a time; one relay with its defaults (\`batchesInFlight: ${DEFAULT_BATCHES_IN_FLIGHT}\`:
the next batch locked and read while one waits for its confirm, a confirmed batch deleted while the next
publishes; \`batchSize: ${DEFAULT_BATCH_SIZE}\`), then with ${BATCH}-row batches, 2 in flight and one at a time. ${TOTAL.toLocaleString('en-US')} events a round, ${ROUNDS} interleaved rounds; the ratio is the median of per-round ratios.
PostgreSQL 15 on the same machine; the relay commits its deletes with \`synchronous_commit = off\`
(docs/decisions/0007-outbox-inbox-tables.md). Target ≥ 0.8. Load average (1 min) of the shared 2-core machine:
${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end.

${md}`,
);
