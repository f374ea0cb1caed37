import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

/** Whether a RabbitMQ server is installed that a test may start privately (never the shared one). */
export function privateBrokerAvailable(): boolean {
  return existsSync(SERVER);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`private RabbitMQ exited with code ${child.exitCode} while starting`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`private RabbitMQ did not listen on ${port} within ${timeoutMs} ms`);
}

/**
 * A RabbitMQ node of this test's own (own node name, ports, data and config directories under a temp
 * dir), so a test can restart a broker without touching the machine's shared one. Restart keeps data.
 */
export class PrivateBroker {
  private child: ChildProcess | undefined;
  private dir = '';
  private readonly node = `eventbus-test-${process.pid}-${randomBytes(3).toString('hex')}@localhost`;
  private amqpPort = 0;
  private env: NodeJS.ProcessEnv = {};

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.amqpPort}`;
  }

  async start(): Promise<void> {
    if (this.amqpPort === 0) await this.prepare();
    const child = spawn(SERVER, [], { env: this.env, cwd: this.dir, stdio: 'ignore' });
    child.on('error', () => {}); // reported by waitForPort as an early exit
    this.child = child;
    await waitForPort(this.amqpPort, child, 90_000);
  }

  private async prepare(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'eventbus-rabbitmq-'));
    this.amqpPort = await freePort();
    const distPort = await freePort();
    const home = join(this.dir, 'home');
    mkdirSync(home);
    writeFileSync(join(home, '.erlang.cookie'), randomBytes(16).toString('hex'), { mode: 0o400 });
    writeFileSync(join(this.dir, 'enabled_plugins'), '[].\n');
    writeFileSync(join(this.dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${this.amqpPort}\n`);
    writeFileSync(join(this.dir, 'rabbitmq-env.conf'), '');
    this.env = {
      PATH: process.env.PATH,
      HOME: home,
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.amqpPort),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }

  /** Stops our node only (SIGTERM to the process we started: RabbitMQ shuts down cleanly, keeping its data). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
