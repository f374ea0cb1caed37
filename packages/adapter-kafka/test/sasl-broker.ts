import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { eventually } from '@org/eventbus/testing';
import { freePorts } from './private-broker.js';

const run = promisify(execFile);
const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const LIBS = join(root, '.cache/kafka/libs-3.9.1');
const JVM = ['-Xms128m', '-Xmx320m', '-XX:+UseSerialGC', '-Djava.awt.headless=true', '-Djava.net.preferIPv4Stack=true'];

/** The one user the SASL broker knows, besides its own admin. */
export const SASL_USER = 'eventbus-conformance';

/**
 * A private single-node KRaft broker whose only client listener is SASL_PLAINTEXT with PLAIN, for the
 * auth tests (the machine's broker has no SASL). Jars from scripts/kafka.sh's cache; small heap.
 */
export class SaslBroker {
  private process: ChildProcess | undefined;
  private dir = '';
  port = 0;

  constructor(readonly password: string) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await run('bash', [join(root, 'scripts/kafka.sh'), 'fetch'], { timeout: 180_000 });
    this.port = await freePorts();
    this.dir = mkdtempSync(join(tmpdir(), 'eventbus-kafka-sasl-'));
    const controller = this.port + 1;
    const jaas = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_${SASL_USER}="${this.password}";`;
    const config = [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=SASL_PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=SASL_PLAINTEXT://127.0.0.1:${this.port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=SASL_PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
      'sasl.enabled.mechanisms=PLAIN',
      'sasl.mechanism.inter.broker.protocol=PLAIN',
      `listener.name.sasl_plaintext.plain.sasl.jaas.config=${jaas}`,
      `log.dirs=${join(this.dir, 'data')}`,
      'num.partitions=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'group.min.session.timeout.ms=1000',
      'num.network.threads=1',
      'num.io.threads=2',
    ].join('\n');
    const properties = join(this.dir, 'server.properties');
    writeFileSync(properties, `${config}\n`);
    writeFileSync(join(this.dir, 'log4j.properties'), 'log4j.rootLogger=WARN, out\nlog4j.appender.out=org.apache.log4j.ConsoleAppender\nlog4j.appender.out.layout=org.apache.log4j.PatternLayout\nlog4j.logger.kafka.server.KafkaRaftServer=INFO\n');
    const java = (...args: string[]) => [...JVM, `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`, '-cp', `${LIBS}/*`, ...args];
    await run('java', java('kafka.tools.StorageTool', 'format', '-t', 'ZXZlbnRidXMta2Fma2EtMQ', '-c', properties, '--ignore-formatted'), { timeout: 120_000 });
    const log = join(this.dir, 'broker.log');
    writeFileSync(log, '');
    const out = openSync(log, 'a');
    this.process = spawn('java', java('kafka.Kafka', properties), { stdio: ['ignore', out, out] });
    await eventually(
      () => readFileSync(log, 'utf8'),
      (text) => text.includes('Kafka Server started') || this.process?.exitCode != null,
      { timeoutMs: 150_000, intervalMs: 300, description: 'the SASL broker starting' },
    );
    if (this.process.exitCode != null) throw new Error(`the SASL broker exited: ${readFileSync(log, 'utf8').slice(-2000)}`);
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (child && child.exitCode == null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
