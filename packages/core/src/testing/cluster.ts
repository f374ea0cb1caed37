import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';

/**
 * A running cluster as a fault scenario sees it: its nodes, one client URL per node (same order),
 * and the two faults it can cause. Each broker's script wrapper implements it.
 */
export interface Cluster {
  /** Node names, e.g. `['n1', 'n2', 'n3']`: what `leaderOf` answers and `kill`/`restart` take. */
  readonly nodes: readonly string[];
  /** One client URL per node, in `nodes` order; an adapter joins them into its seed-list form. */
  readonly urls: readonly string[];
  /** SIGKILL the node (no flush, no goodbye) and resolve once its process is gone. */
  kill(node: string): Promise<void>;
  /** Start a killed node again on its own data and resolve once it answers clients. */
  restart(node: string): Promise<void>;
}

/** A cluster this test process started: it owns the node processes and removes them on stop or exit. */
export interface ClusterHandle extends Cluster {
  /** The state folder the script keeps config, data, logs and pid files in. */
  readonly dir: string;
  /** The live node processes' PIDs, by node. */
  readonly pids: ReadonlyMap<string, number>;
  /** Stop every node and delete the state folder; idempotent. */
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  /** The broker's cluster script (absolute path), e.g. scripts/nats-cluster.sh. */
  script: string;
  /** Extra environment for the script (ports, heaps). */
  env?: Record<string, string>;
  /** Bound on `start` (and on `restart` of one node); default 120 s. */
  startTimeoutMs?: number;
}

/**
 * The script contract every `scripts/<broker>-cluster.sh` follows, all under `$CLUSTER_DIR`:
 *   start            start every node, wait until the cluster formed, print `node <name> <url> <pid>` per node
 *   kill <name>      SIGKILL that node and wait until it is gone
 *   restart <name>   start that node again on its data, wait until it answers, print its `node` line
 *   stop             stop every node (the caller removes the folder)
 * `$CLUSTER_OWNER_PID` is this process: the script's watchdog stops the nodes when it dies, and after
 * `$CLUSTER_MAX_SECONDS` at the latest, so a crashed test leaves nothing running.
 */
function runScript(script: string, env: Record<string, string>, timeoutMs: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [script, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const tail = `${stderr}`.trim().split('\n').slice(-15).join('\n');
        reject(new Error(`${path.basename(script)} ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${tail}`));
      } else resolve(`${stdout}`);
    });
  });
}

interface NodeLine {
  name: string;
  url: string;
  pid: number;
}

function nodeLines(stdout: string): NodeLine[] {
  return stdout
    .split('\n')
    .map((line) => /^node (\S+) (\S+) (\d+)$/.exec(line.trim()))
    .filter((match) => match !== null)
    .map(([, name = '', url = '', pid = '0']) => ({ name, url, pid: Number(pid) }));
}

/** Start a cluster through its script; the nodes are this process's to kill, restart and stop. */
export async function startCluster(options: StartClusterOptions): Promise<ClusterHandle> {
  const timeoutMs = options.startTimeoutMs ?? 120_000;
  const dir = mkdtempSync(path.join(os.tmpdir(), `eventbus-${path.basename(options.script, '.sh')}-`));
  const env = { ...options.env, CLUSTER_DIR: dir, CLUSTER_OWNER_PID: String(process.pid) };
  const run = (args: string[]) => runScript(options.script, env, timeoutMs, args);
  const pids = new Map<string, number>();
  let stopped = false;
  // Last resort when the test process exits without stop(): synchronous, so it works in 'exit'.
  const killAll = () => {
    for (const pid of pids.values()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    pids.clear();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killAll);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await run(['stop']).catch(() => {});
    killAll();
    process.removeListener('exit', killAll);
  };
  let lines: NodeLine[];
  try {
    lines = nodeLines(await run(['start']));
    if (lines.length === 0) throw new Error(`${path.basename(options.script)} start printed no "node <name> <url> <pid>" line`);
  } catch (error) {
    await stop();
    throw error;
  }
  for (const line of lines) pids.set(line.name, line.pid);
  const nodes = lines.map((l) => l.name);
  const known = (node: string) => {
    if (!nodes.includes(node)) throw new Error(`no node "${node}" in this cluster (nodes: ${nodes.join(', ')})`);
  };
  return {
    dir,
    nodes,
    urls: lines.map((l) => l.url),
    pids,
    stop,
    async kill(node) {
      known(node);
      await run(['kill', node]);
      pids.delete(node);
    },
    async restart(node) {
      known(node);
      const [line] = nodeLines(await run(['restart', node]));
      if (line) pids.set(line.name, line.pid);
    },
  };
}

export const CLUSTER_BROKERS = ['nats', 'kafka', 'rabbitmq'] as const;
export type ClusterBroker = (typeof CLUSTER_BROKERS)[number];

/**
 * Which brokers' cluster tests run. `EVENTBUS_CLUSTER` = `all`, `none`, `rotate`, or a comma list
 * (`nats,kafka`). Unset: under CI=true one broker per run in rotation by UTC day of year, so CI stays
 * in its time budget and covers all three every three days; elsewhere none (they start three
 * brokers: `bash scripts/cluster-tests.sh` runs them all).
 */
export function clusterSelection(env: NodeJS.ProcessEnv = process.env, now = new Date()): { brokers: ClusterBroker[]; why: string } {
  const ci = env.CI === 'true' || env.CI === '1';
  const asked = (env.EVENTBUS_CLUSTER ?? '').trim().toLowerCase() || (ci ? 'rotate' : 'none');
  if (asked === 'all') return { brokers: [...CLUSTER_BROKERS], why: 'EVENTBUS_CLUSTER=all' };
  if (asked === 'none') return { brokers: [], why: 'set EVENTBUS_CLUSTER=all (or a broker name) or run bash scripts/cluster-tests.sh' };
  if (asked === 'rotate') {
    const dayOfYear = Math.floor((now.getTime() - Date.UTC(now.getUTCFullYear(), 0, 1)) / 86_400_000);
    const broker = CLUSTER_BROKERS[dayOfYear % CLUSTER_BROKERS.length] ?? 'nats';
    return { brokers: [broker], why: `rotation: day ${dayOfYear} of the year runs ${broker}'s cluster tests` };
  }
  const brokers = asked.split(',').map((b) => b.trim());
  const unknown = brokers.filter((b) => !(CLUSTER_BROKERS as readonly string[]).includes(b));
  if (unknown.length > 0) {
    throw new Error(`EVENTBUS_CLUSTER names unknown broker(s) ${unknown.join(', ')}: use all, none, rotate or ${CLUSTER_BROKERS.join(', ')}`);
  }
  return { brokers: brokers as ClusterBroker[], why: `EVENTBUS_CLUSTER=${asked}` };
}

/**
 * Declares a cluster test block: skipped with one line saying why unless `clusterSelection` picks
 * `broker`; when picked it starts the cluster before its tests and stops it after, and a cluster
 * that cannot start FAILS the block (never a skip).
 */
export function describeCluster(
  broker: ClusterBroker,
  options: StartClusterOptions,
  body: (cluster: () => ClusterHandle) => void,
): void {
  const { brokers, why } = clusterSelection();
  const title = `${broker} three-node cluster`;
  if (!brokers.includes(broker)) {
    console.info(`[eventbus] skipping ${title} tests: ${why}`);
    describe.skip(`${title} (not selected: ${why})`, () => body(() => missingCluster(broker)));
    return;
  }
  describe(title, () => {
    let handle: ClusterHandle | undefined;
    beforeAll(async () => {
      handle = await startCluster(options);
    }, (options.startTimeoutMs ?? 120_000) + 10_000);
    afterAll(async () => {
      await handle?.stop();
    }, 60_000);
    body(() => handle ?? missingCluster(broker));
  });
}

function missingCluster(broker: string): never {
  throw new Error(`the ${broker} cluster is not running (it starts in describeCluster's beforeAll)`);
}
