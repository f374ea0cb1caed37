/**
 * Run `work` under the inspector's sampling profiler and print where its CPU went: self time summed
 * per package (node_modules name, our packages, node internals, GC, native), then our functions and
 * the native builtins, as shares with µs per event. Used by bench/profile.ts and bench/core.ts.
 */
import { Session } from 'node:inspector/promises';
import os from 'node:os';

export async function profiled(events: number, work: () => Promise<{ rate: number }>, label = 'profile'): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const cpu = process.cpuUsage();
  const sample = await work();
  const used = process.cpuUsage(cpu);
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();

  const selfUs = new Map<string, number>();
  const ourFunctions = new Map<string, number>();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const deltas = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const key = owner(node.callFrame.url, node.callFrame.functionName);
    selfUs.set(key, (selfUs.get(key) ?? 0) + (deltas[i] ?? 0));
    // PROFILE_ALL=1: every function, the client libraries' and Node's too.
    if (process.env.PROFILE_ALL === '1' || key.startsWith('@org/') || key.startsWith('native')) {
      const { functionName, url } = node.callFrame;
      const name = `${key.startsWith('native') ? 'native' : key} ${functionName || '(anonymous)'}${url ? ` (${url.split('/').pop()}:${node.callFrame.lineNumber + 1})` : ''}`;
      ourFunctions.set(name, (ourFunctions.get(name) ?? 0) + (deltas[i] ?? 0));
    }
  });
  selfUs.delete('(idle)');
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  console.log(
    `\n${label}: ${events} events, ${Math.round(sample.rate)} events/s under the profiler, CPU ${((used.user + used.system) / events).toFixed(1)} µs/event (process.cpuUsage), load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  console.log('| share | µs/event (profiled) | where |\n| --- | --- | --- |');
  for (const [key, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, 14)) {
    console.log(`| ${((100 * us) / total).toFixed(1)}% | ${(us / events).toFixed(1)} | ${key} |`);
  }
  console.log('\n| share | µs/event (profiled) | function (ours and native builtins; every one with PROFILE_ALL=1) |\n| --- | --- | --- |');
  for (const [name, us] of [...ourFunctions].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 16))) {
    console.log(`| ${((100 * us) / total).toFixed(1)}% | ${(us / events).toFixed(2)} | ${name} |`);
  }
}

/** Which package a frame belongs to, from its script URL. */
function owner(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)' || fn === '(idle)') return fn;
  if (!url) return 'native (JSON, UTF-8, Buffer, socket writes)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /packages\/([^/]+)\//.exec(url);
  if (ours) return `@org/${ours[1]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return 'other';
}
