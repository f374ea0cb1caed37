import type { Writable } from 'node:stream';
import type { Launcher } from './launcher.js';
import { SimulatedLauncher } from './simulated-launcher.js';
import type { Ec2Service } from './service.js';
import { startEc2Service } from './service.js';
import { connectSse } from './sse-client.js';

export interface DemoOptions {
  /** Launches to submit (the B2B case: 200). */
  count?: number;
  /** The launch rate limit, per second, of the service the demo starts (default 2). */
  rate?: number;
  /** Boot time of the simulated launcher, ms (default 3000). */
  bootMs?: number;
  /** Share of launches the simulated EC2 refuses (default 0.05). */
  failureRate?: number;
  /** Use a running service at this URL instead of starting one in this process. */
  url?: string;
  /** POSTs in flight at once (default 20). */
  parallel?: number;
  out?: Writable;
}

export interface DemoSummary {
  submitted: number;
  refused: number;
  succeeded: number;
  failed: number;
  seconds: number;
  /** Outcomes (notifications) per second from the first to the last: boot time and failures shape it, not the limit. */
  achievedRate: number;
  limit: number | undefined;
  /** Launches the workers started (RunInstances calls, retries included); undefined against a remote --url. */
  launchStarts: number | undefined;
  /**
   * Launch starts per second, what the rate limit bounds: starts / (first-to-last start + one second).
   * A limit of L per second allows at most L starts in the window the last start opens, so this stays
   * ≤ L however the starts bunch. Undefined against a remote --url.
   */
  startRate: number | undefined;
  postP50Ms: number;
  postP99Ms: number;
}

function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${total}`;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/**
 * The B2B case: submit `count` launches at once, then watch the notifications arrive over SSE
 * while the workers hold the EC2 rate limit; print a progress bar and a summary.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const count = options.count ?? 200;
  const out = options.out ?? process.stdout;
  const limit = options.url ? undefined : (options.rate ?? 2);
  let service: Ec2Service | undefined;
  // When the demo runs the service, it sees each launch start: the rate limit is about those, not outcomes.
  const starts: number[] = [];
  if (!options.url) {
    const simulated = new SimulatedLauncher({ bootMs: options.bootMs ?? 3000, failureRate: options.failureRate ?? 0.05 });
    const launcher: Launcher = {
      name: simulated.name,
      launch: (spec, signal) => {
        starts.push(performance.now());
        return simulated.launch(spec, signal);
      },
    };
    service = await startEc2Service({
      port: 0,
      launcher,
      guards: { rateLimit: { limit: limit ?? 2, per: 1000 }, concurrency: 50 },
      worker: { concurrency: 64 },
    });
  }
  const base = (options.url ?? service?.url ?? '').replace(/\/?$/, '/');
  const mine = new Set<string>();
  const outcomes = new Map<string, 'success' | 'error'>();
  const early = new Map<string, 'success' | 'error'>();
  let firstOutcome = 0;
  let lastOutcome = 0;
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const render = () => out.write(`\r${bar(outcomes.size, count)}  ✓ ${[...outcomes.values()].filter((l) => l === 'success').length}  ✗ ${[...outcomes.values()].filter((l) => l === 'error').length}   `);
  const record = (requestId: string, level: 'success' | 'error') => {
    if (outcomes.has(requestId)) return;
    outcomes.set(requestId, level);
    lastOutcome = Date.now();
    firstOutcome ||= lastOutcome;
    render();
    if (outcomes.size >= mine.size && submitting === false) allDone();
  };
  let submitting = true;
  const sse = connectSse(`${base}v1/notifications`, (e) => {
    if (e.event !== 'notification') return;
    const n = JSON.parse(e.data) as { requestId: string; level: 'success' | 'error' };
    if (mine.has(n.requestId)) record(n.requestId, n.level);
    else early.set(n.requestId, n.level);
  });
  try {
    await sse.opened;
    out.write(`submitting ${count} launches to ${base}${limit ? ` (rate limit ${limit}/s)` : ''}\n`);
    const started = Date.now();
    const latencies: number[] = [];
    let refused = 0;
    let next = 0;
    const body = JSON.stringify({ userId: 'demo-b2b', imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro', tags: { demo: 'b2b' } });
    const worker = async () => {
      while (next < count) {
        next++;
        const t0 = performance.now();
        const res = await fetch(`${base}v1/ec2/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        latencies.push(performance.now() - t0);
        const answer = (await res.json()) as { requestId?: string };
        if (res.status === 202 && answer.requestId) {
          mine.add(answer.requestId);
          const seen = early.get(answer.requestId);
          if (seen) record(answer.requestId, seen);
        } else refused++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(count, options.parallel ?? 20) }, worker));
    submitting = false;
    latencies.sort((a, b) => a - b);
    out.write(`all ${mine.size} accepted (202) in ${Date.now() - started} ms · POST p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms\n`);
    render();
    if (outcomes.size >= mine.size) allDone();
    await done;
    const seconds = (Date.now() - started) / 1000;
    const span = (lastOutcome - firstOutcome) / 1000;
    const summary: DemoSummary = {
      submitted: mine.size,
      refused,
      succeeded: [...outcomes.values()].filter((l) => l === 'success').length,
      failed: [...outcomes.values()].filter((l) => l === 'error').length,
      seconds,
      achievedRate: span > 0 ? (outcomes.size - 1) / span : outcomes.size,
      limit,
      launchStarts: options.url ? undefined : starts.length,
      startRate: options.url || starts.length === 0 ? undefined : starts.length / (((starts.at(-1) ?? 0) - (starts[0] ?? 0)) / 1000 + 1),
      postP50Ms: pct(latencies, 50),
      postP99Ms: pct(latencies, 99),
    };
    const rate =
      summary.startRate === undefined
        ? `outcomes arrived at ${summary.achievedRate.toFixed(2)}/s`
        : `${summary.launchStarts} launches started at ${summary.startRate.toFixed(2)}/s (limit ${limit}/s)`;
    out.write(
      `\n\nsucceeded ${summary.succeeded} · failed ${summary.failed} · refused ${summary.refused} · ${summary.seconds.toFixed(1)} s · ${rate}\n`,
    );
    return summary;
  } finally {
    sse.close();
    await service?.stop();
  }
}
