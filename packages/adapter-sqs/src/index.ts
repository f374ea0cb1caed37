import type { EventbusAdapter } from '@org/eventbus';
import { optionsFromUrl, type SqsTransportOptions } from './options.js';
import { redriveCommand } from './redrive-command.js';
import { SqsTransport } from './transport.js';

export type { CommandIo } from '@org/eventbus';
export { SQS_MAX_MESSAGE_BYTES, SqsAttributes } from './attributes.js';
export { PublishBatchError, type PublishFailure } from './errors.js';
export { parseSqsUrl, type SqsCredentials, type SqsTransportOptions } from './options.js';
export type { RedriveOptions } from './redrive.js';
export { REDRIVE_USAGE, redriveCommand, runRedriveCommand } from './redrive-command.js';
export { resourceName } from './topology.js';
export { createSqsTransport, type SqsSubscribeOptions, SqsTransport } from './transport.js';

/** URL schemes this adapter serves. */
export const schemes = ['sqs'] as const;

/** Build an SQS transport from a `sqs://` URL (what createTransport(url) calls); the URL wins over `options`. */
export function fromUrl(url: string, options: SqsTransportOptions = {}): SqsTransport {
  return new SqsTransport(optionsFromUrl(url, options));
}

/** What `createTransport` and the `eventbus` command find: `eventbus sqs redrive …`. */
export const adapter: EventbusAdapter = { name: 'sqs', schemes, fromUrl, commands: [redriveCommand] };
