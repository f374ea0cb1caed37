import { MemoryTransport, refuseSettles } from '@org/eventbus';
import { runTransportConformance } from '@org/eventbus/testing';

// `serialize: false` hands event objects across instead of bytes; every semantic must hold the same.
const broker = `conformance-objects-${process.pid}`;

runTransportConformance('memory (serialize: false)', () => new MemoryTransport({ broker, serialize: false }), {
  makeTransport: ({ maxDelayMs }) => new MemoryTransport({ broker, serialize: false, maxDelayMs }),
  // The memory broker refuses the dead-letter copy or the delayed redelivery on demand, as a broker can.
  breakSettle: async (what, group) => {
    const repair = refuseSettles(broker, group, what);
    return async () => repair();
  },
  skip: {
    'connection-cut': 'the memory transport has no connection to cut',
    'broker-restart': 'the memory broker lives and dies with its process',
    sigkill: 'a process-local broker cannot be shared with a child process',
    'no-secrets-in-output': 'the memory transport takes no credentials',
    'auth-failure': 'the memory transport takes no credentials',
    'max-size': 'with serialize: false events travel as objects: there is no wire size to limit',
  },
});
