import { ConfigError, type Delivery } from '@org/eventbus';
import { createSpy, describeBroker } from '@org/eventbus/testing';
import { Admin } from '@platformatic/kafka';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fromUrl, type KafkaCompression, type KafkaTransport, optionsFromUrl } from '../src/index.js';
import { brokersFrom, deleteRunTopics, message, runId, testTransport } from './helpers.js';

describe('kafka compression option', () => {
  it('is checked at construction, with a ConfigError that names it', () => {
    expect(() => testTransport('127.0.0.1:9092', { compression: 'brotli' as KafkaCompression })).toThrow(ConfigError);
    expect(() => testTransport('127.0.0.1:9092', { compression: 'brotli' as KafkaCompression })).toThrow(/`compression`/);
    expect(() => fromUrl('kafka://127.0.0.1:9092?compression=brotli')).toThrow(/`compression`/);
    expect(optionsFromUrl('kafka://127.0.0.1:9092?compression=zstd').compression).toBe('zstd');
  });
});

/** JSON of ~6.5 KB that compresses as real events do (repeated keys and words), not to nothing. */
const body = (n: number) =>
  Buffer.from(JSON.stringify({ n, rows: Array.from({ length: 80 }, (_, i) => ({ id: `${n}-${i}`, region: 'eu-west-1', state: i % 3 ? 'running' : 'pending', note: `row ${i} of event ${n}` })) }));

describeBroker('kafka compression', { variable: 'EVENTBUS_KAFKA_BROKERS' }, (brokers) => {
  const open: KafkaTransport[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(() => deleteRunTopics(brokers()), 60_000);

  /** Bytes the broker stores for `topic` (its one partition), as it reports them. */
  async function storedBytes(topic: string): Promise<number> {
    const admin = new Admin({ clientId: 'compression-test', bootstrapBrokers: brokersFrom(brokers()) });
    try {
      const dirs = await admin.describeLogDirs({ topics: [{ name: topic, partitions: [0] }] });
      let bytes = 0;
      for (const dir of dirs) for (const result of dir.results) for (const t of result.topics) for (const p of t.partitions) bytes += Number(p.partitionSize);
      return bytes;
    } finally {
      await admin.close();
    }
  }

  it.each(['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const)(
    '%s: the broker stores the batches as produced and a consumer without the option reads every event intact',
    async (compression) => {
      const id = runId();
      const channel = `kc-${id}-${compression}`;
      const producer = testTransport(brokers(), { compression, partitions: 1 });
      const consumer = testTransport(brokers(), { partitions: 1 });
      open.push(producer, consumer);
      const spy = createSpy<Delivery>();
      await consumer.subscribe({ group: `g-${id}`, channels: [channel], prefetch: 50 }, async (d) => {
        spy.fn(d);
        await d.ack();
      });
      const sent = Array.from({ length: 40 }, (_, n) => message(channel, n, { body: body(n) }));
      await producer.publish(sent);
      const received = await spy.waitForCount(40, { timeoutMs: 30_000 });
      const bodies = new Map(received.map((d) => [Buffer.from(d.message.body).toString(), d.message.headers.ce_id]));
      for (const m of sent) expect(bodies.get(Buffer.from(m.body).toString())).toBe(m.id);

      const plain = sent.reduce((sum, m) => sum + m.body.byteLength, 0);
      const stored = await storedBytes(channel);
      if (compression === 'none') expect(stored).toBeGreaterThan(plain);
      else expect(stored).toBeLessThan(plain / 4);
    },
    60_000,
  );
});
