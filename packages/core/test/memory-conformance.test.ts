import { MemoryTransport, refuseSettles } from '@org/eventbus';
import { runTransportConformance } from '@org/eventbus/testing';
import { afterAll, expect } from 'vitest';

// One broker name per file run: every transport the suite creates shares it, like clients of one server.
const broker = `conformance-${process.pid}`;
const cleaned = { groups: new Set<string>(), channels: new Set<string>() };

runTransportConformance('memory', () => new MemoryTransport({ broker, maxMessageBytes: 2 * 1024 * 1024 }), {
  makeTransport: ({ maxDelayMs }) => new MemoryTransport({ broker, maxDelayMs }),
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
  },
  cleanup: async ({ groups, channels }) => {
    for (const g of groups) cleaned.groups.add(g);
    for (const c of channels) cleaned.channels.add(c);
  },
});

afterAll(() => {
  // Every scenario hands what it created to `cleanup`, so adapters can delete it from shared brokers.
  expect(cleaned.groups.size).toBeGreaterThanOrEqual(15);
  expect(cleaned.channels.size).toBeGreaterThanOrEqual(15);
});
