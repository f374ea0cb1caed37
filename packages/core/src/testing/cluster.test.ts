import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLUSTER_BROKERS, clusterSelection, startCluster } from './cluster.js';
import { longestGap } from './conformance/scenarios-cluster.js';

describe('clusterSelection', () => {
  const jan = (day: number) => new Date(Date.UTC(2027, 0, day, 12));

  it('under CI=true without EVENTBUS_CLUSTER runs one broker per run, rotating by day of year', () => {
    const picked = [1, 2, 3, 4].map((day) => clusterSelection({ CI: 'true' }, jan(day)).brokers);
    expect(picked.map((b) => b.length)).toEqual([1, 1, 1, 1]);
    expect(new Set(picked.slice(0, 3).flat())).toEqual(new Set(CLUSTER_BROKERS));
    expect(picked[3]).toEqual(picked[0]);
  });

  it('outside CI runs none unless asked; all, a list and none are taken as given', () => {
    expect(clusterSelection({}, jan(1)).brokers).toEqual([]);
    expect(clusterSelection({ EVENTBUS_CLUSTER: 'all' }).brokers).toEqual([...CLUSTER_BROKERS]);
    expect(clusterSelection({ EVENTBUS_CLUSTER: 'nats, kafka', CI: 'true' }).brokers).toEqual(['nats', 'kafka']);
    expect(clusterSelection({ EVENTBUS_CLUSTER: 'none', CI: 'true' }).brokers).toEqual([]);
  });

  it('an unknown broker name is an error naming the choices, never a silent skip', () => {
    expect(() => clusterSelection({ EVENTBUS_CLUSTER: 'natz' })).toThrow(/natz.*all, none, rotate or nats, kafka, rabbitmq/);
  });
});

describe('longestGap', () => {
  it('measures from the kill to the first progress, between progress times, and to the end', () => {
    expect(longestGap([5, 100, 150, 900], 100, 1000)).toBe(750);
    expect(longestGap([110, 120, 400], 100, 500)).toBe(280);
    expect(longestGap([], 100, 300)).toBe(200);
  });
});

const scriptDirs: string[] = [];
afterAll(() => {
  for (const dir of scriptDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fake broker script following the contract: `sleep` processes stand in for nodes. */
function fakeScript(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-fake-cluster-'));
  scriptDirs.push(dir);
  const script = path.join(dir, 'fake-cluster.sh');
  writeFileSync(
    script,
    `set -eu
start_node() { setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > "$CLUSTER_DIR/$1.pid"; echo "node $1 fake://$1 $!"; }
case "$1" in
  start) for n in a b c; do start_node $n; done ;;
  kill) kill -9 "$(cat "$CLUSTER_DIR/$2.pid")"; rm "$CLUSTER_DIR/$2.pid" ;;
  restart) start_node "$2" ;;
  stop) for f in "$CLUSTER_DIR"/*.pid; do [ -e "$f" ] && kill -9 "$(cat "$f")" || true; done ;;
esac
`,
  );
  chmodSync(script, 0o755);
  return script;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\d+ \S+ Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('startCluster', () => {
  it('owns the node processes the script reports: kill, restart and stop reach exactly them', async () => {
    const cluster = await startCluster({ script: fakeScript(), startTimeoutMs: 10_000 });
    expect(cluster.nodes).toEqual(['a', 'b', 'c']);
    expect(cluster.urls).toEqual(['fake://a', 'fake://b', 'fake://c']);
    const first = cluster.pids.get('b') ?? 0;
    await cluster.kill('b');
    expect(cluster.pids.has('b')).toBe(false);
    await cluster.restart('b');
    expect(cluster.pids.get('b')).not.toBe(first);
    const pids = [...cluster.pids.values()];
    expect(pids.every(alive)).toBe(true);
    await expect(cluster.kill('z')).rejects.toThrow(/no node "z".*a, b, c/);
    await cluster.stop();
    await expect.poll(() => pids.filter(alive), { timeout: 5_000 }).toEqual([]);
    expect(existsSync(cluster.dir)).toBe(false);
  });

  it('a script that fails to start is an error carrying the output of the script', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'eventbus-fake-cluster-'));
    scriptDirs.push(dir);
    const script = path.join(dir, 'bad.sh');
    writeFileSync(script, 'echo "port 14222 is taken" >&2; exit 1\n');
    await expect(startCluster({ script, startTimeoutMs: 10_000 })).rejects.toThrow(/bad\.sh start failed[\s\S]*port 14222 is taken/);
  });
});
