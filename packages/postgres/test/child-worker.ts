// A worker in a child process that stops dead after its inbox transaction committed and before the
// delivery is acked: the parent SIGKILLs it there, so the broker redelivers an event already handled.
import { createEventBus, type Middleware, silentLogger } from '@org/eventbus';
import { RabbitMqTransport } from '@org/eventbus-rabbitmq';
import pg from 'pg';
import { createOutbox, inbox, transactionOf } from '../src/index.js';
import { childConfig, hangForever, tell } from './child.js';
import { contracts } from './helpers.js';

interface Config {
  pgUrl: string;
  amqpUrl: string;
  exchange: string;
  tables: { outbox: string; inbox: string };
  id: string;
  group: string;
  effects: string;
}

const config = childConfig<Config>();
const { OrderPlaced } = contracts(config.id);
const pool = new pg.Pool({ connectionString: config.pgUrl, options: '-c synchronous_commit=off' });
const transport = new RabbitMqTransport({ url: config.amqpUrl, exchange: config.exchange, logger: silentLogger });
const bus = createEventBus({ transport, source: '/tests/postgres-child', logger: silentLogger });
const outbox = createOutbox({ bus, tables: config.tables });
// Outside the inbox: runs after its COMMIT and before the pipeline acks.
const stopAfterCommit: Middleware = (next) => async (ctx) => {
  await next(ctx);
  tell('committed');
  await hangForever();
};
bus.handle(OrderPlaced, { group: config.group, middleware: [stopAfterCommit, inbox({ pool, outbox })] }, async (event, ctx) => {
  await transactionOf(ctx).query(`INSERT INTO ${config.effects} (order_id) VALUES ($1)`, [event.data.orderId]);
});
await bus.start();
tell('ready');
