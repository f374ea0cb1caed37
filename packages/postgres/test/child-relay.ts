// A relay in a child process that stops dead after the broker confirmed its first batch and before the
// batch's rows are deleted: the parent SIGKILLs it there, so the rows are published AND still waiting.
import { silentLogger, type Transport } from '@org/eventbus';
import { RabbitMqTransport } from '@org/eventbus-rabbitmq';
import pg from 'pg';
import { createRelay } from '../src/index.js';
import { childConfig, hangForever, tell } from './child.js';

interface Config {
  pgUrl: string;
  amqpUrl: string;
  exchange: string;
  tables: { outbox: string; inbox: string };
  batchSize: number;
}

const config = childConfig<Config>();
const pool = new pg.Pool({ connectionString: config.pgUrl, options: '-c synchronous_commit=off' });
const rabbit = new RabbitMqTransport({ url: config.amqpUrl, exchange: config.exchange, logger: silentLogger });
const stopsAfterConfirm: Transport = Object.assign(Object.create(rabbit) as Transport, {
  async publish(messages: Parameters<Transport['publish']>[0]) {
    await rabbit.publish(messages);
    tell('confirmed');
    await hangForever();
  },
});
const relay = createRelay({ pool, transport: stopsAfterConfirm, tables: config.tables, batchSize: config.batchSize, logger: silentLogger });
await relay.start();
tell('ready');
