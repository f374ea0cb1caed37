/**
 * Rounds that compare several paths on one broker. Each round runs every path back to back, in an
 * order that rotates, so no path always runs first (fresh heap, quiet broker) or last; a ratio is
 * taken within one round, where the paths shared the machine's state, and the median of those
 * per-round ratios is reported, since the noise between rounds of a shared 2-core machine (a
 * broker's fsyncs, other work) is larger than the difference being measured.
 */

/** One measured run of a path: events per second and this process's CPU µs per event. */
export interface Sample {
  rate: number;
  cpuPerEvent: number;
}

/** Start a run's clock; call the result when the run is over. */
export function clock(events: number): () => Sample {
  const started = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { rate: events / ((performance.now() - started) / 1000), cpuPerEvent: (used.user + used.system) / events };
  };
}

export const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

export interface Path<K extends string> {
  name: K;
  run: () => Promise<Sample>;
  /** Work between runs (dropping a round's queues), outside the measurement. */
  after?: () => Promise<void>;
}

export type Results<K extends string> = Record<K, Sample[]>;

/** Run every path once per round, rotating the order; logs each round as it ends. */
export async function rotatingRounds<K extends string>(paths: readonly Path<K>[], rounds: number): Promise<Results<K>> {
  const results = Object.fromEntries(paths.map((p) => [p.name, [] as Sample[]])) as Results<K>;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < paths.length; i++) {
      const path = paths[(r + i) % paths.length]!;
      results[path.name][r] = await path.run();
      await path.after?.();
    }
    const line = paths.map((p) => `${p.name} ${Math.round(results[p.name][r]!.rate)}/s (${results[p.name][r]!.cpuPerEvent.toFixed(1)} µs CPU)`);
    console.log(`round ${r + 1}: ${line.join(', ')}`);
  }
  return results;
}

/** Median events/s, the per-round rates, and the median of the per-round ratios to `baseline`. */
export function summary(samples: readonly Sample[], baseline: readonly Sample[]) {
  return {
    medianRate: median(samples.map((s) => s.rate)),
    perRound: samples.map((s) => Math.round(s.rate)).join(' / '),
    ratio: median(samples.map((s, i) => s.rate / baseline[i]!.rate)),
    cpuPerEvent: median(samples.map((s) => s.cpuPerEvent)),
  };
}
