// The same from CommonJS: the CJS testing build forks the CJS child entry.
const path = require('node:path');
const { spawnChildConsumer } = require('@org/eventbus/testing');

const worker = spawnChildConsumer({ module: path.join(__dirname, 'child-transport.mjs'), group: 'pack-check', channels: ['pack.check'], prefetch: 1 });
const timeout = setTimeout(() => {
  console.error('child consumer: not ready within 30 s');
  process.exit(1);
}, 30_000);
worker.ready.then(async () => {
  clearTimeout(timeout);
  worker.kill();
  console.log(`child consumer (CJS): ready, killed (exit ${await worker.exited})`);
});
