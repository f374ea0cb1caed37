import { MemoryTransport } from '@org/eventbus';
import { runTransportConformance } from '@org/eventbus/testing';

// One broker name per file run: every transport the suite creates shares it, like clients of one server.
const broker = `conformance-${process.pid}`;

runTransportConformance('memory', () => new MemoryTransport({ broker, maxMessageBytes: 2 * 1024 * 1024 }), {
  skip: {
    'connection-cut': 'the memory transport has no connection to cut',
    'broker-restart': 'the memory broker lives and dies with its process',
    sigkill: 'a process-local broker cannot be shared with a child process',
  },
});
