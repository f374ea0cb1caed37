// The same from CommonJS: class names survive the CJS build, /testing loads without vitest.
const { inspect } = require('node:util');
const { ConfigError, createTransport } = require('@org/eventbus');
const testing = require('@org/eventbus/testing');

const fail = (message) => {
  console.error(message);
  process.exit(1);
};
createTransport(undefined).then(
  () => fail('createTransport(undefined) resolved'),
  async (error) => {
    if (!(error instanceof ConfigError) || !/set EVENTBUS_URL/.test(error.message)) fail(`createTransport(undefined): ${inspect(error)}`);
    if (!inspect(error).startsWith('ConfigError: ')) fail(`class name lost: ${inspect(error).split('\n')[0]}`);
    for (const pkg of ['@org/eventbus-rabbitmq', '@org/eventbus-kafka', '@org/eventbus-nats', '@org/eventbus-sqs', '@org/eventbus-ec2']) {
      const mod = require(pkg);
      if (Object.keys(mod).length === 0) fail(`${pkg}: nothing exported`);
    }
    // vitest is not installed here: the vitest-driven helpers say so when called, not when loaded.
    try {
      testing.describeBroker('x', { variable: 'NOPE' }, () => {});
      fail('describeBroker ran without vitest');
    } catch (e) {
      if (!/install vitest/.test(e.message)) fail(`describeBroker without vitest: ${e.message}`);
    }
    console.log('errors and adapters (CJS): ok');
  },
);
