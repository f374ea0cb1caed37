import { errorMessage, redact, TransportError } from '@org/eventbus';
import type { Producer } from '@platformatic/kafka';
import type { KafkaRecord } from './wire.js';

type KafkaProducer = Producer<Buffer, Buffer, Buffer, Buffer>;

interface Pending {
  records: KafkaRecord[];
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Keeps one produce request under the broker's default request and batch limits. */
const MAX_REQUEST_BYTES = 900_000;

/**
 * Sends through a few idempotent producers, each with one produce request at a time, coalescing
 * whatever publishes arrive meanwhile into the next request. One request in flight per producer
 * keeps its sequence numbers in order (@platformatic/kafka 1.x sends concurrent requests of one
 * producer out of order, which the broker refuses with OUT_OF_ORDER_SEQUENCE_NUMBER); several
 * producers and coalescing keep the throughput. One publish call always goes out in one request,
 * so its records keep their order. After a failed request that producer is replaced: a fresh
 * producer id restarts the sequences, so one broker restart cannot wedge every later publish.
 */
export class Publisher {
  private readonly queue: Pending[] = [];
  private readonly lanes: Lane[];

  constructor(create: () => KafkaProducer, lanes: number) {
    this.lanes = Array.from({ length: lanes }, () => new Lane(create, this.queue));
  }

  /** `bytes`: the records' share of a produce request (RecordWriter.requestBytes, summed). */
  send(records: KafkaRecord[], bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, bytes, resolve, reject });
      this.lanes.find((lane) => !lane.busy)?.start();
    });
  }

  /**
   * Gets each producer its id before the first publish needs it, so connect() pays the broker's
   * InitProducerId round trip instead of the first request a service answers. A failure here is
   * left to the first send, which retries it and reports it.
   */
  async warm(): Promise<void> {
    await Promise.allSettled(this.lanes.map((lane) => lane.warm()));
  }

  /** Waits for queued publishes, then closes the producers. */
  async close(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.close()));
  }
}

class Lane {
  private producer: KafkaProducer;
  private sending: Promise<void> | undefined;

  constructor(
    private readonly create: () => KafkaProducer,
    private readonly queue: Pending[],
  ) {
    this.producer = create();
  }

  get busy(): boolean {
    return this.sending !== undefined;
  }

  start(): void {
    this.sending ??= this.drain();
  }

  warm(): Promise<unknown> {
    return this.producer.initIdempotentProducer({});
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch: Pending[] = [this.queue.shift()!];
      let bytes = batch[0]!.bytes;
      while (this.queue.length > 0 && bytes + this.queue[0]!.bytes <= MAX_REQUEST_BYTES) {
        const next = this.queue.shift()!;
        bytes += next.bytes;
        batch.push(next);
      }
      const producer = this.producer;
      try {
        await producer.send({ messages: batch.flatMap((p) => p.records) });
        for (const p of batch) p.resolve();
      } catch (error) {
        const failure = new TransportError(redact(`Kafka refused the publish: ${errorMessage(error)}`));
        for (const p of batch) p.reject(failure);
        if (this.producer === producer) {
          this.producer = this.create();
          producer.close(true, () => {});
        }
      }
    }
    this.sending = undefined;
  }

  async close(): Promise<void> {
    while (this.sending) await this.sending;
    await new Promise<void>((resolve) => this.producer.close(false, () => resolve()));
  }
}
