// POST /v1/ec2/instances latency at a paced 1,000 requests/s in Postgres mode: the API writes the
// request and its event to the outbox in one transaction and answers 202 at the commit; the relay in
// the same process publishes to RabbitMQ in the background (no broker confirm on the request path).
// Baseline in the same run: node:http answering 202 after one bare pg transaction (BEGIN, one INSERT,
// COMMIT) — the database's floor. Rows with synchronous_commit on (the default: a 202 survives a
// database crash) and off (the last ~0.6 s of 202s can be lost in a database crash, not an API crash).
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';
import pg from 'pg';
import { pacedLoad } from './lib/paced.js';
import { table, writeSection } from './lib/report.js';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const LANES = Number(process.env.BENCH_LANES ?? 50);
const AMQP = process.env.EVENTBUS_RABBITMQ_URL;
const PG = process.env.EVENTBUS_POSTGRES_URL;
const BODY = JSON.stringify({ userId: 'bench', imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro' });
type Mode = 'raw-pg' | 'ours-pg' | 'ours-pg-async';
const round1 = (n: number) => n.toFixed(1);

interface ChildConfig {
  mode: Mode;
  exchange: string;
  schema: string;
}

// ---- child: one server per mode -------------------------------------------------------------
async function serve({ mode, exchange, schema }: ChildConfig): Promise<{ url: string; cpu: () => number }> {
  const cpu = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  if (mode !== 'raw-pg') {
    const { startEc2Service } = await import('@org/eventbus-ec2');
    const { connectPostgres } = await import('@org/eventbus-ec2/postgres');
    const postgres = await connectPostgres(PG ?? '', { schema, synchronousCommit: mode === 'ours-pg' });
    const service = await startEc2Service({
      role: 'api',
      port: 0,
      url: AMQP ?? '',
      transportOptions: { exchange, queueType: 'classic' },
      groupPrefix: 'bench',
      instanceId: 'http-pg',
      postgres,
    });
    return { url: service.url ?? '', cpu };
  }
  const pool = new pg.Pool({ connectionString: PG, max: 10 });
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"; CREATE TABLE IF NOT EXISTS "${schema}".raw (id text PRIMARY KEY, body jsonb NOT NULL)`);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const requestId = randomUUID();
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO "${schema}".raw (id, body) VALUES ($1, $2)`, [requestId, Buffer.concat(chunks).toString()]);
        await client.query('COMMIT');
        const text = JSON.stringify({ requestId, statusUrl: `/v1/requests/${requestId}` });
        res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      } catch {
        res.writeHead(503);
        res.end();
      } finally {
        client.release();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, cpu };
}

if (process.env.BENCH_HTTP_PG_CHILD) {
  const { url, cpu } = await serve(JSON.parse(process.env.BENCH_HTTP_PG_CHILD) as ChildConfig);
  let cpuAtStart = 0;
  process.on('message', (m: { kind: 'start' | 'stop' }) => {
    if (m.kind === 'start') cpuAtStart = cpu();
    process.send?.({ cpuMicros: cpu() - cpuAtStart });
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

function startChild(config: ChildConfig): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_HTTP_PG_CHILD: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve({ url: m.url, child }));
    child.once('exit', (code) => reject(new Error(`${config.mode} server exited with ${code}`)));
  });
}

async function load(url: string, child: ChildProcess) {
  const run = (seconds: number) =>
    pacedLoad({ url: `${url}v1/ec2/instances`, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY, rate: RATE, seconds, lanes: LANES });
  await run(WARMUP);
  await ask(child, 'start');
  const generatorLag = monitorEventLoopDelay({ resolution: 5 });
  generatorLag.enable();
  const { result, achievedRate } = await run(DURATION);
  generatorLag.disable();
  const { cpuMicros } = await ask<{ cpuMicros: number }>(child, 'stop');
  return { result, achievedRate, cpuMicros, generatorLagMaxMs: Math.max(0, generatorLag.max / 1e6 - 5) };
}

/** ms until the relay emptied the outbox after the load stopped (how far behind it ran). */
async function drainMs(pool: pg.Pool, schema: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".eventbus_outbox`);
    if (rows[0]?.n === 0) return performance.now() - started;
    if (performance.now() - started > 60_000) return Number.POSITIVE_INFINITY;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  const loadAverage = os.loadavg()[0] ?? 0;
  if (!PG || !AMQP) {
    console.error('bench http-postgres: set EVENTBUS_POSTGRES_URL and EVENTBUS_RABBITMQ_URL');
    process.exit(1);
  }
  if (!existsSync(new URL('../packages/ec2-handlers/dist/postgres.js', import.meta.url))) {
    console.error('bench http-postgres: build the packages first (npx pnpm@10.34.8 build)');
    process.exit(1);
  }
  const modes: [Mode, string][] = [
    ['raw-pg', 'node:http + pg BEGIN/INSERT/COMMIT (floor)'],
    ['ours-pg', 'eventbus-ec2 API, Postgres mode (synchronous_commit on)'],
    ['ours-pg-async', 'eventbus-ec2 API, Postgres mode (synchronous_commit off)'],
  ];
  const id = randomUUID().slice(0, 8);
  const exchange = `bench-http-pg-${id}`;
  const sink = `${exchange}.sink`;
  const admin = await amqplib.connect(AMQP);
  const ch = await admin.createChannel();
  // A durable queue bound like the launch workers' own, so the relay's publishes are stored and confirmed.
  await ch.assertExchange(exchange, 'topic', { durable: true });
  await ch.assertQueue(sink, { durable: true });
  await ch.bindQueue(sink, exchange, 'ec2.launch.requested');
  const pool = new pg.Pool({ connectionString: PG, max: 2 });
  const rows: Record<string, string | number>[] = [];
  const measured: Partial<Record<Mode, { p99: number; cpu: number; rate: number }>> = {};
  const schemas: string[] = [];
  try {
    for (const [mode, what] of modes) {
      const schema = `bench_${mode.replaceAll('-', '_')}_${id}`;
      schemas.push(schema);
      const { url, child } = await startChild({ mode, exchange, schema });
      try {
        const { result: r, achievedRate, cpuMicros, generatorLagMaxMs } = await load(url, child);
        const drained = mode === 'raw-pg' ? undefined : await drainMs(pool, schema);
        const cpuPerRequest = cpuMicros / Math.max(1, r['2xx'] + r.non2xx);
        measured[mode] = { p99: r.latency.p99, cpu: cpuPerRequest, rate: achievedRate };
        rows.push({
          server: what,
          'requests/s': Math.round(achievedRate),
          'p50 ms': r.latency.p50,
          'p90 ms': r.latency.p90,
          'p99 ms': r.latency.p99,
          'max ms': r.latency.max,
          '2xx': r['2xx'],
          'non-2xx': r.non2xx,
          errors: r.errors + r.timeouts,
          'server CPU µs/request': Math.round(cpuPerRequest),
          'outbox drained after load, ms': drained === undefined ? '—' : Math.round(drained),
          'generator loop lag max ms': round1(generatorLagMaxMs),
        });
      } finally {
        child.kill('SIGKILL');
      }
    }
  } finally {
    for (const s of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
    await pool.end();
    for (const q of [sink, `${exchange}.bench.api.http-pg`, `${exchange}.bench.api.http-pg.dead-letter`]) await ch.deleteQueue(q).catch(() => {});
    await ch.deleteExchange(exchange).catch(() => {});
    await ch.deleteExchange(`${exchange}.dead-letter`).catch(() => {});
    await admin.close().catch(() => {});
  }
  const notes: string[] = [];
  const floor = measured['raw-pg'];
  for (const mode of ['ours-pg', 'ours-pg-async'] as const) {
    const ours = measured[mode];
    if (floor && ours && floor.p99 > 0) notes.push(`${mode} ÷ floor: p99 ${(ours.p99 / floor.p99).toFixed(2)}×, CPU per request ${(ours.cpu / floor.cpu).toFixed(2)}×`);
  }
  // A floor that could not keep the rate means the machine, not the service, set every row's latency.
  const saturated = floor !== undefined && floor.rate < RATE * 0.9;
  const markdown = [
    '## http-postgres — POST /v1/ec2/instances latency at 1,000 requests/s, Postgres mode',
    '',
    `bench/http-postgres.ts: ${RATE} requests/s for ${DURATION} s after a ${WARMUP} s warm-up, paced over ${LANES} one-connection autocannon instances (bench/lib/paced.ts), the server in its own process, role \`api\`. In Postgres mode a POST is one transaction (BEGIN; the request row and its first step in one statement; the outbox row; COMMIT) and the 202 goes out at the commit: no broker confirm on the request path. The relay runs in the same process and publishes to RabbitMQ (persistent, a durable classic queue bound) in the background; "outbox drained" is how long after the load it took to empty the outbox (near 0: it kept up). The floor row is node:http answering after a bare pg transaction of one INSERT (our server's CPU also pays for the relay's publishing, which the floor does not do). synchronous_commit on waits for the WAL flush (a 202 survives a database crash); off, a database crash can lose the last ~0.6 s of accepted requests (an API crash loses nothing either way). Latency in whole ms rounded down, autocannon's coordinated-omission correction. Target: p99 under 10 ms. Load average at the start: ${loadAverage.toFixed(1)} on ${os.cpus().length} CPUs (shared with other work).`,
    '',
    table(rows),
    '',
    notes.length ? `Ratios in this run: ${notes.join('; ')}.` : '',
    saturated
      ? `The floor itself reached only ${Math.round(floor.rate)} of ${RATE} requests/s: the machine was saturated (a pg round trip waited on the CPU), so this run's absolute latencies say nothing about the target; compare the rows with the floor.`
      : '',
  ].join('\n');
  console.log(markdown);
  writeSection('http-postgres', markdown);
}
