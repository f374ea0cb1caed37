import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../scripts/kafka.sh');

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** Two free consecutive ports (client, controller) in a range the shared broker never uses. */
export async function freePorts(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + 2 * Math.floor(Math.random() * 10_000);
    if ((await portFree(port)) && (await portFree(port + 1))) return port;
  }
  throw new Error('no free port pair for a private Kafka broker');
}

/**
 * A Kafka broker of the test's own (scripts/kafka.sh on another port and folder), so fault tests
 * can stop and restart it without touching the shared one. Jars come from the script's cache.
 */
export class PrivateBroker {
  private port = 0;
  private dir = '';

  get address(): string {
    if (!this.port) throw new Error('the private broker was not started');
    return `127.0.0.1:${this.port}`;
  }

  private async script(command: 'start' | 'stop'): Promise<void> {
    const env = { ...process.env, KAFKA_PORT: String(this.port), KAFKA_DIR: this.dir, KAFKA_HEAP: '-Xms128m -Xmx384m' };
    await run('bash', [script, command], { env, timeout: 180_000 });
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePorts();
    if (!this.dir) this.dir = mkdtempSync(join(tmpdir(), 'eventbus-kafka-'));
    await this.script('start');
  }

  async restart(): Promise<void> {
    await this.script('stop');
    await this.script('start');
  }

  async stop(): Promise<void> {
    if (!this.port) return;
    await this.script('stop');
    rmSync(this.dir, { recursive: true, force: true });
    this.dir = '';
    this.port = 0;
  }
}
