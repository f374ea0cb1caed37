import type { Command } from './cli/command.js';
import type { Transport } from './transport.js';

/**
 * What an adapter package exports as `adapter` (beside `schemes` and `fromUrl`), so that
 * `createTransport(url)` and the `eventbus` command find it without core knowing its name.
 */
export interface EventbusAdapter {
  /** Short name: "rabbitmq", "kafka"… Adapter commands run as `eventbus <name> <command>`. */
  readonly name: string;
  /** URL schemes it serves, without the colon: `['amqp', 'amqps']`. */
  readonly schemes: readonly string[];
  /** A transport from a URL carrying the connection details; anything else comes in `options`. */
  fromUrl(url: string, options?: Record<string, unknown>): Transport;
  /** Commands this adapter adds to the `eventbus` command line (SQS: `redrive`). */
  readonly commands?: readonly Command[];
}
