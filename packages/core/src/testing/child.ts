import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSpy, type Spy } from './spy.js';

export interface ChildConsumerConfig {
  /** Module (absolute path or package name) the child imports, and the export that builds the transport. */
  module: string;
  export?: string;
  group: string;
  channels: string[];
  prefetch: number;
}

export interface ChildConsumer {
  /** Ids (ce id header or a body hash) of deliveries the child received and is "working on". */
  readonly received: Spy<string>;
  readonly ready: Promise<void>;
  kill(): void;
  readonly exited: Promise<number | null>;
}

/**
 * The child's entry: child-consumer.ts beside this file when the workspace runs the sources (through
 * tsx), else the built child-consumer.{js,cjs} of the same format in dist/testing — beside this code
 * when it is bundled into dist/testing/index, one level down when the build put it in a dist/ chunk.
 */
function childScript(): { script: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const file = fromSource ? 'child-consumer.ts' : here.endsWith('.cjs') ? 'child-consumer.cjs' : 'child-consumer.js';
  const candidates = [join(dirname(here), file), join(dirname(here), 'testing', file)];
  const script = candidates.find((candidate) => existsSync(candidate));
  if (script === undefined) {
    throw new Error(`spawnChildConsumer: the child entry is missing (looked for ${candidates.join(' and ')}): is @org/eventbus built or installed completely?`);
  }
  return { script, execArgv: fromSource ? ['--conditions=@org/source', '--import', 'tsx'] : [] };
}

/**
 * Runs a consumer in a child process that takes deliveries and never settles them, as a handler
 * mid-way through slow work would, so a test can SIGKILL it and watch the work move elsewhere.
 */
export function spawnChildConsumer(config: ChildConsumerConfig): ChildConsumer {
  const { script, execArgv } = childScript();
  const child: ChildProcess = fork(script, [], {
    execArgv,
    env: { ...process.env, EVENTBUS_CHILD_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const received = createSpy<string>();
  let markReady: () => void = () => {};
  let markFailed: (e: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then((code) => markFailed(new Error(`child consumer exited (code ${code}) before it was ready`)));
  child.on('message', (msg: { kind: string; id?: string; error?: string }) => {
    if (msg.kind === 'ready') markReady();
    else if (msg.kind === 'delivery' && msg.id) received.fn(msg.id);
    else if (msg.kind === 'error') markFailed(new Error(msg.error));
  });
  return {
    received,
    ready,
    exited,
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}
