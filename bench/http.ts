// POST /v1/ec2/instances latency at a paced 1,000 requests/s (autocannon), on the memory transport
// and on RabbitMQ with publisher confirms. The server runs in a child process so the load generator
// does not share its event loop. Baselines in the same run: a bare node:http server answering the
// same 202 without a broker (memory), and node:http + raw amqplib confirm-channel publish (RabbitMQ).
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import autocannon from 'autocannon';
import { table, writeSection } from './lib/report.js';

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
  process.send?.({ url });
} else {
  await main();
}

// ---- parent: start each server, load it, report --------------------------------------------
function startChild(mode: Mode, exchange: string): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--conditions=@org/source', '--import', 'tsx'],
    env: { ...process.env, BENCH_HTTP_CHILD: JSON.stringify({ mode, exchange }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve({ url: m.url, child }));
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}

async function load(url: string) {
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
  return run(DURATION);
}

async function main(): Promise<void> {
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
  try {
    for (const [mode, what] of modes) {
      const { url, child } = await startChild(mode, exchange);
      try {
        const r = await load(url);
        p99[mode] = r.latency.p99;
        rows.push({
          server: what,
          'requests/s': Math.round(r.requests.average),
          'p50 ms': r.latency.p50,
          'p99 ms': r.latency.p99,
          'max ms': r.latency.max,
          '2xx': r['2xx'],
          'non-2xx': r.non2xx,
          errors: r.errors + r.timeouts,
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
  if (p99['ours-memory'] !== undefined && p99.bare) ratios.push(`memory p99 ÷ bare node:http p99: ${(p99['ours-memory'] / p99.bare).toFixed(2)}`);
  if (p99['ours-amqp'] !== undefined && p99['raw-amqp']) ratios.push(`RabbitMQ p99 ÷ raw amqplib p99: ${(p99['ours-amqp'] / p99['raw-amqp']).toFixed(2)}`);
  const markdown = [
    '## http — POST /v1/ec2/instances latency at 1,000 requests/s',
    '',
    `autocannon, ${RATE} requests/s paced over 50 connections for ${DURATION} s after a 2 s warm-up; the server in its own process, role \`api\` (publish confirmed, then 202). Target: p99 under 10 ms.`,
    '',
    table(rows),
    '',
    ratios.length ? `Ratios in this run: ${ratios.join('; ')}.` : '',
  ].join('\n');
  console.log(ratios.join('\n'));
  writeSection('http', markdown);
}
