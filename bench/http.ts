// POST /v1/ec2/instances latency at a paced 1,000 requests/s (autocannon), on the memory transport
// and on RabbitMQ with publisher confirms. The server runs in a child process so the load generator
// does not share its event loop. Baselines in the same run: a bare node:http server answering the
// same 202 without a broker (memory), and node:http + raw amqplib confirm-channel publish (RabbitMQ).
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import { table, writeSection } from './lib/report.js';

// autocannon ships no types: the slice of its API this bench uses.
interface LoadResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number };
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (options: Record<string, unknown>) => Promise<LoadResult>;

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const AMQP = process.env.EVENTBUS_RABBITMQ_URL;
const BODY = JSON.stringify({ userId: 'bench', imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro' });
type Mode = 'bare' | 'ours-memory' | 'raw-amqp' | 'ours-amqp';

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
  let publish: (body: Buffer) => Promise<void> = async () => {};
  if (mode === 'raw-amqp') {
    const connection = await amqplib.connect(AMQP ?? '');
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    publish = (body) =>
      new Promise((resolve, reject) =>
        channel.publish(exchange, 'ec2.launch.requested', body, { persistent: true, messageId: randomUUID() }, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const input = JSON.parse(Buffer.concat(chunks).toString()) as object;
      const requestId = randomUUID();
      publish(Buffer.from(JSON.stringify({ ...input, requestId }))).then(
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
  // CPU time is what a loaded machine distorts least: the parent asks before and after the run.
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send?.({ cpuMicros: user + system });
  });
  process.send?.({ url });
} else {
  await main();
}

// ---- parent: start each server, load it, report --------------------------------------------
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (m: { cpuMicros: number }) => resolve(m.cpuMicros));
    child.send({ kind: 'cpu' });
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
  const run = (duration: number) =>
    autocannon({
      url: `${url}v1/ec2/instances`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
      connections: 50,
      overallRate: RATE,
      duration,
    });
  await run(2); // warm-up: JIT, connections, broker channels
  const before = await cpuOf(child);
  const result = await run(DURATION);
  const cpuMicros = (await cpuOf(child)) - before;
  return { result, cpuMicrosPerRequest: cpuMicros / Math.max(1, result.requests.total) };
}

async function main(): Promise<void> {
  if (!existsSync(new URL('../packages/ec2-handlers/dist/index.js', import.meta.url))) {
    console.error('bench http: build the packages first (npx pnpm@10.34.8 build)');
    process.exit(1);
  }
  const modes: [Mode, string][] = [
    ['bare', 'node:http, 202 without a broker'],
    ['ours-memory', 'eventbus-ec2 API, memory://'],
  ];
  if (AMQP) modes.push(['raw-amqp', 'node:http + amqplib confirm publish'], ['ours-amqp', 'eventbus-ec2 API, amqp:// (confirms)']);
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
  const p99: Partial<Record<Mode, number>> = {};
  const cpu: Partial<Record<Mode, number>> = {};
  try {
    for (const [mode, what] of modes) {
      const { url, child } = await startChild(mode, exchange);
      try {
        const { result: r, cpuMicrosPerRequest } = await load(url, child);
        p99[mode] = r.latency.p99;
        cpu[mode] = cpuMicrosPerRequest;
        rows.push({
          server: what,
          'requests/s': Math.round(r.requests.average),
          'p50 ms': r.latency.p50,
          'p99 ms': r.latency.p99,
          'max ms': r.latency.max,
          '2xx': r['2xx'],
          'non-2xx': r.non2xx,
          errors: r.errors + r.timeouts,
          'server CPU µs/request': Math.round(cpuMicrosPerRequest),
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
  const markdown = [
    '## http — POST /v1/ec2/instances latency at 1,000 requests/s',
    '',
    `autocannon, ${RATE} requests/s paced over 50 connections for ${DURATION} s after a 2 s warm-up; the server in its own process, role \`api\` (publish confirmed, then 202). Target: p99 under 10 ms. Latency on a shared, loaded machine is mostly the machine (see the bare node:http row); server CPU per request is the steadier measure of our own cost. Load average at the start: ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs.`,
    '',
    table(rows),
    '',
    ratios.length ? `Ratios in this run: ${ratios.join('; ')}.` : '',
  ].join('\n');
  console.log(ratios.join('\n'));
  writeSection('http', markdown);
}
