// spawnChildConsumer from the installed build: the child must be the built child entry (it reports
// "ready"), not the testing bundle forked again (which would exit without a word).
import { fileURLToPath } from 'node:url';
import { spawnChildConsumer } from '@org/eventbus/testing';

const worker = spawnChildConsumer({
  module: fileURLToPath(new URL('./child-transport.mjs', import.meta.url)),
  group: 'pack-check',
  channels: ['pack.check'],
  prefetch: 1,
});
const timeout = setTimeout(() => {
  console.error('child consumer: not ready within 30 s');
  process.exit(1);
}, 30_000);
await worker.ready;
clearTimeout(timeout);
worker.kill();
console.log(`child consumer (ESM): ready, killed (exit ${await worker.exited})`);
