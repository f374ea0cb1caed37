// POST /v1/ec2/instances latency at a paced 1,000 requests/s in Postgres mode: the API writes the
// request, its first step and its event to the outbox in one statement and answers 202 once it
// committed; the relay in the same process publishes to RabbitMQ in the background (no broker confirm
// on the request path). Baselines in the same run: node:http answering 202 after one bare INSERT
// (autocommit: the database's floor for one statement) and after BEGIN, one INSERT, COMMIT. Rows with synchronous_commit on (the default: a 202 survives a
// database crash) and off (the last ~0.6 s of 202s can be lost in a database crash, not an API crash).
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import diagnostics from 'node:diagnostics_channel';
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
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
type Mode = 'raw-pg-one' | 'raw-pg' | 'ours-pg' | 'ours-pg-async';
const isFloor = (mode: Mode) => mode.startsWith('raw-');
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
  if (!isFloor(mode)) {
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
      const insert = `INSERT INTO "${schema}".raw (id, body) VALUES ($1, $2)`;
      const values = [requestId, Buffer.concat(chunks).toString()];
      const client = await pool.connect();
      try {
        if (mode === 'raw-pg-one') await client.query(insert, values);
        else {
          await client.query('BEGIN');
          await client.query(insert, values);
          await client.query('COMMIT');
        }
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

/**
 * The server's own share of each request's latency (request headers parsed → response finished), from
 * node:http's diagnostics channels: what autocannon reports also holds the load generator's delays.
 */
function serverLatency() {
  const histogram = createHistogram();
  const started = new WeakMap<object, bigint>();
  diagnostics.subscribe('http.server.request.start', (m) => started.set((m as { request: object }).request, process.hrtime.bigint()));
  diagnostics.subscribe('http.server.response.finish', (m) => {
    const at = started.get((m as { request: object }).request);
    if (at !== undefined) histogram.record(Math.max(1, Number(process.hrtime.bigint() - at)));
  });
  return histogram;
}

if (process.env.BENCH_HTTP_PG_CHILD) {
  const { url, cpu } = await serve(JSON.parse(process.env.BENCH_HTTP_PG_CHILD) as ChildConfig);
  const latency = serverLatency();
  let cpuAtStart = 0;
  process.on('message', (m: { kind: 'start' | 'stop' }) => {
    if (m.kind === 'start') {
      cpuAtStart = cpu();
      latency.reset();
    }
    const ms = (p: number) => latency.percentile(p) / 1e6;
    process.send?.({ cpuMicros: cpu() - cpuAtStart, serverP50: ms(50), serverP99: ms(99) });
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
  const { cpuMicros, serverP50, serverP99 } = await ask<{ cpuMicros: number; serverP50: number; serverP99: number }>(child, 'stop');
  return { result, achievedRate, cpuMicros, serverP50, serverP99, generatorLagMaxMs: Math.max(0, generatorLag.max / 1e6 - 5) };
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
    ['raw-pg-one', 'node:http + pg, one INSERT (autocommit): the floor'],
    ['raw-pg', 'node:http + pg BEGIN/INSERT/COMMIT'],
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
        const { result: r, achievedRate, cpuMicros, serverP50, serverP99, generatorLagMaxMs } = await load(url, child);
        const drained = isFloor(mode) ? undefined : await drainMs(pool, schema);
        const cpuPerRequest = cpuMicros / Math.max(1, r['2xx'] + r.non2xx);
        measured[mode] = { p99: r.latency.p99, cpu: cpuPerRequest, rate: achievedRate };
        rows.push({
          server: what,
          'requests/s': Math.round(achievedRate),
          'p50 ms': r.latency.p50,
          'p90 ms': r.latency.p90,
          'p99 ms': r.latency.p99,
          'max ms': r.latency.max,
          'server p50 / p99 ms': `${serverP50.toFixed(2)} / ${serverP99.toFixed(2)}`,
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
  const floor = measured['raw-pg-one'];
  for (const mode of ['ours-pg', 'ours-pg-async'] as const) {
    const ours = measured[mode];
    if (floor && ours && floor.p99 > 0) notes.push(`${mode} ÷ floor: p99 ${(ours.p99 / floor.p99).toFixed(2)}×, CPU per request ${(ours.cpu / floor.cpu).toFixed(2)}×`);
  }
  // A floor that could not keep the rate means the machine, not the service, set every row's latency.
  const saturated = floor !== undefined && floor.rate < RATE * 0.9;
  const markdown = [
    '## http-postgres — POST /v1/ec2/instances latency at 1,000 requests/s, Postgres mode',
    '',
    `bench/http-postgres.ts: ${RATE} requests/s for ${DURATION} s after a ${WARMUP} s warm-up, paced over ${LANES} one-connection autocannon instances (bench/lib/paced.ts), the server in its own process, role \`api\`. In Postgres mode a POST is one statement (the request row, its first step and the outbox row in data-modifying CTEs, outbox.prepare), which commits on its own: no BEGIN/COMMIT round trips and no broker confirm on the request path; the 202 goes out once it committed. The relay runs in the same process and publishes to RabbitMQ (persistent, a durable classic queue bound) in the background; "outbox drained" is how long after the load it took to empty the outbox (near 0: it kept up). The floor row is node:http answering after one bare INSERT (autocommit), the next after BEGIN, INSERT, COMMIT (our server's CPU also pays for the relay's publishing, which the floors do not do). "Server p50 / p99" is the server's own share (request headers parsed → response finished, node:http diagnostics channels); autocannon's columns also hold the load generator's delays on the shared cores. synchronous_commit on waits for the WAL flush (a 202 survives a database crash); off, a database crash can lose the last ~0.6 s of accepted requests (an API crash loses nothing either way). Latency in whole ms rounded down, autocannon's coordinated-omission correction. Target: p99 under 10 ms. Load average at the start: ${loadAverage.toFixed(1)} on ${os.cpus().length} CPUs (shared with other work).`,
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
