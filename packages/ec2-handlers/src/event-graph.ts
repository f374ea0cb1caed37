// The service's whole event graph, for `eventbus docs --entry packages/ec2-handlers/src/event-graph.ts`:
// the bus with every handler of every role registered, built on a memory transport and never started.
import { type EventBus, MemoryTransport } from '@org/eventbus';
import { MemoryRequestStore } from './request-store.js';
import { buildEc2Bus } from './service.js';
import { SimulatedLauncher } from './simulated-launcher.js';

export function bus(): EventBus {
  return buildEc2Bus(new MemoryTransport({ broker: 'ec2-event-graph' }), {
    role: 'all',
    store: new MemoryRequestStore(),
    launcher: new SimulatedLauncher(),
    instanceId: 'any',
  }).bus;
}

export default bus;
