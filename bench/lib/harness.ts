/**
 * The one harness every broker benchmark uses: a path is a `Setup` that connects a publisher and a
 * consumer and calls `onEvent` once per event its consumer handled; the harness drives it with the
 * same load (lanes of batches, or one event per call paced), counts, clocks CPU, rotates the order
 * of the paths within each round, and writes one table with the median of per-round ratios to the
 * ceiling (raw client, plain JSON) and the run's load average.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { createEnvelope, defineEvent, encodeStructured, type OutgoingMessage } from '@org/eventbus';
import { z } from 'zod';
import { inLanes } from './lanes.js';
import { percentile, table, writeSection } from './report.js';
import { clock, median, rotatingRounds, type Sample } from './rounds.js';

/** The 1 KB payload every path moves; `sentAt` gives the latency at the handler. */
export const PAYLOAD = 'x'.repeat(1024 - 60);
export const Schema = z.object({ seq: z.number().int(), sentAt: z.number(), payload: z.string() });
export type Data = z.infer<typeof Schema>;
export const data = (seq: number): Data => ({ seq, sentAt: performance.now(), payload: PAYLOAD });

/** A contract for one run's channel (each path gets fresh queues or topics). */
export const measured = (type: string, channel?: string) =>
  defineEvent({ type, description: 'A 1 KB benchmark event.', schema: Schema, ...(channel ? { channel } : {}) });

/** What a path's set-up returns: send `n` events starting at `seq` (one broker call or several), then close. */
/**
 * What the "transport alone" paths do by hand, as core would: validate, wrap in a CloudEvent and encode
 * it structured (`seq` to `seq + n - 1`)…
 */
export function structuredBatch(channel: string, type: string, seq: number, n: number): OutgoingMessage[] {
  return Array.from({ length: n }, (_, i) => {
    const event = createEnvelope(type, 1, '/bench', Schema.parse(data(seq + i)));
    return { channel, id: event.id, ...encodeStructured(event) };
  });
}

/** …and on receipt parse the structured body and validate its data: the handled event's `sentAt`. */
export function readStructured(body: Uint8Array): number {
  const event = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  return Schema.parse(event.data).sentAt;
}

export interface Endpoint {
  send(seq: number, n: number): Promise<void>;
  close(): Promise<void>;
}
export type Setup = (onEvent: (sentAt: number) => void) => Promise<Endpoint>;

/** A promise resolved on the `total`-th call of `tick`. */
export function counter(total: number): { tick: () => void; done: Promise<void> } {
  let n = 0;
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  return { tick: () => void (++n === total && resolve()), done };
}

export interface Load {
  total: number;
  lanes: number;
  batch: number;
}

/** Throughput of one path: set up (not clocked), send everything in lanes, wait for every handler. */
export async function throughput(setup: Setup, load: Load): Promise<Sample> {
  const { tick, done } = counter(load.total);
  const endpoint = await setup(tick);
  const stop = clock(load.total);
  await inLanes(load.total, load, (seq, n) => endpoint.send(seq, n));
  await done;
  const sample = stop();
  await endpoint.close();
  return sample;
}

/** Latency publish call → handler start of one event per call at a paced rate: every sample, in ms. */
export async function pacedLatency(setup: Setup, total: number, rate: number): Promise<number[]> {
  const samples: number[] = [];
  const { tick, done } = counter(total);
  let warm: () => void = () => {};
  const warmed = new Promise<void>((r) => {
    warm = r;
  });
  let first = true;
  const endpoint = await setup((sentAt) => {
    if (first) {
      first = false;
      return warm();
    }
    samples.push(performance.now() - sentAt);
    tick();
  });
  // One event through first, so a consumer group's join or a lazy connection is not in the samples.
  await endpoint.send(-1, 1);
  await warmed;
  const sends: Promise<void>[] = [];
  const started = performance.now();
  for (let seq = 0; seq < total; seq++) {
    const wait = started + (seq * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sends.push(endpoint.send(seq, 1));
  }
  await Promise.all(sends);
  await done;
  await endpoint.close();
  return samples;
}

const pct = (samples: readonly number[], q: number) => percentile([...samples].sort((a, b) => a - b), q);
const ms = (x: number) => Number(x.toFixed(2));

/**
 * The latency rows: every path paced in each of `rounds` rounds of `total / rounds` events, in an
 * order that rotates, as the throughput rounds are; a tail measured in one stretch per path mostly
 * measured what else the machine did then. Percentiles are of all a path's samples; the differences
 * to the first path (the raw client) are medians of the per-round differences.
 */
async function latencyRows({ rate, total, paths, rounds }: LatencySpec) {
  const perRound = Math.ceil(total / rounds);
  const runs = new Map(paths.map((path) => [path.name, [] as number[][]]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < paths.length; i++) {
      const path = paths[(r + i) % paths.length]!;
      runs.get(path.name)![r] = await pacedLatency(path.setup, perRound, rate);
      await path.after?.();
    }
    console.log(`latency round ${r + 1}: ${paths.map((path) => `${path.name} p99 ${ms(pct(runs.get(path.name)![r]!, 99))} ms`).join(', ')}`);
  }
  const baseline = runs.get(paths[0]!.name)!;
  return paths.map((path) => {
    const mine = runs.get(path.name)!;
    const delta = (q: number) => median(mine.map((run, r) => pct(run, q) - pct(baseline[r]!, q)));
    return {
      path: path.name,
      'paced rate': `${rate}/s, one event per publish`,
      events: perRound * rounds,
      'p50 ms': ms(pct(mine.flat(), 50)),
      'p99 ms': ms(pct(mine.flat(), 99)),
      'p99 per round': mine.map((run) => ms(pct(run, 99))).join(' / '),
      'Δ p50 / Δ p99 to the first row (median of rounds)': path === paths[0] ? '—' : `${delta(50) >= 0 ? '+' : ''}${ms(delta(50))} / ${delta(99) >= 0 ? '+' : ''}${ms(delta(99))}`,
    };
  });
}

export interface BenchPath {
  /** Row label; the first path is the ceiling every ratio is taken against. */
  name: string;
  setup: Setup;
  /** Work between runs (dropping a round's queues), outside the measurement. */
  after?: () => Promise<void>;
}

export interface LatencySpec {
  rate: number;
  /** Events per path, spread over the rounds. */
  total: number;
  paths: BenchPath[];
  rounds: number;
}

export interface BenchSpec {
  /** Section name in docs/benchmarks.md (`pnpm bench <name>`). */
  section: string;
  title: string;
  /** What is measured and how, in prose, above the table. */
  intro: string;
  paths: BenchPath[];
  load: Load;
  rounds: number;
  /** Paths measured one event per publish call at `rate`/s, in interleaved rounds (default 5). */
  latency?: Omit<LatencySpec, 'rounds'> & { rounds?: number };
  /** Warm-up runs (JIT, connections, first topology) before the rounds. */
  warmup?: number;
}

const loadAverage = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');

/** Run the rounds and the latency rows, print the tables and write this bench's section. */
export async function runBench(spec: BenchSpec): Promise<void> {
  const loadBefore = loadAverage();
  for (const p of spec.paths) {
    await throughput(p.setup, { ...spec.load, total: spec.warmup ?? Math.min(2_000, spec.load.total) });
    await p.after?.();
  }
  const results = await rotatingRounds(
    spec.paths.map((p) => ({ name: p.name, run: () => throughput(p.setup, spec.load), ...(p.after ? { after: p.after } : {}) })),
    spec.rounds,
  );
  const ceiling = results[spec.paths[0]!.name]!;
  const rows = spec.paths.map((p) => {
    const samples = results[p.name]!;
    return {
      path: p.name,
      'events/s (median)': Math.round(median(samples.map((s) => s.rate))),
      '÷ raw plain JSON (median of rounds)': median(samples.map((s, i) => s.rate / ceiling[i]!.rate)),
      'client CPU µs/event (median)': median(samples.map((s) => s.cpuPerEvent)),
      'per round events/s': samples.map((s) => Math.round(s.rate)).join(' / '),
    };
  });
  const md = table(rows);
  let latencyMd = '';
  if (spec.latency) {
    const rows = await latencyRows({ ...spec.latency, rounds: spec.latency.rounds ?? 5 });
    latencyMd = `\n\nLatency, publish call → handler start (${spec.latency.rounds ?? 5} interleaved rounds):\n\n${table(rows)}`;
  }
  const loadAfter = loadAverage();
  const { total, lanes, batch } = spec.load;
  writeSection(
    spec.section,
    `## ${spec.title}\n\n**Load average (1 / 5 / 15 min) at the start ${loadBefore}, at the end ${loadAfter}** on ${os.cpus().length} cores shared with the brokers and other work.\n\n` +
      `${spec.intro}\n\n${total.toLocaleString('en-US')} events of 1 KB per run, ${lanes} publishing lanes of ${batch} event(s) per call, ${spec.rounds} rounds; each round runs every path back to back in an order that rotates, a ratio is taken within a round and the table gives the median of the per-round ratios. Events are validated with zod on publish and on consume on every path. CPU is this process's (publisher and consumer together; not the broker's).\n\n${md}${latencyMd}`,
  );
}
