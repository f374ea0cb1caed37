import type { Channel, ConsumeMessage } from 'amqplib';

/**
 * Settles the deliveries of one consumer channel. Coalesces the acks made within one turn of the
 * event loop: tags below the lowest delivery still unsettled go as one `basic.ack(multiple)` frame,
 * the rest one by one, so the broker (a quorum queue's Raft log in particular) does one settle
 * instead of hundreds. Once the channel is closed every settle is a no-op: the broker has already
 * put its unsettled messages back in the queue.
 */
export class AckBatcher {
  /** Delivered and not yet settled, in delivery-tag order (tags only grow on a channel). */
  private readonly unsettled = new Map<number, ConsumeMessage>();
  private pending: ConsumeMessage[] = [];
  private scheduled = false;
  private dead = false;

  constructor(private readonly ch: Channel) {
    ch.once('close', () => {
      // Unsettled messages of a dead channel are requeued by the broker; acking them is meaningless.
      this.dead = true;
      this.pending = [];
      this.unsettled.clear();
    });
  }

  /** The channel closed: its deliveries are back in the queue, settling them means nothing. */
  get closed(): boolean {
    return this.dead;
  }

  delivered(msg: ConsumeMessage): void {
    this.unsettled.set(msg.fields.deliveryTag, msg);
  }

  ack(msg: ConsumeMessage): void {
    if (this.dead || !this.unsettled.delete(msg.fields.deliveryTag)) return;
    this.pending.push(msg);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** `basic.nack` with requeue: the plain redelivery the broker can always do. */
  requeue(msg: ConsumeMessage): void {
    if (this.dead || !this.unsettled.delete(msg.fields.deliveryTag)) return;
    try {
      this.ch.nack(msg, false, true);
    } catch {
      // The channel closed under us: the broker requeues the message itself.
    }
  }

  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    if (this.dead || pending.length === 0) return;
    const lowestUnsettled = this.unsettled.keys().next().value ?? Number.POSITIVE_INFINITY;
    let upTo: ConsumeMessage | undefined;
    try {
      for (const msg of pending) {
        const tag = msg.fields.deliveryTag;
        if (tag < lowestUnsettled) {
          if (!upTo || tag > upTo.fields.deliveryTag) upTo = msg;
        } else this.ch.ack(msg);
      }
      if (upTo) this.ch.ack(upTo, true);
    } catch {
      // The channel closed under us: the broker requeues what we could not ack.
    }
  }
}
