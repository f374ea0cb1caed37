// A paced HTTP load built from autocannon, because autocannon's own rate limit does not pace.
//
// `overallRate: R, connections: C` gives each connection a quota of R/C requests per second. A
// connection sends its quota back to back (the next request when the previous answer arrives), then
// idles until its one-second timer refills it, and all C timers start together. So the whole second's
// R requests arrive in one burst at concurrency C: at R = 1,000 and C = 50 every response landed in
// the first 100 ms of its second (measured), and what was reported was the latency of 50 concurrent
// requests, not of 1,000 requests/s. Its coordinated-omission correction then assumes 1 ms
// (`Math.ceil(1 / rate)`) between one connection's requests and back-fills a t ms answer with
// samples at t-1, t-2, … 1 ms: right for one connection at 1,000/s, but with 50 connections stalled
// together by one pause, every stall counts 50 times (16,806 histogram samples for 5,096 answers from a
// bare node:http server).
//
// Here the rate is spread over `lanes` autocannon instances of one connection each, started at evenly
// spaced offsets within the first second, each with an even share of the rate: with 50 lanes at
// 1,000/s, 20 requests every 20 ms instead of 1,000 every second. Answers arrive evenly over each
// second, a lane is rarely busy while another one is, and autocannon's correction becomes about right
// (a pause shorter than the lane spacing delays one lane, whose 1 ms back-fill is what a paced 1,000/s
// would have queued; a longer pause is counted once per lane it catches, so it errs on the slow side).
// Nothing is dropped or re-weighted: latency is autocannon's own corrected histogram, merged with its
// public `aggregateResult`.
//
// Each lane opens its connection with its first request, which pays the TCP connect and the server's
// new-socket setup (about 1 ms here, against 0.1-0.2 ms for the next ones): `lanes` cold requests per
// run. More lanes would smooth the bursts further but put more cold requests into the tail (100
// lanes in a 10 s run: 1% of the samples, right at the p99).
import { createRequire } from 'node:module';

/** The slice of autocannon's result this bench uses (autocannon ships no types). */
export interface LoadResult {
  latency: { p50: number; p90: number; p99: number; max: number; totalCount: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
interface Instance extends Promise<unknown> {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
interface Autocannon {
  (options: Record<string, unknown>): Instance;
  aggregateResult(results: unknown[], options?: Record<string, unknown>): LoadResult;
}
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface PacedLoad {
  /** Full URL to load. */
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  /** Requests per second across all lanes. */
  rate: number;
  seconds: number;
  /** One-connection autocannon instances the rate is spread over. */
  lanes: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Run the load; resolves with autocannon's merged result once every lane has sent its share, and
 * the achieved rate (answers over the time from the first request to the last answer).
 */
export async function pacedLoad(load: PacedLoad): Promise<{ result: LoadResult; achievedRate: number }> {
  const { rate, lanes, seconds } = load;
  if (!(Number.isInteger(rate) && Number.isInteger(lanes) && lanes >= 1 && rate >= lanes)) {
    throw new Error(`paced load: rate (${rate}) and lanes (${lanes}) must be integers with rate ≥ lanes`);
  }
  const started = performance.now();
  let lastAnswer = started;
  const runs: Instance[] = [];
  for (let i = 0; i < lanes; i++) {
    const offset = started + (i * 1000) / lanes - performance.now();
    if (offset > 1) await sleep(offset);
    // Integer shares that add up to the rate; `amount` ends each lane after exactly `seconds` of its
    // share (a duration would let the refill timer and the stop timer race at the last second).
    const share = Math.floor(rate / lanes) + (i < rate % lanes ? 1 : 0);
    const run = autocannon({
      url: load.url,
      method: load.method,
      headers: load.headers,
      body: load.body,
      connections: 1,
      overallRate: share,
      amount: share * seconds,
      skipAggregateResult: true,
    });
    run.on('response', () => {
      lastAnswer = performance.now();
    });
    runs.push(run);
  }
  const result = autocannon.aggregateResult(await Promise.all(runs), { url: load.url });
  const answers = result['2xx'] + result.non2xx;
  return { result, achievedRate: answers / Math.max(0.001, (lastAnswer - started) / 1000) };
}
