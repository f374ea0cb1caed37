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
const adapters = {
  'amqp://guest:guest@127.0.0.1:1': '@org/eventbus-rabbitmq',
  'kafka://127.0.0.1:1': '@org/eventbus-kafka',
  'nats://127.0.0.1:1': '@org/eventbus-nats',
  'sqs://us-east-1?endpoint=http://127.0.0.1:1': '@org/eventbus-sqs',
};
for (const [url, pkg] of Object.entries(adapters)) {
  // Found by the package.json "eventbus" field, and the same ESM build the app imports (one class, not two).
  const transport = await createTransport(url);
  const direct = (await import(pkg)).adapter.fromUrl(url);
  if (!(transport instanceof direct.constructor)) fail(`${url}: createTransport did not load ${pkg}'s ESM entry`);
  await Promise.all([transport.close(), direct.close()]);
}
const spy = createSpy();
spy.fn(1);
if (spy.count !== 1) fail('createSpy');
console.log('errors and adapters (ESM): ok');
