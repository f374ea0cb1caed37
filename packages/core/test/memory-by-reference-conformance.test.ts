import { MemoryTransport } from '@org/eventbus';
import { runTransportConformance } from '@org/eventbus/testing';

// `serialize: false` hands event objects across instead of bytes; every semantic must hold the same.
const broker = `conformance-objects-${process.pid}`;

runTransportConformance('memory (serialize: false)', () => new MemoryTransport({ broker, serialize: false }), {
  skip: {
    'connection-cut': 'the memory transport has no connection to cut',
    'broker-restart': 'the memory broker lives and dies with its process',
    sigkill: 'a process-local broker cannot be shared with a child process',
    'settle-failure-dead-letter': 'the memory broker has no dead-letter path that could refuse a settle (its settles cannot fail)',
    'settle-failure-delayed-nack': 'the memory broker has no retry path that could refuse a delayed nack (its settles cannot fail)',
    'no-secrets-in-output': 'the memory transport takes no credentials',
    'auth-failure': 'the memory transport takes no credentials',
    'max-size': 'with serialize: false events travel as objects: there is no wire size to limit',
  },
});
