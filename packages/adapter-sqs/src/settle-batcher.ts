import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { TransportError } from '@org/eventbus';
import { awsError } from './errors.js';

interface Pending<T> {
  item: T;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Collects single requests for a moment and sends them as one batch call of up to 10 entries,
 * settling each caller with its own entry's outcome.
 */
class Batcher<T> {
  private queue: Pending<T>[] = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly send: (items: T[]) => Promise<Map<number, Error>>) {}

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= 10) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // One macrotask of lingering lets the acks of a whole received batch share a call.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Resolves when every request added so far has been answered. */
  async idle(): Promise<void> {
    this.flush();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 10);
      const call = this.send(batch.map((p) => p.item)).then(
        (failed) => {
          batch.forEach((p, i) => {
            const error = failed.get(i);
            if (error) p.reject(error);
            else p.resolve();
          });
        },
        (error: unknown) => {
          for (const p of batch) p.reject(error as Error);
        },
      );
      this.inFlight.add(call);
      void call.finally(() => this.inFlight.delete(call));
    }
  }
}

function failures(what: string, failed: { Id?: string; Code?: string; Message?: string }[] | undefined): Map<number, Error> {
  const out = new Map<number, Error>();
  for (const f of failed ?? []) out.set(Number(f.Id), new TransportError(`${what} refused (${f.Code ?? 'Unknown'}): ${f.Message ?? ''}`));
  return out;
}

/** Deletes (acks) and visibility changes (nacks, heartbeats) of one queue, batched. */
export class SettleBatcher {
  private readonly deletes: Batcher<string>;
  private readonly visibility: Batcher<{ handle: string; seconds: number }>;

  constructor(sqs: SQSClient, queueUrl: string, queueName: string) {
    this.deletes = new Batcher(async (handles) => {
      try {
        const out = await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: handles.map((h, i) => ({ Id: String(i), ReceiptHandle: h })) }),
        );
        return failures(`deleting a message from "${queueName}"`, out.Failed);
      } catch (error) {
        throw awsError(`DeleteMessageBatch on "${queueName}"`, error);
      }
    });
    this.visibility = new Batcher(async (items) => {
      try {
        const out = await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: items.map((v, i) => ({ Id: String(i), ReceiptHandle: v.handle, VisibilityTimeout: v.seconds })),
          }),
        );
        return failures(`changing a message's visibility on "${queueName}"`, out.Failed);
      } catch (error) {
        throw awsError(`ChangeMessageVisibilityBatch on "${queueName}"`, error);
      }
    });
  }

  delete(receiptHandle: string): Promise<void> {
    return this.deletes.add(receiptHandle);
  }

  /** Make the message visible again after `seconds` (0: at once). */
  changeVisibility(receiptHandle: string, seconds: number): Promise<void> {
    return this.visibility.add({ handle: receiptHandle, seconds });
  }

  async idle(): Promise<void> {
    await Promise.all([this.deletes.idle(), this.visibility.idle()]);
  }
}
