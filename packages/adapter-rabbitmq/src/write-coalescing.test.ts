import { randomUUID } from 'node:crypto';
import { describeBroker } from '@org/eventbus/testing';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, expect, it } from 'vitest';
import { URL_VARIABLE } from '../test/helpers.js';
import { coalesceWrites } from './write-coalescing.js';

/** Counts the socket's calls into the kernel side of the stream (`_write` one chunk, `_writev` several). */
function countWrites(model: ChannelModel): { calls: number } {
  const socket = (model.connection as unknown as { stream: { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void } }).stream;
  const counter = { calls: 0 };
  for (const name of ['_write', '_writev'] as const) {
    const original = socket[name];
    socket[name] = function (this: unknown, ...args: unknown[]) {
      counter.calls++;
      return original.apply(this, args);
    };
  }
  return counter;
}

/** Publish `n` persistent 1 KB messages (numbered in their first 8 bytes) in one turn on a confirm channel to a fresh queue; resolves when all are confirmed. */
async function publishBurst(model: ChannelModel, queue: string, n: number): Promise<void> {
  const ch = await model.createConfirmChannel();
  await ch.assertQueue(queue, { durable: false, autoDelete: false });
  const filler = 'x'.repeat(1016);
  await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<void>((resolve, reject) =>
          ch.sendToQueue(queue, Buffer.from(`${String(i).padStart(8, '0')}${filler}`), { persistent: true }, (e) => (e ? reject(e) : resolve())),
        ),
    ),
  );
  await ch.close();
}

describeBroker('RabbitMQ: writes of one turn go out as one writev', { variable: URL_VARIABLE }, (url) => {
  const models: ChannelModel[] = [];
  const queues: string[] = [];
  const connect = async () => {
    const model = await amqp.connect(url());
    models.push(model);
    return model;
  };
  const queue = () => {
    const name = `coalesce-${randomUUID().slice(0, 8)}`;
    queues.push(name);
    return name;
  };
  afterAll(async () => {
    const ch = await models[0]?.createChannel();
    for (const name of queues) await ch?.deleteQueue(name);
    await Promise.all(models.map((m) => m.close().catch(() => {})));
  });

  it('200 messages published in one turn take a handful of socket writes (one or two each without)', async () => {
    const plain = await connect();
    const plainWrites = countWrites(plain);
    await publishBurst(plain, queue(), 200);

    const model = await connect();
    expect(coalesceWrites(model)).toBe(true);
    const writes = countWrites(model);
    await publishBurst(model, queue(), 200);

    // Without: a write at least for each message (its method+header frames and its body are two chunks;
    // Node folds chunks into a writev only while an earlier write is still pending).
    expect(plainWrites.calls).toBeGreaterThanOrEqual(200);
    // With: the muxer's turn goes out corked, split only where the socket's high-water mark stops it.
    expect(writes.calls).toBeLessThan(40);
  });

  it('a burst far past the high-water mark (3 MB) is confirmed whole and read back in order', async () => {
    const model = await connect();
    coalesceWrites(model);
    const name = queue();
    await publishBurst(model, name, 3_000);
    const reader = await connect();
    coalesceWrites(reader);
    const ch = await reader.createChannel();
    const { messageCount } = await ch.checkQueue(name);
    expect(messageCount).toBe(3_000);
    // Acks of a consumer go through the same corked socket: every one must reach the broker.
    await ch.prefetch(500);
    let received = 0;
    const outOfOrder: number[] = [];
    const drained = new Promise<void>((resolve) => {
      void ch.consume(name, (msg) => {
        if (!msg) return;
        const seq = Number(msg.content.subarray(0, 8).toString());
        if (seq !== received) outOfOrder.push(seq);
        ch.ack(msg);
        if (++received === 3_000) resolve();
      });
    });
    await drained;
    expect(outOfOrder).toEqual([]);
    await expect.poll(async () => (await ch.checkQueue(name)).messageCount, { timeout: 10_000 }).toBe(0);
    await ch.close();
    // Unacked messages would come back to the queue when the channel closes.
    const check = await model.createChannel();
    expect((await check.checkQueue(name)).messageCount).toBe(0);
    await check.close();
  });

  it('is applied once per socket, and leaves a connection it does not recognise alone', async () => {
    const model = await connect();
    const socket = (model.connection as unknown as { stream: { write: unknown } }).stream;
    expect(coalesceWrites(model)).toBe(true);
    const wrapped = socket.write;
    expect(coalesceWrites(model)).toBe(true);
    expect(socket.write).toBe(wrapped);
    const foreign = { connection: {} } as unknown as ChannelModel;
    expect(coalesceWrites(foreign)).toBe(false);
  });
});
