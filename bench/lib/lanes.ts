/**
 * Publish `total` events in `lanes` concurrent workers, each taking the next batch of `batch` until
 * all are out: the load shape every broker benchmark uses, for ours and for the raw client alike.
 */
export async function inLanes(
  total: number,
  { lanes, batch }: { lanes: number; batch: number },
  work: (seq: number, n: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < total) {
        const seq = next;
        next += batch;
        await work(seq, Math.min(batch, total - seq));
      }
    }),
  );
}
