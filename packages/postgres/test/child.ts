import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSpy, type Spy } from '@org/eventbus/testing';

export interface Child {
  /** Every `kind` the child sent over IPC, in order. */
  readonly said: Spy<string>;
  kill(): Promise<void>;
}

/**
 * Runs a test module of this folder in a child process (through tsx, on the sources), handing it
 * `config` in EVENTBUS_CHILD_CONFIG; the test SIGKILLs it at the moment it wants to prove something about.
 */
export function spawnChild(file: string, config: object): Child {
  const child: ChildProcess = fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    execArgv: ['--conditions=@org/source', '--import', 'tsx'],
    env: { ...process.env, EVENTBUS_CHILD_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const said = createSpy<string>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (message: { kind: string }) => said.fn(message.kind));
  return {
    said,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** In the child: its config, and a way to tell the parent what happened. */
export function childConfig<T>(): T {
  const raw = process.env.EVENTBUS_CHILD_CONFIG;
  if (!raw) throw new Error('EVENTBUS_CHILD_CONFIG is not set: this module runs as a test child process');
  return JSON.parse(raw) as T;
}

export function tell(kind: string): void {
  process.send?.({ kind });
}

/** Wait for the SIGKILL that the parent sends once it heard what it waited for. */
export function hangForever(): Promise<never> {
  return new Promise<never>(() => {
    setInterval(() => {}, 60_000);
  });
}
