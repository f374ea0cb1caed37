// The entry for `eventbus docs`: the app's bus on a memory transport. Nothing starts; only the
// declarations (handlers, emits, entry points) are read.
import { describeApp, MemoryTransport } from '@org/eventbus';
import { createEc2ChainApp } from './app.js';

export const { bus } = createEc2ChainApp({ transport: new MemoryTransport() });

export const registry = describeApp(bus, {
  title: 'EC2 launch chain',
  description:
    'An HTTP request asks for an EC2 instance; a launcher starts it; the outcome becomes a notification streamed to the user. ' +
    'Generated from examples/ec2-chain until the reference contracts (packages/ec2-handlers) exist.',
  version: '1.0.0',
});
