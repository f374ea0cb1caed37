// A worker process for the kill test: role "worker" on the broker the parent names, reporting over
// IPC when a launch starts so the parent can SIGKILL it mid-launch.
import { type Launcher, SimulatedLauncher, startEc2Service } from '../src/index.js';

interface ChildConfig {
  url: string;
  transportOptions: Record<string, unknown>;
  groupPrefix: string;
  bootMs: number;
}

const config = JSON.parse(process.env.EC2_WORKER_CHILD ?? '{}') as ChildConfig;
const simulated = new SimulatedLauncher({ bootMs: config.bootMs });
const launcher: Launcher = {
  name: 'simulated',
  launch(spec, signal) {
    process.send?.({ kind: 'launching', clientToken: spec.clientToken });
    return simulated.launch(spec, signal);
  },
};

startEc2Service({
  role: 'worker',
  url: config.url,
  transportOptions: config.transportOptions,
  groupPrefix: config.groupPrefix,
  launcher,
  guards: { idempotencyLeaseMs: 2000 },
}).then(
  () => process.send?.({ kind: 'ready' }),
  (error: unknown) => {
    process.send?.({ kind: 'error', error: String(error) });
    process.exit(1);
  },
);
