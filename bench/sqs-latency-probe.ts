// Where the bus's paced latency on SQS goes (issue 16): 200 events/s, one publish per event, against
// fauxqs in a child process, with the SDK clients' calls timed. For each event: publish call →
// publish resolved, → the ReceiveMessage that carried it answered, → handler start; and every SDK
// call's duration, receives by how many messages they carried. Not a benchmark row (it writes no
// docs): `PROBE_MODE=raw|bus PROBE_EVENTS=400 PROBE_RATE=200 pnpm bench sqs-latency-probe` (built
// packages), or through `tsx --conditions=@org/source` from the sources. Findings:
// docs/decisions/per-event-profile.md.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createEnvelope, createEventBus, silentLogger } from '@org/eventbus';
import { SqsTransport } from '@org/eventbus-sqs';
import { data, measured } from './lib/harness.js';

const MODE = process.env.PROBE_MODE ?? 'bus';
const EVENTS = Number(process.env.PROBE_EVENTS ?? 400);
const RATE = Number(process.env.PROBE_RATE ?? 200);
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const cli = join(dirname(fileURLToPath(import.meta.resolve('fauxqs'))), 'cli.js');
const child: ChildProcess = spawn(process.execPath, [cli], { env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_LOGGER: 'false' }, stdio: 'ignore' });
process.once('exit', () => child.kill());
const endpoint = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100 && !(await fetch(`${endpoint}/health`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));

/** Every SDK call's command name, start and end (performance.now()), and for receives the message ids. */
interface Call {
  name: string;
  start: number;
  end: number;
  ids: string[];
}
const calls: Call[] = [];
for (const Client of [SQSClient, SNSClient] as const) {
  const send = Client.prototype.send as (...args: unknown[]) => Promise<unknown>;
  Client.prototype.send = async function (this: unknown, ...args: unknown[]) {
    const name = (args[0] as object).constructor.name;
    const start = performance.now();
    const out = (await send.apply(this, args)) as { Messages?: { Body?: string }[] };
    const ids = (out?.Messages ?? []).map((m) => (JSON.parse(m.Body ?? '{}') as { id: string }).id);
    calls.push({ name, start, end: performance.now(), ids });
    return out;
  } as typeof Client.prototype.send;
}

/** The raw AWS SDK as bench/sqs.ts runs it: SNS Publish per event, 4 long polls of 10, batched deletes. */
async function rawPath(onEvent: (id: string) => void): Promise<{ publish(seq: number): Promise<string>; close(): Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const config = { region: 'us-east-1', endpoint, credentials, requestHandler: { httpAgent: agent } };
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  const name = `probe-raw-${process.pid}`;
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: attrs.Attributes?.QueueArn, Attributes: { RawMessageDelivery: 'true' } }));
  let closed = false;
  const poll = async () => {
    while (!closed) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ['All'] }));
      const messages = out.Messages ?? [];
      for (const m of messages) onEvent((JSON.parse(m.Body ?? '{}') as { id: string }).id);
      if (messages.length > 0) void sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
    }
  };
  const polls = Array.from({ length: 4 }, poll);
  return {
    async publish(seq) {
      const event = createEnvelope('bench.sqs.probe', 1, '/probe', data(seq));
      await sns.send(new PublishCommand({ TopicArn, Message: JSON.stringify(event) }));
      return event.id;
    },
    async close() {
      closed = true;
      await Promise.all(polls);
    },
  };
}

const transport = () => new SqsTransport({ endpoint, credentials, prefix: 'probe-', waitTimeSeconds: 1 });
const contract = measured('bench.sqs.probe', `probe-${process.pid}`);
const handled = new Map<string, number>();
let done: () => void = () => {};
const all = new Promise<void>((r) => {
  done = r;
});
const onEvent = (id: string) => {
  handled.set(id, performance.now());
  if (handled.size === EVENTS + 1) done();
};
let publish: (seq: number) => Promise<string>;
let close: () => Promise<void>;
if (MODE === 'raw') {
  ({ publish, close } = await rawPath(onEvent));
} else {
  const consumer = createEventBus({ transport: transport(), source: '/probe', logger: silentLogger });
  consumer.handle(contract, { group: `g-${process.pid}`, concurrency: 40 }, (event) => onEvent(event.id));
  await consumer.start();
  const publisher = createEventBus({ transport: transport(), source: '/probe', logger: silentLogger });
  publish = async (seq) => (await publisher.publish(contract, data(seq))).id;
  close = async () => void (await Promise.all([publisher.stop(), consumer.stop()]));
}
const sent = new Map<string, { call: number; resolved: number }>();
const publishOne = async (seq: number) => {
  const call = performance.now();
  const id = await publish(seq);
  sent.set(id, { call, resolved: performance.now() });
};
await publishOne(-1); // warm: topic, subscription check, connections
await new Promise((r) => setTimeout(r, 500));
const started = performance.now();
const sends: Promise<void>[] = [];
for (let seq = 0; seq < EVENTS; seq++) {
  const wait = started + (seq * 1000) / RATE - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  sends.push(publishOne(seq));
}
await Promise.all(sends);
await all;

const receiveOf = new Map<string, Call>();
for (const c of calls) for (const id of c.ids) receiveOf.set(id, c);
const rows = [...sent].slice(1).map(([id, s]) => {
  const receive = receiveOf.get(id)!;
  const handler = handled.get(id)!;
  return { publish: s.resolved - s.call, toReceived: receive.end - s.call, receiveStartedBeforeCall: s.call - receive.start, received2handler: handler - receive.end, total: handler - s.call, batch: receive.ids.length };
});
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const columns = ['publish', 'toReceived', 'receiveStartedBeforeCall', 'received2handler', 'total', 'batch'] as const;
console.log(`${MODE}: events ${rows.length} at ${RATE}/s`);
for (const col of columns) {
  const v = rows.map((r) => r[col]);
  console.log(`${col.padEnd(26)} p50 ${pct(v, 50).toFixed(2).padStart(8)}  p90 ${pct(v, 90).toFixed(2).padStart(8)}  p99 ${pct(v, 99).toFixed(2).padStart(8)}`);
}
const byName = new Map<string, number[]>();
for (const c of calls.filter((c) => c.start >= started)) byName.set(c.name, [...(byName.get(c.name) ?? []), c.end - c.start]);
for (const [name, v] of byName) console.log(`${name.padEnd(26)} n ${String(v.length).padStart(5)}  p50 ${pct(v, 50).toFixed(2)} ms  p99 ${pct(v, 99).toFixed(2)} ms`);
const receives = calls.filter((c) => c.start >= started && c.name === 'ReceiveMessageCommand');
const sizes = new Map<number, { n: number; ms: number[] }>();
for (const r of receives) {
  const slot = sizes.get(r.ids.length) ?? { n: 0, ms: [] };
  slot.n++;
  slot.ms.push(r.end - r.start);
  sizes.set(r.ids.length, slot);
}
console.log(`receives by messages carried: ${[...sizes].sort(([a], [b]) => a - b).map(([k, v]) => `${k}: ${v.n} (p50 ${pct(v.ms, 50).toFixed(1)} ms)`).join(', ')}`);
await close();
child.kill();
process.exit(0);
