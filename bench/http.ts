// POST /v1/ec2/instances latency at a paced 1,000 requests/s (autocannon), on the memory transport
// and on RabbitMQ with publisher confirms. The server runs in a child process so the load generator
// does not share its event loop. Baselines in the same run: a bare node:http server answering the
// same 202 without a broker (memory), and node:http + raw amqplib confirm-channel publish (RabbitMQ):
// once with no headers, once with the same CloudEvents AMQP binding headers ours must send (the fair
// baseline: amqplib encodes a header table on every publish, and that is most of ours' extra cost).
//
// The load is paced by lib/paced.ts (autocannon's own rate limit sends each second's requests in one
// burst; see there). Beside the latency the table shows where a tail can come from: the server's
// longest GC pause and event-loop lag, and the load generator's own event-loop lag (a generator that
// stalls reports its stall as the server's latency).
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import { type ConfirmFloor, confirmFloor } from './lib/confirm-floor.js';
import { pacedLoad } from './lib/paced.js';
import { table, writeSection } from './lib/report.js';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
// 50 lanes at 1,000/s: 20 requests every 20 ms, and 50 cold connections (0.5% of a 10 s run, below
// the p99). Fewer lanes make bigger bursts; more put more cold connections into the tail and cost the
// generator memory (autocannon keeps three histograms per instance, ~2 MB).
const LANES = Number(process.env.BENCH_LANES ?? 50);
const AMQP = process.env.EVENTBUS_RABBITMQ_URL;
const BODY = JSON.stringify({ userId: 'bench', imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro' });
type Mode = 'bare' | 'ours-memory' | 'raw-amqp' | 'raw-amqp-ce' | 'ours-amqp';
// One decimal, as text: the table prints other fractions with three, a precision these do not have.
const round1 = (n: number) => n.toFixed(1);
// monitorEventLoopDelay records the whole interval between its timer's runs: lag is what exceeds it.
const LAG_RESOLUTION_MS = 5;
const lagMs = (nanos: number) => Math.max(0, nanos / 1e6 - LAG_RESOLUTION_MS);

/** What the child measured about itself between the parent's "start" and "stop". */
interface ServerStats {
  cpuMicros: number;
  gcMaxMs: number;
  lagP99Ms: number;
  lagMaxMs: number;
}

// ---- child: one server per mode -------------------------------------------------------------
async function serve(mode: Mode, exchange: string): Promise<string> {
  if (mode === 'ours-memory' || mode === 'ours-amqp') {
    const { startEc2Service } = await import('@org/eventbus-ec2');
    const service = await startEc2Service({
      role: 'api',
      port: 0,
      url: mode === 'ours-memory' ? 'memory://bench-http' : (AMQP ?? ''),
      transportOptions: mode === 'ours-amqp' ? { exchange, queueType: 'classic' } : {},
      groupPrefix: 'bench',
      instanceId: 'http',
    });
    return service.url ?? '';
  }
  let publish: (body: Buffer, id: string) => Promise<void> = async () => {};
  if (mode === 'raw-amqp' || mode === 'raw-amqp-ce') {
    const connection = await amqplib.connect(AMQP ?? '');
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    // raw-amqp-ce: the message ours sends for the same POST (binding headers, content-type property):
    // the eight `cloudEvents_` attributes core writes for this event (subject and correlation id are
    // the request id), written by hand as a careful amqplib user would.
    const options: (id: string) => amqplib.Options.Publish =
      mode === 'raw-amqp'
        ? (id) => ({ persistent: true, messageId: id })
        : (id) => ({
            persistent: true,
            messageId: id,
            contentType: 'application/json',
            headers: {
              cloudEvents_specversion: '1.0',
              cloudEvents_id: id,
              cloudEvents_source: '/services/ec2',
              cloudEvents_type: 'ec2.launch.requested',
              cloudEvents_time: new Date().toISOString(),
              cloudEvents_dataschema: 'urn:eventbus:ec2.launch.requested:v1',
              cloudEvents_subject: id,
              cloudEvents_correlationid: id,
            },
          });
    publish = (body, id) =>
      new Promise((resolve, reject) =>
        channel.publish(exchange, 'ec2.launch.requested', body, options(id), (err) => (err ? reject(err) : resolve())),
      );
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const input = JSON.parse(Buffer.concat(chunks).toString()) as object;
      const requestId = randomUUID();
      publish(Buffer.from(JSON.stringify({ ...input, requestId })), requestId).then(
        () => {
          const text = JSON.stringify({ requestId, statusUrl: `/v1/requests/${requestId}` });
          res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
        () => {
          res.writeHead(503);
          res.end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

if (process.env.BENCH_HTTP_CHILD) {
  const { mode, exchange } = JSON.parse(process.env.BENCH_HTTP_CHILD) as { mode: Mode; exchange: string };
  const url = await serve(mode, exchange);
  // CPU time is what a loaded machine distorts least; GC pauses and loop lag say whether a slow answer
  // was this process's own doing. Counted from the parent's "start" to its "stop".
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  let gcMaxMs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMaxMs = Math.max(gcMaxMs, entry.duration);
  }).observe({ entryTypes: ['gc'] });
  let cpuAtStart = 0;
  const cpuNow = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  process.on('message', (m: { kind: 'start' | 'stop' }) => {
    if (m.kind === 'start') {
      cpuAtStart = cpuNow();
      gcMaxMs = 0;
      lag.reset();
      lag.enable();
      process.send?.({ started: true });
      return;
    }
    lag.disable();
    const stats: ServerStats = { cpuMicros: cpuNow() - cpuAtStart, gcMaxMs, lagP99Ms: lagMs(lag.percentile(99)), lagMaxMs: lagMs(lag.max) };
    process.send?.(stats);
  });
  process.send?.({ url });
} else {
  await main();
}

// ---- parent: start each server, load it, report --------------------------------------------
function ask<T>(child: ChildProcess, kind: 'start' | 'stop'): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m: T) => resolve(m));
    child.send({ kind });
  });
}

function startChild(mode: Mode, exchange: string): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    // The built packages, as `pnpm bench` measures everything (tsx only for this file itself).
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_HTTP_CHILD: JSON.stringify({ mode, exchange }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve({ url: m.url, child }));
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}

async function load(url: string, child: ChildProcess) {
  const run = (seconds: number) =>
    pacedLoad({
      url: `${url}v1/ec2/instances`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
      rate: RATE,
      seconds,
      lanes: LANES,
    });
  // Warm-up at the same paced rate: JIT, the broker channel, the request store's first growth.
  await run(WARMUP);
  await ask(child, 'start');
  const generatorLag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  generatorLag.enable();
  const { result, achievedRate } = await run(DURATION);
  generatorLag.disable();
  const server = await ask<ServerStats>(child, 'stop');
  return { result, achievedRate, server, generatorLagMaxMs: lagMs(generatorLag.max) };
}

async function main(): Promise<void> {
  const loadAverage = os.loadavg()[0] ?? 0;
  if (!existsSync(new URL('../packages/ec2-handlers/dist/index.js', import.meta.url))) {
    console.error('bench http: build the packages first (npx pnpm@10.34.8 build)');
    process.exit(1);
  }
  const modes: [Mode, string][] = [
    ['bare', 'node:http, 202 without a broker'],
    ['ours-memory', 'eventbus-ec2 API, memory://'],
  ];
  if (AMQP) {
    modes.push(
      ['raw-amqp', 'node:http + amqplib confirm publish'],
      ['raw-amqp-ce', 'node:http + amqplib confirm publish, CloudEvents headers'],
      ['ours-amqp', 'eventbus-ec2 API, amqp:// (confirms)'],
    );
  }
  else console.log('[bench http] RabbitMQ rows skipped: set EVENTBUS_RABBITMQ_URL to include them');
  const exchange = `bench-http-${randomUUID().slice(0, 8)}`;
  let admin: amqplib.ChannelModel | undefined;
  const sink = `${exchange}.sink`;
  if (AMQP) {
    // A queue bound like the launch workers' own, so the broker stores every event it confirms.
    admin = await amqplib.connect(AMQP);
    const ch = await admin.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: true });
    await ch.assertQueue(sink, { durable: true });
    await ch.bindQueue(sink, exchange, 'ec2.launch.requested');
    await ch.close();
  }
  const rows: Record<string, string | number>[] = [];
  let floor: ConfirmFloor | undefined;
  const p99: Partial<Record<Mode, number>> = {};
  const cpu: Partial<Record<Mode, number>> = {};
  try {
    if (admin && AMQP) {
      floor = await confirmFloor(AMQP, exchange, 'ec2.launch.requested', RATE, DURATION);
      console.log(`broker confirm floor: p50 ${floor.p50.toFixed(2)} ms, p99 ${floor.p99.toFixed(2)} ms`);
    }
    for (const [mode, what] of modes) {
      // Each RabbitMQ mode starts on an empty sink, so none pays for the previous one's stored backlog.
      if (admin) {
        const ch = await admin.createChannel();
        await ch.purgeQueue(sink);
        await ch.close();
      }
      const { url, child } = await startChild(mode, exchange);
      try {
        const { result: r, achievedRate, server, generatorLagMaxMs } = await load(url, child);
        const cpuMicrosPerRequest = server.cpuMicros / Math.max(1, r['2xx'] + r.non2xx);
        p99[mode] = r.latency.p99;
        cpu[mode] = cpuMicrosPerRequest;
        rows.push({
          server: what,
          'requests/s': Math.round(achievedRate),
          'p50 ms': r.latency.p50,
          'p99 ms': r.latency.p99,
          'max ms': r.latency.max,
          '2xx': r['2xx'],
          'non-2xx': r.non2xx,
          errors: r.errors + r.timeouts,
          'server CPU µs/request': Math.round(cpuMicrosPerRequest),
          'server GC max ms': round1(server.gcMaxMs),
          'server loop lag p99 / max ms': `${round1(server.lagP99Ms)} / ${round1(server.lagMaxMs)}`,
          'generator loop lag max ms': round1(generatorLagMaxMs),
        });
      } finally {
        child.kill('SIGKILL');
      }
    }
  } finally {
    if (admin) {
      const ch = await admin.createChannel();
      for (const q of [sink, `${exchange}.bench.api.http`, `${exchange}.bench.api.http.dead-letter`]) await ch.deleteQueue(q).catch(() => {});
      await ch.deleteExchange(exchange).catch(() => {});
      await ch.deleteExchange(`${exchange}.dead-letter`).catch(() => {});
      await admin.close().catch(() => {});
    }
  }
  const ratios: string[] = [];
  const ratio = (label: string, ours: Mode, base: Mode) => {
    const [a, b, ca, cb] = [p99[ours], p99[base], cpu[ours], cpu[base]];
    if (a !== undefined && b && ca !== undefined && cb) ratios.push(`${label}: p99 ${(a / b).toFixed(2)}×, CPU per request ${(ca / cb).toFixed(2)}×`);
  };
  ratio('memory ÷ bare node:http', 'ours-memory', 'bare');
  ratio('RabbitMQ ÷ raw amqplib', 'ours-amqp', 'raw-amqp');
  ratio('RabbitMQ ÷ raw amqplib with the same headers', 'ours-amqp', 'raw-amqp-ce');
  const markdown = [
    '## http — POST /v1/ec2/instances latency at 1,000 requests/s',
    '',
    `autocannon, ${RATE} requests/s for ${DURATION} s after a ${WARMUP} s warm-up at the same rate, paced over ${LANES} one-connection autocannon instances started ${(1000 / LANES).toFixed(0)} ms apart (${RATE / LANES} requests every ${(1000 / LANES).toFixed(0)} ms; autocannon's own \`overallRate\` sends each second's requests in one burst at the concurrency of its connection count, see bench/lib/paced.ts). Latency is autocannon's, with its coordinated-omission correction, in whole milliseconds rounded down (p99 9 is under 10 ms). The server runs in its own process, role \`api\` (publish confirmed, then 202). On RabbitMQ the events are persistent and routed to a durable classic queue, so the broker confirms each once it has stored it: that wait is most of every RabbitMQ row's latency (compare ours with the raw amqplib rows; the second raw row sends the same CloudEvents binding headers ours must send, which amqplib encodes into a field table on every publish). Target: p99 under 10 ms. The last three columns say where a tail comes from: the server's longest GC pause, its event-loop lag, and the load generator's own lag (which autocannon reports as latency). Server CPU per request is the steadier measure of our own cost on a shared machine (paced requests each wake the server on their own, so it is higher than under the former one-second bursts, which shared each wake-up among many requests). Load average at the start: ${loadAverage.toFixed(1)} on ${os.cpus().length} CPUs.`,
    '',
    table(rows),
    '',
    ratios.length ? `Ratios in this run: ${ratios.join('; ')}.` : '',
    '',
    floor
      ? `The broker's floor in this run, before the servers: a bare amqplib confirm channel publishing the same persistent message at ${RATE}/s to the same durable queue, no HTTP, waited p50 ${floor.p50.toFixed(2)} ms, p99 ${floor.p99.toFixed(2)} ms, max ${floor.max.toFixed(1)} ms for its confirms. No server that answers after the confirm can have a p99 below that.`
      : '',
  ].join('\n');
  console.log(ratios.join('\n'));
  writeSection('http', markdown);
}
