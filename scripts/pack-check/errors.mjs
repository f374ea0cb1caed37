// What a user sees for the common mistakes, from ESM, plus every adapter loading through createTransport.
import { inspect } from 'node:util';
import { ConfigError, createEventBus, createTransport, MemoryTransport } from '@org/eventbus';
import { createSpy } from '@org/eventbus/testing';

const fail = (message) => {
  console.error(message);
  process.exit(1);
};
const error = await createTransport(undefined).catch((e) => e);
if (!(error instanceof ConfigError) || !/set EVENTBUS_URL/.test(error.message)) fail(`createTransport(undefined): ${inspect(error)}`);
if (!inspect(error).startsWith('ConfigError: ')) fail(`class name lost: ${inspect(error).split('\n')[0]}`);
const bus = createEventBus({ transport: new MemoryTransport(), source: '/pack-check' });
await bus.start();
const notContract = await bus.publish({ type: 'x' }, {}).catch((e) => e);
if (!(notContract instanceof ConfigError) || !/defineEvent/.test(notContract.message)) fail(`publish({ type }): ${inspect(notContract)}`);
await bus.stop();
for (const url of ['amqp://guest:guest@127.0.0.1:1', 'kafka://127.0.0.1:1', 'nats://127.0.0.1:1', 'sqs://us-east-1?endpoint=http://127.0.0.1:1']) {
  const transport = await createTransport(url);
  if (typeof transport.subscribe !== 'function') fail(`${url}: no transport`);
  await transport.close();
}
const spy = createSpy();
spy.fn(1);
if (spy.count !== 1) fail('createSpy');
console.log('errors and adapters (ESM): ok');
